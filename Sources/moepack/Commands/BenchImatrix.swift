import ArgumentParser
import Benchmarks
import Conversion
import DeepSeekV3
import Foundation
import Inference
import Quants
import TensorFiles

struct BenchImatrix: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imatrix",
        abstract: "What collecting an importance matrix costs over the forward pass, and an R1 imatrix's predicted wall time.",
        discussion: """
            Runs `moepack perplexity` and `moepack imatrix` on the same model, text, context and \
            chunks, each as a whole child process (start-up, tokenizing and the file write \
            included), the run with the least CPU time of --repeat runs each, and prints tokens/s, CPU \
            time, peak RSS and the ratios. \
            Then predicts the wall time of a DeepSeek-R1 imatrix (--r1-chunks × 512, the size of \
            the published R1 imatrices) on a few machines from the measured per-core rate, the way \
            `bench perplexity` predicts R1 perplexity (compute from multiply-adds per token; reads \
            of the FP8 checkpoint once per layer-major batch when it does not fit in RAM; a run \
            takes the longer of the two).

            With --precision bf16 available (AVX-512 BF16), both commands are timed again in that \
            mode, and what it changes is measured: the bf16 imatrix against the f32 one value by \
            value (relative differences of the importance weights, expert token counts that \
            differ), and the bf16 forward pass's mean KLD against the f32 one on the same chunks \
            (`verify --original M --quantized M --precision bf16`).

            Example (the trained dev checkpoint, unpacked from ../shared/devmodel):
              moepack bench imatrix --model /tmp/dev --text /tmp/dev.eval.txt
            """)

    @Option(help: "Checkpoint directory or GGUF.")
    var model: String

    @Option(help: "Calibration text.")
    var text: String

    @Option(name: .customLong("ctx"), help: "Tokens per chunk.")
    var context = 512

    @Option(help: "Chunks (default: all the text has).")
    var chunks: Int?

    @OptionGroup var parallelism: ThreadOptions
    var threads: Int {
        get { parallelism.threads }
        set { parallelism.threads = newValue }
    }

    @Option(name: .customLong("repeat"), help: "Runs of each command; the fastest is kept.")
    var runs: Int = 2

    @Option(help: "Chunks of the predicted R1 imatrix.")
    var r1Chunks = 200

    @Option(parsing: .upToNextOption, help: "Precisions timed (default: f32, and bf16 where the CPU has AVX-512 BF16).")
    var precisions: [Precision] = []

    func run() throws {
        try reportingErrors {
            let executable = ChildProcess.currentExecutable
            let modes = precisions.isEmpty ? Precision.allCases.filter(\.isSupported) : precisions
            for mode in modes { try mode.ensureSupported() }
            guard modes.contains(.f32) else { throw ValidationError("--precisions must include f32, the reference the other modes are compared with") }
            let scratch = NSTemporaryDirectory() + "moepack-bench-imatrix-\(getpid())"
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            var common = [model, "--text", text, "--ctx", "\(context)", "--threads", "\(threads)", "--quiet"]
            if let chunks { common += ["--chunks", "\(chunks)"] }
            func best(_ arguments: [String]) throws -> ChildProcess.Result {
                var fastest: ChildProcess.Result?
                for _ in 0..<max(1, runs) {
                    let result = try ChildProcess.run(executable, arguments)
                    guard result.exitStatus == 0 else { throw ValidationError("\(arguments[0]) failed (status \(result.exitStatus)): \(result.standardOutput.suffix(500))") }
                    if fastest == nil || result.cpuSeconds < fastest!.cpuSeconds { fastest = result }
                }
                return fastest!
            }
            func output(_ mode: Precision) -> String { scratch + "/\(mode.rawValue).imatrix.gguf" }
            var timings: [(mode: Precision, perplexity: ChildProcess.Result, imatrix: ChildProcess.Result)] = []
            var evaluated = 0
            for mode in modes {
                let precision = ["--precision", mode.rawValue]
                let perplexity = try best(["perplexity"] + common + precision)
                let imatrix = try best(["imatrix"] + common + precision + ["-o", output(mode), "--json"])
                guard let json = try JSONSerialization.jsonObject(with: Data(imatrix.standardOutput.utf8)) as? [String: Any],
                    let count = json["chunks"] as? Int
                else { throw ValidationError("imatrix printed no summary") }
                evaluated = count
                timings.append((mode, perplexity, imatrix))
            }
            let tokens = Double(evaluated * context)
            let config = try openWeights(model).config
            print("Model \(model), \(evaluated) chunks × \(context) tokens, \(threads) threads; whole processes, the least CPU time of \(max(1, runs)) runs each.\n")
            print("| command | seconds | tokens/s | CPU seconds (user + system) | peak RSS |")
            print("|---|---|---|---|---|")
            for t in timings {
                let suffix = t.mode == .f32 ? "" : ", --precision \(t.mode.rawValue)"
                for (label, r) in [("perplexity", t.perplexity), ("imatrix", t.imatrix)] {
                    print(String(format: "| %@ | %.1f | %.1f | %.1f | %@ |", label + suffix, r.seconds, tokens / r.seconds, r.cpuSeconds, formatBytes(r.peakResidentBytes)))
                }
            }
            print("")
            for t in timings {
                print(String(format: "%@: imatrix costs %+.1f%% of wall time and %+.1f%% of CPU time over perplexity on the same chunks (CPU time is the steadier figure on a shared machine).",
                    t.mode.rawValue, (t.imatrix.seconds / t.perplexity.seconds - 1) * 100, (t.imatrix.cpuSeconds / t.perplexity.cpuSeconds - 1) * 100))
            }
            let reference = try ImatrixFile.read(path: output(.f32)).matrix
            let f32 = timings.first { $0.mode == .f32 }!
            for t in timings where t.mode != .f32 {
                let agreement = ImatrixComparison(try ImatrixFile.read(path: output(t.mode)).matrix, against: reference)
                let kldResults = scratch + "/kld-\(t.mode.rawValue).json"
                var verify = ["verify", "--original", model, "--quantized", model, "--precision", t.mode.rawValue, "--text", text, "--ctx", "\(context)",
                              "--threads", "\(threads)", "--quiet", "--results", kldResults]
                if let chunks { verify += ["--chunks", "\(chunks)"] }
                let run = try ChildProcess.run(executable, verify)
                guard run.exitStatus == 0,
                    let kld = try EvaluationResults.decode(Data(contentsOf: URL(fileURLWithPath: kldResults)), file: kldResults).runs.first?.report.meanKLD
                else { throw InputError("verify --precision \(t.mode.rawValue) on \(model) failed (status \(run.exitStatus))") }
                print(String(format: "\n--precision %@ against f32: imatrix %.2fx faster (wall), %.2fx (CPU). Its importance weights differ from the f32 imatrix's by a median %.1e relative (p99 %.1e, worst %.1e at %@) over %d values of %d entries; %d of %d expert token counts differ. The forward pass's mean KLD against f32 on these chunks: %.2e ± %.1e.",
                    t.mode.rawValue, f32.imatrix.seconds / t.imatrix.seconds, f32.imatrix.cpuSeconds / t.imatrix.cpuSeconds,
                    agreement.median, agreement.p99, agreement.worst, agreement.worstAt, agreement.values, agreement.entries,
                    agreement.differingCounts, agreement.countGroups, kld.value, kld.uncertainty))
            }

            // R1 prediction from the imatrix run's per-core rate (multiply-adds per second per core).
            let r1 = try DeepSeekV3Config.parse(Data(DeepSeekV3Config.deepSeekR1JSON.utf8), file: "R1 dimensions")
            let scored = context - 1 - context / 2
            // Per core from wall time × threads, as `bench perplexity` predicts (idle and serial parts
            // included; run on a quiet machine).
            let multiplyAdds = tokens * EvaluationCost.multiplyAddsPerToken(config: config, context: context, scored: scored)
            let rates = timings.map { (mode: $0.mode, perCore: multiplyAdds / $0.imatrix.seconds / Double(threads)) }
            let perToken = EvaluationCost.multiplyAddsPerToken(config: r1, context: context, scored: scored)
            let fp8Bytes = CheckpointLayout(config: r1).tensors.filter { !$0.isMTP }.reduce(0) { $0 + $1.storedBytes }
            let r1Tokens = Double(r1Chunks * context)
            print("\nPredicted DeepSeek-R1 imatrix of the FP8 checkpoint (\(formatBytes(fp8Bytes))), \(r1Chunks) chunks × \(context), at the measured \(rates.map { String(format: "%.1f (%@)", $0.perCore / 1e9, $0.mode.rawValue) }.joined(separator: ", ")) G multiply-adds/s per core; storage 2 GB/s:\n")
            print("| machine |" + rates.map { " chunks per batch, \($0.mode.rawValue) | reads, layer-major | compute | predicted, \($0.mode.rawValue) |" }.joined())
            print("|---|" + String(repeating: "---|---|---|---|", count: rates.count))
            for (machine, ram, cores) in [("24 GiB RAM, 2 cores", 24, 2), ("24 GiB RAM, 16 cores", 24, 16), ("512 GiB RAM, 64 cores", 512, 64), ("1 TiB RAM, 64 cores", 1024, 64)] {
                let ramBytes = ram << 30
                let fits = fp8Bytes + ramBytes / 4 < ramBytes
                var row = "| \(machine) |"
                for rate in rates {
                    // Each mode's own batch: BF16 mode holds panels beside the f32 weights.
                    let plan = MemoryPlan(config: r1, context: context, scoredPositions: scored, threads: cores, comparedModels: 0, precision: rate.mode)
                    let batch = plan.chunks(budget: ramBytes / 2, limit: r1Chunks)
                    let reads = Double(fp8Bytes) / 2e9 * (fits ? 1 : Double((r1Chunks + batch - 1) / batch))
                    let compute = r1Tokens * perToken / (rate.perCore * Double(cores))
                    row += String(format: " %@ | %.1f h | %.1f h | **%.1f h** |", fits ? "all (fits in RAM)" : "\(batch)", reads / 3600, compute / 3600, max(compute, reads) / 3600)
                }
                print(row)
            }
        }
    }
}
