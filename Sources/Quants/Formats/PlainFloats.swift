import QuantKernels

/// F32: weights stored as they are (little-endian IEEE singles).
package enum F32Format: BlockFormat {
    package static let type = GGMLType.f32
    package static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        y.copyMemory(from: x, byteCount: count * 4)
    }
    package static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(x).copyMemory(from: y, byteCount: count * 4)
    }
}

/// F16: IEEE half, round-to-nearest-even from F32 (numpy's `astype(float16)`, ggml's conversion).
package enum F16Format: BlockFormat {
    package static let type = GGMLType.f16
}

/// BF16: the top half of an F32, round-to-nearest-even, NaN kept quiet (gguf-py's `BF16` quantizer).
package enum BF16Format: BlockFormat {
    package static let type = GGMLType.bf16
}
