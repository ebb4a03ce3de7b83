import QuantKernels

/// Every tensor type id of GGML's wire format (`ggml.h` `enum ggml_type`, gguf-py `GGMLQuantizationType`),
/// with its block geometry (`GGML_QUANT_SIZES`). Ids that moepack cannot produce still know their
/// sizes so files holding them can be read, copied and skipped.
///
/// Adding a format (formats/blocks.md, "Adding a format"): write its kernels file in QuantKernels,
/// list it in `RowKernels.everyFormat`, and return it from `format` below; the exhaustive switch
/// makes the compiler ask for a decision on every id.
package enum GGMLType: UInt32, CaseIterable, Sendable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3
    // 4 and 5 were Q4_2 and Q4_3, removed from GGML.
    case q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30
    // 31-33 were the Q4_0_4_4 / Q4_0_4_8 / Q4_0_8_8 repacks, removed from files.
    case tq1_0 = 34, tq2_0 = 35
    // 36-38 were the IQ4_NL repacks, removed from files.
    case mxfp4 = 39

    /// The name llama.cpp prints and accepts (`Q4_K`, `IQ4_XS`, ...).
    package var name: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .f64: "F64"
        case .i8: "I8"
        case .i16: "I16"
        case .i32: "I32"
        case .i64: "I64"
        default: "\(self)".uppercased()
        }
    }

    /// Weights per block and bytes per block (`GGML_QUANT_SIZES` in gguf-py's constants.py).
    package var blockGeometry: (weights: Int, bytes: Int) {
        switch self {
        case .f32: (1, 4)
        case .f16, .bf16: (1, 2)
        case .f64: (1, 8)
        case .i8: (1, 1)
        case .i16: (1, 2)
        case .i32: (1, 4)
        case .i64: (1, 8)
        case .q4_0: (32, 18)
        case .q4_1: (32, 20)
        case .q5_0: (32, 22)
        case .q5_1: (32, 24)
        case .q8_0: (32, 34)
        case .q8_1: (32, 36)
        case .q2_K: (256, 84)
        case .q3_K: (256, 110)
        case .q4_K: (256, 144)
        case .q5_K: (256, 176)
        case .q6_K: (256, 210)
        case .q8_K: (256, 292)
        case .iq2_xxs: (256, 66)
        case .iq2_xs: (256, 74)
        case .iq3_xxs: (256, 98)
        case .iq1_s: (256, 50)
        case .iq4_nl: (32, 18)
        case .iq3_s: (256, 110)
        case .iq2_s: (256, 82)
        case .iq4_xs: (256, 136)
        case .iq1_m: (256, 56)
        case .tq1_0: (256, 54)
        case .tq2_0: (256, 66)
        case .mxfp4: (32, 17)
        }
    }

    package var bitsPerWeight: Double { Double(blockGeometry.bytes * 8) / Double(blockGeometry.weights) }

    /// The implementation moepack has for this type, or nil.
    package var format: (any BlockFormat.Type)? {
        switch self {
        case .f32: F32Format.self
        case .f16: F16Format.self
        case .bf16: BF16Format.self
        case .q4_0: Q4_0.self
        case .q4_1: Q4_1.self
        case .q5_0: Q5_0.self
        case .q5_1: Q5_1.self
        case .q8_0: Q8_0.self
        case .q2_K: Q2_K.self
        case .q3_K: Q3_K.self
        case .q4_K: Q4_K.self
        case .q5_K: KernelFormat<Q5_KKernels>.self
        case .q6_K: Q6_K.self
        case .iq4_nl: IQ4_NL.self
        case .iq4_xs: IQ4_XS.self
        case .iq2_xxs: IQ2_XXS.self
        case .iq2_xs: IQ2_XS.self
        case .iq2_s: IQ2_S.self
        case .iq3_xxs: IQ3_XXS.self
        case .iq3_s: IQ3_S.self
        case .iq1_s: IQ1_S.self
        case .iq1_m: IQ1_M.self
        case .f64, .i8, .i16, .i32, .i64, .q8_1, .q8_K, .tq1_0, .tq2_0, .mxfp4:
            nil
        }
    }

    /// Types llama.cpp will not quantize without an importance matrix (`ggml_quantize_requires_imatrix`:
    /// IQ2_XXS, IQ2_XS, IQ1_S; their `quantize_row_*_impl` assert weights). moepack's quantizers accept
    /// `importance == nil` for them too and then use weights of 1 (the bytes llama.cpp gives for an
    /// all-ones matrix); callers that want llama.cpp's policy check this.
    package var llamaCppRequiresImportance: Bool {
        switch self {
        case .iq2_xxs, .iq2_xs, .iq1_s: true
        default: false
        }
    }

    /// Parses llama.cpp's spelling in any letter case (`q4_k`, `Q4_K`, `iq4_xs`).
    package init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name.lowercased() == name.lowercased() }) else { return nil }
        self = match
    }

    /// Bytes of a row of `count` weights; nil when `count` is not a whole number of blocks, or
    /// when the byte count overflows `Int` (a dimension read from a file can be near 2⁶³).
    package func rowBytes(_ count: Int) -> Int? {
        let (weights, bytes) = blockGeometry
        guard count >= 0, count % weights == 0 else { return nil }
        let (size, overflow) = (count / weights).multipliedReportingOverflow(by: bytes)
        return overflow ? nil : size
    }
}

/// A GGML block format: how a row of F32 weights becomes blocks of bytes and back.
///
/// Formats are caseless enums; every requirement is static. Rows are the unit (not blocks) because
/// llama.cpp's importance-weighted quantizers use statistics of the whole row.
package protocol BlockFormat: SendableMetatype {
    static var type: GGMLType { get }

    /// Quantizes `count` weights (a multiple of the block size) into `count / blockSize` blocks.
    ///
    /// With `importance == nil` the bytes equal llama.cpp's `ggml_quantize_chunk` without an
    /// importance matrix (its `quantize_row_*_ref` or, for IQ4, its default search; for the three
    /// types llama.cpp refuses without one, `llamaCppRequiresImportance`, its bytes for weights of 1). With
    /// per-column importance weights, the quantization error is weighted by them as llama.cpp's
    /// `quantize_*_impl` functions do.
    static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer)

    /// Decodes `count` weights.
    static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>)
}

extension BlockFormat {
    package static var blockSize: Int { type.blockGeometry.weights }
}
