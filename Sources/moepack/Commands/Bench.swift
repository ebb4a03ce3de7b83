import ArgumentParser
import Conversion
import Foundation
import DeepSeekV3
import Quants
import TensorFiles

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that print throughput and peak memory (numbers for the README).",
        subcommands: [BenchDequant.self, BenchQuants.self])
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

struct BenchQuants: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quants",
        abstract: "Quantize/dequantize throughput of every block format, beside llama.cpp's quantizer.",
        discussion: """
            Times each GGML block format moepack implements on one weight-like F32 matrix, on one
            thread and on all, and prints bits per weight. With --peer-python (a Python that has
            llama-cpp-python installed) llama.cpp's ggml_quantize_chunk is timed on the same matrix
            in the same run and the ratio is printed.

            Example: moepack bench quants --peer-python /tmp/llama/bin/python
            """)

    @Option(help: "Rows of the benchmark matrix.")
    var rows = 512

    @Option(help: "Columns (weights per row; a multiple of 256).")
    var columns = 4096

    @Option(help: "Worker threads for the 'all threads' columns.")
    var threads: Int = availableCoreCount

    @Option(help: "A Python interpreter with llama-cpp-python, to time llama.cpp as the peer.")
    var peerPython: String?

    @Option(parsing: .upToNextOption, help: "Types to run (default: all moepack implements).")
    var types: [String] = []

    func run() throws {
        try reportingErrors {
            let chosen = try types.isEmpty
                ? GGMLType.allCases.filter { $0.format != nil && $0 != .f32 }
                : types.map { name in
                    guard let type = GGMLType(name: name), type.format != nil else { throw ValidationError("unknown or unsupported type \(name)") }
                    return type
                }
            let bench = QuantBenchmark(rows: rows, columns: columns, threads: threads, types: chosen)
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Tests/Oracles/bench_ggml_quantize.py").path
            let results = try bench.run(peerPython: peerPython, peerScript: script) {
                FileHandle.standardError.write(Data("bench: \($0)\n".utf8))
            }
            print(bench.markdown(results))
        }
    }
}
