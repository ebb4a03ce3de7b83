/// FP8 E5M2 (`torch.float8_e5m2`): `s eeeee mm`, bias 15, IEEE-like with infinities and NaNs.
///
/// An E5M2 code is exactly the high byte of the IEEE half with the same value, so decoding is a
/// shift into a `Float16`, which is exact for normals, subnormals, ±inf and NaN.
package enum Float8E5M2 {
    package static let exponentBias = 15
    package static let maxFinite: Float = 57344

    /// NaN codes: exponent all ones and a non-zero mantissa.
    @inline(__always)
    package static func isNaN(_ code: UInt8) -> Bool { code & 0x7C == 0x7C && code & 0x03 != 0 }

    /// ±infinity: exponent all ones, mantissa zero.
    @inline(__always)
    package static func isInfinite(_ code: UInt8) -> Bool { code & 0x7F == 0x7C }

    @inline(__always)
    package static func decode(_ code: UInt8) -> Float {
        Float(Float16(bitPattern: UInt16(code) << 8))
    }

    /// Value of one code computed from the definition (the reference decoder for tests).
    package static func decodeReference(_ code: UInt8) -> Float {
        let negative = code & 0x80 != 0
        let exponent = Int((code >> 2) & 0x1F)
        let mantissa = Float(code & 0x03)
        let magnitude: Float
        switch exponent {
        case 0: magnitude = mantissa / 4 * Float(sign: .plus, exponent: 1 - exponentBias, significand: 1)
        case 31: magnitude = mantissa == 0 ? .infinity : .nan
        default: magnitude = (1 + mantissa / 4) * Float(sign: .plus, exponent: exponent - exponentBias, significand: 1)
        }
        return negative ? -magnitude : magnitude
    }
}
