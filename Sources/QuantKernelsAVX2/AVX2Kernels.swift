import QuantKernels

/// The QuantKernels loops compiled for Haswell and later (AVX2, FMA, F16C, BMI2): this module is
/// built with `-target-cpu haswell` and each function below inlines the `@inlinable` body, so
/// the same source becomes 256-bit code. Only call these after checking the CPU (Quants'
/// `SIMDLevel`). Package.swift builds this module with `-disable-cmo` and every entry point is
/// `@inline(never)`: with SwiftPM's default cross-module optimization, Quants (compiled for
/// baseline x86-64) inlined or cloned the small ones, and F16 rows ran through compiler-rt calls. No FMA contraction happens: Swift never fuses a separate multiply and add, so
/// the bytes equal the baseline build's.
public enum AVX2Kernels {
    /// F16 scales through F16C, which every AVX2 CPU has (`vcvtps2ph` rounds to nearest-even, as `fp16Bits`).
    /// Swift has no `Float16` on x86-64 macOS; there the bit algorithms stay.
    #if os(macOS)
    typealias F16CHalf = SoftwareHalf
    #else
    enum F16CHalf: HalfFloatConversion {
        @inline(__always) static func bits(_ value: Float) -> UInt16 { Float16(value).bitPattern }
        @inline(__always) static func value(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }
    }
    #endif

    @inline(never) public static func quantizeQ8_0(_ x: UnsafePointer<Float>, blocks: Int, into y: UnsafeMutableRawPointer) {
        LegacyQuantizers.q8_0(x, blocks: blocks, into: y, half: F16CHalf.self)
    }
    @inline(never) public static func quantizeQ4_0(_ x: UnsafePointer<Float>, blocks: Int, into y: UnsafeMutableRawPointer) {
        LegacyQuantizers.symmetric(x, blocks: blocks, into: y, bits: 4, half: F16CHalf.self)
    }
    @inline(never) public static func quantizeQ5_0(_ x: UnsafePointer<Float>, blocks: Int, into y: UnsafeMutableRawPointer) {
        LegacyQuantizers.symmetric(x, blocks: blocks, into: y, bits: 5, half: F16CHalf.self)
    }
    @inline(never) public static func quantizeQ4_1(_ x: UnsafePointer<Float>, blocks: Int, into y: UnsafeMutableRawPointer) {
        LegacyQuantizers.asymmetric(x, blocks: blocks, into: y, bits: 4, half: F16CHalf.self)
    }
    @inline(never) public static func quantizeQ5_1(_ x: UnsafePointer<Float>, blocks: Int, into y: UnsafeMutableRawPointer) {
        LegacyQuantizers.asymmetric(x, blocks: blocks, into: y, bits: 5, half: F16CHalf.self)
    }
    @inline(never) public static func dequantizeQ8_0(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>) {
        LegacyDequantizers.q8_0(y, blocks: blocks, into: x, half: F16CHalf.self)
    }
    @inline(never) public static func dequantizeQ4_0(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>) {
        LegacyDequantizers.symmetric(y, blocks: blocks, into: x, bits: 4, half: F16CHalf.self)
    }
    @inline(never) public static func dequantizeQ5_0(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>) {
        LegacyDequantizers.symmetric(y, blocks: blocks, into: x, bits: 5, half: F16CHalf.self)
    }
    @inline(never) public static func dequantizeQ4_1(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>) {
        LegacyDequantizers.asymmetric(y, blocks: blocks, into: x, bits: 4, half: F16CHalf.self)
    }
    @inline(never) public static func dequantizeQ5_1(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>) {
        LegacyDequantizers.asymmetric(y, blocks: blocks, into: x, bits: 5, half: F16CHalf.self)
    }
    @inline(never) public static func dequantizeQ2_K(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>) {
        SuperBlockDequantizers.q2_K(y, blocks: blocks, into: x, half: F16CHalf.self)
    }
    @inline(never) public static func dequantizeQ3_K(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>) {
        SuperBlockDequantizers.q3_K(y, blocks: blocks, into: x, half: F16CHalf.self)
    }
    @inline(never) public static func dequantizeQ4_K(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>) {
        SuperBlockDequantizers.kWithMins(y, blocks: blocks, into: x, bits: 4, half: F16CHalf.self)
    }
    @inline(never) public static func dequantizeQ5_K(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>) {
        SuperBlockDequantizers.kWithMins(y, blocks: blocks, into: x, bits: 5, half: F16CHalf.self)
    }
    @inline(never) public static func dequantizeQ6_K(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>) {
        SuperBlockDequantizers.q6_K(y, blocks: blocks, into: x, half: F16CHalf.self)
    }
    @inline(never) public static func dequantizeIQ4_NL(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>) {
        SuperBlockDequantizers.iq4_nl(y, blocks: blocks, into: x, half: F16CHalf.self)
    }
    @inline(never) public static func dequantizeIQ4_XS(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>) {
        SuperBlockDequantizers.iq4_xs(y, blocks: blocks, into: x, half: F16CHalf.self)
    }
    @inline(never) public static func dotQ8_0(_ y: UnsafeRawPointer, _ v: UnsafePointer<Float>, blocks: Int) -> Float {
        DotKernels.q8_0(y, v, blocks: blocks, half: F16CHalf.self, vector: F32Vector.self)
    }
    @inline(never) public static func dotQ4_K(_ y: UnsafeRawPointer, _ v: UnsafePointer<Float>, blocks: Int) -> Float {
        DotKernels.q4_K(y, v, blocks: blocks, half: F16CHalf.self, vector: F32Vector.self)
    }
    @inline(never) public static func dotQ6_K(_ y: UnsafeRawPointer, _ v: UnsafePointer<Float>, blocks: Int) -> Float {
        DotKernels.q6_K(y, v, blocks: blocks, half: F16CHalf.self, vector: F32Vector.self)
    }
    @inline(never) public static func encodeF16(_ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutableRawPointer) {
        HalfRows.encode(x, count: count, into: y, half: F16CHalf.self)
    }
    @inline(never) public static func decodeF16(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        HalfRows.decode(y, count: count, into: x, half: F16CHalf.self)
    }
    @inline(never) public static func quantizeQ6_K(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        KQuantizers.q6_K(x, count: count, importance: importance, into: y, half: F16CHalf.self)
    }
    @inline(never) public static func dotQ8_0(_ y: UnsafeRawPointer, bf16 v: UnsafePointer<UInt16>, blocks: Int) -> Float {
        DotKernels.q8_0(y, v, blocks: blocks, half: F16CHalf.self, vector: BF16Vector.self)
    }
    @inline(never) public static func dotQ4_K(_ y: UnsafeRawPointer, bf16 v: UnsafePointer<UInt16>, blocks: Int) -> Float {
        DotKernels.q4_K(y, v, blocks: blocks, half: F16CHalf.self, vector: BF16Vector.self)
    }
    @inline(never) public static func dotQ6_K(_ y: UnsafeRawPointer, bf16 v: UnsafePointer<UInt16>, blocks: Int) -> Float {
        DotKernels.q6_K(y, v, blocks: blocks, half: F16CHalf.self, vector: BF16Vector.self)
    }
    @inline(never) public static func quantizeQ4_K(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        KQuantizers.kWithMins(x, count: count, importance: importance, into: y, bits: 4, half: F16CHalf.self)
    }
    @inline(never) public static func quantizeQ5_K(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        KQuantizers.kWithMins(x, count: count, importance: importance, into: y, bits: 5, half: F16CHalf.self)
    }
    @inline(never) public static func encodeBF16(_ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutableRawPointer) {
        BFloat16Rows.encode(x, count: count, into: y)
    }

    @inline(never) public static func dequantizeIQ(_ lattice: IQLattice, _ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>) {
        IQRows.dequantize(lattice, y, blocks: blocks, into: x, half: F16CHalf.self)
    }
    @inline(never) public static func dotIQ(_ lattice: IQLattice, _ y: UnsafeRawPointer, _ v: UnsafePointer<Float>, blocks: Int) -> Float {
        IQRows.dot(lattice, y, v, blocks: blocks, half: F16CHalf.self, vector: F32Vector.self)
    }
    @inline(never) public static func dotIQ(_ lattice: IQLattice, _ y: UnsafeRawPointer, bf16 v: UnsafePointer<UInt16>, blocks: Int) -> Float {
        IQRows.dot(lattice, y, v, blocks: blocks, half: F16CHalf.self, vector: BF16Vector.self)
    }
}
