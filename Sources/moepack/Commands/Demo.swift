import ArgumentParser
import Conversion
import DeepSeekV3
import Foundation
import Inference
import Quants
import SyntheticModels
import TensorFiles

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole pipeline on a synthetic checkpoint and show each step.",
        discussion: """
            1. writes a synthetic DeepSeek-V3-architecture FP8 checkpoint (--preset, default small)
            2. inspects it (architecture, parameters, dtypes, layout check)
            3. dequantizes it to BF16 (streaming, atomic, resumable) and checks the result
            4. quantizes it to llama.cpp GGUF files with several recipes and verifies their checksums
            5. computes an importance matrix of the FP8 original on a text (`moepack imatrix`) and
               quantizes a Q2_K file with it (`quantize --imatrix`)
            6. verifies them: the built-in engine runs the FP8 original and every GGUF over a text and
               reports perplexity, KL-divergence and top-1 agreement (`moepack verify`)
            Everything goes under --dir (default ./moepack-demo); rerunning reuses what is there.
            """)

    @Option(help: "Synthetic checkpoint size: tiny, small or medium.")
    var preset: SyntheticPreset = .small

    @Option(help: "Working directory.")
    var dir = "moepack-demo"

    @OptionGroup var parallelism: ThreadOptions
    var threads: Int {
        get { parallelism.threads }
        set { parallelism.threads = newValue }
    }

    func run() throws {
        try reportingErrors {
            let source = dir + "/fp8-\(preset.rawValue)"
            let bf16 = dir + "/bf16-\(preset.rawValue)"
            print("== 1. synthetic FP8 checkpoint: \(source)")
            if FileManager.default.fileExists(atPath: source + "/config.json") {
                print("   (already there; delete it to regenerate)")
            } else {
                let bytes = try SyntheticCheckpoint(preset: preset, threads: threads).write(to: source)
                print("   wrote \(formatBytes(bytes)) of tensors")
            }
            print("\n== 2. moepack inspect \(source)")
            print(try CheckpointReport(directory: source).text(listTensors: false))
            print("== 3. moepack dequant \(source) \(bf16) --dtype bf16")
            var options = CheckpointDequantizer.Options()
            options.threads = threads
            let summary = try CheckpointDequantizer(input: source, output: bf16, options: options).run()
            print(
                "   \(summary.tensorsDequantized) FP8 tensors dequantized, \(summary.tensorsCopied) copied, "
                    + "\(summary.shardsWritten) shards written, \(summary.shardsSkipped) verified and skipped, "
                    + String(format: "%.2f s", summary.seconds))
            let check = try CheckpointReport(directory: bf16)
            print("   output: \(check.check.isValid ? "layout matches config.json" : "LAYOUT PROBLEMS"), "
                + "\(check.checkpoint.tensorCount) tensors, \(formatBytes(check.checkpoint.dataBytes)), FP8: \(check.check.isFP8)")
            print("\n== 4. moepack quantize \(source) \(dir)/\(preset.rawValue)-RECIPE.gguf --recipe RECIPE")
            print("   recipe    file size   bits/weight   seconds   checksums")
            let recipes = [QuantRecipe.Mix.q8_0, .q4_K_M, .moeQ4, .q2_K]
            var files: [(label: String, path: String, bytes: Int)] = []
            for recipe in recipes {
                let path = dir + "/\(preset.rawValue)-\(recipe.rawValue.lowercased()).gguf"
                var quantizeOptions = GGUFConverter.Options()
                quantizeOptions.recipe = recipe
                quantizeOptions.threads = threads
                quantizeOptions.progress = .quiet
                let result = try GGUFConverter(input: source, output: path, options: quantizeOptions).run()
                let check = try GGUFCheck.run(path: path)
                print(
                    "   " + recipe.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
                        + formatBytes(result.plan.layout.fileSize).leftPadded(10)
                        + String(format: "%14.3f%10.2f", result.plan.bitsPerWeight, result.seconds)
                        + "   \(check.verified)/\(check.tensors) ok")
                files.append((recipe.rawValue, path, result.plan.layout.fileSize))
            }
            files.append(try imatrixStep(source: source))
            try verifyStep(source: source, files: files)
            print("\nThe GGUF files load in llama.cpp (architecture deepseek2). Next: `moepack inspect \(bf16) --tensors`,")
            print("`moepack quantize --help`, `moepack verify --help`, or `moepack tokenize --tokenizer \(source) < some.txt`.")
        }
    }

    var corpus: String {
        get throws {
            let text = dir + "/corpus.txt"
            try Data(SyntheticCorpus.text.utf8).write(to: URL(fileURLWithPath: text))
            return text
        }
    }

    /// Step 5: an importance matrix of the original on the second half of the built-in text (the
    /// verification uses the first chunks), then Q2_K with it.
    func imatrixStep(source: String) throws -> (label: String, path: String, bytes: Int) {
        let context = 128, text = try corpus, output = dir + "/\(preset.rawValue).imatrix.gguf"
        let tokenizer = try BPETokenizer(path: source)
        let chunks = TokenChunks(text: Array(SyntheticCorpus.text.utf8), tokenizer: tokenizer, context: context)
        let range = (chunks.available / 2)..<min(chunks.available, chunks.available / 2 + 16)
        print("\n== 5. moepack imatrix \(source) --text \(text) --ctx \(context) --chunks \(range.lowerBound)..\(range.upperBound) -o \(output)")
        let weights = try CheckpointWeights(directory: source)
        let job = ImatrixJob(
            source: weights, chunks: chunks, output: output,
            options: .init(range: range, batchChunks: range.count, threads: threads, dataset: text))
        let summary = try job.run()
        let coverage = ExpertCoverage(summary.matrix, config: weights.config, threshold: 16)
        print("   \(summary.matrix.entries.count) entries from \(range.count) chunks in \(String(format: "%.1f", summary.seconds)) s; routed experts without tokens: \(coverage.layers.map(\.withoutTokens).reduce(0, +)) of \(coverage.layers.map(\.experts).reduce(0, +))")
        let path = dir + "/\(preset.rawValue)-q2_k-imatrix.gguf"
        print("   moepack quantize \(source) \(path) --recipe Q2_K --imatrix \(output)")
        var options = GGUFConverter.Options()
        options.recipe = .q2_K
        options.threads = threads
        options.progress = .quiet
        let file = try MappedFile(path: output)
        options.importance = (summary.matrix, output, withExtendedLifetime(file) { XXH3Hasher.hex(XXH3Hasher.hash(file.bytes)) })
        let result = try GGUFConverter(input: source, output: path, options: options).run()
        return ("Q2_K+imatrix", path, result.plan.layout.fileSize)
    }

    /// Step 6: the original against every quantized file on the built-in text.
    func verifyStep(source: String, files: [(label: String, path: String, bytes: Int)]) throws {
        let context = 128
        let text = try corpus
        print("\n== 6. moepack verify --original \(source) --quantized FILE.gguf ... --text \(text) --ctx \(context)")
        let original = try CheckpointWeights(directory: source)
        let tokenizer = try BPETokenizer(path: source)
        let chunks = TokenChunks(text: Array(SyntheticCorpus.text.utf8), tokenizer: tokenizer, context: context)
        let count = min(chunks.available, 8)
        let job = VerificationJob(
            models: try files.map { try GGUFWeights(path: $0.path) },
            options: .init(threads: threads, attention: .absorbed, memoryBudget: .max, batchChunks: count))
        let outcome = try job.run(original: original, chunks: chunks, range: 0..<count)
        let scores = outcome.results.runs.map(\.scores), seconds = outcome.seconds
        let baseReport = EvaluationReport(scores: scores[0])
        print("   \(count) chunks of \(context) tokens, \(baseReport.tokens) scored; \(String(format: "%.1f", seconds)) s for \(files.count + 1) models")
        print("   model           size        PPL   PPL ratio   mean KLD    KLD p99   same top-1")
        print("   " + "FP8 original".padding(toLength: 12, withPad: " ", startingAt: 0) + formatBytes(original.byteCount).leftPadded(10)
            + String(format: "%11.2f", baseReport.basePerplexity!.value) + "           -          -          -            -")
        for ((label, _, size), run) in zip(files, scores) {
            let r = EvaluationReport(scores: run)
            print("   " + label.padding(toLength: 12, withPad: " ", startingAt: 0) + formatBytes(size).leftPadded(10)
                + String(format: "%11.2f%12.4f%11.5f%11.4f%11.1f %%", r.perplexity.value, r.perplexityRatio!, r.meanKLD!.value, r.kldPercentiles!["99"]!, 100 * r.sameTop!.value))
        }
        print("   (Random synthetic weights know no language, so PPL is near the vocabulary size; what counts is")
        print("   how far each file moves from the original: KLD and top-1 agreement.)")
    }
}
