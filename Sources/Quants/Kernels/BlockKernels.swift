import QuantKernels
#if canImport(QuantKernelsAVX2)
import QuantKernelsAVX2
#endif

/// The block formats' row kernels for one `SIMDLevel`: the same QuantKernels source compiled for
/// that instruction set, one `RowKernels` per format (the list is `RowKernels.everyFormat`).
/// Formats call `BlockKernels.active` through `BlockFormat`'s default row operations; tests
/// compare the levels.
package struct BlockKernels: Sendable {
    package let level: SIMDLevel
    /// Indexed by `GGMLType.rawValue` (ids 0…39); a type without kernels holds an entry with every
    /// operation nil. Inline storage: a call loads (and retains) only the closure it runs, where an
    /// `Array` element would be copied whole first.
    private var byType: InlineArray<40, RowKernels>

    init(level: SIMDLevel, table: [RowKernels]) {
        precondition(GGMLType.allCases.allSatisfy { $0.rawValue < 40 }, "a GGML type id beyond the table")
        self.level = level
        byType = InlineArray { RowKernels(ggmlType: UInt32($0)) }
        for kernels in table {
            guard let type = GGMLType(rawValue: kernels.ggmlType) else { preconditionFailure("row kernels for unknown type \(kernels.ggmlType)") }
            precondition(!byType[Int(type.rawValue)].hasAny, "two row kernels for \(type.name) at \(level)")
            byType[Int(type.rawValue)] = kernels
        }
    }

    /// The row kernels of `type` at this level, or nil when it has none.
    package subscript(type: GGMLType) -> RowKernels? {
        let kernels = byType[Int(type.rawValue)]
        return kernels.hasAny ? kernels : nil
    }

    // The operations `BlockFormat`'s and `DotProductFormat`'s default implementations call.
    @inline(__always) func quantizer(_ type: GGMLType) -> RowKernels.Quantize? { byType[Int(type.rawValue)].quantize }
    @inline(__always) func weightedQuantizer(_ type: GGMLType) -> RowKernels.QuantizeWeighted? {
        byType[Int(type.rawValue)].quantizeWeighted
    }
    @inline(__always) func dequantizer(_ type: GGMLType) -> RowKernels.Dequantize? { byType[Int(type.rawValue)].dequantize }
    @inline(__always) func dot(_ type: GGMLType) -> RowKernels.Dot? { byType[Int(type.rawValue)].dot }
    @inline(__always) func dotBF16(_ type: GGMLType) -> RowKernels.DotBF16? { byType[Int(type.rawValue)].dotBF16 }

    package static let baseline = BlockKernels(level: .baseline, table: RowKernels.everyFormat(half: SoftwareHalf.self))

    #if canImport(QuantKernelsAVX2)
    static let avx2 = BlockKernels(level: .avx2, table: AVX2Kernels.table)
    #endif

    /// The kernels of `level`, which must be in `SIMDLevel.supported`.
    package static func forLevel(_ level: SIMDLevel) -> BlockKernels {
        precondition(SIMDLevel.supported.contains(level), "\(level) kernels do not run on this CPU")
        #if canImport(QuantKernelsAVX2)
        if level == .avx2 { return avx2 }
        #endif
        return baseline
    }

    package static let active = forLevel(SIMDLevel.active)
}

extension BlockFormat {
    /// The active level's `quantizeWeighted` kernel, else its unweighted `quantize` (formats whose
    /// reference ignores importance weights: Q8_0, F16, BF16). A format whose quantizer is not a
    /// kernel (the IQ1/IQ2/IQ3 grid searches) implements this itself.
    public static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        if let weighted = BlockKernels.active.weightedQuantizer(type) {
            weighted(x, count, importance, y)
        } else if let quantize = BlockKernels.active.quantizer(type) {
            quantize(x, count, y)
        } else {
            preconditionFailure("no \(type.name) quantizer at \(BlockKernels.active.level)")
        }
    }

    /// The active level's dequantize kernel.
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        guard let dequantize = BlockKernels.active.dequantizer(type) else {
            preconditionFailure("no \(type.name) dequantizer at \(BlockKernels.active.level)")
        }
        dequantize(y, count, x)
    }
}

/// The `BlockFormat` of a format whose every operation is a row kernel: `GGMLType.format` names
/// `KernelFormat<Name>.self`, so such a format is one file in QuantKernels (formats/blocks.md,
/// "Adding a format"). `GGMLType.dotProduct` is nil unless the kernels include a dot product.
package enum KernelFormat<Kernels: RowKernelFormat>: BlockFormat, DotProductFormat {
    package static var type: GGMLType {
        guard let type = GGMLType(rawValue: Kernels.ggmlType) else { preconditionFailure("unknown type \(Kernels.ggmlType)") }
        return type
    }
}
