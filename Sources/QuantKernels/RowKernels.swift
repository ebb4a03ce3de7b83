/// One block format's row kernels as one SIMD level's build compiled them: the value a level's
/// table holds per format. Every count is in weights (a whole number of the format's blocks); an
/// operation the format lacks at this level is nil.
public struct RowKernels: Sendable {
    /// Quantizes `count` weights without importance weights.
    public typealias Quantize = @Sendable (_ x: UnsafePointer<Float>, _ count: Int, _ y: UnsafeMutableRawPointer) -> Void
    /// Quantizes `count` weights, weighting the error by `importance` when it is given.
    public typealias QuantizeWeighted = @Sendable (
        _ x: UnsafePointer<Float>, _ count: Int, _ importance: UnsafePointer<Float>?, _ y: UnsafeMutableRawPointer
    ) -> Void
    /// Decodes `count` weights.
    public typealias Dequantize = @Sendable (_ y: UnsafeRawPointer, _ count: Int, _ x: UnsafeMutablePointer<Float>) -> Void
    /// Σ w_i · v_i over `count` weights and an F32 vector.
    public typealias Dot = @Sendable (_ y: UnsafeRawPointer, _ v: UnsafePointer<Float>, _ count: Int) -> Float
    /// The same with a BF16 vector (`UInt16` bits).
    public typealias DotBF16 = @Sendable (_ y: UnsafeRawPointer, _ v: UnsafePointer<UInt16>, _ count: Int) -> Float

    /// The format's GGML wire id (`enum ggml_type`; Quants' `GGMLType` raw value).
    public let ggmlType: UInt32
    /// The quantizer without importance weights, where it is a kernel of its own: formats whose
    /// reference ignores importance weights (Q8_0, F16, BF16) and the legacy formats' reference path.
    public let quantize: Quantize?
    /// The quantizer with and without importance weights (`BlockFormat.quantizeRow` prefers it).
    public let quantizeWeighted: QuantizeWeighted?
    public let dequantize: Dequantize?
    public let dot: Dot?
    public let dotBF16: DotBF16?

    @inlinable
    public init(
        ggmlType: UInt32, quantize: Quantize? = nil, quantizeWeighted: QuantizeWeighted? = nil, dequantize: Dequantize? = nil,
        dot: Dot? = nil, dotBF16: DotBF16? = nil
    ) {
        self.ggmlType = ggmlType
        self.quantize = quantize
        self.quantizeWeighted = quantizeWeighted
        self.dequantize = dequantize
        self.dot = dot
        self.dotBF16 = dotBF16
    }

    /// Whether any operation is present (a level's table holds an empty entry for other types).
    @inlinable public var hasAny: Bool {
        quantize != nil || quantizeWeighted != nil || dequantize != nil || dot != nil || dotBF16 != nil
    }
}

/// A block format's kernels, written once and built by every SIMD level.
///
/// `rowKernels(half:)` returns closures that call the format's `@inlinable` loops with `Half`,
/// the level's F16 conversion. A level's module calls it with its own `Half` type, so the
/// specializations (and their closures) are compiled in that module for its instruction set.
/// Every closure must use `Half` (pass `half: Half.self` to the loop): a closure that does not is
/// compiled once under a name shared by every level, and the linker keeps only one copy.
public protocol RowKernelFormat: SendableMetatype {
    /// The GGML wire id (`enum ggml_type`).
    static var ggmlType: UInt32 { get }
    static func rowKernels<Half: HalfFloatConversion>(half: Half.Type) -> RowKernels
}

extension RowKernels {
    /// Every format's row kernels built with `half`: the table of the level that calls this.
    /// Adding a format adds its line here (formats/blocks.md, "Adding a format").
    @inlinable
    public static func everyFormat<Half: HalfFloatConversion>(half: Half.Type) -> [RowKernels] {
        [
            F16Kernels.rowKernels(half: half),
            BF16Kernels.rowKernels(half: half),
            Q8_0Kernels.rowKernels(half: half),
            Q4_0Kernels.rowKernels(half: half),
            Q5_0Kernels.rowKernels(half: half),
            Q4_1Kernels.rowKernels(half: half),
            Q5_1Kernels.rowKernels(half: half),
            Q2_KKernels.rowKernels(half: half),
            Q3_KKernels.rowKernels(half: half),
            Q4_KKernels.rowKernels(half: half),
            Q5_KKernels.rowKernels(half: half),
            Q6_KKernels.rowKernels(half: half),
            IQ4_NLKernels.rowKernels(half: half),
            IQ4_XSKernels.rowKernels(half: half),
            IQ2_XXSKernels.rowKernels(half: half),
            IQ2_XSKernels.rowKernels(half: half),
            IQ2_SKernels.rowKernels(half: half),
            IQ3_XXSKernels.rowKernels(half: half),
            IQ3_SKernels.rowKernels(half: half),
            IQ1_SKernels.rowKernels(half: half),
            IQ1_MKernels.rowKernels(half: half),
        ]
    }
}
