import QuantKernels

/// Q3_K: super-blocks of 256 weights in 16 groups of 16, 110 bytes (3.4375 bpw).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 32 | `hmask`: bit (e / 32) of byte (e % 32) is set when element e's level is ≥ 4 (i.e. ≥ 0) |
/// | 32 | 64 | `qs`: low 2 bits of each level, packed as Q2_K's |
/// | 96 | 12 | `scales`: sixteen 6-bit group scales, stored +32: low nibbles in bytes 0–7 (groups 0–7 low, 8–15 high), top 2 bits in bytes 8–11 |
/// | 108 | 2 | `d`: F16 |
///
/// weight = d·(scale − 32)·(q − 4) with q = low bits + 4·hmask bit. Quantizers:
/// `quantize_row_q3_K_ref` (`make_q3_quants`) and, with importance, `quantize_row_q3_K_impl`.
public enum Q3_K: BlockFormat {
    public static let type = GGMLType.q3_K

    public static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        let out = y.assumingMemoryBound(to: UInt8.self)
        withScratch { levels, aux, floats, _ in
            let L = UnsafeMutableRawPointer(levels).assumingMemoryBound(to: Int8.self)
            let Ls = UnsafeMutableRawPointer(aux).assumingMemoryBound(to: Int8.self)
            let scales = floats, weight = floats + 16, sw = floats + 32
            for block in 0..<(count / 256) {
                let xb = x + block * 256, o = out + block * 110
                let raw = UnsafeMutableRawPointer(o)
                for j in 0..<12 { o[96 + j] = 0 }
                if let importance {
                    var sumx2: Float = 0
                    for j in 0..<256 { sumx2 += xb[j] * xb[j] }
                    let sigma2 = 2 * sumx2 / 256
                    for j in 0..<16 {
                        let qw = importance + block * 256 + 16 * j
                        importanceWeights(qw, xb + 16 * j, count: 16, sigma2: sigma2, into: weight)
                        var sumw: Float = 0
                        for l in 0..<16 { sumw += weight[l] }
                        sw[j] = sumw
                        scales[j] = makeQXQuants(16, 4, xb + 16 * j, L + 16 * j, 1, weight)
                    }
                    let dBlock = makeQXQuants(16, 32, scales, Ls, 1, sw)
                    for j in 0..<16 { packScale(j, Int32(Ls[j]), o + 96) }
                    storeUInt16(fp16Bits(dBlock), raw, 108)
                } else {
                    var maxScale: Float = 0, amax: Float = 0
                    for j in 0..<16 {
                        scales[j] = makeQ3Quants(16, 4, xb + 16 * j, L + 16 * j, true)
                        if abs(scales[j]) > amax {
                            amax = abs(scales[j])
                            maxScale = scales[j]
                        }
                    }
                    if maxScale != 0 {
                        let iscale = -32 / maxScale
                        for j in 0..<16 {
                            let l = Int8(truncatingIfNeeded: nearestInt(iscale * scales[j]))
                            packScale(j, Int32(Swift.max(-32, Swift.min(31, l)) + 32), o + 96)
                        }
                        storeUInt16(fp16Bits(1 / iscale), raw, 108)
                    } else {
                        storeUInt16(fp16Bits(0), raw, 108)
                    }
                }
                let dAll = fp16Value(loadUInt16(raw, 108))
                for j in 0..<16 {
                    let d = dAll * Float(groupScale(j, o + 96))
                    if d == 0 { continue }
                    for i in 0..<16 {
                        L[16 * j + i] = Int8(truncatingIfNeeded: Swift.max(-4, Swift.min(3, nearestInt(xb[16 * j + i] / d))) + 4)
                    }
                }
                for j in 0..<32 { o[j] = 0 }
                // hmask bit m of byte k flags level j = 32m + k above 3. Selects, not a branch: the
                // condition is data-dependent and mispredicted half the time.
                for m in 0..<8 {
                    for k in 0..<32 {
                        let high: Int8 = L[32 * m + k] > 3 ? 1 : 0
                        o[k] |= UInt8(bitPattern: high) &<< UInt8(m)
                        L[32 * m + k] &-= high &* 4
                    }
                }
                packTwoBit(levels, into: o + 32)
            }
        }
    }

    /// Stores group `j`'s 6-bit scale level `l` (already offset by 32).
    private static func packScale(_ j: Int, _ l: Int32, _ scales: UnsafeMutablePointer<UInt8>) {
        if j < 8 {
            scales[j] = UInt8(truncatingIfNeeded: l & 0xF)
        } else {
            scales[j - 8] |= UInt8(truncatingIfNeeded: (l & 0xF) << 4)
        }
        scales[j % 4 + 8] |= UInt8(truncatingIfNeeded: (l >> 4) << (2 * (j / 4)))
    }

    /// Group `j`'s signed scale (stored level − 32).
    @inline(__always)
    static func groupScale(_ j: Int, _ scales: UnsafePointer<UInt8>) -> Int32 {
        let low = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4
        return Int32(low | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32
    }

    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.active.dequantizeQ3_K(y, count / 256, x)
    }
}
