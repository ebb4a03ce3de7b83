import ArgumentParser
import Conversion
import Foundation
import DeepSeekV3
import Quants
import TensorFiles

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that print throughput and peak memory (numbers for the README).",
        subcommands: [BenchDequant.self, BenchQuants.self, BenchTokenizer.self, BenchQuantize.self, BenchPerplexity.self, BenchImatrix.self])
}

struct BenchDequant: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dequant",
        abstract: "FP8 -> BF16 dequantization throughput and peak RSS on synthetic checkpoints.",
        discussion: """
            For each preset (default: small and medium) runs `moepack dequant` in a child process \
            and reports weights/s, input GB/s and the child's peak RSS, beside two ceilings \
            measured in the same run on the same bytes: memcpy, and a plain copy into a file. \
            Peak RSS must stay flat from small to medium: memory is bounded by design. \
            Synthetic checkpoints are generated once into --cache.
            """)

    @OptionGroup var checkpoints: BenchCheckpointOptions

    func run() throws {
        try reportingErrors {
            let cache = checkpoints.cache, presets = checkpoints.presets, threads = checkpoints.threads
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
            Times each GGML block format moepack implements on one weight-like F32 matrix, on one \
            thread and on all, and prints bits per weight. With --peer-python (a Python that has \
            llama-cpp-python installed) llama.cpp's ggml_quantize_chunk is timed on the same matrix \
            in the same run and the ratio is printed. A last row times one plain read of the matrix: \
            the ceiling for a quantizer bound by memory bandwidth (use --rows 65536 for a matrix \
            larger than the cache). The kernels are the AVX2 build on CPUs that have it; \
            MOEPACK_SIMD=baseline selects the portable build, for comparison.

            Examples:
              moepack bench quants --peer-python /tmp/llama/bin/python
              MOEPACK_SIMD=baseline moepack bench quants --types Q8_0 Q4_K
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
            let script = try peerPython.map { _ in try peerScript("bench_ggml_quantize.py") } ?? ""
            let report = try bench.run(peerPython: peerPython, peerScript: script) {
                FileHandle.standardError.write(Data("bench: \($0)\n".utf8))
            }
            print(bench.markdown(report))
        }
    }
}

struct BenchTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Encode throughput on mixed text, beside Hugging Face tokenizers in the same run.",
        discussion: """
            Builds a few MB of mixed text (prose, code, digits, CJK, emoji, whitespace runs) and \
            encodes it line by line on one thread. With --peer-python (a Python that has the \
            `tokenizers` package; Tests/run.sh's .venv-oracle has it) the same lines are encoded by \
            Hugging Face tokenizers (RAYON_NUM_THREADS=1) and the ratio is printed.
            """)

    @Option(help: "tokenizer.json or a directory holding it (default: DeepSeek-V3's, from .venv-oracle).")
    var tokenizer: String?

    @Option(help: "Megabytes of text.")
    var megabytes = 4

    @Option(help: "A Python interpreter with the `tokenizers` package, to time it as the peer.")
    var peerPython: String?

    func run() throws {
        try reportingErrors {
            let script = try peerPython.map { _ in try peerScript("hf_tokenize.py") } ?? ""
            var path = tokenizer
            if path == nil, let python = peerPython {
                path = try ChildProcess.run(python, [script, "deepseek-path"]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard let path, !path.isEmpty else { throw ValidationError("give --tokenizer (or --peer-python to use DeepSeek-V3's)") }
            _ = try BPETokenizer(path: path)  // a bad tokenizer fails here, before the timing
            let text = TokenizerBenchmark.text(megabytes: megabytes)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            var best = Double.infinity, tokens = 0
            for _ in 0..<3 {
                let fresh = try BPETokenizer(path: path)  // no warm cache between repetitions
                let start = Date()
                tokens = lines.reduce(0) { $0 + fresh.encode($1, addSpecialTokens: false).count }
                best = min(best, Date().timeIntervalSince(start))
            }
            var whole = Double.infinity, wholeTokens = 0
            for _ in 0..<3 {
                let fresh = try BPETokenizer(path: path)
                let start = Date()
                wholeTokens = fresh.encode(text, addSpecialTokens: false).count
                whole = min(whole, Date().timeIntervalSince(start))
            }
            let bytes = Double(text.utf8.count)
            print("| encoder | line by line: MB/s (1 thread) | tokens | whole text in one call: MB/s | tokens | ratio (line by line / one call) |")
            print("|---|---|---|---|---|---|")
            print(String(format: "| moepack | %.2f | %d | %.2f | %d | |", bytes / best / 1e6, tokens, bytes / whole / 1e6, wholeTokens))
            if let python = peerPython {
                let file = NSTemporaryDirectory() + "moepack-tok-bench-\(getpid()).txt"
                try text.write(toFile: file, atomically: true, encoding: .utf8)
                defer { unlink(file) }
                let result = try ChildProcess.run(python, [script, "bench", path, file])
                if let json = try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
                    let seconds = json["seconds"] as? Double, let peerTokens = json["tokens"] as? Int,
                    let peerWhole = json["whole_seconds"] as? Double, let peerWholeTokens = json["whole_tokens"] as? Int
                {
                    print(String(
                        format: "| HF tokenizers | %.2f | %d | %.2f | %d | moepack %.2fx / %.2fx |", bytes / seconds / 1e6, peerTokens,
                        bytes / peerWhole / 1e6, peerWholeTokens, seconds / best, peerWhole / whole))
                } else {
                    FileHandle.standardError.write(Data("bench: the peer failed (status \(result.exitStatus))\n".utf8))
                }
            }
            print("")
            print("\(String(format: "%.1f", bytes / 1e6)) MB of mixed text encoded line by line, best of 3, no BOS; tokenizer \(path)")
        }
    }
}

struct BenchQuantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "End-to-end FP8 -> GGUF throughput and peak memory on synthetic checkpoints.",
        discussion: """
            Runs `moepack quantize` in a child process per preset and recipe (default small and medium, \
            Q8_0 and Q4_K_M) and reports weights/s, output size and the child's peak RSS, which must \
            stay flat from small to medium. With --peer-python (a Python with llama-cpp-python), the \
            two-pass llama.cpp route is timed on the same checkpoint in the same run: a BF16 GGUF \
            (written by moepack, standing in for convert_hf_to_gguf.py, which needs PyTorch), then \
            llama_model_quantize (what llama-quantize runs) with the same thread count.
            """)

    @OptionGroup var checkpoints: BenchCheckpointOptions

    @Option(help: "A Python interpreter with llama-cpp-python, to time llama.cpp's quantizer as the peer.")
    var peerPython: String?

    func run() throws {
        try reportingErrors {
            let cache = checkpoints.cache, presets = checkpoints.presets, threads = checkpoints.threads
            try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
            let script = try peerPython.map { _ in try peerScript("llama_quantize.py") } ?? ""
            print("| preset | recipe | moepack one pass: s | weights/s | output | bits/weight | peak RSS | llama.cpp route: BF16 GGUF s + llama-quantize s | moepack speed-up |")
            print("|---|---|---|---|---|---|---|---|---|")
            for preset in presets {
                let source = try SyntheticCheckpoint.cached(preset, in: cache, threads: threads) {
                    FileHandle.standardError.write(Data("bench: \($0)\n".utf8))
                }
                let weights = CheckpointLayout(config: preset.config).tensors.filter { !$0.isMTP && $0.storage != .scaleInverse }
                    .reduce(0) { $0 + $1.elementCount }
                var bf16Seconds: Double?
                let bf16 = cache + "/bench-\(preset.rawValue)-bf16.gguf"
                if peerPython != nil {
                    unlink(bf16)
                    let made = try ChildProcess.run(
                        ChildProcess.currentExecutable,
                        ["quantize", source, bf16, "--recipe", "Q8_0", "--type", ".*=BF16", "--alignment", "32", "--quiet", "--threads", "\(threads)"])
                    if made.exitStatus == 0 { bf16Seconds = made.seconds }
                }
                for recipe in ["Q8_0", "Q4_K_M"] {
                    let output = cache + "/bench-\(preset.rawValue)-\(recipe).gguf"
                    unlink(output)
                    let result = try ChildProcess.run(
                        ChildProcess.currentExecutable,
                        ["quantize", source, output, "--recipe", recipe, "--quiet", "--json", "--threads", "\(threads)"])
                    unlink(output)
                    guard result.exitStatus == 0,
                        let json = try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
                        let seconds = json["seconds"] as? Double, let bytes = json["bytes"] as? Int,
                        let bpw = json["bits_per_weight"] as? Double, let peak = json["peak_rss_bytes"] as? Int
                    else { throw InputError("quantize child failed with status \(result.exitStatus)") }
                    var peer = "– | –"
                    if let python = peerPython, let bf16Seconds {
                        let peerOutput = cache + "/bench-\(preset.rawValue)-\(recipe)-llama.gguf"
                        let run = try ChildProcess.run(python, [script, bf16, peerOutput, recipe, "\(threads)"])
                        unlink(peerOutput)
                        if run.exitStatus == 0, let json = try? JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any],
                            let quantizeSeconds = json["seconds"] as? Double
                        {
                            peer = String(format: "%.2f + %.2f | %.2fx", bf16Seconds, quantizeSeconds, (bf16Seconds + quantizeSeconds) / seconds)
                        }
                    }
                    print(String(
                        format: "| %@ | %@ | %.2f | %.1f M | %@ | %.3f | %@ | %@ |", preset.rawValue, recipe, seconds,
                        Double(weights) / seconds / 1e6, formatBytes(bytes), bpw, formatBytes(peak), peer))
                }
                unlink(bf16)
            }
            print("")
            print("threads: \(threads); times are whole processes (start-up, validation, fsync). The llama.cpp route's first pass is moepack's BF16 GGUF, so it is a lower bound for the real two-pass route.")
        }
    }
}

/// Options shared by the benchmarks that run on synthetic checkpoints.
struct BenchCheckpointOptions: ParsableArguments {
    @Option(help: "Where synthetic checkpoints and scratch output live.")
    var cache = "bench-cache"

    @Option(parsing: .upToNextOption, help: "Presets to run.")
    var presets: [SyntheticPreset] = [.small, .medium]

    @Option(help: "Worker threads.")
    var threads: Int = availableCoreCount
}

/// A peer-side script of the benchmarks (`Tests/Oracles/NAME` of a moepack checkout): from
/// `MOEPACK_PEER_SCRIPTS`, else the checkout the running binary was built in (found by walking up
/// from the executable, as `swift run` and `.build/release/moepack` are inside it).
func peerScript(_ name: String) throws -> String {
    if let directory = ProcessInfo.processInfo.environment["MOEPACK_PEER_SCRIPTS"] {
        let path = directory + "/" + name
        guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("MOEPACK_PEER_SCRIPTS: no \(path)") }
        return path
    }
    var directory = URL(fileURLWithPath: ChildProcess.currentExecutable).deletingLastPathComponent()
    while directory.path != "/" {
        let candidate = directory.appendingPathComponent("Tests/Oracles/" + name).path
        if FileManager.default.fileExists(atPath: candidate) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    throw ValidationError("--peer-python needs the peer script \(name) from a moepack checkout (Tests/Oracles): run the binary built in a checkout, or set MOEPACK_PEER_SCRIPTS to that directory")
}
