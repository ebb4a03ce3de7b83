import ArgumentParser
import Conversion
import DeepSeekV3
import Foundation
import Inference
import Quants

struct BenchPerplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity throughput on a synthetic model: FP8 and GGUF sources beside llama.cpp, and in a memory cap.",
        discussion: """
            1. Speed: `moepack perplexity` (a child process each) on the FP8 checkpoint and on Q8_0 and
               Q4_K_M GGUFs of it, --ctx 512, reporting tokens/s and peak RSS. With --peer-python
               (a Python with llama-cpp-python) llama.cpp evaluates the same GGUF on the same
               chunks with the same thread count in the same run (all logits kept, as
               llama-perplexity does), and the ratio is printed.
            2. Models larger than RAM (--memory-limit, default 40% of the FP8 checkpoint):
               the FP8 run again inside a memory cgroup that caps resident and cached memory, with
               page caches dropped first, chunk by chunk (--batch 1) and layer-major (--mem), printing
               tokens/s and bytes read from storage per token. Needs root for the cgroup (cgroup v1
               `memory.limit_in_bytes` or v2 `memory.max`); skipped with a note otherwise.
            """)

    @Option(help: "Synthetic model size.")
    var preset: SyntheticPreset = .medium

    @Option(help: "Where synthetic checkpoints and GGUFs are cached.")
    var cache = "bench-cache"

    @Option(help: "Worker threads.")
    var threads: Int = availableCoreCount

    @Option(help: "Chunks of 512 tokens per measurement.")
    var chunks = 4

    @Option(help: "A Python interpreter with llama-cpp-python, to time llama.cpp as the peer.")
    var peerPython: String?

    @Option(help: "Memory cap for part 2, e.g. 500M (default: 40% of the FP8 checkpoint; 0 skips part 2).")
    var memoryLimit: String?

    func run() throws {
        try reportingErrors {
            try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
            let log: (String) -> Void = { FileHandle.standardError.write(Data("bench: \($0)\n".utf8)) }
            let source = try SyntheticCheckpoint.cached(preset, in: cache, threads: threads, log: log)
            let executable = ChildProcess.currentExecutable
            var files: [(String, String)] = [("FP8 checkpoint", source)]
            for recipe in ["Q8_0", "Q4_K_M"] {
                let path = cache + "/eval-\(preset.rawValue)-\(recipe).gguf"
                if !FileManager.default.fileExists(atPath: path) {
                    log("quantizing \(recipe)")
                    let made = try ChildProcess.run(executable, ["quantize", source, path, "--recipe", recipe, "--quiet", "--threads", "\(threads)"])
                    guard made.exitStatus == 0 else { throw ValidationError("quantize \(recipe) failed") }
                }
                files.append((recipe + " GGUF", path))
            }
            let text = cache + "/eval-text.txt"
            try Data(String(repeating: SyntheticCorpus.text + "\n", count: 60).utf8).write(to: URL(fileURLWithPath: text))
            let context = 512
            let tokenizer = try BPETokenizer(path: source)
            let tokens = [tokenizer.bosTokenId ?? 0] + tokenizer.encode(String(decoding: try Data(contentsOf: URL(fileURLWithPath: text)), as: UTF8.self), addSpecialTokens: false)
            let tokenChunks = TokenChunks(tokens: tokens, context: context, bos: tokenizer.bosTokenId)
            guard tokenChunks.available >= chunks else { throw ValidationError("the benchmark text has only \(tokenChunks.available) chunks") }
            let chunksFile = cache + "/eval-chunks.json"
            try JSONSerialization.data(withJSONObject: (0..<chunks).map(tokenChunks.chunk)).write(to: URL(fileURLWithPath: chunksFile))
            let peerScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Tests/Oracles/llama_logits.py").path

            print("Part 1: `moepack perplexity` on the \(preset.rawValue) synthetic model (\(formatBytes(directorySize(source))) FP8), \(chunks) chunks × \(context) tokens, \(threads) threads, OpenBLAS \(BLAS.coreName)\n")
            print("| source | file | moepack tokens/s | moepack peak RSS | PPL | llama.cpp tokens/s | llama.cpp peak RSS | moepack / llama.cpp |")
            print("|---|---|---|---|---|---|---|---|")
            for (label, path) in files {
                let run = try ChildProcess.run(executable, ["perplexity", path, "--text", text, "--ctx", "\(context)", "--chunks", "\(chunks)", "--threads", "\(threads)", "--quiet", "--mem", "8G"])
                guard run.exitStatus == 0, let figures = Self.figures(run.standardOutput) else { throw ValidationError("perplexity on \(path) failed (status \(run.exitStatus))") }
                var peer = "– | – | –"
                if let python = peerPython, path.hasSuffix(".gguf") {
                    let out = cache + "/eval-llama.npy"
                    let result = try ChildProcess.run(python, [peerScript, path, chunksFile, "\(tokenChunks.first)", "\(context - 1)", out, "\(threads)"])
                    unlink(out)
                    if result.exitStatus == 0, let line = result.standardOutput.split(separator: "\n").last,
                        let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                        let rate = json["tokens_per_second"] as? Double
                    {
                        peer = String(format: "%.1f | %@ | %.2fx", rate, formatBytes(result.peakResidentBytes), figures.rate / rate)
                    } else {
                        log("llama.cpp peer failed on \(path) (status \(result.exitStatus))")
                    }
                }
                print(String(format: "| %@ | %@ | %.1f | %@ | %.2f | %@ |", label, formatBytes(fileOrDirectorySize(path)), figures.rate, figures.peak, figures.ppl, peer))
            }

            // Part 2.
            let fp8Bytes = directorySize(source)
            let limit = try memoryLimit.map(Self.parseBytes) ?? fp8Bytes * 2 / 5
            // Layer-major gets the cap minus room for one layer's FP8 bytes in the page cache.
            let layerBytes = fp8Bytes / (preset.config.numHiddenLayers + preset.config.numNextNPredictLayers)
            let budget = limit - layerBytes - (32 << 20)
            guard limit > 0 else { return }
            print("\nPart 2: the FP8 model (\(formatBytes(fp8Bytes))) in a memory cgroup capped at \(formatBytes(limit)) (resident + page cache), caches dropped before each run, \(chunks) chunks; layer-major with --mem \(formatBytes(budget))\n")
            guard let cgroup = MemoryCgroup(limit: limit) else {
                print("(skipped: cannot create a memory cgroup here; run as root on a machine with cgroup v1 or v2 memory control)")
                return
            }
            defer { cgroup.remove() }
            print("| evaluation | chunks per batch | tokens/s | read from storage per token | peak RSS |")
            print("|---|---|---|---|---|")
            for (label, extra) in [("chunk by chunk", ["--batch", "1"]), ("layer-major", ["--mem", "\(budget)"])] {
                dropCaches(source)
                let arguments = ["perplexity", source, "--text", text, "--ctx", "\(context)", "--chunks", "\(chunks)", "--threads", "\(threads)", "--quiet"] + extra
                let run = try ChildProcess.run("/bin/sh", ["-c", "echo $$ > \(cgroup.procs) && exec \"$@\"", "sh", executable] + arguments)
                guard run.exitStatus == 0, let figures = Self.figures(run.standardOutput) else {
                    throw ValidationError("capped perplexity failed (status \(run.exitStatus)): \(run.standardOutput.suffix(500))")
                }
                print(String(format: "| %@ | %d | %.1f | %@ | %@ |", label, figures.batch / context, figures.rate, figures.readPerToken, figures.peak))
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

    /// Reads the two figure lines `moepack perplexity` prints.
    static func figures(_ output: String) -> Figures? {
        guard let pplLine = output.split(separator: "\n").first(where: { $0.contains("PPL ") }),
            let rateLine = output.split(separator: "\n").first(where: { $0.contains("tokens/s evaluated") })
        else { return nil }
        let ppl = Double(pplLine.split(separator: " ").dropFirst().first ?? "") ?? .nan
        let rate = Double(rateLine.split(separator: " ").first ?? "") ?? .nan
        func between(_ start: String, _ end: String) -> String {
            guard let a = rateLine.range(of: start), let b = rateLine.range(of: end, range: a.upperBound..<rateLine.endIndex) else { return "?" }
            return String(rateLine[a.upperBound..<b.lowerBound])
        }
        let batch = Int(between("s, ", " per batch")) ?? 0
        return Figures(rate: rate, ppl: ppl, peak: between("peak RSS ", ","), batch: batch, readPerToken: between("(", " per token)").components(separatedBy: "(").last ?? "?")
    }

    static func parseBytes(_ text: String) throws -> Int {
        let upper = text.uppercased()
        for (suffix, scale) in [("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)] where upper.hasSuffix(suffix) {
            if let value = Double(upper.dropLast()) { return Int(value * Double(scale)) }
        }
        guard let value = Int(upper) else { throw ValidationError("not a size: \(text)") }
        return value
    }
}

func fileOrDirectorySize(_ path: String) -> Int {
    var isDirectory: ObjCBool = false
    FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
    if isDirectory.boolValue { return directorySize(path) }
    return ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
}

func directorySize(_ path: String) -> Int {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    return names.reduce(0) { $0 + (((try? FileManager.default.attributesOfItem(atPath: path + "/" + $1))?[.size] as? Int) ?? 0) }
}

/// Evicts a checkpoint's files from the page cache (`POSIX_FADV_DONTNEED`), so the next run
/// reads them from storage as a machine without room to cache them would.
func dropCaches(_ directory: String) {
    for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
        let fd = open(directory + "/" + name, O_RDONLY)
        guard fd >= 0 else { continue }
        _ = fdatasync(fd)
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        close(fd)
    }
}

/// A memory cgroup that caps the resident and page-cache memory of the processes put in it
/// (cgroup v2 `memory.max`, or v1 `memory.limit_in_bytes`).
struct MemoryCgroup {
    let directory: String
    let procs: String

    init?(limit: Int) {
        let name = "moepack-bench-\(getpid())"
        let manager = FileManager.default
        if manager.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") {
            directory = "/sys/fs/cgroup/" + name
            guard (try? manager.createDirectory(atPath: directory, withIntermediateDirectories: false)) != nil,
                (try? "\(limit)".write(toFile: directory + "/memory.max", atomically: false, encoding: .utf8)) != nil
            else { return nil }
        } else {
            directory = "/sys/fs/cgroup/memory/" + name
            guard (try? manager.createDirectory(atPath: directory, withIntermediateDirectories: false)) != nil,
                (try? "\(limit)".write(toFile: directory + "/memory.limit_in_bytes", atomically: false, encoding: .utf8)) != nil
            else { return nil }
        }
        procs = directory + "/cgroup.procs"
    }

    func remove() { rmdir(directory) }
}
