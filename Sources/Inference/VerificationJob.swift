import DeepSeekV3
import Foundation
import TensorFiles

/// `moepack verify`: converted models against a base over the same chunks, llama-perplexity
/// `--kl-divergence`'s figures for each. The base is the original model, run here (its
/// log-probabilities optionally saved for later runs), or a file such a run saved.
package final class VerificationJob {
    package struct Options: Sendable {
        package var threads: Int
        package var attention: AttentionForm
        /// Bytes one layer-major batch may use (`MemoryPlan`), unless `batchChunks` is given.
        package var memoryBudget: Int
        package var batchChunks: Int?
        /// The converted models' arithmetic; the original always runs in f32, the reference.
        package var precision: Precision

        package init(threads: Int, attention: AttentionForm, memoryBudget: Int, batchChunks: Int? = nil, precision: Precision = .f32) {
            self.threads = threads
            self.attention = attention
            self.memoryBudget = memoryBudget
            self.batchChunks = batchChunks
            self.precision = precision
        }
    }

    /// What a run measured, and how.
    package struct Outcome: Sendable {
        package var results: EvaluationResults
        package var baseLabel: String
        package var range: Range<Int>
        package var batchChunks: Int
        /// Model passes made (the converted models, plus the original when it was run).
        package var passes: Int
        package var tokensPerChunk: Int
        package var seconds: Double
    }

    package struct VerificationError: Error, CustomStringConvertible, Sendable {
        package var description: String
    }

    package let models: [any WeightSource]
    package let options: Options
    /// Called after every layer of every model pass: (steps done, steps in the run, what).
    package var progress: (@Sendable (Int, Int, String) -> Void)?
    /// Called once the batch is planned, before the long work (a line for the log).
    package var planned: ((_ baseLabel: String, _ range: Range<Int>, _ batchChunks: Int) -> Void)?

    package init(models: [any WeightSource], options: Options) {
        self.models = models
        self.options = options
    }

    /// Against the original, run here on `range` of `chunks`; its log-probabilities go to
    /// `saveBase` (formats/base-logprobs.md) when given, committed only after a complete run.
    package func run(original: any WeightSource, chunks: TokenChunks, range: Range<Int>, saveBase: String? = nil) throws -> Outcome {
        let label = original.identity
        let writer = try saveBase.map { path in
            try BaseLogitsWriter(
                path: path,
                header: BaseLogitsHeader(
                    model: label, context: chunks.context, vocabulary: original.config.vocabSize, firstChunk: range.lowerBound,
                    chunkCount: range.count, positions: chunks.positions.count, bos: chunks.bos, tokenCount: chunks.tokens.count,
                    tokensXXH3: TokenFingerprint.xxh3(chunks.tokens)),
                tokens: chunks.tokens)
        }
        let base = try DeepSeekV3Model(source: original, threads: options.threads, attention: options.attention)
        let outcome = try compare(
            base: .model(base), label: label, config: original.config, vocabulary: original.config.vocabSize, chunks: chunks, range: range,
            save: writer, passes: models.count + 1)
        try writer?.commit()
        return outcome
    }

    /// Against a file saved by an earlier run: its stored chunks, or `requested` among them.
    package func run(baseFile path: String, requested: ((_ available: Int) throws -> Range<Int>)? = nil) throws -> Outcome {
        guard let first = models.first else { throw VerificationError(description: "\(path): no model to compare with it") }
        let reader = try BaseLogitsReader(path: path)
        let h = reader.header
        let chunks = TokenChunks(tokens: reader.tokens, context: h.context, bos: h.bos)
        let stored = h.firstChunk..<(h.firstChunk + h.chunkCount)
        let range = try requested?(chunks.available) ?? stored
        guard range.lowerBound >= stored.lowerBound, range.upperBound <= stored.upperBound else {
            throw VerificationError(description: "\(path): holds chunks \(stored.lowerBound)..<\(stored.upperBound), not \(range.lowerBound)..<\(range.upperBound)")
        }
        return try compare(base: .file(reader), label: h.model, config: first.config, vocabulary: h.vocabulary, chunks: chunks, range: range, save: nil, passes: models.count)
    }

    func compare(
        base: Evaluator.Base, label: String, config: DeepSeekV3Config, vocabulary: Int, chunks: TokenChunks, range: Range<Int>,
        save: BaseLogitsWriter?, passes: Int
    ) throws -> Outcome {
        if let model = models.first(where: { $0.config.vocabSize != vocabulary }) {
            throw VerificationError(description: "\(model.label): vocabulary \(model.config.vocabSize), the base's is \(vocabulary)")
        }
        let engines = try models.map { try DeepSeekV3Model(source: $0, threads: options.threads, attention: options.attention, precision: options.precision) }
        let plan = MemoryPlan(
            config: config, context: chunks.context, scoredPositions: chunks.positions.count, threads: options.threads,
            comparedModels: Swift.max(1, models.count), precision: options.precision)
        let batch = options.batchChunks ?? plan.chunks(budget: options.memoryBudget, limit: range.count)
        planned?(label, range, batch)
        let evaluator = Evaluator(chunks: chunks, range: range, batchChunks: batch)
        evaluator.progress = progress
        let start = Date()
        let scores = try evaluator.compare(base: base, models: engines, save: save)
        let seconds = Date().timeIntervalSince(start)
        let labels = models.map(\.identity)
        let results = EvaluationResults(
            fingerprint: EvaluationResults.fingerprint(tokens: chunks.tokens, context: chunks.context, attention: options.attention.rawValue, base: label, models: labels,
                precision: options.precision),
            range: range, scores: Array(zip(labels, scores)).map { ($0.0, $0.1) })
        return Outcome(results: results, baseLabel: label, range: range, batchChunks: batch, passes: passes, tokensPerChunk: chunks.context, seconds: seconds)
    }
}
