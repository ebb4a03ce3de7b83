import QuantKernels
#if canImport(QuantKernelsAVX2)
import QuantKernelsAVX2
#endif

/// The block formats' row kernels for one `SIMDLevel`: the same QuantKernels source compiled for
/// that instruction set. Quantizers of the legacy formats, Q4_K, Q5_K, Q6_K, F16 and BF16;
/// dequantizers of every block format and F16; fused dot products. Formats call
/// `BlockKernels.active`; tests compare the levels.
public struct BlockKernels: Sendable {
    public typealias Quantize = @Sendable (_ x: UnsafePointer<Float>, _ blocks: Int, _ y: UnsafeMutableRawPointer) -> Void
    public typealias Dequantize = @Sendable (_ y: UnsafeRawPointer, _ blocks: Int, _ x: UnsafeMutablePointer<Float>) -> Void

    public let quantizeQ8_0, quantizeQ4_0, quantizeQ5_0, quantizeQ4_1, quantizeQ5_1: Quantize
    public let dequantizeQ8_0, dequantizeQ4_0, dequantizeQ5_0, dequantizeQ4_1, dequantizeQ5_1: Dequantize
    public let dequantizeQ2_K, dequantizeQ3_K, dequantizeQ4_K, dequantizeQ5_K, dequantizeQ6_K: Dequantize
    public let dequantizeIQ4_NL, dequantizeIQ4_XS: Dequantize
    public typealias Dot = @Sendable (_ y: UnsafeRawPointer, _ v: UnsafePointer<Float>, _ blocks: Int) -> Float
    public let dotQ8_0, dotQ4_K, dotQ6_K: Dot
    /// The same with a BF16 vector (`UInt16` bits).
    public typealias DotBF16 = @Sendable (_ y: UnsafeRawPointer, _ v: UnsafePointer<UInt16>, _ blocks: Int) -> Float
    public let dotQ8_0BF16, dotQ4_KBF16, dotQ6_KBF16: DotBF16
    /// Rows of `count` weights with optional importance weights (the k-quants built per level).
    public typealias QuantizeWeighted = @Sendable (
        _ x: UnsafePointer<Float>, _ count: Int, _ importance: UnsafePointer<Float>?, _ y: UnsafeMutableRawPointer
    ) -> Void
    public let quantizeQ4_K, quantizeQ5_K, quantizeQ6_K: QuantizeWeighted
    /// F16 and BF16 rows (`count` weights, not blocks).
    public let quantizeF16, quantizeBF16: Quantize
    public let dequantizeF16: Dequantize
    /// The IQ1/IQ2/IQ3 lattice formats: dequantize, dot with F32 and with BF16 vectors (`blocks` of 256).
    public typealias DequantizeIQ = @Sendable (_ lattice: IQLattice, _ y: UnsafeRawPointer, _ blocks: Int, _ x: UnsafeMutablePointer<Float>) -> Void
    public typealias DotIQ = @Sendable (_ lattice: IQLattice, _ y: UnsafeRawPointer, _ v: UnsafePointer<Float>, _ blocks: Int) -> Float
    public typealias DotIQBF16 = @Sendable (_ lattice: IQLattice, _ y: UnsafeRawPointer, _ v: UnsafePointer<UInt16>, _ blocks: Int) -> Float
    public let dequantizeIQ: DequantizeIQ
    public let dotIQ: DotIQ
    public let dotIQBF16: DotIQBF16

    public static let baseline = BlockKernels(
        quantizeQ8_0: { LegacyQuantizers.q8_0($0, blocks: $1, into: $2, half: SoftwareHalf.self) },
        quantizeQ4_0: { LegacyQuantizers.symmetric($0, blocks: $1, into: $2, bits: 4, half: SoftwareHalf.self) },
        quantizeQ5_0: { LegacyQuantizers.symmetric($0, blocks: $1, into: $2, bits: 5, half: SoftwareHalf.self) },
        quantizeQ4_1: { LegacyQuantizers.asymmetric($0, blocks: $1, into: $2, bits: 4, half: SoftwareHalf.self) },
        quantizeQ5_1: { LegacyQuantizers.asymmetric($0, blocks: $1, into: $2, bits: 5, half: SoftwareHalf.self) },
        dequantizeQ8_0: { LegacyDequantizers.q8_0($0, blocks: $1, into: $2, half: SoftwareHalf.self) },
        dequantizeQ4_0: { LegacyDequantizers.symmetric($0, blocks: $1, into: $2, bits: 4, half: SoftwareHalf.self) },
        dequantizeQ5_0: { LegacyDequantizers.symmetric($0, blocks: $1, into: $2, bits: 5, half: SoftwareHalf.self) },
        dequantizeQ4_1: { LegacyDequantizers.asymmetric($0, blocks: $1, into: $2, bits: 4, half: SoftwareHalf.self) },
        dequantizeQ5_1: { LegacyDequantizers.asymmetric($0, blocks: $1, into: $2, bits: 5, half: SoftwareHalf.self) },
        dequantizeQ2_K: { SuperBlockDequantizers.q2_K($0, blocks: $1, into: $2, half: SoftwareHalf.self) },
        dequantizeQ3_K: { SuperBlockDequantizers.q3_K($0, blocks: $1, into: $2, half: SoftwareHalf.self) },
        dequantizeQ4_K: { SuperBlockDequantizers.kWithMins($0, blocks: $1, into: $2, bits: 4, half: SoftwareHalf.self) },
        dequantizeQ5_K: { SuperBlockDequantizers.kWithMins($0, blocks: $1, into: $2, bits: 5, half: SoftwareHalf.self) },
        dequantizeQ6_K: { SuperBlockDequantizers.q6_K($0, blocks: $1, into: $2, half: SoftwareHalf.self) },
        dequantizeIQ4_NL: { SuperBlockDequantizers.iq4_nl($0, blocks: $1, into: $2, half: SoftwareHalf.self) },
        dequantizeIQ4_XS: { SuperBlockDequantizers.iq4_xs($0, blocks: $1, into: $2, half: SoftwareHalf.self) },
        dotQ8_0: { DotKernels.q8_0($0, $1, blocks: $2, half: SoftwareHalf.self, vector: F32Vector.self) },
        dotQ4_K: { DotKernels.q4_K($0, $1, blocks: $2, half: SoftwareHalf.self, vector: F32Vector.self) },
        dotQ6_K: { DotKernels.q6_K($0, $1, blocks: $2, half: SoftwareHalf.self, vector: F32Vector.self) },
        dotQ8_0BF16: { DotKernels.q8_0($0, $1, blocks: $2, half: SoftwareHalf.self, vector: BF16Vector.self) },
        dotQ4_KBF16: { DotKernels.q4_K($0, $1, blocks: $2, half: SoftwareHalf.self, vector: BF16Vector.self) },
        dotQ6_KBF16: { DotKernels.q6_K($0, $1, blocks: $2, half: SoftwareHalf.self, vector: BF16Vector.self) },
        quantizeQ4_K: { KQuantizers.kWithMins($0, count: $1, importance: $2, into: $3, bits: 4, half: SoftwareHalf.self) },
        quantizeQ5_K: { KQuantizers.kWithMins($0, count: $1, importance: $2, into: $3, bits: 5, half: SoftwareHalf.self) },
        quantizeQ6_K: { KQuantizers.q6_K($0, count: $1, importance: $2, into: $3, half: SoftwareHalf.self) },
        quantizeF16: { HalfRows.encode($0, count: $1, into: $2, half: SoftwareHalf.self) },
        quantizeBF16: { BFloat16Rows.encode($0, count: $1, into: $2) },
        dequantizeF16: { HalfRows.decode($0, count: $1, into: $2, half: SoftwareHalf.self) },
        dequantizeIQ: { IQRows.dequantize($0, $1, blocks: $2, into: $3, half: SoftwareHalf.self) },
        dotIQ: { IQRows.dot($0, $1, $2, blocks: $3, half: SoftwareHalf.self, vector: F32Vector.self) },
        dotIQBF16: { IQRows.dot($0, $1, $2, blocks: $3, half: SoftwareHalf.self, vector: BF16Vector.self) })

    #if canImport(QuantKernelsAVX2)
    static let avx2 = BlockKernels(
        quantizeQ8_0: { AVX2Kernels.quantizeQ8_0($0, blocks: $1, into: $2) },
        quantizeQ4_0: { AVX2Kernels.quantizeQ4_0($0, blocks: $1, into: $2) },
        quantizeQ5_0: { AVX2Kernels.quantizeQ5_0($0, blocks: $1, into: $2) },
        quantizeQ4_1: { AVX2Kernels.quantizeQ4_1($0, blocks: $1, into: $2) },
        quantizeQ5_1: { AVX2Kernels.quantizeQ5_1($0, blocks: $1, into: $2) },
        dequantizeQ8_0: { AVX2Kernels.dequantizeQ8_0($0, blocks: $1, into: $2) },
        dequantizeQ4_0: { AVX2Kernels.dequantizeQ4_0($0, blocks: $1, into: $2) },
        dequantizeQ5_0: { AVX2Kernels.dequantizeQ5_0($0, blocks: $1, into: $2) },
        dequantizeQ4_1: { AVX2Kernels.dequantizeQ4_1($0, blocks: $1, into: $2) },
        dequantizeQ5_1: { AVX2Kernels.dequantizeQ5_1($0, blocks: $1, into: $2) },
        dequantizeQ2_K: { AVX2Kernels.dequantizeQ2_K($0, blocks: $1, into: $2) },
        dequantizeQ3_K: { AVX2Kernels.dequantizeQ3_K($0, blocks: $1, into: $2) },
        dequantizeQ4_K: { AVX2Kernels.dequantizeQ4_K($0, blocks: $1, into: $2) },
        dequantizeQ5_K: { AVX2Kernels.dequantizeQ5_K($0, blocks: $1, into: $2) },
        dequantizeQ6_K: { AVX2Kernels.dequantizeQ6_K($0, blocks: $1, into: $2) },
        dequantizeIQ4_NL: { AVX2Kernels.dequantizeIQ4_NL($0, blocks: $1, into: $2) },
        dequantizeIQ4_XS: { AVX2Kernels.dequantizeIQ4_XS($0, blocks: $1, into: $2) },
        dotQ8_0: { AVX2Kernels.dotQ8_0($0, $1, blocks: $2) },
        dotQ4_K: { AVX2Kernels.dotQ4_K($0, $1, blocks: $2) },
        dotQ6_K: { AVX2Kernels.dotQ6_K($0, $1, blocks: $2) },
        dotQ8_0BF16: { AVX2Kernels.dotQ8_0($0, bf16: $1, blocks: $2) },
        dotQ4_KBF16: { AVX2Kernels.dotQ4_K($0, bf16: $1, blocks: $2) },
        dotQ6_KBF16: { AVX2Kernels.dotQ6_K($0, bf16: $1, blocks: $2) },
        quantizeQ4_K: { AVX2Kernels.quantizeQ4_K($0, count: $1, importance: $2, into: $3) },
        quantizeQ5_K: { AVX2Kernels.quantizeQ5_K($0, count: $1, importance: $2, into: $3) },
        quantizeQ6_K: { AVX2Kernels.quantizeQ6_K($0, count: $1, importance: $2, into: $3) },
        quantizeF16: { AVX2Kernels.encodeF16($0, count: $1, into: $2) },
        quantizeBF16: { AVX2Kernels.encodeBF16($0, count: $1, into: $2) },
        dequantizeF16: { AVX2Kernels.decodeF16($0, count: $1, into: $2) },
        dequantizeIQ: { AVX2Kernels.dequantizeIQ($0, $1, blocks: $2, into: $3) },
        dotIQ: { AVX2Kernels.dotIQ($0, $1, $2, blocks: $3) },
        dotIQBF16: { AVX2Kernels.dotIQ($0, $1, bf16: $2, blocks: $3) })
    #endif

    /// The dequantizer of `type` when it is a block format with a kernel here, else nil.
    public func dequantizer(for type: GGMLType) -> Dequantize? {
        switch type {
        case .q2_K: dequantizeQ2_K
        case .q3_K: dequantizeQ3_K
        case .q4_K: dequantizeQ4_K
        case .q5_K: dequantizeQ5_K
        case .q6_K: dequantizeQ6_K
        case .iq4_nl: dequantizeIQ4_NL
        case .iq4_xs: dequantizeIQ4_XS
        default: kernels(for: type)?.dequantize
        }
    }

    /// The quantizer of a k-quant built per level (Q4_K, Q5_K, Q6_K), else nil.
    public func weightedQuantizer(for type: GGMLType) -> QuantizeWeighted? {
        switch type {
        case .q4_K: quantizeQ4_K
        case .q5_K: quantizeQ5_K
        case .q6_K: quantizeQ6_K
        default: nil
        }
    }

    /// The fused dot product of `type` (Q8_0, Q4_K, Q6_K), else nil.
    public func dot(for type: GGMLType) -> Dot? {
        switch type {
        case .q8_0: dotQ8_0
        case .q4_K: dotQ4_K
        case .q6_K: dotQ6_K
        default: nil
        }
    }

    /// The fused dot product of `type` with a BF16 vector, else nil.
    public func dotBF16(for type: GGMLType) -> DotBF16? {
        switch type {
        case .q8_0: dotQ8_0BF16
        case .q4_K: dotQ4_KBF16
        case .q6_K: dotQ6_KBF16
        default: nil
        }
    }

    /// The quantizer and dequantizer of a legacy `type` (Q8_0, Q4_0, Q5_0, Q4_1, Q5_1), else nil.
    public func kernels(for type: GGMLType) -> (quantize: Quantize, dequantize: Dequantize)? {
        switch type {
        case .q8_0: (quantizeQ8_0, dequantizeQ8_0)
        case .q4_0: (quantizeQ4_0, dequantizeQ4_0)
        case .q5_0: (quantizeQ5_0, dequantizeQ5_0)
        case .q4_1: (quantizeQ4_1, dequantizeQ4_1)
        case .q5_1: (quantizeQ5_1, dequantizeQ5_1)
        default: nil
        }
    }

    /// The kernels of `level`, which must be in `SIMDLevel.supported`.
    public static func forLevel(_ level: SIMDLevel) -> BlockKernels {
        precondition(SIMDLevel.supported.contains(level), "\(level) kernels do not run on this CPU")
        #if canImport(QuantKernelsAVX2)
        if level == .avx2 { return avx2 }
        #endif
        return baseline
    }

    public static let active = forLevel(SIMDLevel.active)
}
