/// Rows of F16 (the GGUF `F16` type): every weight through `Half`.
public enum HalfRows {
    @inlinable @inline(__always)
    public static func encode<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        let out = y.assumingMemoryBound(to: UInt16.self)  // little-endian hosts (x86-64, arm64)
        for i in 0..<count { out[i] = Half.bits(x[i]) }
    }

    @inlinable @inline(__always)
    public static func decode<Half: HalfFloatConversion>(
        _ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>, half: Half.Type
    ) {
        let bits = y.assumingMemoryBound(to: UInt16.self)
        for i in 0..<count { x[i] = Half.value(bits[i]) }
    }
}

/// Rows of BF16 (the GGUF `BF16` type): round-to-nearest-even from F32, NaN kept quiet with its
/// sign, as PyTorch's cast and gguf-py's `BF16` quantizer do (`BFloat16.fromFloat` in Quants is
/// the same formula for one value). Eight lanes at a time; the select is arithmetic. No F16 is
/// involved: `half` only names the SIMD level, so that each level's build specializes its own copy.
public enum BFloat16Rows {
    @inlinable @inline(__always)
    public static func encode<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        var i = 0
        while i + 8 <= count {
            let bits = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<UInt32>.self)
            let rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
            let quietNaN = (bits &>> 16) | 0x0040
            // Compared as signed lanes (the magnitude bits are non-negative): unsigned lane
            // compares have no x86 instruction and Swift lowers them one lane at a time.
            let magnitude = unsafeBitCast(bits & 0x7FFF_FFFF, to: IntLanes.self)
            let isNaN = unsafeBitCast(magnitude .> IntLanes(repeating: 0x7F80_0000), to: SIMD8<UInt32>.self)
            let result = rounded ^ ((rounded ^ quietNaN) & isNaN)
            y.storeBytes(of: SIMD8<UInt16>(truncatingIfNeeded: result), toByteOffset: 2 * i, as: SIMD8<UInt16>.self)
            i += 8
        }
        while i < count {
            let bits = x[i].bitPattern
            let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16
            let isNaN = bits & 0x7FFF_FFFF > 0x7F80_0000
            y.storeBytes(of: UInt16(truncatingIfNeeded: isNaN ? (bits >> 16) | 0x0040 : rounded), toByteOffset: 2 * i, as: UInt16.self)
            i += 1
        }
    }

    /// The exact widening: the 16 bits become the top half of an F32.
    @inlinable @inline(__always)
    public static func decode<Half: HalfFloatConversion>(
        _ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>, half: Half.Type
    ) {
        for i in 0..<count { x[i] = Float(bitPattern: UInt32(loadUInt16(y, 2 * i)) << 16) }
    }
}
