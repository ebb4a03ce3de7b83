/// Decoders of the 256-weight k-quant super-blocks and of the non-linear IQ4 formats
/// (`dequantize_row_q{2,3,4,5,6}_K`, `dequantize_row_iq4_{nl,xs}` in ggml-quants.c), eight lanes
/// at a time. Per weight the F32 operations are the C code's, in its order (`d·sc` first, then
/// times the level, minus `dmin·m`), so the floats equal the `gguf` package's bit for bit.
/// Layouts: formats/blocks.md.
public enum SuperBlockDequantizers {
    @inlinable @inline(__always)
    static func store(_ v: FloatLanes, _ x: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(x).storeBytes(of: v, as: FloatLanes.self)
    }

    /// Q2_K, 84 bytes: 16 scale bytes (low nibble scale, high nibble min), 64 bytes of 2-bit levels, F16 d, F16 dmin.
    @inlinable @inline(__always)
    public static func q2_K<Half: HalfFloatConversion>(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>, half: Half.Type) {
        for block in 0..<blocks {
            let b = y + 84 * block, out = x + 256 * block
            let d = Half.value(loadUInt16(b, 80)), dmin = Half.value(loadUInt16(b, 82))
            for n in 0..<2 {  // two 128-weight halves, 32 level bytes each
                for j in 0..<4 {  // shift 2j
                    for half in 0..<2 {
                        let group = 8 * n + 2 * j + half
                        let sc = b.load(fromByteOffset: group, as: UInt8.self)
                        let dl = d * Float(sc & 0xF), ml = dmin * Float(sc >> 4)
                        for c in 0..<2 {
                            let q = (byteLanes(b, 16 + 32 * n + 16 * half + 8 * c) &>> Int32(2 * j)) & 3
                            store(dl * FloatLanes(q) - ml, out + 128 * n + 32 * j + 16 * half + 8 * c)
                        }
                    }
                }
            }
        }
    }

    /// Q3_K, 110 bytes: 32 bytes hmask, 64 bytes of 2-bit levels, 12 bytes of 6-bit scales, F16 d.
    @inlinable @inline(__always)
    public static func q3_K<Half: HalfFloatConversion>(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>, half: Half.Type) {
        for block in 0..<blocks {
            let b = y + 110 * block, out = x + 256 * block
            let dAll = Half.value(loadUInt16(b, 108))
            let scales = b.assumingMemoryBound(to: UInt8.self) + 96
            for group in 0..<16 {
                let low = group < 8 ? scales[group] & 0xF : scales[group - 8] >> 4
                let scale = Int32(low | (((scales[8 + group % 4] >> (2 * (group / 4))) & 3) << 4)) - 32
                let dl = dAll * Float(scale)
                for c in 0..<2 {
                    let e = 16 * group + 8 * c  // first weight of these eight lanes
                    let q = (byteLanes(b, 32 + (e / 128) * 32 + e % 32) &>> Int32(2 * ((e % 128) / 32))) & 3
                    let high = (byteLanes(b, e % 32) &>> Int32(e / 32)) & 1
                    // A set hmask bit means "no −4".
                    store(dl * FloatLanes(q &- 4 &+ (high &<< 2)), out + e)
                }
            }
        }
    }

    /// Q4_K (`bits` 4, 144 bytes) and Q5_K (`bits` 5, 176 bytes): F16 d, F16 dmin, 12 bytes of 6-bit
    /// scales and mins, [32 bytes qh], 128 bytes of low nibbles.
    @inlinable @inline(__always)
    public static func kWithMins<Half: HalfFloatConversion>(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>, bits: Int, half: Half.Type) {
        let blockBytes = bits == 4 ? 144 : 176
        for block in 0..<blocks {
            let b = y + blockBytes * block, out = x + 256 * block
            let d = Half.value(loadUInt16(b, 0)), dmin = Half.value(loadUInt16(b, 2))
            let nibbles = bits == 4 ? 16 : 48
            for p in 0..<4 {
                let (sc1, m1) = scaleMinK4(2 * p, b + 4)
                let (sc2, m2) = scaleMinK4(2 * p + 1, b + 4)
                let d1 = d * Float(sc1), mm1 = dmin * Float(m1)
                let d2 = d * Float(sc2), mm2 = dmin * Float(m2)
                for c in 0..<4 {
                    let q = byteLanes(b, nibbles + 32 * p + 8 * c)
                    var low = q & 0xF, high = q &>> 4
                    if bits == 5 {
                        let qh = byteLanes(b, 16 + 8 * c)
                        low |= ((qh &>> Int32(2 * p)) & 1) &<< 4
                        high |= ((qh &>> Int32(2 * p + 1)) & 1) &<< 4
                    }
                    store(d1 * FloatLanes(low) - mm1, out + 64 * p + 8 * c)
                    store(d2 * FloatLanes(high) - mm2, out + 64 * p + 32 + 8 * c)
                }
            }
        }
    }

    /// Q6_K, 210 bytes: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales, F16 d.
    @inlinable @inline(__always)
    public static func q6_K<Half: HalfFloatConversion>(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>, half: Half.Type) {
        for block in 0..<blocks {
            let b = y + 210 * block, out = x + 256 * block
            let d = Half.value(loadUInt16(b, 208))
            for h in 0..<2 {
                let ql = 64 * h, qh = 128 + 32 * h, sc = 192 + 8 * h
                for c in 0..<4 {
                    let group = c / 2
                    let low0 = byteLanes(b, ql + 8 * c), low1 = byteLanes(b, ql + 32 + 8 * c), high = byteLanes(b, qh + 8 * c)
                    @inline(__always) func scale(_ k: Int) -> Float {
                        d * Float(b.load(fromByteOffset: sc + group + 2 * k, as: Int8.self))
                    }
                    let q1 = ((low0 & 0xF) | ((high & 3) &<< 4)) &- 32
                    let q2 = ((low1 & 0xF) | (((high &>> 2) & 3) &<< 4)) &- 32
                    let q3 = ((low0 &>> 4) | (((high &>> 4) & 3) &<< 4)) &- 32
                    let q4 = ((low1 &>> 4) | (((high &>> 6) & 3) &<< 4)) &- 32
                    let o = out + 128 * h + 8 * c
                    store(scale(0) * FloatLanes(q1), o)
                    store(scale(1) * FloatLanes(q2), o + 32)
                    store(scale(2) * FloatLanes(q3), o + 64)
                    store(scale(3) * FloatLanes(q4), o + 96)
                }
            }
        }
    }

    /// IQ4_NL, 18 bytes per 32 weights: F16 d, 16 bytes of 4-bit indices into `iq4Levels`.
    @inlinable @inline(__always)
    public static func iq4_nl<Half: HalfFloatConversion>(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>, half: Half.Type) {
        for block in 0..<blocks {
            let b = y + 18 * block
            iq4Group(b + 2, scale: Half.value(loadUInt16(b, 0)), into: x + 32 * block)
        }
    }

    /// IQ4_XS, 136 bytes per 256 weights: F16 d, u16 high scale bits, 4 bytes of low scale nibbles,
    /// 128 bytes of 4-bit indices.
    @inlinable @inline(__always)
    public static func iq4_xs<Half: HalfFloatConversion>(_ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>, half: Half.Type) {
        for block in 0..<blocks {
            let b = y + 136 * block
            let d = Half.value(loadUInt16(b, 0))
            let scalesHigh = loadUInt16(b, 2)
            for group in 0..<8 {
                let low = (b.load(fromByteOffset: 4 + group / 2, as: UInt8.self) >> (4 * UInt8(group % 2))) & 0xF
                let ls = Int32(low) | Int32((scalesHigh >> (2 * UInt16(group))) & 3) << 4
                iq4Group(b + 8 + 16 * group, scale: d * Float(ls - 32), into: x + 256 * block + 32 * group)
            }
        }
    }

    /// 32 weights `scale · level[index]`: the 16 products are made once (the same products the C
    /// code makes per weight), then each index picks one.
    @inlinable @inline(__always)
    static func iq4Group(_ qs: UnsafeRawPointer, scale: Float, into x: UnsafeMutablePointer<Float>) {
        var table = scale * iq4LevelLanes
        withUnsafeBytes(of: &table) { raw in
            let t = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            for j in 0..<16 {
                let q = qs.load(fromByteOffset: j, as: UInt8.self)
                x[j] = t[Int(q & 0xF)]
                x[j + 16] = t[Int(q >> 4)]
            }
        }
    }
}

/// The 16 non-linear levels of IQ4_NL and IQ4_XS (`kvalues_iq4nl`).
public let iq4Levels: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

/// `kvalues_iq4nl` as float lanes.
public let iq4LevelLanes = SIMD16<Float>(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113)

/// `get_scale_min_k4`: scale and min j (0..<8) of Q4_K/Q5_K's 12 packed bytes at `q`.
@inlinable @inline(__always)
public func scaleMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (scale: UInt8, min: UInt8) {
    let b = q.assumingMemoryBound(to: UInt8.self)
    if j < 4 { return (b[j] & 63, b[j + 4] & 63) }
    return ((b[j + 4] & 0xF) | ((b[j - 4] >> 6) << 4), (b[j + 4] >> 4) | ((b[j] >> 6) << 4))
}
