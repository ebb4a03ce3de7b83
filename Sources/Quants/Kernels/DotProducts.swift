import QuantKernels

/// Dot products of a quantized row with an F32 or BF16 vector, without materializing the dequantized row:
/// each block's integer levels are multiplied with the vector and its scales applied once per
/// group. `bench quants` times them beside dequantize-then-dot; the engine does not use them yet
/// (it decodes each weight once per batch and multiplies with SGEMM).
///
/// Sums are accumulated in a different order than "dequantize, then dot", so results agree with
/// it to rounding (tested with a relative tolerance), not bit for bit.
package protocol DotProductFormat: BlockFormat {
    /// Σ w_i · v_i over `count` weights of the row at `blocks`.
    static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float
    /// Σ w_i · v_i with `v` in BF16 (`UInt16` bits, little-endian).
    static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float
}

extension GGMLType {
    /// The dot-product kernel for this type, when moepack has one at the active SIMD level.
    package var dotProduct: (any DotProductFormat.Type)? {
        guard BlockKernels.active[self]?.dot != nil else { return nil }
        return format as? any DotProductFormat.Type
    }
}

// The loops are QuantKernels' `DotKernels` and `IQRows`, compiled per SIMD level (`BlockKernels`).
extension DotProductFormat {
    package static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        BlockKernels.dot(type, blocks, vector, count)
    }
    package static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        BlockKernels.dotBF16(type, blocks, vector, count)
    }
}

extension Q8_0: DotProductFormat {}
extension Q4_K: DotProductFormat {}
extension Q6_K: DotProductFormat {}
extension IQ2_XXS: DotProductFormat {}
extension IQ2_XS: DotProductFormat {}
extension IQ2_S: DotProductFormat {}
extension IQ3_XXS: DotProductFormat {}
extension IQ3_S: DotProductFormat {}
extension IQ1_S: DotProductFormat {}
extension IQ1_M: DotProductFormat {}
