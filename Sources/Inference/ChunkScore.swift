import Foundation
import Quants

/// Everything measured on one chunk, kept per chunk so that totals are always summed in chunk
/// order: a single run, a layer-major run and merged partial runs then report the same bits.
package struct ChunkScore: Codable, Sendable, Equatable {
    package var chunk: Int
    /// Scored tokens.
    package var count: Int
    /// Σ −log p(target) and Σ of its square (the model under test).
    package var nll: Double
    package var nll2: Double
    /// The same for the base (original) model, when compared.
    package var baseNLL: Double?
    package var baseNLL2: Double?
    /// Per-token KL(base ‖ model), and Δp = p_model(target) − p_base(target), when compared.
    package var kld: [Float]?
    package var deltaP: [Float]?
    /// Tokens whose most likely next token is the same for both models.
    package var sameTop: Int?

    package init(chunk: Int, count: Int, nll: Double, nll2: Double) {
        self.chunk = chunk
        self.count = count
        self.nll = nll
        self.nll2 = nll2
    }
}

/// Scoring of logits (pure functions).
package enum Scoring {
    /// Log-softmax of one row of logits, computed in f64 and rounded to f32 (the precision of a
    /// saved base file; every model's log-probs take the same form, so a model compared with
    /// itself gives exactly KLD 0 and equal PPLs).
    package static func logSoftmax(_ logits: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Double>) {
        let shift = logSumExp(logits, count: count)
        var i = 0
        while i + 8 <= count {
            let x = SIMD8<Double>(UnsafeRawPointer(logits + i).loadUnaligned(as: SIMD8<Float>.self)) - shift
            UnsafeMutableRawPointer(output + i).storeBytes(of: SIMD8<Double>(SIMD8<Float>(x)), as: SIMD8<Double>.self)
            i += 8
        }
        while i < count {
            output[i] = Double(Float(Double(logits[i]) - shift))
            i += 1
        }
    }

    /// `log Σ exp(logits)` in f64 (`SoftmaxKernels`).
    static func logSumExp(_ logits: UnsafePointer<Float>, count: Int) -> Double {
        SoftmaxRows.active.logSumExp(logits, count)
    }

    /// Base log-probabilities of a chunk's scored positions, rounded to f32: the form they take in
    /// a `--save-base` file, used in direct comparisons too so both paths give identical figures.
    /// Rows are computed on up to `threads` threads; each row's bits do not depend on `threads`.
    package static func baseLogProbabilities(_ logits: Matrix, threads: Int = 1) -> Matrix {
        let result = Matrix(rows: logits.rows, columns: logits.columns)
        parallelFor(logits.rows, threads: threads, minimumPerThread: 4) { range in
            let row = UnsafeMutablePointer<Double>.allocate(capacity: logits.columns)
            defer { row.deallocate() }
            for p in range {
                logSoftmax(logits.row(p), count: logits.columns, into: row)
                for i in 0..<logits.columns { result.row(p)[i] = Float(row[i]) }
            }
        }
        return result
    }

    /// `logSoftmax(logits)[target]`, the same operations in the same order, without writing the
    /// other `count - 1` log-probabilities.
    package static func logProbability(_ logits: UnsafePointer<Float>, count: Int, target: Int) -> Double {
        Double(Float(Double(logits[target]) - logSumExp(logits, count: count)))
    }

    /// Perplexity terms of one chunk. Positions are scored on up to `threads` threads, each into
    /// its own slot, then summed in position order: the figures do not depend on `threads`.
    package static func score(chunk: Int, logits: Matrix, targets: [Int], threads: Int = 1) -> ChunkScore {
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

    /// Perplexity terms of the model plus its divergence from the base, for one chunk. Positions
    /// are measured on up to `threads` threads, each into its own slot, then summed in position
    /// order: the figures do not depend on `threads`.
    package static func compare(chunk: Int, base: Matrix, logits: Matrix, targets: [Int], threads: Int = 1) -> ChunkScore {
        let vocabulary = logits.columns
        let measures = UnsafeMutablePointer<PositionMeasure>.allocate(capacity: Swift.max(1, targets.count))
        defer { measures.deallocate() }
        let slots = SendablePointer(measures)
        parallelFor(targets.count, threads: threads, minimumPerThread: 4) { range in
            let row = UnsafeMutablePointer<Double>.allocate(capacity: vocabulary)
            defer { row.deallocate() }
            for p in range {
                logSoftmax(logits.row(p), count: vocabulary, into: row)
                slots.pointer[p] = measure(base: base.row(p), model: row, count: vocabulary, target: targets[p])
            }
        }
        var score = ChunkScore(chunk: chunk, count: targets.count, nll: 0, nll2: 0)
        var baseNLL = 0.0, baseNLL2 = 0.0, sameTop = 0
        var klds: [Float] = [], deltas: [Float] = []
        for m in UnsafeBufferPointer(start: measures, count: targets.count) {
            score.nll += m.nll
            score.nll2 += m.nll * m.nll
            baseNLL += m.baseNLL
            baseNLL2 += m.baseNLL * m.baseNLL
            klds.append(m.kld)
            deltas.append(m.deltaP)
            if m.sameTop { sameTop += 1 }
        }
        score.baseNLL = baseNLL
        score.baseNLL2 = baseNLL2
        score.kld = klds
        score.deltaP = deltas
        score.sameTop = sameTop
        return score
    }

    struct PositionMeasure {
        var nll: Double, baseNLL: Double, kld: Float, deltaP: Float, sameTop: Bool
    }

    /// One position: KL(base ‖ model) = Σ p_base · (log p_base − log p_model), and whether both
    /// put their first maximum on the same token.
    static func measure(base b: UnsafePointer<Float>, model row: UnsafePointer<Double>, count: Int, target: Int) -> PositionMeasure {
        let kld = SoftmaxRows.active.klDivergence(b, row, count)
        var bestBase = 0, bestModel = 0
        for j in 0..<count {
            if b[j] > b[bestBase] { bestBase = j }
            if row[j] > row[bestModel] { bestModel = j }
        }
        return PositionMeasure(
            nll: -row[target], baseNLL: -Double(b[target]), kld: Float(kld),
            deltaP: Float(Foundation.exp(row[target]) - Foundation.exp(Double(b[target]))),
            sameTop: bestBase == bestModel)
    }
}
