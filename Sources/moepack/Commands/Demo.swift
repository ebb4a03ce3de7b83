import ArgumentParser
import Conversion
import Foundation
import DeepSeekV3
import Quants
import TensorFiles

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole pipeline on a synthetic checkpoint and show each step.",
        discussion: """
            1. writes a synthetic DeepSeek-V3-architecture FP8 checkpoint (--preset, default small)
            2. inspects it (architecture, parameters, dtypes, layout check)
            3. dequantizes it to BF16 (streaming, atomic, resumable) and checks the result
            4. quantizes it to llama.cpp GGUF files with several recipes and verifies their checksums
            Everything goes under --dir (default ./moepack-demo); rerunning reuses what is there.
            """)

    @Option(help: "Synthetic checkpoint size: tiny, small or medium.")
    var preset: SyntheticPreset = .small

    @Option(help: "Working directory.")
    var dir = "moepack-demo"

    @Option(help: "Worker threads.")
    var threads: Int = availableCoreCount

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
            for recipe in [QuantRecipe.Mix.q8_0, .q4_K_M, .moeQ4, .q2_K] {
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
            }
            print("\nThe GGUF files load in llama.cpp (architecture deepseek2). Next: `moepack inspect \(bf16) --tensors`,")
            print("`moepack quantize --help`, or `moepack tokenize --tokenizer \(source) < some.txt`.")
        }
    }
}
