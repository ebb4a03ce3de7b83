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
            let job = VerificationJob(
                models: models,
                options: .init(
                    threads: options.threads, attention: options.attention, memoryBudget: try options.memoryBudget, batchChunks: options.batch,
                    precision: options.precision))
            job.progress = options.progress(label: "verify")
            job.planned = { baseLabel, range, batch in
                FileHandle.standardError.write(Data("verify: base \(baseLabel); \(models.count) model(s); chunks \(range.lowerBound)..<\(range.upperBound), \(batch) per batch, \(options.threads) threads\n".utf8))
            }
            let outcome: VerificationJob.Outcome
            if let original {
                let weights = try openWeights(original)
                let chunks = try tokenize(options, tokenizer: try openTokenizer(explicit: options.tokenizer, model: weights))
                outcome = try job.run(original: weights, chunks: chunks, range: try options.chunkRange(available: chunks.available), saveBase: saveBase)
            } else {
                // validate() guarantees a --quantized model when there is no original.
                outcome = try job.run(baseFile: base!, requested: options.chunks == nil ? nil : { try options.chunkRange(available: $0) })
            }
            for (model, run) in zip(models, outcome.results.runs) {
                for line in run.report.lines(model: model.label, base: outcome.baseLabel) { print(line) }
                if perChunk {
                    for s in run.scores {
                        let r = EvaluationReport(scores: [s])
                        print(String(format: "    chunk %4d  PPL %.4f  base %.4f  KLD %.6f  same top %.1f%%", s.chunk, r.perplexity.value, r.basePerplexity?.value ?? .nan, r.meanKLD?.value ?? .nan, 100 * (r.sameTop?.value ?? .nan)))
                    }
                }
            }
            print(String(
                format: "%d chunks × %d models in %.1f s (%.1f tokens/s per model pass), peak RSS %@", outcome.range.count, outcome.passes, outcome.seconds,
                Double(outcome.range.count * outcome.tokensPerChunk * outcome.passes) / outcome.seconds, formatBytes(ProcessStats.peakResidentBytes)))
            if let saveBase { print("base log-probabilities saved to \(saveBase)") }
            if let path = options.results { try writeResults(outcome.results, to: path) }
        }
    }
}
