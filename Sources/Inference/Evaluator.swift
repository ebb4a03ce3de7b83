import DeepSeekV3
import Foundation
import TensorFiles

/// Runs perplexity and model-vs-base comparisons over a range of chunks, a batch of chunks at a
/// time (layer-major, see `DeepSeekV3Model`), scoring every chunk as soon as its logits exist.
package final class Evaluator {
    package let chunks: TokenChunks
    package let range: Range<Int>
    package let batchChunks: Int
    /// Called after every layer of every model pass: (steps done, steps in the whole run, what).
    package var progress: (@Sendable (Int, Int, String) -> Void)?

    package init(chunks: TokenChunks, range: Range<Int>, batchChunks: Int) {
        self.chunks = chunks
        self.range = range
        self.batchChunks = Swift.max(1, batchChunks)
    }

    var batches: [Range<Int>] {
        stride(from: range.lowerBound, to: range.upperBound, by: batchChunks).map { $0..<Swift.min($0 + batchChunks, range.upperBound) }
    }

    package enum Base {
        case model(DeepSeekV3Model)
        case file(BaseLogitsReader)
    }

    /// Perplexity of one model: a score per chunk.
    package func perplexity(_ model: DeepSeekV3Model) throws -> [ChunkScore] {
        let steps = model.config.numHiddenLayers + 1
        let total = batches.count * steps
        var scores: [ChunkScore] = []
        let progress = self.progress
        for (b, batch) in batches.enumerated() {
            let done = b * steps
            let label = "\(model.source.label), chunks \(batch.lowerBound + 1)-\(batch.upperBound) of \(range.upperBound)"
            // Each chunk is scored as soon as its logits exist, in a buffer the next chunk reuses.
            try model.forEachLogits(chunks: batch.map(chunks.chunk), positions: chunks.positions, progress: { step, _ in progress?(done + step, total, label) }) {
                i, logits in
                let c = batch.lowerBound + i
                scores.append(Scoring.score(chunk: c, logits: logits, targets: chunks.targets(c), threads: model.threads))
            }
        }
        return scores
    }

    /// Every model against the base (a live model or a saved file), optionally saving the base's
    /// log-probs as they are computed. Returns the scores of each model, and the base's own.
    package func compare(base: Base, models: [DeepSeekV3Model], save: BaseLogitsWriter? = nil) throws -> [[ChunkScore]] {
        let baseSteps: Int
        if case .model(let m) = base { baseSteps = m.config.numHiddenLayers + 1 } else { baseSteps = 0 }
        let perBatch = baseSteps + models.reduce(0) { $0 + $1.config.numHiddenLayers + 1 }
        let total = batches.count * perBatch
        var scores = [[ChunkScore]](repeating: [], count: models.count)
        for (b, batch) in batches.enumerated() {
            var done = b * perBatch
            var baseLogProbabilities: [Matrix] = []
            switch base {
            case .model(let model):
                baseLogProbabilities = try run(model, batch: batch, done: done, total: total).map { Scoring.baseLogProbabilities($0, threads: model.threads) }
                done += baseSteps
            case .file(let reader):
                try reader.seek(to: batch.lowerBound)
                for c in batch {
                    let matrix = Matrix(rows: reader.header.positions, columns: reader.header.vocabulary)
                    let index = try reader.next(into: UnsafeMutableBufferPointer(start: matrix.pointer, count: matrix.count))
                    precondition(index == c)
                    baseLogProbabilities.append(matrix)
                }
            }
            if let save { for m in baseLogProbabilities { try save.append(UnsafeBufferPointer(start: m.pointer, count: m.count)) } }
            for (i, model) in models.enumerated() {
                let logits = try run(model, batch: batch, done: done, total: total)
                done += model.config.numHiddenLayers + 1
                for (j, c) in batch.enumerated() {
                    scores[i].append(Scoring.compare(chunk: c, base: baseLogProbabilities[j], logits: logits[j], targets: chunks.targets(c), threads: model.threads))
                }
            }
        }
        return scores
    }

    func run(_ model: DeepSeekV3Model, batch: Range<Int>, done: Int, total: Int) throws -> [Matrix] {
        let progress = self.progress
        let label = "\(model.source.label), chunks \(batch.lowerBound + 1)-\(batch.upperBound) of \(range.upperBound)"
        return try model.logits(chunks: batch.map(chunks.chunk), positions: chunks.positions) { step, _ in
            progress?(done + step, total, label)
        }
    }
}
