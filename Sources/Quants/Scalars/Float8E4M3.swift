/// FP8 E4M3FN, the weight format of DeepSeek-V3/R1 checkpoints (`torch.float8_e4m3fn`).
///
/// Layout of one byte: `s eeee mmm`, exponent bias 7. There are no infinities ("FN" = finite):
/// exponent 15 with mantissa 7 (`0x7F`, `0xFF`) is NaN, every other code is a number.
/// - exponent 0: subnormal, value = (-1)^s · m/8 · 2^-6 = (-1)^s · m · 2^-9
/// - exponent 1...15: normal, value = (-1)^s · (1 + m/8) · 2^(e-7); largest finite 448.
///
/// See `formats/deepseek-fp8.md`.
package enum Float8E4M3 {
    package static let exponentBias = 7
    package static let maxFinite: Float = 448

    /// True for the two NaN codes, `0x7F` and `0xFF`.
    @inline(__always)
    package static func isNaN(_ code: UInt8) -> Bool { code & 0x7F == 0x7F }

    /// Value of one code, computed from the definition above (the reference decoder).
    package static func decodeReference(_ code: UInt8) -> Float {
        if isNaN(code) { return .nan }
        let negative = code & 0x80 != 0
        let exponent = Int((code >> 3) & 0x0F)
        let mantissa = Float(code & 0x07)
        let magnitude: Float =
            exponent == 0
            ? mantissa / 8 * Float(sign: .plus, exponent: 1 - exponentBias, significand: 1)
            : (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - exponentBias, significand: 1)
        return negative ? -magnitude : magnitude
    }

    /// Fast decoder used by the kernels: the 7 magnitude bits are placed where an IEEE single keeps
    /// its exponent and top mantissa bits, which gives the value times 2^-120 for normal *and*
    /// subnormal codes (an E4M3 subnormal lands on an F32 subnormal); one exact multiplication by
    /// 2^120 restores it. NaN codes decode to 480 here; callers check `isNaN` separately.
    @inline(__always)
    package static func decodeFast(_ code: UInt8) -> Float {
        let magnitude = Float(bitPattern: UInt32(code & 0x7F) << 20) * 0x1p120
        return code & 0x80 != 0 ? -magnitude : magnitude
    }

    /// Encodes with round-to-nearest-even, saturating to ±448 (as `torch`'s saturating cast in
    /// DeepSeek's `act_quant`/`weight_quant` does after clamping). NaN becomes `0x7F`.
    package static func encode(_ value: Float) -> UInt8 {
        if value.isNaN { return 0x7F }
        let sign: UInt8 = value.sign == .minus ? 0x80 : 0
        let magnitude = Swift.min(value.magnitude, maxFinite)
        if magnitude < 0x1p-6 {
            // Subnormal range: steps of 2^-9; `rounded()` with .toNearestOrEven is RNE.
            // A result of 8 is the smallest normal (code 0x08), which the bit pattern already is.
            let steps = (magnitude * 0x1p9).rounded(.toNearestOrEven)
            return sign | UInt8(steps)
        }
        // Normal range: round the 23-bit F32 mantissa to 3 bits, half to even, then rebias.
        let bits = magnitude.bitPattern
        let lsb = (bits >> 20) & 1
        let rounded = (bits + 0x7FFFF + lsb) >> 20  // exponent(8 bits) | mantissa(3 bits)
        let rebiased = rounded - UInt32((127 - exponentBias) << 3)
        return sign | UInt8(Swift.min(rebiased, 0x7E))
    }
}
