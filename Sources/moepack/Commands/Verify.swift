import ArgumentParser
import Conversion
import Foundation
import Inference
import DeepSeekV3

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare converted models with the original: PPL, KL-divergence, Δp, top-1 agreement.",
        discussion: """
            Runs the original (an FP8 checkpoint) and every --quantized model over the same chunks and \
            reports what llama-perplexity --kl-divergence reports: PPL of both and their ratio, mean \
            KLD ± error with median/p99/max, mean and RMS Δp (change in the probability of the right \
            token), and "same top p" (top-1 agreement), per model and per chunk (--results).

            The original pass is the expensive one: --save-base FILE keeps its log-probabilities \
            (zstd, formats/base-logprobs.md, with the token ids), and --base FILE compares later \
            conversions against it without the original or the text.

            Examples:
              moepack verify --original /models/DeepSeek-R1 --quantized r1-q4_k_m.gguf --text wiki.test.raw --chunks 20 --save-base r1.base
              moepack verify --base r1.base --quantized r1-q2_k.gguf --quantized r1-iq4_xs.gguf
            """)

    @Option(help: "The original checkpoint (directory).")
    var original: String?

    @Option(help: "A converted model to compare (GGUF or checkpoint); repeatable.")
    var quantized: [String] = []

    @Option(help: "Save the original's log-probabilities to this file (zstd) for later --base runs.")
    var saveBase: String?

    @Option(help: "Compare against a file written by --save-base instead of running the original.")
    var base: String?

    @Flag(help: "Print each chunk's figures.")
    var perChunk = false

    @OptionGroup var options: EvaluationOptions

    func validate() throws {
        if (original == nil) == (base == nil) { throw ValidationError("give exactly one of --original and --base") }
        if quantized.isEmpty && saveBase == nil { throw ValidationError("give at least one --quantized model (or --save-base only)") }
        if base != nil && saveBase != nil { throw ValidationError("--save-base needs --original") }
    }

    func run() throws {
        try reportingErrors {
            let models = try quantized.map(openWeights)
            let engines = try models.map { try DeepSeekV3Model(source: $0, threads: options.threads, attention: options.attention) }
            let chunks: TokenChunks
            let baseSource: Evaluator.Base
            let baseLabel: String
            let range: Range<Int>
            let baseConfig: DeepSeekV3Config
            let vocabulary: Int
            var writer: BaseLogitsWriter?
            if let original {
                let weights = try openWeights(original)
                let tokenizer = try openTokenizer(explicit: options.tokenizer, model: weights)
                chunks = try tokenize(options, tokenizer: tokenizer)
                range = try options.chunkRange(available: chunks.available)
                baseSource = .model(try DeepSeekV3Model(source: weights, threads: options.threads, attention: options.attention))
                baseLabel = weights.identity
                baseConfig = weights.config
                vocabulary = weights.config.vocabSize
                if let saveBase {
                    writer = try BaseLogitsWriter(
                        path: saveBase,
                        header: BaseLogitsHeader(
                            model: baseLabel, context: options.context, vocabulary: weights.config.vocabSize, firstChunk: range.lowerBound,
                            chunkCount: range.count, positions: chunks.positions.count, bos: chunks.bos, tokenCount: chunks.tokens.count,
                            tokensXXH3: TokenChunks.fingerprint(chunks.tokens)),
                        tokens: chunks.tokens)
                }
            } else {
                let reader = try BaseLogitsReader(path: base!)
                let h = reader.header
                chunks = TokenChunks(tokens: reader.tokens, context: h.context, bos: h.bos)
                let stored = h.firstChunk..<(h.firstChunk + h.chunkCount)
                let requested = options.chunks == nil ? stored : try options.chunkRange(available: chunks.available)
                guard requested.lowerBound >= stored.lowerBound, requested.upperBound <= stored.upperBound else {
                    throw InputError("\(base!): holds chunks \(stored.lowerBound)..<\(stored.upperBound), not \(requested.lowerBound)..<\(requested.upperBound)")
                }
                range = requested
                baseSource = .file(reader)
                baseLabel = h.model
                // validate() guarantees a --quantized model when there is no original.
                baseConfig = models[0].config
                vocabulary = h.vocabulary
            }
            if let model = models.first(where: { $0.config.vocabSize != vocabulary }) {
                throw InputError("\(model.label): vocabulary \(model.config.vocabSize), the base's is \(vocabulary)")
            }
            let plan = MemoryPlan(
                config: baseConfig, context: chunks.context,
                scoredPositions: chunks.positions.count, threads: options.threads, comparedModels: max(1, models.count))
            let batch = try options.batch ?? plan.chunks(budget: options.memoryBudget, limit: range.count)
            FileHandle.standardError.write(Data("verify: base \(baseLabel); \(models.count) model(s); chunks \(range.lowerBound)..<\(range.upperBound), \(batch) per batch, \(options.threads) threads\n".utf8))
            let evaluator = Evaluator(chunks: chunks, range: range, batchChunks: batch)
            evaluator.progress = options.progress(label: "verify")
            let start = Date()
            let scores = try evaluator.compare(base: baseSource, models: engines, save: writer)
            let seconds = Date().timeIntervalSince(start)
            try writer?.commit()
            let labels = models.map(\.identity)
            let results = EvaluationResults(
                fingerprint: EvaluationResults.fingerprint(tokens: chunks.tokens, context: chunks.context, attention: options.attention.rawValue, base: baseLabel, models: labels),
                range: range, scores: Array(zip(labels, scores)).map { ($0.0, $0.1) })
            for (model, run) in zip(models, results.runs) {
                for line in run.report.lines(model: model.label, base: baseLabel) { print(line) }
                if perChunk {
                    for s in run.scores {
                        let r = EvaluationReport(scores: [s])
                        print(String(format: "    chunk %4d  PPL %.4f  base %.4f  KLD %.6f  same top %.1f%%", s.chunk, r.perplexity.value, r.basePerplexity?.value ?? .nan, r.meanKLD?.value ?? .nan, 100 * (r.sameTop?.value ?? .nan)))
                    }
                }
            }
            let passes = models.count + (original != nil ? 1 : 0)
            print(String(
                format: "%d chunks × %d models in %.1f s (%.1f tokens/s per model pass), peak RSS %@", range.count, passes, seconds,
                Double(range.count * chunks.context * passes) / seconds, formatBytes(ProcessStats.peakResidentBytes)))
            if let saveBase { print("base log-probabilities saved to \(saveBase)") }
            if let path = options.results { try writeResults(results, to: path) }
        }
    }
}
