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
    /// `GGMLType.rawValue` → kernels (a type without kernels has an entry with every operation
    /// nil), written once in `init` and never freed: the only tables are the process-lifetime
    /// `baseline` and `avx2`. Through a pointer so that a call loads only the closure it runs: an
    /// `Array` or `InlineArray` element read at a run-time index is copied whole first.
    private let byType: SendablePointer<RowKernels>

    private init(level: SIMDLevel, table: [RowKernels]) {
        let count = Int(GGMLType.allCases.map(\.rawValue).max()!) + 1
        let byType = UnsafeMutablePointer<RowKernels>.allocate(capacity: count)
        for id in 0..<count { (byType + id).initialize(to: RowKernels(ggmlType: UInt32(id))) }
        for kernels in table {
            guard let type = GGMLType(rawValue: kernels.ggmlType) else { preconditionFailure("row kernels for unknown type \(kernels.ggmlType)") }
            precondition(!byType[Int(type.rawValue)].hasAny, "two row kernels for \(type.name) at \(level)")
            byType[Int(type.rawValue)] = kernels
        }
        self.level = level
        self.byType = SendablePointer(byType)
    }

    /// The row kernels of `type` at this level, or nil when it has none.
    package subscript(type: GGMLType) -> RowKernels? {
        let kernels = byType.pointer[Int(type.rawValue)]
        return kernels.hasAny ? kernels : nil
    }

    // The active level's row operations, as `BlockFormat`'s and `DotProductFormat`'s default
    // implementations run them: one closure loaded through the table's pointer. Not generic and
    // not inlined, so the concrete formats and `KernelFormat`'s unspecialized code share one
    // compiled copy (inlining them measured no faster).

    /// `quantizeWeighted`, else the unweighted `quantize` (formats whose reference ignores
    /// importance weights: Q8_0, F16, BF16).
    @inline(never)
    static func quantizeRow(
        _ type: GGMLType, _ x: UnsafePointer<Float>, _ count: Int, _ importance: UnsafePointer<Float>?, _ y: UnsafeMutableRawPointer
    ) {
        if let weighted = active.byType.pointer[Int(type.rawValue)].quantizeWeighted {
            weighted(x, count, importance, y)
        } else if let quantize = active.byType.pointer[Int(type.rawValue)].quantize {
            quantize(x, count, y)
        } else {
            preconditionFailure("no \(type.name) quantizer at \(active.level)")
        }
    }

    @inline(never)
    static func dequantizeRow(_ type: GGMLType, _ y: UnsafeRawPointer, _ count: Int, _ x: UnsafeMutablePointer<Float>) {
        guard let dequantize = active.byType.pointer[Int(type.rawValue)].dequantize else {
            preconditionFailure("no \(type.name) dequantizer at \(active.level)")
        }
        dequantize(y, count, x)
    }

    @inline(never)
    static func dot(_ type: GGMLType, _ y: UnsafeRawPointer, _ v: UnsafePointer<Float>, _ count: Int) -> Float {
        guard let dot = active.byType.pointer[Int(type.rawValue)].dot else { preconditionFailure("no \(type.name) dot product") }
        return dot(y, v, count)
    }

    @inline(never)
    static func dotBF16(_ type: GGMLType, _ y: UnsafeRawPointer, _ v: UnsafePointer<UInt16>, _ count: Int) -> Float {
        guard let dot = active.byType.pointer[Int(type.rawValue)].dotBF16 else { preconditionFailure("no \(type.name) BF16 dot product") }
        return dot(y, v, count)
    }

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
    /// kernel would implement this itself (none does).
    package static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        BlockKernels.quantizeRow(type, x, count, importance, y)
    }

    /// The active level's dequantize kernel.
    package static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.dequantizeRow(type, y, count, x)
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
