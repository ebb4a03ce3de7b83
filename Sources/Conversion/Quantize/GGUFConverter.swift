import DeepSeekV3
import Foundation
import Quants
import Synchronization
import TensorFiles

/// `moepack quantize`: an FP8 (or dequantized) DeepSeek-V3 checkpoint to one llama.cpp `deepseek2`
/// GGUF in a single pass. Each GGUF tensor is produced chunk by chunk: its rows are dequantized
/// straight from FP8 to F32 (no BF16 step), quantized in parallel, and written at the planned
/// offset; memory is bounded by one chunk, whatever the model size. Expert stacks are assembled
/// expert by expert, `kv_b_proj` is split into `attn_k_b` / `attn_v_b` on the fly.
///
/// The header carries an XXH3-64 of every tensor's bytes (`moepack.tensor_xxh3`, in tensor order)
/// and provenance; `moepack check` re-verifies them.
package final class GGUFConverter {
    package struct Options: Sendable {
        package var recipe: QuantRecipe.Mix = .q4_K_M
        package var rules: [QuantRecipe.Rule] = []
        package var threads = availableCoreCount
        package var chunkBytes = 4 << 20
        package var progress: ProgressReporter.Style = .automatic
        /// Page-aligned tensor data (llama.cpp accepts any power of two; 32 is its default).
        package var alignment: UInt32 = 4096
        /// Export the multi-token-prediction layers (llama.cpp loads them as `nextn` blocks).
        package var keepMTP = false
        /// Importance weights for the quantizers (`quantize --imatrix`), the file they came from and
        /// its XXH3 (in the header, so a resumed run never mixes tensors of two importance matrices).
        package var importance: (matrix: ImportanceMatrix, file: String, checksum: String)?
        /// Weights of experts that saw no calibration tokens.
        package var coldExperts: ColdExpertPolicy = .hiddenMean
        package init() {}
    }

    package struct PlannedTensor: Sendable {
        package var tensor: DeepSeek2Tensor
        package var type: GGMLType
        /// The type the recipe asked for when the row length forced a fallback.
        package var requested: GGMLType?
        package var bytes: Int { type.rowBytes(tensor.dimensions[0])! * tensor.rowCount }
    }

    package struct Plan: Sendable {
        package var config: DeepSeekV3Config
        package var tensors: [PlannedTensor]
        package var layout: GGUFLayout
        package var parameterCount: Int { tensors.reduce(0) { $0 + $1.tensor.rowCount * $1.tensor.dimensions[0] } }
        package var bitsPerWeight: Double { Double(layout.fileSize) * 8 / Double(parameterCount) }

        /// The same layout with the tensors' checksums filled in (fixed width: same header length).
        package func layout(withChecksums checksums: [UInt64]) throws -> GGUFLayout {
            let metadata = layout.metadata.map { entry in
                entry.key == GGUFConverter.checksumKey ? (entry.key, .array(.uint64(checksums))) : entry
            }
            return try GGUFLayout(metadata: metadata, tensors: layout.tensors)
        }
    }

    package struct Summary: Sendable {
        package var plan: Plan
        package var seconds: Double
        package var inputBytes: Int
        /// Tensors taken over, verified, from an interrupted earlier run.
        package var resumedTensors = 0
    }

    package static let checksumKey = "moepack.tensor_xxh3"
    package static let version = "0.1.0"

    package let input: String
    package let output: String
    package let options: Options

    package init(input: String, output: String, options: Options) {
        self.input = input
        self.output = output
        self.options = options
    }

    /// Plans the file; needs only `config.json` (and `tokenizer.json` when present, for the
    /// vocabulary), so `--dry-run` works on a config alone.
    package func plan() throws -> Plan {
        let config = try DeepSeekV3Config.load(path: input + "/config.json")
        let mtpLayers = options.keepMTP ? config.numNextNPredictLayers : 0
        // llama-quantize's per-layer rules count every block, MTP blocks included.
        let planned = DeepSeek2Tensor.plan(config, keepMTP: options.keepMTP)
        let recipe = QuantRecipe(
            mix: options.recipe, rules: options.rules, layerCount: config.numHiddenLayers + mtpLayers,
            expertCount: config.nRoutedExperts, hasImportance: options.importance != nil, tensorNames: planned.map(\.name))
        let tensors = planned.map { tensor in
            let (type, requested) = recipe.type(for: tensor)
            return PlannedTensor(tensor: tensor, type: type, requested: requested)
        }

        var vocabulary: GGUFVocabulary?
        if FileManager.default.fileExists(atPath: input + "/tokenizer.json") {
            vocabulary = GGUFVocabulary(try BPETokenizer(path: input), vocabularySize: config.vocabSize)
        }
        let configBytes = (try? Data(contentsOf: URL(fileURLWithPath: input + "/config.json"))) ?? Data()
        let configHash = configBytes.withUnsafeBytes { XXH3Hasher.hex(XXH3Hasher.hash($0)) }
        var metadata = DeepSeek2Metadata.make(
            config: config, vocabulary: vocabulary, name: URL(fileURLWithPath: input).lastPathComponent,
            fileType: options.recipe.fileType, alignment: options.alignment, mtpLayers: mtpLayers)
        metadata += [
            ("moepack.version", .string(Self.version)),
            ("moepack.recipe", .string(([options.recipe.rawValue] + options.rules.map { "\($0.pattern)=\($0.type.name)" }).joined(separator: " "))),
            ("moepack.source_config_xxh3", .string(configHash)),
            (Self.checksumKey, .array(.uint64([UInt64](repeating: 0, count: tensors.count)))),
        ]
        if let (matrix, file, checksum) = options.importance {
            // The keys llama-quantize writes (tools/quantize/quantize.cpp), with its types.
            metadata.append(("quantize.imatrix.file", .string(file)))
            if let dataset = matrix.datasets.first { metadata.append(("quantize.imatrix.dataset", .string(dataset))) }
            metadata.append(("quantize.imatrix.entries_count", .int32(Int32(clamping: matrix.entries.count))))
            if matrix.chunkCount > 0 { metadata.append(("quantize.imatrix.chunks_count", .int32(Int32(clamping: matrix.chunkCount)))) }
            metadata.append(("moepack.imatrix.xxh3", .string(checksum)))
            metadata.append(("moepack.imatrix.cold_experts", .string(options.coldExperts.rawValue)))
        }
        let layout = try GGUFLayout(
            metadata: metadata,
            tensors: tensors.map { GGUFLayout.Tensor(name: $0.tensor.name, dimensions: $0.tensor.dimensions, type: $0.type) })
        return Plan(config: config, tensors: tensors, layout: layout)
    }

    /// The first tensor of the plan that needs an importance matrix the options do not give:
    /// llama.cpp refuses the lowest-bit types without one (the result would be garbage), and
    /// checks each tensor: an importance matrix without an entry for one is refused too.
    package func tensorNeedingImportance(in plan: Plan) -> PlannedTensor? {
        plan.tensors.first {
            QuantRecipe.typesNeedingImportance.contains($0.type) && ![.tokenEmbedding, .output].contains($0.tensor.role)
                && options.importance?.matrix.entries[$0.tensor.name] == nil
        }
    }

    /// What would give `needy` (`tensorNeedingImportance`'s tensor) its importance weights.
    package func importanceRemedy(for needy: PlannedTensor, in plan: Plan) -> String {
        guard let importance = options.importance else { return "pass --imatrix FILE (moepack imatrix computes one)" }
        // The MTP layer (--keep-mtp) takes no part in a forward pass, so no imatrix has it.
        if let layer = needy.tensor.layer, layer >= plan.config.numHiddenLayers {
            return "\(importance.file) has no entry for it, and no imatrix can: the MTP layer is not run by a forward pass; give it another type (--type 'blk\\.\(layer)\\.=Q4_K') or drop --keep-mtp"
        }
        return "\(importance.file) has no entry for it: an imatrix of another model, or one collected without this tensor's inputs"
    }

    /// Throws for `tensorNeedingImportance`'s tensor, saying what would give it weights.
    package func requireImportance(in plan: Plan) throws {
        guard let needy = tensorNeedingImportance(in: plan) else { return }
        let remedy = importanceRemedy(for: needy, in: plan)
        throw ConversionError.unsupportedTensor(
            file: input, tensor: needy.tensor.name,
            detail: "\(needy.type.name) needs importance weights (llama.cpp refuses it too: the result would be garbage); \(remedy)")
    }

    /// Whether a planned tensor's quantizer takes importance weights: not the tensors kept as
    /// floats, not the token embedding (a row lookup, never a product, so no imatrix has it).
    func takesImportance(_ planned: PlannedTensor) -> Bool {
        options.importance != nil && ![.f32, .f16, .bf16].contains(planned.type) && planned.tensor.role != .tokenEmbedding
    }

    /// Whether the importance matrix has an entry for a planned tensor that takes one.
    package func hasImportance(_ planned: PlannedTensor) -> Bool {
        takesImportance(planned) && options.importance?.matrix.entries[planned.tensor.name] != nil
    }

    /// Checks every entry the plan uses against its tensor's shape (an entry of another model is an
    /// error naming the tensor), without building any weights, and lists the quantized tensors the
    /// importance matrix has no entry for.
    package func tensorsWithoutImportance(in plan: Plan) throws -> [String] {
        guard let (matrix, file, _) = options.importance else { return [] }
        var missing: [String] = []
        for planned in plan.tensors where takesImportance(planned) {
            guard let entry = matrix.entries[planned.tensor.name] else {
                missing.append(planned.tensor.name)
                continue
            }
            try Self.checkImportance(count: entry.sums.count, for: planned.tensor, file: file)
        }
        return missing
    }

    /// The importance weights of one planned tensor (`columns` per matrix, matrix-major), or nil
    /// where none apply or the importance matrix has no entry. Built per tensor, when it is
    /// written: an R1 expert stack's weights alone are 7 MB.
    package func importanceWeights(for planned: PlannedTensor) throws -> [Float]? {
        guard takesImportance(planned), let (matrix, file, _) = options.importance,
            let values = matrix.weights(for: planned.tensor.name, cold: options.coldExperts.policy(for: planned.tensor.role))
        else { return nil }
        try Self.checkImportance(count: values.count, for: planned.tensor, file: file)
        return values
    }

    static func checkImportance(count: Int, for t: DeepSeek2Tensor, file: String) throws {
        let expected = t.dimensions[0] * (t.dimensions.count > 2 ? t.dimensions[2] : 1)
        guard count == expected else {
            throw ConversionError.unsupportedTensor(
                file: file, tensor: t.name,
                detail: "importance matrix entry has \(count) values, the tensor needs \(expected) (\(t.dimensions[0]) per row × \(expected / t.dimensions[0]) matrices): an imatrix of another model?")
        }
    }

    /// Writes the file; `plan` is `plan()`'s result when the caller already has it.
    package func run(plan planned: Plan? = nil) throws -> Summary {
        let started = Date()
        let plan = try planned ?? self.plan()
        try requireImportance(in: plan)
        let checkpoint = try Checkpoint(directory: input)
        try ConversionError.requireValidLayout(config: plan.config, checkpoint: checkpoint, directory: input)
        let blockSize = plan.config.weightBlockSize?.rows ?? 128
        let reader = RowReader(checkpoint: checkpoint, blockSize: blockSize)
        _ = try tensorsWithoutImportance(in: plan)  // every entry fits its tensor, before anything is written
        let progress = ProgressReporter(label: "quantize", totalBytes: plan.parameterCount, style: options.progress)
        // Resume: a journal beside the temporary file lists tensors an interrupted run finished
        // (written and fsynced) with their checksums; each is re-verified before it is reused.
        let journal = Journal(output: output, fingerprint: XXH3Hasher.hex(plan.layout.headerBytes.withUnsafeBytes { XXH3Hasher.hash($0) }))
        let previous = journal.load()
        let temporary = AtomicOutputFile.temporaryPath(for: output)
        let canResume = !previous.isEmpty && (try? FileManager.default.attributesOfItem(atPath: temporary)[.size] as? Int) == plan.layout.fileSize
        let file = try AtomicOutputFile(path: output, keepExisting: canResume)
        file.keepOnFailure()
        try journal.start()
        var checksums = [UInt64](repeating: 0, count: plan.tensors.count)
        var resumed = 0
        let threads = options.threads, chunkBytes = options.chunkBytes, outputPath = output
        do {
        try GGUFWriter.write(plan.layout, into: file, fill: { index, file, range in
            let planned = plan.tensors[index]
            if canResume, let stored = previous[index] {
                var verifier = XXH3Hasher()
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: min(chunkBytes, max(range.count, 1)), alignment: 64)
                defer { buffer.deallocate() }
                var offset = range.lowerBound
                while offset < range.upperBound {
                    let count = min(buffer.count, range.upperBound - offset)
                    let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
                    try file.read(into: slice, at: offset)
                    verifier.update(UnsafeRawBufferPointer(slice))
                    offset += count
                }
                if verifier.finalize() == stored {
                    checksums[index] = stored
                    resumed += 1
                    try journal.record(index: index, checksum: stored)
                    progress.advance(by: planned.tensor.rowCount * planned.tensor.dimensions[0])
                    return
                }
            }
            let columns = planned.tensor.dimensions[0]
            let rowBytes = planned.type.rowBytes(columns)!
            let rowsPerChunk = max(1, chunkBytes / (columns * 4))
            // Row r of a 3-D tensor belongs to matrix r / ne1 (an expert, or a head of attn_k_b/v_b).
            let rowsPerMatrix = planned.tensor.dimensions.count > 1 ? planned.tensor.dimensions[1] : 1
            let weights = try importanceWeights(for: planned)
            var hasher = XXH3Hasher()
            let floats = UnsafeMutableBufferPointer<Float>.allocate(capacity: rowsPerChunk * columns)
            let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: rowsPerChunk * rowBytes, alignment: 64)
            defer {
                floats.deallocate()
                bytes.deallocate()
            }
            var row = 0
            while row < planned.tensor.rowCount {
                let count = min(rowsPerChunk, planned.tensor.rowCount - row)
                let first = row
                let failure = Mutex<(any Error)?>(nil)
                let floatPointer = SendablePointer(floats.baseAddress!)
                let bytePointer = SendableMutableRawPointer(bytes.baseAddress!)
                parallelFor(count, threads: threads, minimumPerThread: 4) { range in
                    do {
                        // A thread's rows decoded together (attn_k_b's heads once each, RowReader.fill).
                        try reader.fill(
                            planned.tensor.source, rows: (first + range.lowerBound)..<(first + range.upperBound), columns: columns,
                            into: floatPointer.pointer + range.lowerBound * columns)
                        for local in range {
                            let destination = floatPointer.pointer + local * columns
                            do {
                                let matrix = (first + local) / rowsPerMatrix
                                try weights.withUnsafeBufferPointerIfPresent { all in
                                    try planned.type.quantize(
                                        row: UnsafeBufferPointer(start: destination, count: columns),
                                        importance: all.map { UnsafeBufferPointer(rebasing: $0[(matrix * columns)..<((matrix + 1) * columns)]) },
                                        into: UnsafeMutableRawBufferPointer(start: bytePointer.pointer + local * rowBytes, count: rowBytes))
                                }
                            } catch {
                                throw ConversionError.unsupportedTensor(
                                    file: outputPath, tensor: planned.tensor.name, detail: "row \(first + local): \(error)")
                            }
                        }
                    } catch {
                        failure.withLock { if $0 == nil { $0 = error } }
                    }
                }
                if let error = failure.withLock({ $0 }) { throw error }
                let piece = UnsafeRawBufferPointer(start: bytes.baseAddress!, count: count * rowBytes)
                try file.write(piece, at: range.lowerBound + row * rowBytes)
                hasher.update(piece)
                progress.advance(by: count * columns)
                row += count
                // Drop the source pages this chunk consumed, so a 3.8 GB stack of R1 experts never
                // sits in this process's resident memory at once.
                reader.release(planned.tensor.source, rowsBefore: row)
            }
            checksums[index] = hasher.finalize()
            reader.release(planned.tensor.source)
            try file.sync()
            try journal.record(index: index, checksum: checksums[index])
        }, finalHeader: {
            try plan.layout(withChecksums: checksums).headerBytes
        })
        } catch let error as FileError {
            // An I/O failure (disk full, ...): keep the temporary file and journal for a rerun.
            throw error
        } catch {
            // Bad input: nothing to resume; leave no temporary file behind.
            file.abandon()
            journal.remove()
            throw error
        }
        journal.remove()
        progress.finish()
        return Summary(plan: plan, seconds: Date().timeIntervalSince(started), inputBytes: checkpoint.dataBytes, resumedTensors: resumed)
    }
}

/// What `quantize --imatrix` gives routed experts that no calibration token reached (and so have
/// no importance of their own). Measured on the trained dev checkpoint (`ColdExpertTests`): for
/// `ffn_gate_exps`/`ffn_up_exps`, whose input is the layer's normalised hidden state, the pooled
/// statistics of the warm experts (which are exactly the hidden state's over every token) beat
/// uniform weights; for `ffn_down_exps`, whose input is the expert's own SwiGLU output, the other
/// experts' statistics are worse than uniform weights.
package enum ColdExpertPolicy: String, Sendable, CaseIterable {
    /// Gate/up: the layer's hidden-state statistics; down: weight 1 (the measured best).
    case hiddenMean = "hidden-mean"
    /// Every stack: the pooled statistics of the layer's warm experts.
    case layerMean = "layer-mean"
    /// Weight 1 for every column (llama-quantize).
    case ones

    package func policy(for role: DeepSeek2Tensor.QuantizationRole) -> ImportanceMatrix.ColdMatrixPolicy {
        switch self {
        case .hiddenMean: role == .ffnDown ? .ones : .layerMean
        case .layerMean: .layerMean
        case .ones: .ones
        }
    }
}

extension Optional where Wrapped == [Float] {
    /// The array's buffer, or nil, for the duration of `body`.
    func withUnsafeBufferPointerIfPresent<R>(_ body: (UnsafeBufferPointer<Float>?) throws -> R) rethrows -> R {
        switch self {
        case .some(let array): try array.withUnsafeBufferPointer { try body($0) }
        case .none: try body(nil)
        }
    }
}

/// F32 rows of a GGUF tensor's sources in the checkpoint, read with `CheckpointRows` (FP8 block
/// dequantization with checked scales, BF16/F16/F32 widened, non-finite values refused): plain
/// tensors, expert stacks, and `attn_k_b`/`attn_v_b` split from `kv_b_proj` (`KVBSplit`).
final class RowReader: Sendable {
    let rows: CheckpointRows

    init(checkpoint: Checkpoint, blockSize: Int) {
        rows = CheckpointRows(checkpoint: checkpoint, blockSize: blockSize)
    }

    var checkpoint: Checkpoint { rows.checkpoint }

    /// Writes row `row` (of `columns` values) of a GGUF tensor's source.
    func fill(_ source: DeepSeek2Tensor.Source, row: Int, columns: Int, into destination: UnsafeMutablePointer<Float>) throws {
        try fill(source, rows: row..<(row + 1), columns: columns, into: destination)
    }

    /// Writes `rows` (of `columns` values each, one after another) of a GGUF tensor's source.
    func fill(_ source: DeepSeek2Tensor.Source, rows: Range<Int>, columns: Int, into destination: UnsafeMutablePointer<Float>) throws {
        switch source {
        case .tensor(let name):
            try read(tensor(name), rows: rows, into: destination, expectColumns: columns)
        case .stacked(let names):
            let rowsPerExpert = try tensor(names[0]).shape.rows
            for (i, row) in rows.enumerated() {
                try hfRow(names[row / rowsPerExpert], row: row % rowsPerExpert, into: destination + i * columns, expectColumns: columns)
            }
        case .valueFromKVB(let name, _, _, _, _):
            for (i, row) in rows.enumerated() {
                try hfRow(name, row: source.split!.kvbRow(ofValueRow: row), into: destination + i * columns, expectColumns: columns)
            }
        case .keyFromKVB(let name, _, _, _, let kvLora):
            let kvb = try tensor(name)  // looked up once: keyRows reads many of its rows
            try source.split!.keyRows(rows, into: destination) { r, scratch in
                try read(kvb, rows: r..<(r + 1), into: scratch, expectColumns: kvLora)
            }
        }
    }

    func tensor(_ name: String) throws -> CheckpointTensor {
        do throws(CheckpointReadError) { return try rows.tensor(name) } catch { throw ConversionError(error) }
    }

    func hfRow(_ name: String, row: Int, into destination: UnsafeMutablePointer<Float>, expectColumns: Int) throws {
        try read(tensor(name), rows: row..<(row + 1), into: destination, expectColumns: expectColumns)
    }

    func read(_ tensor: CheckpointTensor, rows: Range<Int>, into destination: UnsafeMutablePointer<Float>, expectColumns: Int) throws {
        precondition(tensor.shape.columns == expectColumns, "\(tensor.name): \(tensor.shape.columns) columns, planned \(expectColumns)")
        do throws(CheckpointReadError) { try tensor.read(rows: rows, into: UnsafeMutableRawPointer(destination)) } catch { throw ConversionError(error) }
    }

    /// Drops the mapped pages of source rows `0..<rowsBefore` of a GGUF tensor (whole experts for
    /// stacks, row ranges for plain tensors).
    func release(_ source: DeepSeek2Tensor.Source, rowsBefore: Int) {
        switch source {
        case .tensor(let name):
            rows.release(name, rowsBefore: rowsBefore)
        case .stacked(let names):
            guard let rowsPerExpert = checkpoint.info(names[0])?.shape[0] else { return }
            for name in names.prefix(rowsBefore / rowsPerExpert) { rows.release(name, rowsBefore: rowsPerExpert) }
        case .keyFromKVB, .valueFromKVB:
            break  // small; released whole at the end of the tensor
        }
    }

    /// Drops the source's mapped pages once its GGUF tensor is written (bounded memory).
    func release(_ source: DeepSeek2Tensor.Source) {
        let names: [String]
        switch source {
        case .tensor(let name): names = [name]
        case .stacked(let list): names = list
        case .keyFromKVB(let name, _, _, _, _), .valueFromKVB(let name, _, _, _, _): names = [name]
        }
        for name in names { rows.release(name) }
    }
}

/// The resume journal of a `quantize` run: `.NAME.moepack-journal` beside the output, a first line
/// identifying the plan (hash of the planned header), then one `index checksum` line per tensor
/// whose bytes were fsynced to the temporary file.
struct Journal {
    let path: String
    let fingerprint: String

    init(output: String, fingerprint: String) {
        let url = URL(fileURLWithPath: output)
        path = url.deletingLastPathComponent().appendingPathComponent("." + url.lastPathComponent + ".moepack-journal").path
        self.fingerprint = fingerprint
    }

    /// Entries of a journal written for the same plan; empty otherwise.
    func load() -> [Int: UInt64] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var lines = text.split(separator: "\n")
        guard lines.first.map(String.init) == "plan " + fingerprint else { return [:] }
        lines.removeFirst()
        var entries: [Int: UInt64] = [:]
        for line in lines {
            let parts = line.split(separator: " ")
            if parts.count == 2, let index = Int(parts[0]), let sum = UInt64(parts[1], radix: 16) { entries[index] = sum }
        }
        return entries
    }

    /// Starts a fresh journal for this run (entries are re-recorded as they are verified or written).
    func start() throws {
        try Data(("plan " + fingerprint + "\n").utf8).write(to: URL(fileURLWithPath: path))
    }

    func record(index: Int, checksum: UInt64) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\(index) \(XXH3Hasher.hex(checksum))\n".utf8))
    }

    func remove() { unlink(path) }
}
