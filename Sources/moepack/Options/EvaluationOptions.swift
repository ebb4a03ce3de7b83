import ArgumentParser
import Conversion
import DeepSeekV3
import Foundation
import Inference
import Quants
import TensorFiles

/// Options shared by `perplexity` and `verify`.
struct EvaluationOptions: ParsableArguments {
    @Option(help: "Text file to evaluate (e.g. wiki.test.raw).", completion: .file())
    var text: String?

    @Option(name: .customLong("ctx"), help: "Tokens per chunk (llama-perplexity's -c).")
    var context: Int = 512

    @Option(help: "Chunks to evaluate: N (the first N) or A..B (chunks A to B-1, B clamped to the text; for slices run as separate jobs, see merge-results). Default: all.")
    var chunks: String?

    @Option(help: "Memory budget for one layer-major batch, e.g. 16G or 512M: more chunks per batch means each layer's weights are read fewer times.")
    var mem: String = "4G"

    @Option(help: "Chunks per batch (overrides --mem).")
    var batch: Int?

    @OptionGroup var parallelism: ThreadOptions
    var threads: Int {
        get { parallelism.threads }
        set { parallelism.threads = newValue }
    }

    @Option(help: "Attention form: absorbed (attention in the latent space, fast) or plain (per-head keys and values).")
    var attention: AttentionForm = .absorbed

    @Option(help: ArgumentHelp(
        "Arithmetic of the weight products: f32 (the reference, as llama.cpp) or bf16 (weights and activations rounded to BF16, f32 sums; about 2x faster products on AVX-512 BF16 CPUs).",
        discussion: "verify runs the original in f32 and the --quantized models in this precision, so `verify --original M --quantized M --precision bf16` measures what bf16 costs."))
    var precision: Precision = .f32

    @Option(help: "Tokenizer (tokenizer.json or its directory). Default: the checkpoint's, or the one embedded in the GGUF.")
    var tokenizer: String?

    @Option(help: "Write per-chunk results and totals as JSON (a partial result when --chunks A..B; combine with merge-results).")
    var results: String?

    @OptionGroup var progressOptions: ProgressOptions
    var quiet: Bool { progressOptions.quiet }

    func validate() throws {
        // llama-perplexity scores the second half of each chunk: at least 2 tokens, and the
        // chunk count divides by it.
        if context < 2 { throw ValidationError("--ctx must be at least 2 (got \(context))") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1 (got \(batch))") }
    }

    /// `N` or `A..B` against the number of chunks available.
    func chunkRange(available: Int) throws -> Range<Int> {
        guard let chunks else { return 0..<available }
        if let n = Int(chunks) {
            guard n > 0 else { throw ValidationError("--chunks must be positive") }
            return 0..<Swift.min(n, available)
        }
        let parts = chunks.components(separatedBy: "..")
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), a >= 0, a < b else {
            throw ValidationError("--chunks must be N or A..B with A < B (got \(chunks))")
        }
        // B past the end is clamped, so job arrays can use fixed-size slices.
        guard a < available else { throw InputError("--chunks \(chunks): the text has only \(available) chunks of \(context) tokens") }
        return a..<Swift.min(b, available)
    }

    var memoryBudget: Int {
        get throws { try parseByteSize(mem, option: "--mem") }
    }

    func progress(label: String) -> (@Sendable (Int, Int, String) -> Void)? {
        guard !quiet else { return nil }
        let state = ProgressState(style: progressOptions.style)
        return { done, total, what in state.update(done: done, total: total, label: label, note: what) }
    }
}

/// `16G`, `512M`, `64K`, `2T` (binary units) or a plain byte count.
func parseByteSize(_ text: String, option: String) throws -> Int {
    let upper = text.uppercased()
    for (suffix, scale) in [("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)] where upper.hasSuffix(suffix) {
        if let value = Double(upper.dropLast()), value >= 0, let bytes = Int(exactly: (value * Double(scale)).rounded(.down)) { return bytes }
    }
    guard let bytes = Int(upper), bytes >= 0 else { throw ValidationError("\(option) must look like 16G, 512M or a byte count (got \(text))") }
    return bytes
}

/// Adapts the evaluator's absolute step counts to the incremental progress reporter.
final class ProgressState: @unchecked Sendable {
    private let lock = NSLock()
    private var reporter: ProgressReporter?
    private var last = 0
    private let style: ProgressReporter.Style

    init(style: ProgressReporter.Style) { self.style = style }

    func update(done: Int, total: Int, label: String, note: String) {
        lock.withLock {
            if reporter == nil { reporter = ProgressReporter(label: label, totalBytes: total, style: style, unit: "layer passes") }
            reporter!.advance(by: done - last, note: note)
            last = done
            if done == total { reporter!.finish() }
        }
    }
}

/// Opens a model: a directory is a Hugging Face checkpoint (FP8 or dequantized), a file a GGUF.
func openWeights(_ path: String) throws -> any WeightSource {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw InputError("\(path): no such file or directory")
    }
    return isDirectory.boolValue ? try CheckpointWeights(directory: path) : try GGUFWeights(path: path)
}

/// The tokenizer for a model: --tokenizer, else the checkpoint's tokenizer.json, else the GGUF's vocabulary.
func openTokenizer(explicit: String?, model: any WeightSource) throws -> BPETokenizer {
    if let explicit { return try BPETokenizer(path: explicit) }
    if let checkpoint = model as? CheckpointWeights { return try BPETokenizer(path: checkpoint.directory) }
    if let gguf = model as? GGUFWeights { return try gguf.tokenizer() }
    throw ValidationError("no tokenizer: pass --tokenizer")
}

func tokenize(_ options: EvaluationOptions, tokenizer: BPETokenizer) throws -> TokenChunks {
    guard let path = options.text else { throw ValidationError("--text FILE is required") }
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw InputError("\(path): cannot read: \(error.localizedDescription)")
    }
    let chunks = TokenChunks(text: [UInt8](data), tokenizer: tokenizer, context: options.context)
    guard chunks.available > 0 else {
        throw InputError("\(path): \(chunks.tokens.count) tokens, fewer than one chunk of --ctx \(options.context)")
    }
    return chunks
}

func writeResults(_ results: EvaluationResults, to path: String) throws {
    try AtomicOutputFile.write([UInt8](results.encoded()), to: path)
}

extension AttentionForm: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
