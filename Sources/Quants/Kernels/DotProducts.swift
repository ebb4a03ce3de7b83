import QuantKernels

/// Dot products of a quantized row with an F32 or BF16 vector, without materializing the dequantized row:
/// each block's integer levels are multiplied with the vector and its scales applied once per
/// group. `bench quants` times them beside dequantize-then-dot; the engine does not use them yet
/// (it decodes each weight once per batch and multiplies with SGEMM).
///
/// Sums are accumulated in a different order than "dequantize, then dot", so results agree with
/// it to rounding (tested with a relative tolerance), not bit for bit.
public protocol DotProductFormat: BlockFormat {
    /// Σ w_i · v_i over `count` weights of the row at `blocks`.
    static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float
    /// Σ w_i · v_i with `v` in BF16 (`UInt16` bits, little-endian).
    static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float
}

extension GGMLType {
    /// The dot-product kernel for this type, when moepack has one.
    public var dotProduct: (any DotProductFormat.Type)? { format as? any DotProductFormat.Type }
}

// The loops are QuantKernels' `DotKernels`, compiled per SIMD level (`BlockKernels`).
extension Q8_0: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        BlockKernels.active.dotQ8_0(blocks, vector, count / 32)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        BlockKernels.active.dotQ8_0BF16(blocks, vector, count / 32)
    }
}

extension Q4_K: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        BlockKernels.active.dotQ4_K(blocks, vector, count / 256)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        BlockKernels.active.dotQ4_KBF16(blocks, vector, count / 256)
    }
}

extension Q6_K: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        BlockKernels.active.dotQ6_K(blocks, vector, count / 256)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        BlockKernels.active.dotQ6_KBF16(blocks, vector, count / 256)
    }
}
