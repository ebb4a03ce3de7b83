import DeepSeekV3
import Foundation
import Quants
import TensorFiles

/// Weights read straight from a Hugging Face checkpoint directory: FP8 E4M3/E5M2 linears are
/// block-dequantized on the fly with their `<name>_scale_inv` grid (f32 product, no BF16
/// rounding); BF16/F16/F32 tensors are widened. Shards stay mmap'd, nothing is loaded whole.
public final class CheckpointWeights: WeightSource, @unchecked Sendable {
    public let config: DeepSeekV3Config
    public let checkpoint: Checkpoint
    public let directory: String
    let blockSize: Int

    /// Opens `directory` (config.json + safetensors shards) and checks every tensor against the config.
    public init(directory: String) throws {
        self.directory = directory
        config = try DeepSeekV3Config.load(path: directory + "/config.json")
        checkpoint = try Checkpoint(directory: directory)
        blockSize = config.weightBlockSize?.rows ?? 128
        let check = LayoutCheck(layout: CheckpointLayout(config: config), checkpoint: checkpoint)
        if let first = check.problems.first {
            let more = check.problems.count > 1 ? " (and \(check.problems.count - 1) more problems)" : ""
            throw WeightError(file: directory, tensor: "-", message: "checkpoint does not match config.json: \(first)\(more)")
        }
    }

    public var label: String {
        let kind = checkpoint.shards.first?.tensors.contains { $0.dtype.fp8Encoding != nil } == true ? "FP8 checkpoint" : "checkpoint"
        return "\(kind) \(fileName(directory))"
    }

    public var byteCount: Int { checkpoint.dataBytes }

    func info(_ name: String) throws(WeightError) -> SafetensorsTensorInfo {
        guard let info = checkpoint.info(name) else {
            throw WeightError(file: directory, tensor: name, message: "missing from the checkpoint")
        }
        return info
    }

    public func shape(of name: String) throws(WeightError) -> (rows: Int, columns: Int) {
        let info = try info(name)
        switch info.shape.count {
        case 1: return (1, info.shape[0])
        case 2: return (info.shape[0], info.shape[1])
        default: throw WeightError(file: directory, tensor: name, message: "expected a 1-D or 2-D tensor, found shape \(info.shape)")
        }
    }

    public func read(_ name: String, rows: Range<Int>, into output: UnsafeMutablePointer<Float>) throws(WeightError) {
        let info = try info(name)
        let (_, columns) = try shape(of: name)
        let file = checkpoint.shard(of: name)?.path ?? directory
        let bytes: UnsafeRawBufferPointer
        do { bytes = try checkpoint.bytes(of: name) } catch {
            throw WeightError(file: file, tensor: name, message: "\(error)")
        }
        let base = bytes.baseAddress!
        if let encoding = info.dtype.fp8Encoding {
            let scaleName = name + "_scale_inv"
            guard let scaleInfo = checkpoint.info(scaleName), scaleInfo.dtype == .f32 else {
                throw WeightError(file: file, tensor: name, message: "FP8 weight without an F32 \(scaleName)")
            }
            let scales: UnsafeRawBufferPointer
            do { scales = try checkpoint.bytes(of: scaleName) } catch {
                throw WeightError(file: file, tensor: scaleName, message: "\(error)")
            }
            let problem = FP8BlockDequant.dequantize(
                weight: base.assumingMemoryBound(to: UInt8.self), columns: columns, rows: rows,
                scales: scales.baseAddress!.assumingMemoryBound(to: Float.self), blockSize: blockSize,
                encoding: encoding, output: UnsafeMutableRawPointer(output), outputType: .f32)
            if let problem { throw WeightError(file: file, tensor: name, message: problem.description) }
            return
        }
        let start = rows.lowerBound * columns
        let count = rows.count * columns
        switch info.dtype {
        case .f32:
            output.update(from: (base + start * 4).assumingMemoryBound(to: Float.self), count: count)
        case .bf16:
            let source = (base + start * 2).assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { output[i] = Float(bitPattern: UInt32(source[i]) << 16) }
        case .f16:
            let source = (base + start * 2).assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { output[i] = Float(Float16(bitPattern: source[i])) }
        default:
            throw WeightError(file: file, tensor: name, message: "dtype \(info.dtype.rawValue) cannot be read as weights")
        }
        if let bad = (0..<count).first(where: { !output[$0].isFinite }) {
            throw WeightError(
                file: file, tensor: name,
                message: "non-finite value \(output[bad]) at [\(rows.lowerBound + bad / columns), \(bad % columns)]")
        }
    }

    func advise(_ names: [String], _ advice: MappedFile.Advice) {
        for name in names {
            for tensor in [name, name + "_scale_inv"] {
                guard let shard = checkpoint.shard(of: tensor), let info = checkpoint.info(tensor) else { continue }
                shard.mapping.advise(advice, range: shard.fileRange(of: info))
            }
        }
    }

    public func prefetch(_ names: [String]) { advise(names, .willNeed) }
    public func release(_ names: [String]) { advise(names, .dontNeed) }
}
