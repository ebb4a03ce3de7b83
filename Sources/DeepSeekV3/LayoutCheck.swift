import TensorFiles

/// Compares a checkpoint's tensors with what its config says it must hold.
///
/// Accepts both the released FP8 form (FP8 weight + F32 `_scale_inv` of the right grid) and a
/// dequantized form (the same weight in BF16/F16/F32, no scale). An absent MTP layer is allowed
/// as a whole (several re-uploads drop it) and reported as a note, never half of one.
package struct LayoutCheck: Sendable {
    package enum Problem: Sendable, Equatable, CustomStringConvertible {
        case missing(tensor: String)
        case wrongShape(tensor: String, expected: [Int], actual: [Int])
        case wrongDType(tensor: String, expected: String, actual: SafetensorsDType)
        case missingScale(tensor: String)
        case unexpected(tensor: String)

        package var description: String {
            switch self {
            case .missing(let tensor): "tensor '\(tensor)' is missing"
            case .wrongShape(let tensor, let expected, let actual):
                "tensor '\(tensor)' has shape \(actual), config implies \(expected)"
            case .wrongDType(let tensor, let expected, let actual):
                "tensor '\(tensor)' is \(actual.rawValue), expected \(expected)"
            case .missingScale(let tensor):
                "FP8 tensor '\(tensor)' has no '\(tensor)_scale_inv' companion"
            case .unexpected(let tensor): "tensor '\(tensor)' is not part of the config's layout"
            }
        }
    }

    package var problems: [Problem] = []
    /// Layers whose tensors are entirely absent (only MTP layers may be).
    package var absentMTPLayers: [Int] = []
    package var isFP8: Bool = false

    package init(layout: CheckpointLayout, checkpoint: Checkpoint) {
        let present = Set(checkpoint.tensorNames)
        let config = layout.config
        for layer in config.numHiddenLayers..<(config.numHiddenLayers + config.numNextNPredictLayers) {
            let prefix = CheckpointName.layerPrefix(layer)
            if !present.contains(where: { $0.hasPrefix(prefix) }) { absentMTPLayers.append(layer) }
        }
        var expectedNames = Set<String>()
        let floats: Set<SafetensorsDType> = [.bf16, .f16, .f32]
        for tensor in layout.tensors {
            expectedNames.insert(tensor.name)
            if let layer = tensor.layer, absentMTPLayers.contains(layer) { continue }
            guard let info = checkpoint.info(tensor.name) else {
                // A dequantized checkpoint has no scales; their absence is judged with the weight.
                if tensor.storage != .scaleInverse { problems.append(.missing(tensor: tensor.name)) }
                continue
            }
            if info.shape != tensor.shape {
                problems.append(.wrongShape(tensor: tensor.name, expected: tensor.shape, actual: info.shape))
                continue
            }
            switch tensor.storage {
            case .fp8Linear:
                if info.dtype == .f8E4M3 {
                    isFP8 = true
                    if !checkpoint.contains(tensor.name + "_scale_inv") { problems.append(.missingScale(tensor: tensor.name)) }
                } else if !floats.contains(info.dtype) {
                    problems.append(.wrongDType(tensor: tensor.name, expected: "F8_E4M3, BF16, F16 or F32", actual: info.dtype))
                }
            case .scaleInverse:
                if info.dtype != .f32 { problems.append(.wrongDType(tensor: tensor.name, expected: "F32", actual: info.dtype)) }
            case .bf16, .f32:
                if !floats.contains(info.dtype) {
                    problems.append(.wrongDType(tensor: tensor.name, expected: "BF16, F16 or F32", actual: info.dtype))
                }
            }
        }
        for name in checkpoint.tensorNames where !expectedNames.contains(name) {
            problems.append(.unexpected(tensor: name))
        }
    }

    package var isValid: Bool { problems.isEmpty }
}
