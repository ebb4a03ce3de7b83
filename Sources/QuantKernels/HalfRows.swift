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
