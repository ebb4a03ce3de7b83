import Quants
import Synchronization

/// Rows of a checkpoint's tensors as floats, checked: the one reader behind `dequant`, `quantize`
/// and the engine (`CheckpointWeights`).
///
/// - FP8 E4M3/E5M2 weights (2-D) are block-dequantized with their `<name>_scale_inv` grid
///   (`FP8BlockDequant`, one F32 product, then one rounding into the output type). The grid is
///   checked once per tensor: F32, the shape the weight and the block size imply, every scale
///   finite and at most 2¹⁰⁰ in magnitude (so no E4M3 value, at most 448, times a scale overflows
///   F32). NaN codes, E5M2 infinities and F16 overflow are reported by position.
/// - BF16/F16/F32 tensors (1-D as one row, or 2-D) are widened to F32 exactly; a NaN or infinity is
///   reported by position (`firstNonFinite`, the same check `dequant` applies to tensors it copies).
///
/// Shards stay mmap'd; `release` drops pages already read, so a pass over a tensor keeps only what
/// it is working on resident. Every failure is a `CheckpointReadError` naming the shard, the tensor
/// and what is wrong. Thread-safe: rows of one tensor may be read from several threads.
package final class CheckpointRows: @unchecked Sendable {
    package let checkpoint: Checkpoint
    /// The FP8 block edge (`quantization_config.weight_block_size`, 128 for every release).
    package let blockSize: Int
    private let opened = Mutex<[String: CheckpointTensor]>([:])

    package init(checkpoint: Checkpoint, blockSize: Int) {
        self.checkpoint = checkpoint
        self.blockSize = blockSize
    }

    /// A tensor ready to read rows from, kept until `release(name)`: for callers that read it a
    /// row at a time (its scale grid is checked once, not per row).
    package func tensor(_ name: String) throws(CheckpointReadError) -> CheckpointTensor {
        if let tensor = opened.withLock({ $0[name] }) { return tensor }
        let tensor = try open(name)
        opened.withLock { $0[name] = tensor }
        return tensor
    }

    /// A tensor ready to read rows from (its FP8 scale grid checked), not kept.
    package func open(_ name: String) throws(CheckpointReadError) -> CheckpointTensor {
        guard let info = checkpoint.info(name), let shard = checkpoint.shard(of: name) else {
            throw CheckpointReadError(file: checkpoint.directory, tensor: name, kind: .unsupported("missing from the checkpoint"))
        }
        func fail(_ kind: CheckpointReadError.Kind) -> CheckpointReadError { CheckpointReadError(file: shard.path, tensor: name, kind: kind) }
        let shape: (rows: Int, columns: Int)
        switch info.shape.count {
        case 1: shape = (1, info.shape[0])
        case 2: shape = (info.shape[0], info.shape[1])
        default: throw fail(.unsupported("expected a 1-D or 2-D tensor, found shape \(info.shape)"))
        }
        let bytes = shard.bytes(of: info)
        guard let encoding = info.dtype.fp8Encoding else {
            guard [SafetensorsDType.bf16, .f16, .f32].contains(info.dtype) else {
                throw fail(.unsupported("dtype \(info.dtype.rawValue) is not FP8, BF16, F16 or F32"))
            }
            return CheckpointTensor(name: name, file: shard.path, info: info, shape: shape, bytes: bytes, fp8: nil)
        }
        guard info.shape.count == 2 else { throw fail(.unsupported("FP8 weight of rank \(info.shape.count); only 2-D weights have block scales")) }
        let scales = try scaleGrid(of: info, file: shard.path)
        return CheckpointTensor(
            name: name, file: shard.path, info: info, shape: shape, bytes: bytes,
            fp8: .init(encoding: encoding, scales: scales, blockSize: blockSize))
    }

    /// The checked `_scale_inv` grid of an FP8 weight.
    private func scaleGrid(of weight: SafetensorsTensorInfo, file weightFile: String) throws(CheckpointReadError) -> UnsafePointer<Float> {
        let name = weight.name + "_scale_inv"
        guard let info = checkpoint.info(name), let shard = checkpoint.shard(of: name) else {
            throw CheckpointReadError(file: weightFile, tensor: weight.name, kind: .unsupported("FP8 weight without '\(name)'"))
        }
        func fail(_ detail: String) -> CheckpointReadError { CheckpointReadError(file: shard.path, tensor: name, kind: .scale(detail)) }
        guard info.dtype == .f32 else { throw fail("scale grid is \(info.dtype.rawValue), expected F32") }
        let grid = FP8BlockDequant.scaleGridShape(rows: weight.shape[0], columns: weight.shape[1], blockSize: blockSize)
        guard info.shape == [grid.rows, grid.columns] else {
            throw fail("scale grid has shape \(info.shape), expected [\(grid.rows), \(grid.columns)] for weight \(weight.shape) with \(blockSize)x\(blockSize) blocks")
        }
        let scales = shard.bytes(of: info).bindMemory(to: Float.self)
        if let bad = scales.firstIndex(where: { !$0.isFinite || $0.magnitude > 0x1p100 }) {
            throw fail("scale \(scales[bad]) at [\(bad / grid.columns), \(bad % grid.columns)] is not a finite scale below 2^100")
        }
        return scales.baseAddress!
    }

    /// Drops the mapped pages of rows `0..<rowsBefore` of a tensor (read already).
    package func release(_ name: String, rowsBefore: Int) {
        guard let info = checkpoint.info(name), let shard = checkpoint.shard(of: name), info.shape.count == 2 else { return }
        let range = shard.fileRange(of: info)
        let rowBytes = info.byteCount / max(info.shape[0], 1)
        shard.mapping.advise(.dontNeed, range: range.lowerBound..<min(range.upperBound, range.lowerBound + rowsBefore * rowBytes))
    }

    /// Drops a tensor's mapped pages (and its scale grid's), and forgets it (`tensor(name)`).
    package func release(_ name: String) {
        advise(name, .dontNeed)
        _ = opened.withLock { $0.removeValue(forKey: name) }
    }

    /// Passes advice for a tensor's pages (and its scale grid's) to the OS.
    package func advise(_ name: String, _ advice: MappedFile.Advice) {
        for tensor in [name, name + "_scale_inv"] {
            guard let shard = checkpoint.shard(of: tensor), let info = checkpoint.info(tensor) else { continue }
            shard.mapping.advise(advice, range: shard.fileRange(of: info))
        }
    }

    /// The first NaN or infinity in a run of float elements (BF16/F16/F32/F64 bytes), as a problem
    /// at a flat element index in `column` (row 0; `DequantProblem.located(in:)` makes it 2-D).
    package static func firstNonFinite(_ bytes: UnsafeRawBufferPointer, dtype: SafetensorsDType, elementOffset: Int) -> DequantProblem? {
        func problem(_ index: Int, _ value: Float) -> DequantProblem {
            DequantProblem(row: 0, column: elementOffset + index, kind: .nonFinite(value))
        }
        switch dtype {
        case .bf16:
            for (i, bits) in bytes.bindMemory(to: UInt16.self).enumerated() where bits & 0x7F80 == 0x7F80 {
                return problem(i, BFloat16.toFloat(bits))
            }
        case .f16:
            for (i, bits) in bytes.bindMemory(to: UInt16.self).enumerated() where bits & 0x7C00 == 0x7C00 {
                return problem(i, Float(Float16(bitPattern: bits)))
            }
        case .f32:
            for (i, value) in bytes.bindMemory(to: Float.self).enumerated() where !value.isFinite {
                return problem(i, value)
            }
        case .f64:
            for (i, value) in bytes.bindMemory(to: Double.self).enumerated() where !value.isFinite {
                return problem(i, Float(value))
            }
        default: break
        }
        return nil
    }
}

/// One opened checkpoint tensor (`CheckpointRows.tensor`): where its bytes are and, for FP8, its
/// checked scale grid. Valid while the checkpoint is.
package struct CheckpointTensor: @unchecked Sendable {
    struct FP8 {
        var encoding: FP8Encoding
        var scales: UnsafePointer<Float>
        var blockSize: Int
    }

    package let name: String
    /// The shard holding it.
    package let file: String
    package let info: SafetensorsTensorInfo
    /// `[rows, columns]` (a 1-D tensor is one row).
    package let shape: (rows: Int, columns: Int)
    let bytes: UnsafeRawBufferPointer
    let fp8: FP8?

    package var isFP8: Bool { fp8 != nil }

    /// Decodes `rows` into `output` (`shape.columns` values per row, in `type`; tensors other than
    /// FP8 only to F32).
    package func read(rows: Range<Int>, into output: UnsafeMutableRawPointer, as type: DenseFloatType = .f32) throws(CheckpointReadError) {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= shape.rows, "\(name): rows \(rows) of \(shape.rows)")
        let columns = shape.columns
        guard !rows.isEmpty, columns > 0 else { return }
        if let fp8 {
            let problem = FP8BlockDequant.dequantize(
                weight: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), columns: columns, rows: rows,
                scales: fp8.scales, blockSize: fp8.blockSize, encoding: fp8.encoding, output: output, outputType: type)
            if let problem { throw CheckpointReadError(file: file, tensor: name, kind: .value(problem)) }
            return
        }
        precondition(type == .f32, "\(name): \(info.dtype.rawValue) rows are read as F32")
        let width = info.dtype.byteWidth
        let source = UnsafeRawBufferPointer(rebasing: bytes[(rows.lowerBound * columns * width)..<(rows.upperBound * columns * width)])
        if let problem = CheckpointRows.firstNonFinite(source, dtype: info.dtype, elementOffset: rows.lowerBound * columns) {
            throw CheckpointReadError(file: file, tensor: name, kind: .value(problem.located(columns: columns)))
        }
        let destination = output.assumingMemoryBound(to: Float.self)
        let count = rows.count * columns
        switch info.dtype {
        case .bf16: BF16Format.dequantizeRow(source.baseAddress!, count: count, into: destination)
        case .f16: F16Format.dequantizeRow(source.baseAddress!, count: count, into: destination)
        default: F32Format.dequantizeRow(source.baseAddress!, count: count, into: destination)
        }
    }
}

/// A checkpoint tensor that cannot be read: the shard (or checkpoint directory), the tensor and why.
package struct CheckpointReadError: Error, CustomStringConvertible, Sendable {
    package enum Kind: Sendable, Equatable {
        /// A weight that cannot be decoded (NaN or infinity, overflow of the output type), by position.
        case value(DequantProblem)
        /// The scale grid of an FP8 weight (`tensor` is the grid's name).
        case scale(String)
        /// A tensor this reader does not decode (missing, dtype, rank, no scale grid).
        case unsupported(String)
    }

    package var file: String
    package var tensor: String
    package var kind: Kind

    package init(file: String, tensor: String, kind: Kind) {
        self.file = file
        self.tensor = tensor
        self.kind = kind
    }

    /// What is wrong, without the file and the tensor.
    package var detail: String {
        switch kind {
        case .value(let problem): problem.description
        case .scale(let detail), .unsupported(let detail): detail
        }
    }

    package var description: String { "\(file): tensor '\(tensor)': \(detail)" }
}

extension DequantProblem {
    /// A flat element index (in `column`) as a row and column of rows `columns` wide.
    package func located(columns: Int) -> DequantProblem {
        guard columns > 0 else { return self }
        var copy = self
        copy.row = column / columns
        copy.column = column % columns
        return copy
    }
}
