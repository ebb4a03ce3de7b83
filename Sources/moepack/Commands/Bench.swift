import ArgumentParser
import Benchmarks
import Conversion
import DeepSeekV3
import Foundation
import Inference
import Quants
import SyntheticModels
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
            if let peerPython { print("Peer kernels: \(BenchKernels.peer(python: peerPython)).") }
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
        abstract: "End-to-end FP8 -> GGUF time and peak memory at 1 and 2 threads, beside llama.cpp's two-pass route.",
        discussion: """
            Runs `moepack quantize` in a child process per source, recipe (Q8_0, Q4_K_M) and thread \
            count (--thread-counts, default 1 and all cores), reporting seconds, weights/s, output \
            size and the child's peak RSS (which must stay flat from small to medium), best of \
            --repeats. Sources: synthetic presets (--presets), or an FP8 checkpoint (--model).

            llama.cpp's route is two passes: FP8 -> BF16 GGUF, then BF16 -> recipe. With \
            --peer-converter (llama.cpp's convert_hf_to_gguf.py, run by --converter-python, a Python \
            with PyTorch; gguf-py is taken from beside the script) the first pass is the real converter, \
            which reads DeepSeek's FP8 weight_scale_inv itself; it recognizes only tokenizers it knows, \
            so it runs on a checkpoint with DeepSeek's real tokenizer (--model), not on the synthetic \
            presets, where moepack's own BF16 writer stands in (faster than the converter, so \
            that route is a lower bound). The second \
            pass is --peer-quantize (the llama-quantize binary, timed as a whole process) or else \
            llama_model_quantize through --peer-python (llama-cpp-python), with the same thread count. \
            The table gives moepack's one pass against the whole route and against the second pass \
            alone, at each thread count, and names the kernels each side ran.

            Examples:
              moepack bench quantize --presets medium --peer-python /tmp/llama/bin/python
              moepack bench quantize --model /tmp/devm/dev --peer-quantize /tmp/llama-tools/bin/llama-quantize \\
                --peer-converter llama.cpp/convert_hf_to_gguf.py --converter-python /tmp/convert-venv/bin/python
            """)

    @OptionGroup var checkpoints: BenchCheckpointOptions

    @Option(help: "An FP8 checkpoint directory to benchmark instead of the synthetic presets.", completion: .directory)
    var model: String?

    @Option(parsing: .upToNextOption, help: "Thread counts (default: 1 and --threads).")
    var threadCounts: [Int] = []

    @Option(help: "Timings per side and thread count; the best is kept.")
    var repeats = 1

    @Option(help: "A Python interpreter with llama-cpp-python, to time llama.cpp's quantizer as the peer.")
    var peerPython: String?

    @Option(help: "llama.cpp's llama-quantize binary (timed as a whole process; preferred over --peer-python).", completion: .file())
    var peerQuantize: String?

    @Option(help: "llama.cpp's convert_hf_to_gguf.py, timed as the route's FP8 -> BF16 pass (needs --model).", completion: .file())
    var peerConverter: String?

    @Option(help: "The Python (with PyTorch) that runs --peer-converter.")
    var converterPython = "python3"

    @Option(help: "OpenBLAS kernel family for moepack's children (default: moepack's choice for this CPU).")
    var openblasCore: String?

    func validate() throws {
        if peerConverter != nil && model == nil {
            throw ValidationError("--peer-converter needs --model: the converter recognizes only real tokenizers, not the synthetic presets'")
        }
        if repeats < 1 || threadCounts.contains(where: { $0 < 1 }) { throw ValidationError("--repeats and thread counts must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            BenchKernels.chooseOpenBLAS(openblasCore)
            let cache = checkpoints.cache, threads = checkpoints.threads
            let counts = threadCounts.isEmpty ? Array(Set([1, threads])).sorted() : threadCounts
            try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
            let script = try peerPython.map { _ in try peerScript("llama_quantize.py") } ?? ""
            let hasPeer = peerQuantize != nil || peerPython != nil
            let log: (String) -> Void = { FileHandle.standardError.write(Data("bench: \($0)\n".utf8)) }
            var sources: [(name: String, path: String, config: DeepSeekV3Config)] = []
            if let model {
                sources.append((URL(fileURLWithPath: model).standardizedFileURL.lastPathComponent, model, try DeepSeekV3Config.load(path: model + "/config.json")))
            } else {
                for preset in checkpoints.presets {
                    sources.append((preset.rawValue, try SyntheticCheckpoint.cached(preset, in: cache, threads: threads, log: log), preset.config))
                }
            }
            let secondPass = peerQuantize != nil ? "llama-quantize" : "llama_model_quantize"
            print("Kernels: \(BenchKernels.moepack); \(peerPython.map(BenchKernels.peer) ?? (peerQuantize != nil ? "llama.cpp: \(peerQuantize!)" : "no llama.cpp peer"))\n")
            print("| source | recipe | threads | moepack one pass: s | weights/s | output | bits/weight | peak RSS | FP8 -> BF16 GGUF: s | \(secondPass): s | route total: s | moepack vs route | moepack vs \(secondPass) alone |")
            print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
            var notes: [String] = []
            for source in sources {
                let weights = CheckpointLayout(config: source.config).tensors.filter { !$0.isMTP && $0.storage != .scaleInverse }
                    .reduce(0) { $0 + $1.elementCount }
                // The route's first pass: once per source (the converter is one Python process).
                var bf16Seconds: Double?
                var bf16How = ""
                let bf16 = cache + "/bench-\(source.name)-bf16.gguf"
                if hasPeer {
                    unlink(bf16)
                    if let peerConverter {
                        let gguf = URL(fileURLWithPath: peerConverter).deletingLastPathComponent().appendingPathComponent("gguf-py").path
                        log("converting \(source.name) to BF16 with \(peerConverter)")
                        let made = try ChildProcess.run(
                            "/bin/sh", ["-c", "exec \"$@\" 2>\"$0\"", bf16 + ".log", "/usr/bin/env", "PYTHONPATH=\(gguf)", converterPython, peerConverter, source.path, "--outtype", "bf16", "--outfile", bf16])
                        if made.exitStatus == 0 { bf16Seconds = made.seconds } else { log("the converter failed (status \(made.exitStatus))") }
                        bf16How = "convert_hf_to_gguf.py"
                    } else {
                        let made = try ChildProcess.run(
                            ChildProcess.currentExecutable,
                            ["quantize", source.path, bf16, "--recipe", "Q8_0", "--type", ".*=BF16", "--alignment", "32", "--quiet", "--threads", "\(threads)"])
                        if made.exitStatus == 0 { bf16Seconds = made.seconds }
                        bf16How = "moepack BF16 writer"
                    }
                    if let bf16Seconds { notes.append(String(format: "%@: FP8 -> BF16 GGUF by %@ in %.2f s (%@)", source.name, bf16How, bf16Seconds, formatBytes(fileOrDirectorySize(bf16)))) }
                }
                for recipe in ["Q8_0", "Q4_K_M"] {
                    for n in counts {
                        var best: (seconds: Double, bytes: Int, bpw: Double, peak: Int)?
                        var peerBest: Double?
                        for round in 0..<repeats {
                            log("\(source.name) \(recipe), \(n) threads, round \(round + 1) of \(repeats)")
                            let output = cache + "/bench-\(source.name)-\(recipe).gguf"
                            unlink(output)
                            let result = try ChildProcess.run(
                                ChildProcess.currentExecutable,
                                ["quantize", source.path, output, "--recipe", recipe, "--quiet", "--json", "--threads", "\(n)"])
                            unlink(output)
                            guard result.exitStatus == 0,
                                let json = try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
                                let seconds = json["seconds"] as? Double, let bytes = json["bytes"] as? Int,
                                let bpw = json["bits_per_weight"] as? Double, let peak = json["peak_rss_bytes"] as? Int
                            else { throw InputError("quantize child failed with status \(result.exitStatus)") }
                            if seconds < best?.seconds ?? .infinity { best = (seconds, bytes, bpw, peak) }
                            guard bf16Seconds != nil else { continue }
                            let peerOutput = cache + "/bench-\(source.name)-\(recipe)-llama.gguf"
                            var peerSeconds: Double?
                            if let peerQuantize {
                                // Its log goes to a file beside the output, not to the table's terminal.
                                let run = try ChildProcess.run("/bin/sh", ["-c", "exec \"$@\" >\"$0\" 2>&1", peerOutput + ".log", peerQuantize, bf16, peerOutput, recipe, "\(n)"])
                                if run.exitStatus == 0 { peerSeconds = run.seconds } else { log("llama-quantize failed (status \(run.exitStatus))") }
                            } else if let python = peerPython {
                                let run = try ChildProcess.run(python, [script, bf16, peerOutput, recipe, "\(n)"])
                                if run.exitStatus == 0, let json = try? JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any] {
                                    peerSeconds = json["seconds"] as? Double
                                }
                            }
                            unlink(peerOutput)
                            if let peerSeconds { peerBest = min(peerBest ?? .infinity, peerSeconds) }
                        }
                        guard let best else { continue }
                        var peer = "– | – | – | – | –"
                        if let bf16Seconds, let peerBest {
                            peer = String(
                                format: "%.2f | %.2f | %.2f | %.2fx | %.2fx", bf16Seconds, peerBest, bf16Seconds + peerBest,
                                (bf16Seconds + peerBest) / best.seconds, peerBest / best.seconds)
                        }
                        print(String(
                            format: "| %@ | %@ | %d | %.2f | %.1f M | %@ | %.3f | %@ | %@ |", source.name, recipe, n, best.seconds,
                            Double(weights) / best.seconds / 1e6, formatBytes(best.bytes), best.bpw, formatBytes(best.peak), peer))
                    }
                }
                unlink(bf16)
            }
            print("")
            print("Times are whole processes (start-up, validation, fsync), best of \(repeats); the first pass of the route is timed once per source and counted at every thread count.")
            for note in notes { print(note) }
        }
    }
}

/// Options shared by the benchmarks that run on synthetic checkpoints.
struct BenchCheckpointOptions: ParsableArguments {
    @Option(help: "Where synthetic checkpoints and scratch output live.")
    var cache = "bench-cache"

    @Option(parsing: .upToNextOption, help: "Presets to run.")
    var presets: [SyntheticPreset] = [.small, .medium]

    @OptionGroup var parallelism: ThreadOptions
    var threads: Int {
        get { parallelism.threads }
        set { parallelism.threads = newValue }
    }
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

/// The kernels each side of a benchmark runs, named in every table.
enum BenchKernels {
    /// Chooses OpenBLAS's kernels for this process and the children it starts, before the library
    /// loads: `core` if given, else moepack's own choice for this CPU (`BLAS.preferredCore`), with
    /// any `OPENBLAS_CORETYPE`/`OPENBLAS_L2_SIZE` of the environment removed together (a machine
    /// may set them for older OpenBLAS builds; a benchmark names the kernels it ran instead).
    static func chooseOpenBLAS(_ core: String?) {
        unsetenv("OPENBLAS_L2_SIZE")
        if let core, core != "auto" { setenv("OPENBLAS_CORETYPE", core, 1) } else { unsetenv("OPENBLAS_CORETYPE") }
    }

    /// moepack's side: the QuantKernels build and the OpenBLAS kernel family.
    static var moepack: String { "moepack: QuantKernels \(SIMDLevel.active), OpenBLAS \(BLAS.coreName)" }

    /// llama.cpp's side: `llama_print_system_info()` of the peer's build, or why it is unknown.
    static func peer(python: String) -> String {
        guard let script = try? peerScript("llama_system_info.py"), let run = try? ChildProcess.run(python, [script]), run.exitStatus == 0 else {
            return "llama.cpp: (system info unavailable)"
        }
        return "llama.cpp: " + run.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
