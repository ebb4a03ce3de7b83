import DeepSeekV3
import Foundation
import Quants
import TensorFiles

/// Weights read straight from a Hugging Face checkpoint directory through `CheckpointRows` (the
/// reader `dequant` and `quantize` use): FP8 E4M3/E5M2 linears are block-dequantized on the fly
/// with their checked `<name>_scale_inv` grid (f32 product, no BF16 rounding); BF16/F16/F32
/// tensors are widened. Shards stay mmap'd, nothing is loaded whole.
package final class CheckpointWeights: WeightSource, @unchecked Sendable {
    package let config: DeepSeekV3Config
    package let checkpoint: Checkpoint
    package let directory: String
    let reader: CheckpointRows

    /// Opens `directory` (config.json + safetensors shards) and checks every tensor against the config.
    package init(directory: String) throws {
        self.directory = directory
        config = try DeepSeekV3Config.load(path: directory + "/config.json")
        checkpoint = try Checkpoint(directory: directory)
        reader = CheckpointRows(checkpoint: checkpoint, blockSize: config.weightBlockSize?.rows ?? 128)
        let check = LayoutCheck(layout: CheckpointLayout(config: config), checkpoint: checkpoint)
        if let first = check.problems.first {
            let more = check.problems.count > 1 ? " (and \(check.problems.count - 1) more problems)" : ""
            throw WeightError(file: directory, tensor: "-", message: "checkpoint does not match config.json: \(first)\(more)")
        }
    }

    package var label: String {
        let kind = checkpoint.shards.first?.tensors.contains { $0.dtype.fp8Encoding != nil } == true ? "FP8 checkpoint" : "checkpoint"
        return "\(kind) \(fileName(directory))"
    }

    package var byteCount: Int { checkpoint.dataBytes }

    func tensor(_ name: String) throws(WeightError) -> CheckpointTensor {
        guard checkpoint.contains(name) else {
            throw WeightError(file: directory, tensor: name, message: "missing from the checkpoint")
        }
        do throws(CheckpointReadError) { return try reader.tensor(name) } catch { throw WeightError(error) }
    }

    package func shape(of name: String) throws(WeightError) -> (rows: Int, columns: Int) {
        try tensor(name).shape
    }

    package func read(_ name: String, rows: Range<Int>, into output: UnsafeMutablePointer<Float>) throws(WeightError) {
        let tensor = try tensor(name)
        do throws(CheckpointReadError) { try tensor.read(rows: rows, into: UnsafeMutableRawPointer(output)) } catch { throw WeightError(error) }
    }

    package func prefetch(_ names: [String]) { for name in names { reader.advise(name, .willNeed) } }
    package func release(_ names: [String]) { for name in names { reader.release(name) } }
}

extension WeightError {
    /// A checkpoint row reader's error in the engine's words (file, tensor, what is wrong).
    init(_ error: CheckpointReadError) {
        self.init(file: error.file, tensor: error.tensor, message: error.detail)
    }
}
