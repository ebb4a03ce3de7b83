import QuantKernels

/// Q4_K: super-blocks of 256 weights in 8 groups of 32, 144 bytes (4.5 bpw).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 2 | `d`: F16 scale of the group scales |
/// | 2 | 2 | `dmin`: F16 scale of the group mins |
/// | 4 | 12 | eight 6-bit scales and eight 6-bit mins (`get_scale_min_k4` packing) |
/// | 16 | 128 | 4-bit levels: byte 32·p + l holds element 64p + l (low nibble) and 64p + 32 + l (high) |
///
/// weight = d·scale_g·q − dmin·min_g. Quantizers: `quantize_row_q4_K_ref` (`make_qkx2_quants`,
/// weights av|x| + |x|) and, with importance, `quantize_row_q4_K_impl`.
public enum Q4_K: BlockFormat {
    public static let type = GGMLType.q4_K

    public static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        quantizeKWithMins(x, count: count, importance: importance, into: y, bits: 4)
    }

    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.active.dequantizeQ4_K(y, count / 256, x)
    }
}

/// Q4_K and Q5_K quantize alike; Q5_K adds a fifth bit per level (`qh`) and uses nmax 31 with a
/// narrower scale search in its reference path.
func quantizeKWithMins(
    _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, bits: Int
) {
    let nmax = Int32((1 << bits) - 1)
    let blockBytes = bits == 4 ? 144 : 176
    let out = y.assumingMemoryBound(to: UInt8.self)
    withScratch { L, aux, floats in
        let Laux = aux, Ls = aux + 32, Lm = aux + 40
        let weights = floats, mins = floats + 32, scales = floats + 40, sw = floats + 48
        for block in 0..<(count / 256) {
            let xb = x + block * 256, o = out + block * blockBytes
            let raw = UnsafeMutableRawPointer(o)
            for j in 0..<12 { o[4 + j] = 0 }
            // The reference and weighted paths differ in how group scales become 6-bit levels.
            if let importance {
                var sumx2: Float = 0
                for l in 0..<256 { sumx2 += xb[l] * xb[l] }
                let sigma2 = 2 * sumx2 / 256
                for j in 0..<8 {
                    let qw = importance + block * 256 + 32 * j
                    for l in 0..<32 { weights[l] = qw[l] * (sigma2 + xb[32 * j + l] * xb[32 * j + l]).squareRoot() }
                    var sumw: Float = 0
                    for l in 0..<32 { sumw += weights[l] }
                    sw[j] = sumw
                    scales[j] = makeQKXQuants(32, nmax, xb + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9, 0.05, 36, false, variant3: true)
                }
                let dBlock = makeQPQuants(8, 63, scales, Ls, sw)
                let mBlock = makeQPQuants(8, 63, mins, Lm, sw)
                for j in 0..<8 { packScaleMinK4(j, Swift.min(63, Ls[j]), Swift.min(63, Lm[j]), o + 4) }
                storeUInt16(fp16Bits(dBlock), raw, 0)
                storeUInt16(fp16Bits(mBlock), raw, 2)
            } else {
                var maxScale: Float = 0, maxMin: Float = 0
                for j in 0..<8 {
                    var sumX2: Float = 0
                    for l in 0..<32 { sumX2 += xb[32 * j + l] * xb[32 * j + l] }
                    let avX = (sumX2 / 32).squareRoot()
                    for l in 0..<32 { weights[l] = avX + abs(xb[32 * j + l]) }
                    scales[j] = bits == 4
                        ? makeQKXQuants(32, nmax, xb + 32 * j, weights, L + 32 * j, &mins[j], Laux, -1, 0.1, 20, false, variant3: false)
                        : makeQKXQuants(32, nmax, xb + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.5, 0.1, 15, false, variant3: false)
                    if scales[j] > maxScale { maxScale = scales[j] }
                    if mins[j] > maxMin { maxMin = mins[j] }
                }
                let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
                let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
                for j in 0..<8 {
                    let ls = Swift.min(63, UInt8(truncatingIfNeeded: nearestInt(invScale * scales[j])))
                    let lm = Swift.min(63, UInt8(truncatingIfNeeded: nearestInt(invMin * mins[j])))
                    packScaleMinK4(j, ls, lm, o + 4)
                }
                storeUInt16(fp16Bits(maxScale / 63), raw, 0)
                storeUInt16(fp16Bits(maxMin / 63), raw, 2)
            }
            let dAll = fp16Value(loadUInt16(raw, 0)), minAll = fp16Value(loadUInt16(raw, 2))
            for j in 0..<8 {
                let (sc, m) = scaleMinK4(j, raw + 4)
                let d = dAll * Float(sc)
                if d == 0 { continue }
                let dm = minAll * Float(m)
                for i in 0..<32 {
                    L[32 * j + i] = UInt8(truncatingIfNeeded: Swift.max(0, Swift.min(nmax, nearestInt((xb[32 * j + i] + dm) / d))))
                }
            }
            if bits == 4 {
                for p in 0..<4 {
                    for l in 0..<32 { o[16 + 32 * p + l] = L[64 * p + l] | (L[64 * p + l + 32] << 4) }
                }
            } else {
                let qh = o + 16, ql = o + 48
                for j in 0..<32 { qh[j] = 0 }
                var m1: UInt8 = 1, m2: UInt8 = 2
                for p in 0..<4 {
                    for j in 0..<32 {
                        var l1 = L[64 * p + j], l2 = L[64 * p + j + 32]
                        if l1 > 15 {
                            l1 -= 16
                            qh[j] |= m1
                        }
                        if l2 > 15 {
                            l2 -= 16
                            qh[j] |= m2
                        }
                        ql[32 * p + j] = l1 | (l2 << 4)
                    }
                    m1 <<= 2
                    m2 <<= 2
                }
            }
        }
    }
}
