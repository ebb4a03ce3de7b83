import Foundation
import Quants

/// Everything measured on one chunk, kept per chunk so that totals are always summed in chunk
/// order: a single run, a layer-major run and merged partial runs then report the same bits.
public struct ChunkScore: Codable, Sendable, Equatable {
    public var chunk: Int
    /// Scored tokens.
    public var count: Int
    /// Σ −log p(target) and Σ of its square (the model under test).
    public var nll: Double
    public var nll2: Double
    /// The same for the base (original) model, when compared.
    public var baseNLL: Double?
    public var baseNLL2: Double?
    /// Per-token KL(base ‖ model), and Δp = p_model(target) − p_base(target), when compared.
    public var kld: [Float]?
    public var deltaP: [Float]?
    /// Tokens whose most likely next token is the same for both models.
    public var sameTop: Int?

    public init(chunk: Int, count: Int, nll: Double, nll2: Double) {
        self.chunk = chunk
        self.count = count
        self.nll = nll
        self.nll2 = nll2
    }
}

/// Scoring of logits (pure functions).
public enum Scoring {
    /// Log-softmax of one row of logits, computed in f64 and rounded to f32 (the precision of a
    /// saved base file; every model's log-probs take the same form, so a model compared with
    /// itself gives exactly KLD 0 and equal PPLs).
    public static func logSoftmax(_ logits: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Double>) {
        var maximum = -Double.infinity
        for i in 0..<count { maximum = max(maximum, Double(logits[i])) }
        var sum = 0.0
        for i in 0..<count { sum += Foundation.exp(Double(logits[i]) - maximum) }
        let shift = maximum + Foundation.log(sum)
        for i in 0..<count { output[i] = Double(Float(Double(logits[i]) - shift)) }
    }

    /// Base log-probabilities of a chunk's scored positions, rounded to f32: the form they take in
    /// a `--save-base` file, used in direct comparisons too so both paths give identical figures.
    public static func baseLogProbabilities(_ logits: Matrix) -> Matrix {
        let result = Matrix(rows: logits.rows, columns: logits.columns)
        let row = UnsafeMutablePointer<Double>.allocate(capacity: logits.columns)
        defer { row.deallocate() }
        for p in 0..<logits.rows {
            logSoftmax(logits.row(p), count: logits.columns, into: row)
            for i in 0..<logits.columns { result.row(p)[i] = Float(row[i]) }
        }
        return result
    }

    /// `logSoftmax(logits)[target]`, the same operations in the same order, without writing the
    /// other `count - 1` log-probabilities.
    public static func logProbability(_ logits: UnsafePointer<Float>, count: Int, target: Int) -> Double {
        var maximum = -Double.infinity
        for i in 0..<count { maximum = max(maximum, Double(logits[i])) }
        var sum = 0.0
        for i in 0..<count { sum += Foundation.exp(Double(logits[i]) - maximum) }
        let shift = maximum + Foundation.log(sum)
        return Double(Float(Double(logits[target]) - shift))
    }

    /// Perplexity terms of one chunk. Positions are scored on up to `threads` threads, each into
    /// its own slot, then summed in position order: the figures do not depend on `threads`.
    public static func score(chunk: Int, logits: Matrix, targets: [Int], threads: Int = 1) -> ChunkScore {
        let values = UnsafeMutablePointer<Double>.allocate(capacity: Swift.max(1, targets.count))
        defer { values.deallocate() }
        let slots = SendablePointer(values)
        parallelFor(targets.count, threads: threads, minimumPerThread: 8) { range in
            for p in range { slots.pointer[p] = -logProbability(logits.row(p), count: logits.columns, target: targets[p]) }
        }
        var nll = 0.0, nll2 = 0.0
        for p in 0..<targets.count {
            let v = values[p]
            nll += v
            nll2 += v * v
        }
        return ChunkScore(chunk: chunk, count: targets.count, nll: nll, nll2: nll2)
    }

    /// Perplexity terms of the model plus its divergence from the base, for one chunk.
    public static func compare(chunk: Int, base: Matrix, logits: Matrix, targets: [Int]) -> ChunkScore {
        let vocabulary = logits.columns
        let row = UnsafeMutablePointer<Double>.allocate(capacity: vocabulary)
        defer { row.deallocate() }
        var score = ChunkScore(chunk: chunk, count: targets.count, nll: 0, nll2: 0)
        var baseNLL = 0.0, baseNLL2 = 0.0, sameTop = 0
        var klds: [Float] = [], deltas: [Float] = []
        for (p, target) in targets.enumerated() {
            logSoftmax(logits.row(p), count: vocabulary, into: row)
            let b = base.row(p)
            var kld = 0.0
            var bestBase = 0, bestModel = 0
            for i in 0..<vocabulary {
                let lb = Double(b[i])
                kld += Foundation.exp(lb) * (lb - row[i])
                if b[i] > b[bestBase] { bestBase = i }
                if row[i] > row[bestModel] { bestModel = i }
            }
            let v = -row[target], vb = -Double(b[target])
            score.nll += v
            score.nll2 += v * v
            baseNLL += vb
            baseNLL2 += vb * vb
            klds.append(Float(kld))
            deltas.append(Float(Foundation.exp(row[target]) - Foundation.exp(Double(b[target]))))
            if bestBase == bestModel { sameTop += 1 }
        }
        score.baseNLL = baseNLL
        score.baseNLL2 = baseNLL2
        score.kld = klds
        score.deltaP = deltas
        score.sameTop = sameTop
        return score
    }
}
