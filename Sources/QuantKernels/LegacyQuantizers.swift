/// The reference quantizers of the legacy 32-weight formats (`quantize_row_q8_0_ref`,
/// `quantize_row_q{4,5}_{0,1}_ref` in ggml-quants.c), eight lanes at a time. Byte-identical to the
/// C loops: the same F32 operations in the same order per weight; only the order-free searches
/// (max |x|, min, max) run across lanes, with the C loop's first-occurrence rule restored where it
/// decides the result (the sign of the largest magnitude; a ±0 extreme).
///
/// `@inlinable` so that QuantKernelsAVX2 compiles these same bodies for AVX2.
public enum LegacyQuantizers {
    /// Q8_0: d = absmax / 127, level = roundf(x · (1/d)). 34-byte blocks: F16 d, 32 int8.
    @inlinable @inline(__always)
    public static func q8_0<Half: HalfFloatConversion>(_ x: UnsafePointer<Float>, blocks: Int, into y: UnsafeMutableRawPointer, half: Half.Type) {
        for block in 0..<blocks {
            let xb = x + 32 * block, out = y + 34 * block
            let d = Float(bitPattern: UInt32(bitPattern: largestMagnitudeBits32(xb))) / 127
            let id: Float = d != 0 ? 1 / d : 0
            storeUInt16(Half.bits(d), out, 0)
            for k in 0..<4 {
                let levels = roundedAwayFromZero(loadLanes(xb + 8 * k) * id)
                out.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: levels), toByteOffset: 2 + 8 * k, as: SIMD8<Int8>.self)
            }
        }
    }

    /// Q4_0 (`bits` 4) and Q5_0 (`bits` 5): d = (signed absmax) / −2^(bits−1),
    /// level = MIN(2^bits − 1, (int)(x · (1/d) + 2^(bits−1) + 0.5)). Blocks: F16 d, [u32 qh], 16 nibble bytes.
    @inlinable @inline(__always)
    public static func symmetric<Half: HalfFloatConversion>(_ x: UnsafePointer<Float>, blocks: Int, into y: UnsafeMutableRawPointer, bits: Int, half: Half.Type) {
        let middle: Float = bits == 4 ? 8 : 16  // 2^(bits−1)
        let top: Int32 = bits == 4 ? 15 : 31
        let blockBytes = bits == 4 ? 18 : 22
        let nibbles = bits == 4 ? 2 : 6
        for block in 0..<blocks {
            let xb = x + 32 * block, out = y + blockBytes * block
            let d = firstLargestMagnitude32(xb) / -middle
            let id: Float = d != 0 ? 1 / d : 0
            storeUInt16(Half.bits(d), out, 0)
            let offset = FloatLanes(repeating: middle + 0.5)
            var levels = (IntLanes(), IntLanes(), IntLanes(), IntLanes())
            levels.0 = lanesMinimum(truncatedNonNegative(loadLanes(xb) * id + offset), top)
            levels.1 = lanesMinimum(truncatedNonNegative(loadLanes(xb + 8) * id + offset), top)
            levels.2 = lanesMinimum(truncatedNonNegative(loadLanes(xb + 16) * id + offset), top)
            levels.3 = lanesMinimum(truncatedNonNegative(loadLanes(xb + 24) * id + offset), top)
            storeNibblesAndHighBits(levels, out, nibbles: nibbles, highBits: bits == 5 ? 2 : nil)
        }
    }

    /// Q4_1 (`bits` 4) and Q5_1 (`bits` 5): d = (max − min) / (2^bits − 1), m = min,
    /// level = (int)((x − min) · (1/d) + 0.5) (capped at 15 for Q4_1, as the C code). Blocks: F16 d,
    /// F16 m, [u32 qh], 16 nibble bytes.
    @inlinable @inline(__always)
    public static func asymmetric<Half: HalfFloatConversion>(_ x: UnsafePointer<Float>, blocks: Int, into y: UnsafeMutableRawPointer, bits: Int, half: Half.Type) {
        let levelsMinusOne: Float = bits == 4 ? 15 : 31
        let blockBytes = bits == 4 ? 20 : 24
        let nibbles = bits == 4 ? 4 : 8
        for block in 0..<blocks {
            let xb = x + 32 * block, out = y + blockBytes * block
            var (min, max) = extremes32Lanes(xb)
            // Only a zero extreme depends on which of two equal values the C loop keeps (+0 or −0,
            // stored as m): such blocks are searched again in C order.
            if min == 0 || max == 0 { (min, max) = extremes32(xb) }
            let d = (max - min) / levelsMinusOne
            let id: Float = d != 0 ? 1 / d : 0
            storeUInt16(Half.bits(d), out, 0)
            storeUInt16(Half.bits(min), out, 2)
            let low = FloatLanes(repeating: min), offset = FloatLanes(repeating: 0.5)
            @inline(__always) func level(_ k: Int) -> IntLanes {
                let l = truncatedNonNegative((loadLanes(xb + 8 * k) - low) * id + offset)
                return bits == 4 ? lanesMinimum(l, 15) : l
            }
            storeNibblesAndHighBits((level(0), level(1), level(2), level(3)), out, nibbles: nibbles, highBits: bits == 5 ? 4 : nil)
        }
    }
}

/// Byte j of the 16 at `nibbles`: level j in the low nibble, level j + 16 in the high one; with
/// `highBits`, bit 4 of level j as bit j of the little-endian u32 there.
@inlinable @inline(__always)
func storeNibblesAndHighBits(
    _ levels: (IntLanes, IntLanes, IntLanes, IntLanes), _ out: UnsafeMutableRawPointer, nibbles: Int, highBits: Int?
) {
    let first = (levels.0 & 0x0F) | ((levels.2 & 0x0F) &<< 4)
    let second = (levels.1 & 0x0F) | ((levels.3 & 0x0F) &<< 4)
    out.storeBytes(of: SIMD8<UInt8>(truncatingIfNeeded: first), toByteOffset: nibbles, as: SIMD8<UInt8>.self)
    out.storeBytes(of: SIMD8<UInt8>(truncatingIfNeeded: second), toByteOffset: nibbles + 8, as: SIMD8<UInt8>.self)
    if let highBits {
        let qh = highBitsByte(levels.0) | (highBitsByte(levels.1) << 8) | (highBitsByte(levels.2) << 16)
            | (highBitsByte(levels.3) << 24)
        out.storeBytes(of: qh.littleEndian, toByteOffset: highBits, as: UInt32.self)
    }
}

/// The value the C loop `if (amax < fabsf(v)) { amax = fabsf(v); max = v; }` keeps: the first of
/// largest magnitude, 0 for an all-zero block. Lanes find the magnitude, then the lowest index
/// holding it (FP8-dequantized weights repeat values, so +amax and −amax often both occur).
@inlinable @inline(__always)
func firstLargestMagnitude32(_ x: UnsafePointer<Float>) -> Float {
    let amax = largestMagnitudeBits32(x)
    if amax == 0 { return 0 }
    var first = IntLanes(repeating: 32)
    for k in 0..<4 {
        // Lanes holding amax keep their index; the others (|x| < amax) get 32 or more.
        let miss = allOnes(magnitudeBits(loadLanes(x + 8 * k)) .< IntLanes(repeating: amax))
        first = lanesMinimum(first, (IntLanes(0, 1, 2, 3, 4, 5, 6, 7) &+ Int32(8 * k)) | (miss & 32))
    }
    return x[Int(horizontalMinimum(first))]
}

/// The C loop's `min` and `max` of 32 values (first occurrence on ties, which only matters for the
/// sign of a zero), found in two interleaved lanes so the select chains are half as long.
@inlinable @inline(__always)
func extremes32(_ x: UnsafePointer<Float>) -> (min: Float, max: Float) {
    var min0 = Float.greatestFiniteMagnitude, min1 = Float.greatestFiniteMagnitude
    var max0 = -Float.greatestFiniteMagnitude, max1 = -Float.greatestFiniteMagnitude
    var minAt0 = Int.max, minAt1 = Int.max, maxAt0 = Int.max, maxAt1 = Int.max
    for j in stride(from: 0, to: 32, by: 2) {
        let a = x[j], b = x[j + 1]
        let lowerA = a < min0, lowerB = b < min1, higherA = a > max0, higherB = b > max1
        min0 = lowerA ? a : min0
        minAt0 = lowerA ? j : minAt0
        min1 = lowerB ? b : min1
        minAt1 = lowerB ? j + 1 : minAt1
        max0 = higherA ? a : max0
        maxAt0 = higherA ? j : maxAt0
        max1 = higherB ? b : max1
        maxAt1 = higherB ? j + 1 : maxAt1
    }
    let min = min1 < min0 || (min1 == min0 && minAt1 < minAt0) ? min1 : min0
    let max = max1 > max0 || (max1 == max0 && maxAt1 < maxAt0) ? max1 : max0
    return (min, max)
}
