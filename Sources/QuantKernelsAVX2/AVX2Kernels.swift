import QuantKernels

/// The QuantKernels loops compiled for Haswell and later (AVX2, FMA, F16C, BMI2): this module is
/// built with `-target-cpu haswell`, and `table` specializes every format's `@inlinable` kernels
/// (`RowKernels.everyFormat`) with this module's `F16CHalf`, so the same source becomes 256-bit
/// code here. Only call them after checking the CPU (Quants' `SIMDLevel`). Package.swift builds
/// this module with `-disable-cmo`: with SwiftPM's default cross-module optimization, Quants
/// (compiled for baseline x86-64) inlined or cloned the small entry points, and F16 rows ran
/// through compiler-rt calls. No FMA contraction happens: Swift never fuses a separate multiply
/// and add, so the bytes equal the baseline build's.
public enum AVX2Kernels {
    /// Every format's row kernels in their AVX2 build.
    public static let table: [RowKernels] = RowKernels.everyFormat(half: F16CHalf.self)
}

/// F16 scales through F16C, which every AVX2 CPU has (`vcvtps2ph` rounds to nearest-even, as `fp16Bits`).
/// Swift has no `Float16` on x86-64 macOS; there the bit algorithms stay. Either way a type of this
/// module's own: the specializations named after it cannot be merged with the baseline build's.
enum F16CHalf: HalfFloatConversion {
    #if os(macOS)
    @inline(__always) static func bits(_ value: Float) -> UInt16 { fp16Bits(value) }
    @inline(__always) static func value(_ bits: UInt16) -> Float { fp16Value(bits) }
    #else
    @inline(__always) static func bits(_ value: Float) -> UInt16 { Float16(value).bitPattern }
    @inline(__always) static func value(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }
    #endif
}
