import Quants

/// Element types of the safetensors format, by their header spelling (`safetensors/src/tensor.rs`).
package enum SafetensorsDType: String, CaseIterable, Sendable, Codable {
    case bool = "BOOL"
    case u8 = "U8", i8 = "I8"
    case f8E5M2 = "F8_E5M2", f8E4M3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32"
    case f64 = "F64", i64 = "I64", u64 = "U64"

    package var byteWidth: Int {
        switch self {
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .f64, .i64, .u64: 8
        }
    }


    package var fp8Encoding: FP8Encoding? {
        switch self {
        case .f8E4M3: .e4m3fn
        case .f8E5M2: .e5m2
        default: nil
        }
    }

    package init(_ dense: DenseFloatType) {
        switch dense {
        case .f32: self = .f32
        case .bf16: self = .bf16
        case .f16: self = .f16
        }
    }
}
