// Each format's row kernels (`RowKernelFormat`), built per SIMD level from the loops in this module.
// Layouts and reference functions: formats/blocks.md and each format's file in Quants/Formats.

public enum F16Kernels: RowKernelFormat {
    public static let ggmlType: UInt32 = 1
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantize: { HalfRows.encode($0, count: $1, into: $2, half: Half.self) },
            dequantize: { HalfRows.decode($0, count: $1, into: $2, half: Half.self) })
    }
}

public enum BF16Kernels: RowKernelFormat {
    public static let ggmlType: UInt32 = 30
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantize: { BFloat16Rows.encode($0, count: $1, into: $2, half: Half.self) },
            dequantize: { BFloat16Rows.decode($0, count: $1, into: $2, half: Half.self) })
    }
}

// MARK: - Legacy 32-weight formats (`quantize`: the reference path alone, for the edge-block tests)

public enum Q8_0Kernels: RowKernelFormat {
    public static let ggmlType: UInt32 = 8
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantize: { LegacyQuantizers.q8_0($0, blocks: $1 / 32, into: $2, half: Half.self) },
            dequantize: { LegacyDequantizers.q8_0($0, blocks: $1 / 32, into: $2, half: Half.self) },
            dot: { DotKernels.q8_0($0, $1, blocks: $2 / 32, half: Half.self, vector: F32Vector.self) },
            dotBF16: { DotKernels.q8_0($0, $1, blocks: $2 / 32, half: Half.self, vector: BF16Vector.self) })
    }
}

public enum Q4_0Kernels: RowKernelFormat {
    public static let ggmlType: UInt32 = 2
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantize: { LegacyQuantizers.symmetric($0, blocks: $1 / 32, into: $2, bits: 4, half: Half.self) },
            quantizeWeighted: {
                LegacyWeightedQuantizers.symmetric($0, count: $1, importance: $2, into: $3, bits: 4, half: Half.self)
            },
            dequantize: { LegacyDequantizers.symmetric($0, blocks: $1 / 32, into: $2, bits: 4, half: Half.self) })
    }
}

public enum Q5_0Kernels: RowKernelFormat {
    public static let ggmlType: UInt32 = 6
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantize: { LegacyQuantizers.symmetric($0, blocks: $1 / 32, into: $2, bits: 5, half: Half.self) },
            quantizeWeighted: {
                LegacyWeightedQuantizers.symmetric($0, count: $1, importance: $2, into: $3, bits: 5, half: Half.self)
            },
            dequantize: { LegacyDequantizers.symmetric($0, blocks: $1 / 32, into: $2, bits: 5, half: Half.self) })
    }
}

public enum Q4_1Kernels: RowKernelFormat {
    public static let ggmlType: UInt32 = 3
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantize: { LegacyQuantizers.asymmetric($0, blocks: $1 / 32, into: $2, bits: 4, half: Half.self) },
            quantizeWeighted: {
                LegacyWeightedQuantizers.asymmetric($0, count: $1, importance: $2, into: $3, bits: 4, half: Half.self)
            },
            dequantize: { LegacyDequantizers.asymmetric($0, blocks: $1 / 32, into: $2, bits: 4, half: Half.self) })
    }
}

public enum Q5_1Kernels: RowKernelFormat {
    public static let ggmlType: UInt32 = 7
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantize: { LegacyQuantizers.asymmetric($0, blocks: $1 / 32, into: $2, bits: 5, half: Half.self) },
            quantizeWeighted: {
                LegacyWeightedQuantizers.asymmetric($0, count: $1, importance: $2, into: $3, bits: 5, half: Half.self)
            },
            dequantize: { LegacyDequantizers.asymmetric($0, blocks: $1 / 32, into: $2, bits: 5, half: Half.self) })
    }
}

// MARK: - K-quants (256-weight super-blocks)

public enum Q2_KKernels: RowKernelFormat {
    public static let ggmlType: UInt32 = 10
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantizeWeighted: { SuperBlockQuantizers.q2_K($0, count: $1, importance: $2, into: $3, half: Half.self) },
            dequantize: { SuperBlockDequantizers.q2_K($0, blocks: $1 / 256, into: $2, half: Half.self) })
    }
}

public enum Q3_KKernels: RowKernelFormat {
    public static let ggmlType: UInt32 = 11
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantizeWeighted: { SuperBlockQuantizers.q3_K($0, count: $1, importance: $2, into: $3, half: Half.self) },
            dequantize: { SuperBlockDequantizers.q3_K($0, blocks: $1 / 256, into: $2, half: Half.self) })
    }
}

public enum Q4_KKernels: RowKernelFormat {
    public static let ggmlType: UInt32 = 12
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantizeWeighted: { KQuantizers.kWithMins($0, count: $1, importance: $2, into: $3, bits: 4, half: Half.self) },
            dequantize: { SuperBlockDequantizers.kWithMins($0, blocks: $1 / 256, into: $2, bits: 4, half: Half.self) },
            dot: { DotKernels.q4_K($0, $1, blocks: $2 / 256, half: Half.self, vector: F32Vector.self) },
            dotBF16: { DotKernels.q4_K($0, $1, blocks: $2 / 256, half: Half.self, vector: BF16Vector.self) })
    }
}

public enum Q6_KKernels: RowKernelFormat {
    public static let ggmlType: UInt32 = 14
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantizeWeighted: { KQuantizers.q6_K($0, count: $1, importance: $2, into: $3, half: Half.self) },
            dequantize: { SuperBlockDequantizers.q6_K($0, blocks: $1 / 256, into: $2, half: Half.self) },
            dot: { DotKernels.q6_K($0, $1, blocks: $2 / 256, half: Half.self, vector: F32Vector.self) },
            dotBF16: { DotKernels.q6_K($0, $1, blocks: $2 / 256, half: Half.self, vector: BF16Vector.self) })
    }
}

// MARK: - IQ4 (non-linear 4-bit levels)

public enum IQ4_NLKernels: RowKernelFormat {
    public static let ggmlType: UInt32 = 20
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantizeWeighted: { IQ4Quantizer.iq4_nl($0, count: $1, importance: $2, into: $3, half: Half.self) },
            dequantize: { SuperBlockDequantizers.iq4_nl($0, blocks: $1 / 32, into: $2, half: Half.self) })
    }
}

public enum IQ4_XSKernels: RowKernelFormat {
    public static let ggmlType: UInt32 = 23
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantizeWeighted: { IQ4Quantizer.iq4_xs($0, count: $1, importance: $2, into: $3, half: Half.self) },
            dequantize: { SuperBlockDequantizers.iq4_xs($0, blocks: $1 / 256, into: $2, half: Half.self) })
    }
}

// MARK: - IQ1/IQ2/IQ3 lattices

/// An IQ lattice format: its row kernels are its grid-search quantizer, the lattice's lane decoder
/// and fused dot products.
public protocol IQLatticeKernels: RowKernelFormat {
    static var lattice: IQLattice { get }
    /// The format's quantizer in `IQ1Quantizer`, `IQ2Quantizer` or `IQ3Quantizer`.
    static func quantize<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type)
}

extension IQLatticeKernels {
    @inlinable public static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels {
        RowKernels(
            ggmlType: ggmlType,
            quantizeWeighted: { quantize($0, count: $1, importance: $2, into: $3, half: Half.self) },
            dequantize: { IQRows.dequantize(lattice, $0, blocks: $1 / 256, into: $2, half: Half.self) },
            dot: { IQRows.dot(lattice, $0, $1, blocks: $2 / 256, half: Half.self, vector: F32Vector.self) },
            dotBF16: { IQRows.dot(lattice, $0, $1, blocks: $2 / 256, half: Half.self, vector: BF16Vector.self) })
    }
}

public enum IQ2_XXSKernels: IQLatticeKernels {
    public static let ggmlType: UInt32 = 16
    @inlinable public static var lattice: IQLattice { .iq2_xxs }
    @inlinable public static func quantize<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        IQ2Quantizer.iq2_xxs(x, count: count, importance: importance, into: y, half: Half.self)
    }
}

public enum IQ2_XSKernels: IQLatticeKernels {
    public static let ggmlType: UInt32 = 17
    @inlinable public static var lattice: IQLattice { .iq2_xs }
    @inlinable public static func quantize<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        IQ2Quantizer.iq2_xs(x, count: count, importance: importance, into: y, half: Half.self)
    }
}

public enum IQ2_SKernels: IQLatticeKernels {
    public static let ggmlType: UInt32 = 22
    @inlinable public static var lattice: IQLattice { .iq2_s }
    @inlinable public static func quantize<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        IQ2Quantizer.iq2_s(x, count: count, importance: importance, into: y, half: Half.self)
    }
}

public enum IQ3_XXSKernels: IQLatticeKernels {
    public static let ggmlType: UInt32 = 18
    @inlinable public static var lattice: IQLattice { .iq3_xxs }
    @inlinable public static func quantize<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        IQ3Quantizer.iq3_xxs(x, count: count, importance: importance, into: y, half: Half.self)
    }
}

public enum IQ3_SKernels: IQLatticeKernels {
    public static let ggmlType: UInt32 = 21
    @inlinable public static var lattice: IQLattice { .iq3_s }
    @inlinable public static func quantize<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        IQ3Quantizer.iq3_s(x, count: count, importance: importance, into: y, half: Half.self)
    }
}

public enum IQ1_SKernels: IQLatticeKernels {
    public static let ggmlType: UInt32 = 19
    @inlinable public static var lattice: IQLattice { .iq1_s }
    @inlinable public static func quantize<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        IQ1Quantizer.iq1_s(x, count: count, importance: importance, into: y, half: Half.self)
    }
}

public enum IQ1_MKernels: IQLatticeKernels {
    public static let ggmlType: UInt32 = 29
    @inlinable public static var lattice: IQLattice { .iq1_m }
    @inlinable public static func quantize<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        IQ1Quantizer.iq1_m(x, count: count, importance: importance, into: y, half: Half.self)
    }
}
