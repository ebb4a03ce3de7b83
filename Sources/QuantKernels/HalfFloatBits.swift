/// F32 <-> F16 bits and little-endian 16-bit fields: the scalar pieces every block format's header uses.

/// F32 -> F16 bits, round-to-nearest-even, without F16C: the bit-exact branch-light algorithm of
/// the FP16 library (Maratyszcza) that ggml uses when the CPU has no conversion instructions.
/// Swift's `Float16(_:)` gives the same bits but calls a compiler-rt routine per value on baseline x86-64.
@inlinable @inline(__always)
public func fp16Bits(_ value: Float) -> UInt16 {
    var base = (abs(value) * 0x1p112) * 0x1p-110
    let w = value.bitPattern
    let shl1W = w &+ w
    let sign = w & 0x8000_0000
    var bias = shl1W & 0xFF00_0000
    if bias < 0x7100_0000 { bias = 0x7100_0000 }
    base = Float(bitPattern: (bias >> 1) &+ 0x0780_0000) + base
    let bits = base.bitPattern
    let nonsign = ((bits >> 13) & 0x7C00) &+ (bits & 0x0FFF)
    return UInt16(truncatingIfNeeded: (sign >> 16) | (shl1W > 0xFF00_0000 ? 0x7E00 : nonsign))
}

/// F16 bits -> F32, exact (FP16 library's `fp16_ieee_to_fp32_value`).
@inlinable @inline(__always)
public func fp16Value(_ h: UInt16) -> Float {
    let w = UInt32(h) << 16
    let sign = w & 0x8000_0000
    let twoW = w &+ w
    let normalized = Float(bitPattern: (twoW >> 4) &+ (0xE0 << 23)) * 0x1p-112
    let denormalized = Float(bitPattern: (twoW >> 17) | (126 << 23)) - 0.5
    let result = twoW < (1 << 27) ? denormalized.bitPattern : normalized.bitPattern
    return Float(bitPattern: sign | result)
}

@inlinable @inline(__always)
public func storeUInt16(_ value: UInt16, _ pointer: UnsafeMutableRawPointer, _ offset: Int) {
    pointer.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt16.self)
}

@inlinable @inline(__always)
public func loadUInt16(_ pointer: UnsafeRawPointer, _ offset: Int) -> UInt16 {
    UInt16(littleEndian: pointer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}

/// How a kernel converts its F16 scales. Kernels are generic over it so that each build uses its
/// best instruction: the bit algorithms above on baseline CPUs, F16C (`vcvtps2ph`/`vcvtph2ps`)
/// in the AVX2 build. Both round to nearest-even, so the bits agree.
public protocol HalfFloatConversion: SendableMetatype {
    static func bits(_ value: Float) -> UInt16
    static func value(_ bits: UInt16) -> Float
}

/// `fp16Bits` / `fp16Value`: exact on every CPU, no conversion instructions needed.
public enum SoftwareHalf: HalfFloatConversion {
    @inlinable @inline(__always) public static func bits(_ value: Float) -> UInt16 { fp16Bits(value) }
    @inlinable @inline(__always) public static func value(_ bits: UInt16) -> Float { fp16Value(bits) }
}
