import ArgumentParser
import Benchmarks
import Conversion
import DeepSeekV3
import Foundation
import Inference
import Quants
import SyntheticModels
import TensorFiles

struct BenchPerplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity throughput (FP8 and GGUF sources) at 1 and 2 threads beside llama.cpp, and in a memory cap.",
        discussion: """
            1. Speed: `moepack perplexity` (a child process each) on the FP8 checkpoint and on Q8_0 and \
            Q4_K_M GGUFs of it, --ctx 512, at each of --thread-counts (default 1 and all cores: the \
            ratio between them is the efficiency of the added cores), reporting tokens/s and peak RSS, \
            best of --repeats. With --peer-python (a Python with llama-cpp-python) llama.cpp \
            evaluates the same GGUF on the same chunks with the same thread count in the same run, \
            timed in turn with moepack, the way llama-perplexity does: one batch per chunk from an \
            empty cache, logits only for the scored second half (its llama_decode is timed; \
            moepack's rate includes its scoring). The ratio is printed, and llama.cpp's PPL from \
            those logits, as a check that both sides scored the same tokens, and its rate with every \
            position's logits (llama-cpp-python's logits_all) for comparison with older tables. On CPUs \
            with AVX-512 BF16 every file is timed again with `--precision bf16` (its own row, beside \
            the same llama.cpp figures), and that row's KLD is the mean KL divergence of its \
            next-token distributions from the f32 run of the same file (`verify --original F \
            --quantized F --precision bf16` on the same chunks): what the mode costs. The model is a synthetic preset, or any FP8 checkpoint with --model (e.g. a \
            trained one with the real 129,280-token vocabulary) evaluated on --text. The table names \
            the kernels each side ran: moepack's QuantKernels build and OpenBLAS kernel family \
            (--openblas-core; by default moepack's choice for this CPU, whatever OPENBLAS_CORETYPE \
            says), and llama.cpp's llama_print_system_info().
            2. Predicted wall time of full DeepSeek-R1 wikitext-2 perplexity on a few machine sizes, \
            from the rates measured in part 1 at the highest thread count (see the table's header).
            3. Models larger than RAM (--memory-limit, default 40% of the FP8 checkpoint): \
            the FP8 run again inside a memory cgroup that caps resident and cached memory, with \
            page caches dropped first, chunk by chunk (--batch 1) and layer-major (--mem), printing \
            tokens/s and bytes read from storage per token. Needs root for the cgroup (cgroup v1 \
            `memory.limit_in_bytes` or v2 `memory.max`); skipped with a note otherwise.

            Examples:
              moepack bench perplexity --peer-python /tmp/llama/bin/python --chunks 8
              moepack bench perplexity --model /tmp/devm/dev --text /tmp/devm/dev.eval.txt --peer-python /tmp/llama/bin/python --memory-limit 0
            """)

    @Option(help: "Synthetic model size (without --model).")
    var preset: SyntheticPreset = .medium

    @Option(help: "An FP8 (or BF16) checkpoint directory to benchmark instead of a synthetic preset.", completion: .directory)
    var model: String?

    @Option(help: "Text to evaluate (default: the synthetic corpus, repeated).", completion: .file())
    var text: String?

    @Option(help: "Where synthetic checkpoints and GGUFs are cached.")
    var cache = "bench-cache"

    @Option(help: "Worker threads for part 3, and part 1's highest thread count when --thread-counts is not given.")
    var threads: Int = availableCoreCount

    @Option(parsing: .upToNextOption, help: "Thread counts timed in part 1 (default: 1 and --threads).")
    var threadCounts: [Int] = []

    @Option(help: "Timings per side and thread count; the best is kept.")
    var repeats = 1

    @Option(help: "Chunks of 512 tokens per measurement.")
    var chunks = 4

    @Option(help: "A Python interpreter with llama-cpp-python, to time llama.cpp as the peer.")
    var peerPython: String?

    @Option(help: "OpenBLAS kernel family for moepack (e.g. SkylakeX, Haswell; default: moepack's choice for this CPU).")
    var openblasCore: String?

    @Option(parsing: .upToNextOption, help: "Precisions timed in part 1 (default: f32, and bf16 where the CPU has AVX-512 BF16).")
    var precisions: [Precision] = []

    @Option(help: "Memory cap for part 3, e.g. 500M (default: 40% of the FP8 checkpoint; 0 skips part 3).")
    var memoryLimit: String?

    func validate() throws {
        if threads < 1 || threadCounts.contains(where: { $0 < 1 }) { throw ValidationError("thread counts must be at least 1") }
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            BenchKernels.chooseOpenBLAS(openblasCore)
            try BLAS.ensureLoaded()
            try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
            let log: (String) -> Void = { FileHandle.standardError.write(Data("bench: \($0)\n".utf8)) }
            let source = try model ?? SyntheticCheckpoint.cached(preset, in: cache, threads: threads, log: log)
            let name = model.map { URL(fileURLWithPath: $0).standardizedFileURL.lastPathComponent } ?? preset.rawValue
            let config = try DeepSeekV3Config.load(path: source + "/config.json")
            let executable = ChildProcess.currentExecutable
            var files: [(label: String, path: String)] = [("FP8 checkpoint", source)]
            for recipe in ["Q8_0", "Q4_K_M"] {
                let path = cache + "/eval-\(name)-\(recipe).gguf"
                if !FileManager.default.fileExists(atPath: path) {
                    log("quantizing \(recipe)")
                    let made = try ChildProcess.run(executable, ["quantize", source, path, "--recipe", recipe, "--quiet", "--threads", "\(threads)"])
                    guard made.exitStatus == 0 else { throw InputError("quantize \(recipe) failed") }
                }
                files.append((recipe + " GGUF", path))
            }
            let textPath: String
            if let text {
                textPath = text
            } else {
                textPath = cache + "/eval-text.txt"
                try Data(String(repeating: SyntheticCorpus.text + "\n", count: 60).utf8).write(to: URL(fileURLWithPath: textPath))
            }
            let context = 512
            let tokenizer = try BPETokenizer(path: source)
            let tokenChunks = TokenChunks(text: [UInt8](try Data(contentsOf: URL(fileURLWithPath: textPath))), tokenizer: tokenizer, context: context)
            guard tokenChunks.available >= chunks else { throw InputError("the benchmark text has only \(tokenChunks.available) chunks of \(context) tokens") }
            let chunksFile = cache + "/eval-chunks.json"
            try JSONSerialization.data(withJSONObject: (0..<chunks).map(tokenChunks.chunk)).write(to: URL(fileURLWithPath: chunksFile))
            let speedScript = try peerPython.map { _ in try peerScript("llama_perplexity_speed.py") } ?? ""
            let counts = threadCounts.isEmpty ? Array(Set([1, threads])).sorted() : threadCounts
            let top = counts.max() ?? threads

            let what = model == nil ? "the \(preset.rawValue) synthetic model" : "the checkpoint \(source)"
            print("Part 1: `moepack perplexity` on \(what) (\(formatBytes(directorySize(source))) FP8; hidden \(config.hiddenSize), vocabulary \(config.vocabSize)), \(chunks) chunks × \(context) tokens of \(textPath), threads \(counts.map(String.init).joined(separator: " and ")), best of \(repeats)")
            print("Kernels: \(BenchKernels.moepack); \(peerPython.map(BenchKernels.peer) ?? "no llama.cpp peer")\n")
            struct Cell {
                var moepack = 0.0, peer = 0.0
                var ppl = Double.nan
                var moepackPeak = "?", peerPeak = "–"
                var peerAllLogits = 0.0, peerPPL = Double.nan
            }
            let modes = precisions.isEmpty ? Precision.allCases.filter(\.isSupported) : precisions
            for mode in modes { try mode.ensureSupported() }
            // One row per file and precision; the bf16 rows show their file's llama.cpp figures.
            let rows = files.flatMap { file in modes.map { (label: file.label + ($0 == .f32 ? "" : ", --precision \($0.rawValue)"), file: file.label, path: file.path, precision: $0) } }
            var cells: [String: [Int: Cell]] = [:]
            for round in 0..<repeats {
                for (label, _, path, precision) in rows {
                    for n in counts {
                        log("round \(round + 1) of \(repeats): \(label), \(n) threads")
                        var cell = cells[label]?[n] ?? Cell()
                        let run = try ChildProcess.run(
                            executable,
                            ["perplexity", path, "--text", textPath, "--ctx", "\(context)", "--chunks", "\(chunks)", "--threads", "\(n)", "--quiet", "--mem", "8G", "--json",
                             "--precision", precision.rawValue])
                        guard run.exitStatus == 0, let figures = Self.figures(run.standardOutput) else { throw InputError("perplexity on \(path) failed (status \(run.exitStatus))") }
                        if figures.rate > cell.moepack { cell.moepack = figures.rate; cell.moepackPeak = figures.peak }
                        cell.ppl = figures.ppl
                        if let python = peerPython, path.hasSuffix(".gguf"), precision == .f32 {
                            let result = try ChildProcess.run(python, [speedScript, path, chunksFile, "\(tokenChunks.first)", "\(n)"])
                            if result.exitStatus == 0, let line = result.standardOutput.split(separator: "\n").last,
                                let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                                let rate = json["tokens_per_second"] as? Double
                            {
                                if rate > cell.peer { cell.peer = rate; cell.peerPeak = formatBytes(result.peakResidentBytes) }
                                cell.peerAllLogits = Swift.max(cell.peerAllLogits, json["all_logits_tokens_per_second"] as? Double ?? 0)
                                if let nll = json["nll"] as? Double { cell.peerPPL = Foundation.exp(nll) }
                            } else {
                                log("llama.cpp peer failed on \(path) (status \(result.exitStatus))")
                            }
                        }
                        cells[label, default: [:]][n] = cell
                    }
                }
            }
            // What bf16 costs: each bf16 row's distributions against the f32 run of the same file.
            var kld: [String: String] = [:]
            for (label, _, path, precision) in rows where precision != .f32 {
                log("KLD of \(label) against f32")
                let resultsPath = cache + "/eval-kld-\(precision.rawValue).json"
                let run = try ChildProcess.run(
                    executable,
                    ["verify", "--original", path, "--quantized", path, "--precision", precision.rawValue, "--text", textPath, "--ctx", "\(context)",
                     "--chunks", "\(chunks)", "--threads", "\(top)", "--quiet", "--results", resultsPath])
                guard run.exitStatus == 0,
                    let estimate = try EvaluationResults.decode(Data(contentsOf: URL(fileURLWithPath: resultsPath)), file: resultsPath).runs.first?.report.meanKLD
                else { throw InputError("verify --precision \(precision.rawValue) on \(path) failed (status \(run.exitStatus))") }
                kld[label] = String(format: "%.6f ± %.6f", estimate.value, estimate.uncertainty)
            }
            func rate(_ x: Double) -> String { x > 0 ? String(format: "%.1f", x) : "–" }
            func scaling(_ a: Double?, _ b: Double?) -> String {
                guard let a, let b, a > 0, b > 0 else { return "–" }
                return String(format: "%.2fx", b / a)
            }
            let low = counts.min() ?? 1
            var header = "| source | file | PPL: moepack, llama.cpp |"
            for n in counts { header += " moepack tokens/s, \(n) thread\(n == 1 ? "" : "s") |" }
            if counts.count > 1 { header += " moepack \(top) vs \(low) threads |" }
            for n in counts { header += " llama.cpp tokens/s, \(n) thread\(n == 1 ? "" : "s") |" }
            if counts.count > 1 { header += " llama.cpp \(top) vs \(low) threads |" }
            for n in counts { header += " moepack / llama.cpp, \(n) thread\(n == 1 ? "" : "s") |" }
            header += " llama.cpp all logits, \(top) threads | peak RSS (\(top) threads): moepack, llama.cpp | mean KLD vs the f32 path |"
            print(header)
            print("|" + String(repeating: "---|", count: header.filter { $0 == "|" }.count - 1))
            var rates: [String: Double] = [:]
            for (label, file, path, _) in rows {
                // llama.cpp's figures were measured once per file, in its f32 row.
                guard let row = cells[label] else { continue }
                let peerRow = cells[file] ?? [:]
                rates[label] = row[top]?.moepack
                let peerPPL = peerRow[top]?.peerPPL ?? .nan
                var line = String(format: "| %@ | %@ | %.2f, %@ |", label, formatBytes(fileOrDirectorySize(path)), row[top]?.ppl ?? .nan, peerPPL.isNaN ? "–" : String(format: "%.2f", peerPPL))
                for n in counts { line += " \(rate(row[n]?.moepack ?? 0)) |" }
                if counts.count > 1 { line += " \(scaling(row[low]?.moepack, row[top]?.moepack)) |" }
                for n in counts { line += " \(rate(peerRow[n]?.peer ?? 0)) |" }
                if counts.count > 1 { line += " \(scaling(peerRow[low]?.peer, peerRow[top]?.peer)) |" }
                for n in counts { line += " \(scaling(peerRow[n]?.peer, row[n]?.moepack)) |" }
                line += " \(rate(peerRow[top]?.peerAllLogits ?? 0)) | \(row[top]?.moepackPeak ?? "?"), \(peerRow[top]?.peerPeak ?? "–") | \(kld[label] ?? "–") |"
                print(line)
            }

            if model == nil {
                try predict(rates: rates, config: config, threads: top, context: context, log: log)
            } else {
                // A given checkpoint's rate says little about R1's: on a small model with R1's
                // vocabulary the LM head dominates, on R1 the routed experts do.
                print("\n(Part 2, the R1 prediction, runs on the synthetic presets only.)")
            }

            // Part 3.
            let fp8Bytes = directorySize(source)
            let limit = try memoryLimit.map { try parseByteSize($0, option: "--memory-limit") } ?? fp8Bytes * 2 / 5
            // Layer-major gets the cap minus room for one layer's FP8 bytes in the page cache.
            let layerBytes = fp8Bytes / (config.numHiddenLayers + config.numNextNPredictLayers)
            let budget = limit - layerBytes - (32 << 20)
            guard limit > 0 else { return }
            // The engine's own working set (binary, tokenizer, buffers) is some 40 MiB before any weight.
            guard budget >= 16 << 20 else {
                print("\n(Part 3 skipped: a cap of \(formatBytes(limit)) leaves no room for a layer-major batch beside one layer's weights and the process itself; give --memory-limit of at least \(formatBytes(layerBytes + (48 << 20))).)")
                return
            }
            print("\nPart 3: the FP8 model (\(formatBytes(fp8Bytes))) in a memory cgroup capped at \(formatBytes(limit)) (resident + page cache), caches dropped before each run, \(chunks) chunks, \(threads) threads; layer-major with --mem \(formatBytes(budget))\n")
            guard let cgroup = MemoryCgroup(limit: limit) else {
                print("(skipped: cannot create a memory cgroup here; run as root on a machine with cgroup v1 or v2 memory control)")
                return
            }
            defer { cgroup.remove() }
            print("| evaluation | chunks per batch | tokens/s | read from storage per token | peak RSS |")
            print("|---|---|---|---|---|")
            for (label, extra) in [("chunk by chunk", ["--batch", "1"]), ("layer-major", ["--mem", "\(budget)"])] {
                dropCaches(source)
                let arguments = ["perplexity", source, "--text", textPath, "--ctx", "\(context)", "--chunks", "\(chunks)", "--threads", "\(threads)", "--quiet", "--json"] + extra
                let run = try cgroup.run(executable, arguments)
                guard run.exitStatus == 0, let figures = Self.figures(run.standardOutput) else {
                    throw InputError("capped perplexity failed (status \(run.exitStatus)): \(run.standardOutput.suffix(500))")
                }
                print(String(format: "| %@ | %d | %.1f | %@ | %@ |", label, figures.batch / context, figures.rate, figures.readPerToken, figures.peak))
            }
        }
    }

    /// Part 2: full DeepSeek-R1 wikitext perplexity (561 chunks × 512) predicted from this run's
    /// measured rates: compute from the multiply-adds per token at the per-core rate measured on
    /// the synthetic model, storage from how many times the model must be read (once per batch
    /// when it does not fit in RAM; batches from `MemoryPlan` with half the RAM as budget).
    /// Assumes reads overlap compute (read-ahead), so a run takes the longer of the two.
    func predict(rates: [String: Double], config: DeepSeekV3Config, threads: Int, context: Int, log: (String) -> Void) throws {
        let r1 = try DeepSeekV3Config.parse(Data(DeepSeekV3Config.deepSeekR1JSON.utf8), file: "R1 dimensions")
        let scored = context - 1 - context / 2
        let measured = EvaluationCost.multiplyAddsPerToken(config: config, context: context, scored: scored)
        let full = EvaluationCost.multiplyAddsPerToken(config: r1, context: context, scored: scored)
        let chunks = 561, tokens = Double(chunks * context)
        let fp8Bytes = CheckpointLayout(config: r1).tensors.filter { !$0.isMTP }.reduce(0) { $0 + $1.storedBytes }
        let configDirectory = cache + "/r1-config"
        try FileManager.default.createDirectory(atPath: configDirectory, withIntermediateDirectories: true)
        try Data(DeepSeekV3Config.deepSeekR1JSON.utf8).write(to: URL(fileURLWithPath: configDirectory + "/config.json"))
        var options = GGUFConverter.Options()
        options.recipe = .q4_K_M
        let q4Bytes = try GGUFConverter(input: configDirectory, output: "/dev/null", options: options).plan().layout.fileSize
        print("\nPart 2: predicted wall time of DeepSeek-R1 wikitext-2 perplexity (\(chunks) chunks × \(context)), from this run's rates:")
        print(String(format: "%.2f G multiply-adds per token for R1 vs %.3f G for the measured model; %d-thread rates; storage 2 GB/s; a run takes max(compute, reads).\n", full / 1e9, measured / 1e9, threads))
        print("| machine | model | per-core rate (measured) | compute | chunks per batch | reads, layer-major | reads, chunk by chunk | predicted: layer-major | predicted: chunk by chunk |")
        print("|---|---|---|---|---|---|---|---|---|")
        let machines: [(String, Int, Int)] = [("24 GiB RAM, 2 cores", 24, 2), ("24 GiB RAM, 16 cores", 24, 16), ("512 GiB RAM, 64 cores", 512, 64)]
        let models: [(String, String, Int)] = [("FP8 checkpoint", "FP8 checkpoint", fp8Bytes), ("Q4_K_M GGUF", "Q4_K_M GGUF", q4Bytes)]
        func hours(_ seconds: Double) -> String { String(format: "%.1f h", seconds / 3600) }
        for (machine, ram, cores) in machines {
            for (name, key, bytes) in models {
                guard let rate = rates[key] else { continue }
                let perCore = rate * measured / Double(threads)
                let compute = tokens * full / (perCore * Double(cores))
                let ramBytes = ram << 30
                let plan = MemoryPlan(config: r1, context: context, scoredPositions: scored, threads: cores, comparedModels: 0, precision: .f32)
                let fits = bytes + (ramBytes / 4) < ramBytes
                let batch = plan.chunks(budget: ramBytes / 2, limit: chunks)
                let once = Double(bytes) / 2e9
                let layerMajor = fits ? once : Double((chunks + batch - 1) / batch) * once
                let chunkByChunk = fits ? once : Double(chunks) * once
                print(String(
                    format: "| %@ | %@ (%@) | %.1f G/s | %@ | %@ | %@ | %@ | **%@** | %@ |", machine, name, formatBytes(bytes), perCore / 1e9, hours(compute),
                    fits ? "all (fits in RAM)" : "\(batch)", hours(layerMajor), hours(chunkByChunk), hours(max(compute, layerMajor)), hours(max(compute, chunkByChunk))))
            }
        }
    }

    struct Figures {
        var rate: Double
        var ppl: Double
        var peak: String
        var batch: Int
        var readPerToken: String
    }

    /// Reads what `moepack perplexity --json` prints.
    static func figures(_ output: String) -> Figures? {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
            let summary = try? JSONDecoder().decode(PerplexitySummary.self, from: Data(line.utf8))
        else { return nil }
        return Figures(
            rate: summary.tokensPerSecond, ppl: summary.perplexity, peak: formatBytes(summary.peakRSSBytes), batch: summary.batchTokens,
            readPerToken: formatBytes(summary.storageReadBytes / Swift.max(1, summary.tokens)))
    }
}
