import ArgumentParser
import Conversion
import Foundation
import DeepSeekV3
import Quants
import TensorFiles

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that print throughput and peak memory (numbers for the README).",
        subcommands: [BenchDequant.self])
}

struct BenchDequant: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dequant",
        abstract: "FP8 -> BF16 dequantization throughput and peak RSS on synthetic checkpoints.",
        discussion: """
            For each preset (default: small and medium) runs `moepack dequant` in a child process
            and reports weights/s, input GB/s and the child's peak RSS, beside two ceilings
            measured in the same run on the same bytes: memcpy, and a plain copy into a file.
            Peak RSS must stay flat from small to medium: memory is bounded by design.
            Synthetic checkpoints are generated once into --cache.
            """)

    @Option(help: "Where synthetic checkpoints and scratch output live.")
    var cache = "bench-cache"

    @Option(parsing: .upToNextOption, help: "Presets to run.")
    var presets: [SyntheticPreset] = [.small, .medium]

    @Option(help: "Worker threads.")
    var threads: Int = availableCoreCount

    func run() throws {
        try reportingErrors {
            try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
            let bench = DequantBenchmark(
                cacheDirectory: cache, presets: presets, threads: threads, executable: ChildProcess.currentExecutable)
            let rows = try bench.run { FileHandle.standardError.write(Data("bench: \($0)\n".utf8)) }
            print(DequantBenchmark.markdown(rows, threads: threads))
        }
    }
}
