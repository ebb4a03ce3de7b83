import ArgumentParser
import Conversion
import Foundation
import Inference

struct Perplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Perplexity of a model (FP8/BF16 checkpoint or GGUF) on a text, the llama-perplexity way.",
        discussion: """
            Same method as llama.cpp's llama-perplexity, so figures compare with published ones: the \
            text is tokenized once (BOS first), cut into chunks of --ctx tokens, each chunk starts \
            with BOS, and only the second half of each chunk is scored. Prints PPL ± its standard \
            error. DeepSeek-R1 on wiki.test.raw at --ctx 512 is published at 3.3490 (Q8_0).

            Evaluation is layer-major: a batch of chunks passes layer 0, then layer 1, ..., so each \
            weight is read once per batch; --mem sets the batch from a memory budget. Figures do not \
            depend on the batch or thread count (bit for bit).

            Examples:
              moepack perplexity /models/DeepSeek-R1 --text wiki.test.raw --chunks 20
              moepack perplexity r1-q4_k_m.gguf --text wiki.test.raw --mem 16G
              moepack perplexity r1-q4_k_m.gguf --text wiki.test.raw --chunks 0..100 --results part0.json
            """)

    @Argument(help: "Checkpoint directory or GGUF file.")
    var model: String

    @OptionGroup var options: EvaluationOptions

    @Flag(help: "Print the figures as one JSON object (perplexity, tokens, seconds, tokens_per_second, batch_tokens, peak_rss_bytes, storage_read_bytes) instead of text.")
    var json = false

    func run() throws {
        try reportingErrors {
            let weights = try openWeights(model)
            let tokenizer = try openTokenizer(explicit: options.tokenizer, model: weights)
            let chunks = try tokenize(options, tokenizer: tokenizer)
            let range = try options.chunkRange(available: chunks.available)
            let engine = try DeepSeekV3Model(source: weights, threads: options.threads, attention: options.attention, precision: options.precision)
            let plan = MemoryPlan(config: weights.config, context: options.context, scoredPositions: chunks.positions.count, threads: options.threads, comparedModels: 0, precision: options.precision)
            let batch = try options.batch ?? plan.chunks(budget: options.memoryBudget, limit: range.count)
            FileHandle.standardError.write(Data("\(weights.label): \(chunks.tokens.count) tokens, chunks \(range.lowerBound)..<\(range.upperBound) of \(chunks.available), \(batch) per batch (memory plan: \(formatBytes(plan.fixedBytes)) + \(formatBytes(plan.bytesPerChunk)) per chunk), \(options.threads) threads (\(options.precision == .bf16 ? "BF16 products, AVX-512 BF16" : "OpenBLAS \(BLAS.coreName)"))\n".utf8))
            let evaluator = Evaluator(chunks: chunks, range: range, batchChunks: batch)
            evaluator.progress = options.progress(label: "perplexity")
            let start = Date()
            let scores = try evaluator.perplexity(engine)
            let seconds = Date().timeIntervalSince(start)
            let label = weights.identity
            let results = EvaluationResults(
                fingerprint: EvaluationResults.fingerprint(tokens: chunks.tokens, context: options.context, attention: options.attention.rawValue, base: nil, models: [label],
                    precision: options.precision),
                range: range, scores: [(label, scores)])
            let tokens = range.count * options.context
            let summary = PerplexitySummary(
                perplexity: results.runs[0].report.perplexity.value, tokens: tokens, seconds: seconds, tokensPerSecond: Double(tokens) / seconds,
                batchTokens: batch * options.context, peakRSSBytes: ProcessStats.peakResidentBytes, storageReadBytes: ProcessStats.storageReadBytes)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = .sortedKeys
                print(String(decoding: try encoder.encode(summary), as: UTF8.self))
            } else {
                for line in results.runs[0].report.lines(model: weights.label, base: nil) { print(line) }
                print(String(
                    format: "  %.1f tokens/s evaluated (%d tokens in %.1f s, %d per batch), peak RSS %@, read from storage %@ (%@ per token)",
                    summary.tokensPerSecond, tokens, seconds, summary.batchTokens, formatBytes(summary.peakRSSBytes),
                    formatBytes(summary.storageReadBytes), formatBytes(summary.storageReadBytes / max(1, tokens))))
            }
            if let path = options.results { try writeResults(results, to: path) }
        }
    }
}

/// `perplexity --json`: what the text output reports, for scripts and `bench perplexity`.
struct PerplexitySummary: Codable {
    var perplexity: Double
    var tokens: Int
    var seconds: Double
    var tokensPerSecond: Double
    var batchTokens: Int
    var peakRSSBytes: Int
    var storageReadBytes: Int

    enum CodingKeys: String, CodingKey {
        case perplexity, tokens, seconds
        case tokensPerSecond = "tokens_per_second"
        case batchTokens = "batch_tokens"
        case peakRSSBytes = "peak_rss_bytes"
        case storageReadBytes = "storage_read_bytes"
    }
}
