/// bfloat16: the top 16 bits of an IEEE single. Stored as its raw `UInt16` bit pattern.
package enum BFloat16 {
    /// Rounds an F32 to BF16 with round-to-nearest-even, as PyTorch/Triton's `float -> bfloat16`
    /// cast and gguf-py's `BF16` quantizer do. NaN stays NaN (quieted, sign kept).
    @inline(__always)
    package static func fromFloat(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        // Both results, then a select (no branch, so loops over rows vectorize).
        let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16
        let quietNaN = (bits >> 16) | 0x0040
        let isNaN = bits & 0x7FFF_FFFF > 0x7F80_0000
        return UInt16(truncatingIfNeeded: isNaN ? quietNaN : rounded)
    }

    @inline(__always)
    package static func toFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}
