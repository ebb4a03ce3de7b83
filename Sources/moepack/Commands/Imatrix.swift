import ArgumentParser
import Conversion
import Foundation
import Inference
import TensorFiles

struct Imatrix: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Importance matrix of a model (FP8/BF16 checkpoint or GGUF) on a calibration text, as llama-imatrix computes it.",
        discussion: """
            Runs the model over the text in chunks of --ctx tokens (BOS first, as llama-imatrix and \
            llama-perplexity cut it) and sums, for every weight that multiplies activations, the \
            squared input of each column over every position: routed experts per expert over the \
            tokens routed to them, attn_k_b/attn_v_b per head in llama.cpp's MLA form, the router \
            too, the LM head only with --process-output. Entries are named by the GGUF tensor they \
            weight, so an imatrix of the FP8 checkpoint applies to every GGUF made from it.

            The output is llama.cpp's GGUF imatrix (general.type = imatrix, <tensor>.in_sum2, \
            <tensor>.counts); llama-quantize --imatrix reads it, and moepack quantize --imatrix reads \
            it and the legacy .dat files most published R1 imatrices are. At the end a coverage table \
            shows how many tokens each layer's routed experts got: with 256 experts and top-8 routing \
            a short text leaves some cold.

            --precision bf16 runs the weight products in BF16 (faster on AVX-512 BF16 CPUs). Every \
            weight's input is still summed in f32, but the rounding upstream moves it, and the \
            token counts of the experts it reroutes: `moepack bench imatrix` measures both. A bf16 \
            run's slices and resume files do not mix with f32 ones.

            Long runs: every --save-every chunks the exact sums so far go to a resume file beside \
            the output; rerunning the same command continues from it. Job arrays: --chunks A..B \
            writes a slice (exact sums); merge-imatrix adds slices to the same bits as one run.

            Examples:
              moepack imatrix /models/DeepSeek-R1 --text calibration.txt --chunks 200 -o r1.imatrix.gguf
              moepack imatrix /models/DeepSeek-R1 --text calibration.txt --chunks 0..50 -o part0.gguf
              moepack merge-imatrix part0.gguf part1.gguf part2.gguf part3.gguf -o r1.imatrix.gguf
              moepack quantize /models/DeepSeek-R1 r1-q2_k.gguf --recipe Q2_K --imatrix r1.imatrix.gguf
            """)

    @Argument(help: "Checkpoint directory or GGUF file.")
    var model: String

    @OptionGroup var options: EvaluationOptions

    @Option(name: [.short, .customLong("output")], help: "Importance-matrix file to write (GGUF).")
    var output: String

    @Flag(help: "Also collect the LM head's input (output.weight), as llama-imatrix --process-output.")
    var processOutput = false

    @Option(help: "Chunks between saves of the resume file.")
    var saveEvery: Int = 10

    @Option(help: "Experts with fewer tokens than this count as cold in the coverage report.")
    var coldThreshold: Int = 16

    @Flag(help: "Print the summary and coverage as one JSON object.")
    var json = false

    func run() throws {
        try reportingErrors {
            guard options.attention == .absorbed else { throw ValidationError("imatrix collects in the absorbed attention form (llama.cpp's MLA graph); drop --attention plain") }
            guard saveEvery > 0 else { throw ValidationError("--save-every must be positive") }
            let weights = try openWeights(model)
            let tokenizer = try openTokenizer(explicit: options.tokenizer, model: weights)
            let chunks = try tokenize(options, tokenizer: tokenizer)
            let range = try options.chunkRange(available: chunks.available)
            let plan = MemoryPlan(config: weights.config, context: options.context, scoredPositions: chunks.positions.count, threads: options.threads, comparedModels: 0, precision: options.precision)
            let batch = try options.batch ?? plan.chunks(budget: options.memoryBudget, limit: range.count)
            if !json {
                FileHandle.standardError.write(Data("\(weights.label): \(chunks.tokens.count) tokens, chunks \(range.lowerBound)..<\(range.upperBound) of \(chunks.available), \(batch) per batch, \(options.threads) threads\(options.precision == .f32 ? "" : ", --precision \(options.precision.rawValue)")\n".utf8))
            }
            var jobOptions = ImatrixJob.Options(range: range, batchChunks: batch, threads: options.threads, dataset: options.text ?? "")
            jobOptions.processOutput = processOutput
            jobOptions.saveEvery = saveEvery
            jobOptions.slice = options.chunks?.contains("..") == true
            jobOptions.precision = options.precision
            let job = ImatrixJob(source: weights, chunks: chunks, output: output, options: jobOptions)
            job.progress = json ? nil : options.progress(label: "imatrix")
            let summary = try job.run()
            let coverage = ExpertCoverage(summary.matrix, config: weights.config, threshold: coldThreshold)
            let results = EvaluationResults(
                fingerprint: EvaluationResults.fingerprint(tokens: chunks.tokens, context: options.context, attention: "absorbed", base: nil, models: [weights.identity],
                    precision: options.precision),
                range: range.lowerBound..<(range.lowerBound + summary.scores.count), scores: [(weights.identity, summary.scores)])
            let tokens = (range.count - summary.resumedChunks) * options.context
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                let coverageJSON = String(decoding: try encoder.encode(coverage), as: UTF8.self)
                print("""
                    {"output": \(jsonText(output)), "entries": \(summary.matrix.entries.count), "chunks": \(range.count), "chunk_size": \(options.context), \
                    "slice": \(jobOptions.slice), "resumed_chunks": \(summary.resumedChunks), "seconds": \(summary.seconds), \
                    "tokens_per_second": \(Double(tokens) / max(summary.seconds, 1e-9)), "peak_rss_bytes": \(ProcessStats.peakResidentBytes), \
                    "coverage": \(coverageJSON)}
                    """)
            } else {
                print("wrote \(output): \(summary.matrix.entries.count) entries, \(range.count) chunks of \(options.context) tokens\(jobOptions.slice ? " (slice \(range.lowerBound)..<\(range.upperBound): merge with merge-imatrix)" : "")\(summary.resumedChunks > 0 ? ", \(summary.resumedChunks) chunks resumed" : "")")
                if summary.scores.count == range.count {
                    for line in results.runs[0].report.lines(model: weights.label, base: nil) { print(line) }
                }
                print(String(format: "  %.1f tokens/s (%d tokens in %.1f s), peak RSS %@", Double(tokens) / max(summary.seconds, 1e-9), tokens, summary.seconds, formatBytes(ProcessStats.peakResidentBytes)))
                for line in coverage.lines { print(line) }
            }
        }
    }
}

struct MergeImatrix: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge-imatrix",
        abstract: "Add importance-matrix slices (imatrix --chunks A..B) into one file.",
        discussion: """
            Slices must come from the same model, text and settings and must not overlap; their \
            exact sums add up to the same bits one run over all their chunks writes. Plain \
            llama.cpp imatrix files (GGUF or legacy .dat) can be added too, as llama-imatrix \
            --in-file does (F32 sums, so not bit-exact).
            """)

    @Argument(help: "Importance-matrix files.")
    var files: [String]

    @Option(name: [.short, .customLong("output")], help: "Merged file to write (GGUF).")
    var output: String

    func run() throws {
        try reportingErrors {
            guard !files.isEmpty else { throw ValidationError("give the files to merge") }
            let merged = try ImatrixJob.merge(files)
            try ImatrixFile.write(merged, to: output)
            print("wrote \(output): \(merged.entries.count) entries, \(merged.chunkCount) chunks of \(merged.chunkSize) tokens from \(files.count) files")
        }
    }
}
