import Foundation

/// Totals over chunks, computed in chunk order from per-chunk scores: the same figures
/// `llama-perplexity` prints (`tools/perplexity/perplexity.cpp`: PPL ± its standard error;
/// with a base, PPL ratio, KLD mean ± error and percentiles, Δp statistics, "Same top p").
package struct EvaluationReport: Codable, Sendable, Equatable {
    package struct Estimate: Codable, Sendable, Equatable {
        package var value: Double
        package var uncertainty: Double
    }

    package var chunks: Int
    package var tokens: Int
    package var perplexity: Estimate
    package var basePerplexity: Estimate?
    /// PPL(model) / PPL(base) and the mean of ln(PPL ratio) per token.
    package var perplexityRatio: Double?
    package var meanKLD: Estimate?
    /// Percentiles of per-token KLD: max, 99.9, 99, 95, 90, median, 10, 5, 1, 0.1, min.
    package var kldPercentiles: [String: Double]?
    package var meanDeltaP: Estimate?
    package var rmsDeltaP: Double?
    package var deltaPPercentiles: [String: Double]?
    /// Fraction of tokens whose top-1 prediction agrees with the base.
    package var sameTop: Estimate?

    package static let percentileLevels: [(String, Double)] = [
        ("max", 1), ("99.9", 0.999), ("99", 0.99), ("95", 0.95), ("90", 0.90), ("median", 0.5),
        ("10", 0.10), ("5", 0.05), ("1", 0.01), ("0.1", 0.001), ("min", 0),
    ]

    /// `scores` must be sorted by chunk.
    package init(scores: [ChunkScore]) {
        chunks = scores.count
        var count = 0, nll = 0.0, nll2 = 0.0
        for s in scores {
            count += s.count
            nll += s.nll
            nll2 += s.nll2
        }
        tokens = count
        perplexity = Self.perplexity(nll: nll, nll2: nll2, count: count)
        guard !scores.isEmpty, scores.allSatisfy({ $0.kld != nil }) else { return }
        var baseNLL = 0.0, baseNLL2 = 0.0, same = 0
        var klds: [Double] = [], deltas: [Double] = []
        for s in scores {
            baseNLL += s.baseNLL ?? 0
            baseNLL2 += s.baseNLL2 ?? 0
            same += s.sameTop ?? 0
            klds += (s.kld ?? []).map(Double.init)
            deltas += (s.deltaP ?? []).map(Double.init)
        }
        let base = Self.perplexity(nll: baseNLL, nll2: baseNLL2, count: count)
        basePerplexity = base
        perplexityRatio = perplexity.value / base.value
        meanKLD = Self.mean(klds)
        kldPercentiles = Self.percentiles(klds)
        meanDeltaP = Self.mean(deltas)
        rmsDeltaP = (deltas.reduce(0) { $0 + $1 * $1 } / Double(max(1, deltas.count))).squareRoot()
        deltaPPercentiles = Self.percentiles(deltas)
        let p = Double(same) / Double(max(1, count))
        sameTop = Estimate(value: p, uncertainty: count > 1 ? (p * (1 - p) / Double(count - 1)).squareRoot() : 0)
    }

    /// `exp(mean nll)` with llama-perplexity's error: `ppl · sqrt((⟨nll²⟩ − ⟨nll⟩²) / (n − 1))`.
    static func perplexity(nll: Double, nll2: Double, count: Int) -> Estimate {
        guard count > 0 else { return Estimate(value: .nan, uncertainty: .nan) }
        let mean = nll / Double(count)
        let ppl = Foundation.exp(mean)
        let variance = nll2 / Double(count) - mean * mean
        let error = count > 1 && variance > 0 ? (variance / Double(count - 1)).squareRoot() * ppl : 0
        return Estimate(value: ppl, uncertainty: error)
    }

    static func mean(_ values: [Double]) -> Estimate {
        let n = Double(max(1, values.count))
        let m = values.reduce(0, +) / n
        let variance = values.reduce(0) { $0 + $1 * $1 } / n - m * m
        return Estimate(value: m, uncertainty: values.count > 1 && variance > 0 ? (variance / (n - 1)).squareRoot() : 0)
    }

    /// Nearest-rank percentiles (`sorted[round(q·(n−1))]`).
    static func percentiles(_ values: [Double]) -> [String: Double] {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return [:] }
        var result: [String: Double] = [:]
        for (name, q) in percentileLevels {
            result[name] = sorted[Int((q * Double(sorted.count - 1)).rounded())]
        }
        return result
    }

    /// The terminal summary.
    package func lines(model: String, base: String?) -> [String] {
        func f(_ x: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", x) }
        var out = ["\(model): \(chunks) chunks, \(tokens) scored tokens"]
        out.append("  PPL            \(f(perplexity.value)) ± \(f(perplexity.uncertainty, 5))")
        if let basePerplexity, let base {
            out.append("  PPL(base)      \(f(basePerplexity.value)) ± \(f(basePerplexity.uncertainty, 5))   (\(base))")
            if let perplexityRatio { out.append("  PPL ratio      \(f(perplexityRatio, 6))") }
            if let meanKLD { out.append("  Mean KLD       \(f(meanKLD.value, 6)) ± \(f(meanKLD.uncertainty, 6))") }
            if let k = kldPercentiles {
                // Empty when no token was scored (or in a damaged file): print NaN, do not trap.
                out.append("  KLD median \(f(k["median"] ?? .nan, 6))  p99 \(f(k["99"] ?? .nan, 6))  max \(f(k["max"] ?? .nan, 6))")
            }
            if let meanDeltaP, let rmsDeltaP {
                out.append("  Mean Δp        \(f(100 * meanDeltaP.value, 3)) ± \(f(100 * meanDeltaP.uncertainty, 3)) %   RMS Δp \(f(100 * rmsDeltaP, 3)) %")
            }
            if let sameTop { out.append("  Same top p     \(f(100 * sameTop.value, 3)) ± \(f(100 * sameTop.uncertainty, 3)) %") }
        }
        return out
    }
}
