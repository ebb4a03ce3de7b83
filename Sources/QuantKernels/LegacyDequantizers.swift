/// Decoders of the legacy 32-weight formats (`dequantize_row_q{8_0,4_0,4_1,5_0,5_1}` in
/// ggml-quants.c), eight lanes at a time, with the C code's operations per weight:
/// `q · d`, `(q − 8) · d`, `q · d + m`.
public enum LegacyDequantizers {
    @inlinable @inline(__always)
    public static func q8_0<Half: HalfFloatConversion>(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>, half: Half.Type) {
        for block in 0..<blocks {
            let b = y + 34 * block, xb = UnsafeMutableRawPointer(x + 32 * block)
            let d = Half.value(loadUInt16(b, 0))
            for k in 0..<4 {
                let q = IntLanes(truncatingIfNeeded: b.loadUnaligned(fromByteOffset: 2 + 8 * k, as: SIMD8<Int8>.self))
                xb.storeBytes(of: FloatLanes(q) * d, toByteOffset: 32 * k, as: FloatLanes.self)
            }
        }
    }

    /// Q4_0 (`bits` 4) and Q5_0 (`bits` 5): weight = (level − 2^(bits−1)) · d.
    @inlinable @inline(__always)
    public static func symmetric<Half: HalfFloatConversion>(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>, bits: Int, half: Half.Type) {
        let blockBytes = bits == 4 ? 18 : 22
        let half: Int32 = bits == 4 ? 8 : 16
        for block in 0..<blocks {
            let b = y + blockBytes * block, xb = UnsafeMutableRawPointer(x + 32 * block)
            let d = Half.value(loadUInt16(b, 0))
            let levels = unpackLevels(b, nibbles: bits == 4 ? 2 : 6, highBits: bits == 5 ? 2 : nil)
            xb.storeBytes(of: FloatLanes(levels.0 &- half) * d, toByteOffset: 0, as: FloatLanes.self)
            xb.storeBytes(of: FloatLanes(levels.1 &- half) * d, toByteOffset: 32, as: FloatLanes.self)
            xb.storeBytes(of: FloatLanes(levels.2 &- half) * d, toByteOffset: 64, as: FloatLanes.self)
            xb.storeBytes(of: FloatLanes(levels.3 &- half) * d, toByteOffset: 96, as: FloatLanes.self)
        }
    }

    /// Q4_1 (`bits` 4) and Q5_1 (`bits` 5): weight = level · d + m.
    @inlinable @inline(__always)
    public static func asymmetric<Half: HalfFloatConversion>(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>, bits: Int, half: Half.Type) {
        let blockBytes = bits == 4 ? 20 : 24
        for block in 0..<blocks {
            let b = y + blockBytes * block, xb = UnsafeMutableRawPointer(x + 32 * block)
            let d = Half.value(loadUInt16(b, 0)), m = FloatLanes(repeating: Half.value(loadUInt16(b, 2)))
            let levels = unpackLevels(b, nibbles: bits == 4 ? 4 : 8, highBits: bits == 5 ? 4 : nil)
            xb.storeBytes(of: FloatLanes(levels.0) * d + m, toByteOffset: 0, as: FloatLanes.self)
            xb.storeBytes(of: FloatLanes(levels.1) * d + m, toByteOffset: 32, as: FloatLanes.self)
            xb.storeBytes(of: FloatLanes(levels.2) * d + m, toByteOffset: 64, as: FloatLanes.self)
            xb.storeBytes(of: FloatLanes(levels.3) * d + m, toByteOffset: 96, as: FloatLanes.self)
        }
    }
}

/// The 32 levels of a block, weights 0–7, 8–15, 16–23, 24–31: low nibbles of the 16 bytes at
/// `nibbles` then high nibbles, plus (with `highBits`) bit j of the u32 there as bit 4 of level j.
@inlinable @inline(__always)
func unpackLevels(_ b: UnsafeRawPointer, nibbles: Int, highBits: Int?) -> (IntLanes, IntLanes, IntLanes, IntLanes) {
    let first = byteLanes(b, nibbles), second = byteLanes(b, nibbles + 8)
    var levels = (first & 0x0F, second & 0x0F, first &>> 4, second &>> 4)
    if let highBits {
        let qh = IntLanes(repeating: Int32(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: highBits, as: UInt32.self))))
        let lanes = IntLanes(1, 2, 4, 8, 16, 32, 64, 128)
        @inline(__always) func high(_ group: Int32) -> IntLanes {
            let bit = lanes &<< (8 * group)
            return allOnes((qh & bit) .== bit) & 0x10
        }
        levels.0 |= high(0)
        levels.1 |= high(1)
        levels.2 |= high(2)
        levels.3 |= high(3)
    }
    return levels
}
