import ArgumentParser
import Benchmarks
import Conversion
import DeepSeekV3
import Foundation
import Inference
import Quants

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

    func run() throws {
        try reportingErrors {
            let executable = ChildProcess.currentExecutable
            let output = NSTemporaryDirectory() + "moepack-bench-imatrix-\(getpid()).gguf"
            defer { unlink(output) }
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
            let perplexity = try best(["perplexity"] + common)
            let imatrix = try best(["imatrix"] + common + ["-o", output, "--json"])
            guard let json = try JSONSerialization.jsonObject(with: Data(imatrix.standardOutput.utf8)) as? [String: Any],
                let evaluated = json["chunks"] as? Int
            else { throw ValidationError("imatrix printed no summary") }
            let tokens = Double(evaluated * context)
            let config = try openWeights(model).config
            print("Model \(model), \(evaluated) chunks × \(context) tokens, \(threads) threads; whole processes, the least CPU time of \(max(1, runs)) runs each.\n")
            print("| command | seconds | tokens/s | CPU seconds (user + system) | peak RSS |")
            print("|---|---|---|---|---|")
            for (label, r) in [("perplexity", perplexity), ("imatrix", imatrix)] {
                print(String(format: "| %@ | %.1f | %.1f | %.1f | %@ |", label, r.seconds, tokens / r.seconds, r.cpuSeconds, formatBytes(r.peakResidentBytes)))
            }
            print(String(format: "\nimatrix costs %+.1f%% of wall time and %+.1f%% of CPU time over perplexity on the same chunks (CPU time is the steadier figure on a shared machine).",
                (imatrix.seconds / perplexity.seconds - 1) * 100, (imatrix.cpuSeconds / perplexity.cpuSeconds - 1) * 100))

            // R1 prediction from the imatrix run's per-core rate (multiply-adds per second per core).
            let r1 = try DeepSeekV3Config.parse(Data(DeepSeekV3Config.deepSeekR1JSON.utf8), file: "R1 dimensions")
            let scored = context - 1 - context / 2
            // Per core from wall time × threads, as `bench perplexity` predicts (idle and serial parts
            // included; run on a quiet machine).
            let perCore = tokens * EvaluationCost.multiplyAddsPerToken(config: config, context: context, scored: scored) / imatrix.seconds / Double(threads)
            let perToken = EvaluationCost.multiplyAddsPerToken(config: r1, context: context, scored: scored)
            let fp8Bytes = CheckpointLayout(config: r1).tensors.filter { !$0.isMTP }.reduce(0) { $0 + $1.storedBytes }
            let r1Tokens = Double(r1Chunks * context)
            print("\nPredicted DeepSeek-R1 imatrix of the FP8 checkpoint (\(formatBytes(fp8Bytes))), \(r1Chunks) chunks × \(context), at the measured \(String(format: "%.1f", perCore / 1e9)) G multiply-adds/s per core; storage 2 GB/s:\n")
            print("| machine | compute | chunks per batch | reads, layer-major | predicted |")
            print("|---|---|---|---|---|")
            for (machine, ram, cores) in [("24 GiB RAM, 2 cores", 24, 2), ("24 GiB RAM, 16 cores", 24, 16), ("512 GiB RAM, 64 cores", 512, 64), ("1 TiB RAM, 64 cores", 1024, 64)] {
                let compute = r1Tokens * perToken / (perCore * Double(cores))
                let ramBytes = ram << 30
                let plan = MemoryPlan(config: r1, context: context, scoredPositions: scored, threads: cores, comparedModels: 0)
                let fits = fp8Bytes + ramBytes / 4 < ramBytes
                let batch = plan.chunks(budget: ramBytes / 2, limit: r1Chunks)
                let reads = Double(fp8Bytes) / 2e9 * (fits ? 1 : Double((r1Chunks + batch - 1) / batch))
                print(String(format: "| %@ | %.1f h | %@ | %.1f h | **%.1f h** |", machine, compute / 3600, fits ? "all (fits in RAM)" : "\(batch)", reads / 3600, max(compute, reads) / 3600))
            }
        }
    }
}
