import QuantKernels

/// Q2_K: super-blocks of 256 weights in 16 groups of 16, 84 bytes (2.625 bpw).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 16 | `scales`: per group, low nibble = scale level, high nibble = min level |
/// | 16 | 64 | `qs`: 2-bit levels; byte 32·h + l holds elements 128h + l + 32s at bits 2s (s = 0…3) |
/// | 80 | 2 | `d`: F16 scale of the scale levels |
/// | 82 | 2 | `dmin`: F16 scale of the min levels |
///
/// weight = d·(scale level)·q − dmin·(min level). Quantizers: `quantize_row_q2_K_ref`
/// (`make_qkx2_quants`, MAD) and, with importance weights, `quantize_row_q2_K_impl`.
public enum Q2_K: BlockFormat {
    public static let type = GGMLType.q2_K

    public static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        let out = y.assumingMemoryBound(to: UInt8.self)
        withScratch { L, Laux, floats, lanes in
            let weights = floats, mins = floats + 16, scales = floats + 32, sw = floats + 48
            for block in 0..<(count / 256) {
                let xb = x + block * 256, o = out + block * 84
                let raw = UnsafeMutableRawPointer(o)
                if let importance {
                    let qwBlock = importance + block * 256
                    for j in 0..<16 { sw[j] = 0 }
                    var sumx2: Float = 0
                    for j in 0..<256 { sumx2 += xb[j] * xb[j] }
                    let sigma2 = sumx2 / 256
                    for j in 0..<16 {
                        importanceWeights(qwBlock + 16 * j, xb + 16 * j, count: 16, sigma2: sigma2, into: weights)
                        for l in 0..<16 { sw[j] += weights[l] }
                        scales[j] = makeQKXQuants(16, 3, xb + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.9, 0.05, 36, false, variant3: true, levelScratch: lanes, half: SoftwareHalf.self)
                    }
                    let Ls = Laux, Lm = Laux + 16
                    var dm = makeQPQuants(16, 15, scales, Ls, sw, half: SoftwareHalf.self)
                    var mm = makeQPQuants(16, 15, mins, Lm, sw, half: SoftwareHalf.self)
                    storeUInt16(fp16Bits(dm), raw, 80)
                    storeUInt16(fp16Bits(mm), raw, 82)
                    dm = fp16Value(loadUInt16(raw, 80))
                    mm = fp16Value(loadUInt16(raw, 82))
                    for j in 0..<16 { o[j] = Ls[j] | (Lm[j] << 4) }
                    requantize(xb, o, L, d: dm, dmin: mm)
                } else {
                    var maxScale: Float = 0, maxMin: Float = 0
                    for j in 0..<16 {
                        for l in 0..<16 { weights[l] = abs(xb[16 * j + l]) }
                        scales[j] = makeQKXQuants(16, 3, xb + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5, 0.1, 15, true, variant3: false, levelScratch: lanes, half: SoftwareHalf.self)
                        if scales[j] > maxScale { maxScale = scales[j] }
                        if mins[j] > maxMin { maxMin = mins[j] }
                    }
                    if maxScale > 0 {
                        let iscale = 15 / maxScale
                        for j in 0..<16 { o[j] = UInt8(truncatingIfNeeded: nearestInt(iscale * scales[j])) }
                        storeUInt16(fp16Bits(maxScale / 15), raw, 80)
                    } else {
                        for j in 0..<16 { o[j] = 0 }
                        storeUInt16(fp16Bits(0), raw, 80)
                    }
                    if maxMin > 0 {
                        let iscale = 15 / maxMin
                        for j in 0..<16 { o[j] |= UInt8(truncatingIfNeeded: nearestInt(iscale * mins[j]) << 4) }
                        storeUInt16(fp16Bits(maxMin / 15), raw, 82)
                    } else {
                        storeUInt16(fp16Bits(0), raw, 82)
                    }
                    requantize(xb, o, L, d: fp16Value(loadUInt16(raw, 80)), dmin: fp16Value(loadUInt16(raw, 82)))
                }
                packTwoBit(L, into: o + 16)
            }
        }
    }

    /// Final levels from the stored (rounded) scales, as both C paths do.
    private static func requantize(_ xb: UnsafePointer<Float>, _ o: UnsafeMutablePointer<UInt8>, _ L: UnsafeMutablePointer<UInt8>, d dAll: Float, dmin: Float) {
        for j in 0..<16 {
            let d = dAll * Float(o[j] & 0xF)
            if d == 0 { continue }
            let m = dmin * Float(o[j] >> 4)
            for i in 0..<16 {
                L[16 * j + i] = UInt8(truncatingIfNeeded: Swift.max(0, Swift.min(3, nearestInt((xb[16 * j + i] + m) / d))))
            }
        }
    }

    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.active.dequantizeQ2_K(y, count / 256, x)
    }
}

/// Packs 256 two-bit levels: byte 32·h + l holds elements 128h + l + 32s at bits 2s.
func packTwoBit(_ L: UnsafePointer<UInt8>, into qs: UnsafeMutablePointer<UInt8>) {
    for j in stride(from: 0, to: 256, by: 128) {
        for l in 0..<32 {
            qs[j / 4 + l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6)
        }
    }
}

/// Scratch for one super-block: 256 levels, 256 auxiliary levels, 64 floats, 32 lane vectors.
@inline(__always)
func withScratch(
    _ body: (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<FloatLanes>) -> Void
) {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 512) { levels in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 64) { floats in
            withUnsafeTemporaryAllocation(of: FloatLanes.self, capacity: 32) { lanes in
                levels.initialize(repeating: 0)
                floats.initialize(repeating: 0)
                body(levels.baseAddress!, levels.baseAddress! + 256, floats.baseAddress!, lanes.baseAddress!)
            }
        }
    }
}
