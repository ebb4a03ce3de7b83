import ArgumentParser
import Conversion
import Foundation
import DeepSeekV3
import Quants
import TensorFiles

struct Dequant: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dequantize an FP8 checkpoint to a standard BF16/F16/F32 Hugging Face checkpoint.",
        discussion: """
            Does what DeepSeek's fp8_cast_bf16.py does, on a CPU and in bounded memory: every FP8 \
            weight is multiplied by its 128x128 block scale (one F32 multiply, then one \
            round-to-nearest-even into the output type), the *_scale_inv tensors are dropped, \
            other tensors are copied unchanged. Shards keep their names; a new \
            model.safetensors.index.json, a config.json without quantization_config and all other \
            files (tokenizer, ...) are written alongside.

            Each shard appears only when complete (temporary file, fsync, rename). Run the same \
            command again after an interruption: finished shards are verified by their stored \
            XXH3 checksum and skipped.

            Example: moepack dequant /models/DeepSeek-R1 /models/DeepSeek-R1-bf16 --dtype bf16
            """)

    @Argument(help: "FP8 checkpoint directory.", completion: .directory)
    var input: String

    @Argument(help: "Output directory.", completion: .directory)
    var output: String

    @Option(help: "Output dtype for dequantized weights: bf16, f16 or f32.")
    var dtype: DenseFloatType = .bf16

    @OptionGroup var parallelism: ThreadOptions
    var threads: Int {
        get { parallelism.threads }
        set { parallelism.threads = newValue }
    }

    @OptionGroup var progressOptions: ProgressOptions

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func run() throws {
        try reportingErrors {
            var options = CheckpointDequantizer.Options()
            options.outputType = dtype
            options.threads = max(1, threads)
            options.progress = progressOptions.style
            let summary = try CheckpointDequantizer(input: input, output: output, options: options).run()
            let rate = Double(summary.inputBytes) / max(summary.seconds, 1e-9)
            if json {
                print("""
                    {"shards_written": \(summary.shardsWritten), "shards_skipped": \(summary.shardsSkipped), \
                    "tensors_dequantized": \(summary.tensorsDequantized), "tensors_copied": \(summary.tensorsCopied), \
                    "input_bytes": \(summary.inputBytes), "output_bytes": \(summary.outputBytes), \
                    "seconds": \(summary.seconds), "peak_rss_bytes": \(ProcessStats.peakResidentBytes)}
                    """)
            } else {
                print(
                    "dequantized \(summary.tensorsDequantized) tensors, copied \(summary.tensorsCopied); "
                        + "shards written \(summary.shardsWritten), verified and skipped \(summary.shardsSkipped); "
                        + "\(formatBytes(summary.inputBytes)) -> \(formatBytes(summary.outputBytes)) in "
                        + String(format: "%.1f s (%@/s)", summary.seconds, formatBytes(Int(rate))))
            }
        }
    }
}

extension DenseFloatType: ExpressibleByArgument {}
