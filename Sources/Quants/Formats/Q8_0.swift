/// Q8_0: blocks of 32 weights, 34 bytes (8.5 bits per weight). See `formats/blocks.md`.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 2 | `d`: F16 scale = absmax / 127 |
/// | 2 | 32 | `qs`: int8 levels, weight = d · q |
///
/// Quantizer: `quantize_row_q8_0_ref` (llama.cpp ignores importance weights for Q8_0). Rounding is
/// C `roundf` (half away from zero) on x · (1/d) in F32.
public enum Q8_0: BlockFormat {
    public static let type = GGMLType.q8_0

    public static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        for block in 0..<(count / 32) {
            let xb = x + block * 32
            let out = y + block * 34
            var amax: Float = 0
            for j in 0..<32 {
                // C's MAX macro as a select: Swift's max() handles NaN and compiles to a slower sequence.
                let a = abs(xb[j])
                amax = a > amax ? a : amax
            }
            let d = amax / 127
            let id: Float = d != 0 ? 1 / d : 0
            storeUInt16(fp16Bits(d), out, 0)
            for j in 0..<32 {
                // |x·id| <= 127 (finite input is checked by the caller), inside roundedAwayFromZero's range.
                out.storeBytes(of: Int8(truncatingIfNeeded: roundedAwayFromZero(xb[j] * id)), toByteOffset: 2 + j, as: Int8.self)
            }
        }
    }

    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        for block in 0..<(count / 32) {
            let b = y + block * 34
            let d = fp16Value(loadUInt16(b, 0))
            for j in 0..<32 { x[block * 32 + j] = Float(b.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
        }
    }
}
