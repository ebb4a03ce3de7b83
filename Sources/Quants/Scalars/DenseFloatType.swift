/// The plain floating-point element types moepack writes when it dequantizes.
package enum DenseFloatType: String, CaseIterable, Sendable {
    case f32, bf16, f16

    package var byteWidth: Int {
        switch self {
        case .f32: 4
        case .bf16, .f16: 2
        }
    }
}
