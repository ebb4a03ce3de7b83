/// The k-quant quantizers whose searches gain from the AVX2 build (layouts: formats/blocks.md):
/// Q6_K (`make_qx_quants` per 16 weights, then int8 group scales) and Q4_K/Q5_K
/// (`make_qkx2/3_quants` per 32 weights, then 6-bit scales and mins). Generic over the F16
/// conversion, so each build specialises them (and their closures) for its instruction set.
public enum KQuantizers {
    @inlinable
    public static func q6_K<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        let out = y.assumingMemoryBound(to: UInt8.self)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { levelBuffer in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { floatBuffer in
                let levels = levelBuffer.baseAddress!, floats = floatBuffer.baseAddress!
                levelBuffer.initialize(repeating: 0)
                let L = UnsafeMutableRawPointer(levels).assumingMemoryBound(to: Int8.self)
                let scales = floats
                for block in 0..<(count / 256) {
                    let xb = x + block * 256, o = out + block * 210
                    let raw = UnsafeMutableRawPointer(o)
                    var maxScale: Float = 0, maxAbsScale: Float = 0
                    for g in 0..<16 {
                        let qw = importance.map { $0 + block * 256 + 16 * g }
                        let scale = makeQXQuants(16, 32, xb + 16 * g, L + 16 * g, 1, qw)
                        scales[g] = scale
                        if abs(scale) > maxAbsScale {
                            maxAbsScale = abs(scale)
                            maxScale = scale
                        }
                    }
                    if maxAbsScale < groupMaxEps {
                        raw.initializeMemory(as: UInt8.self, repeating: 0, count: 210)
                        continue
                    }
                    let iscale = -128 / maxScale
                    storeUInt16(Half.bits(1 / iscale), raw, 208)
                    for g in 0..<16 {
                        o[192 + g] = UInt8(bitPattern: Int8(truncatingIfNeeded: Swift.min(127, nearestInt(iscale * scales[g]))))
                    }
                    let dAll = Half.value(loadUInt16(raw, 208))
                    for g in 0..<16 {
                        let d = dAll * Float(Int8(bitPattern: o[192 + g]))
                        if d == 0 { continue }
                        for i in 0..<16 {
                            L[16 * g + i] = Int8(Swift.max(-32, Swift.min(31, nearestInt(xb[16 * g + i] / d))) + 32)
                        }
                    }
                    let ql = o, qh = o + 128
                    for h in 0..<2 {
                        let j = 128 * h
                        for l in 0..<32 {
                            let q1 = levels[j + l] & 0xF, q2 = levels[j + l + 32] & 0xF
                            let q3 = levels[j + l + 64] & 0xF, q4 = levels[j + l + 96] & 0xF
                            ql[64 * h + l] = q1 | (q3 << 4)
                            ql[64 * h + l + 32] = q2 | (q4 << 4)
                            qh[32 * h + l] = (levels[j + l] >> 4) | ((levels[j + l + 32] >> 4) << 2)
                                | ((levels[j + l + 64] >> 4) << 4) | ((levels[j + l + 96] >> 4) << 6)
                        }
                    }
                }
            }
        }
    }

    /// Q4_K and Q5_K quantize alike; Q5_K adds a fifth bit per level (`qh`) and uses nmax 31 with a
    /// narrower scale search in its reference path.
    @inlinable
    public static func kWithMins<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, bits: Int,
        half: Half.Type
    ) {
        let nmax = Int32((1 << bits) - 1)
        let blockBytes = bits == 4 ? 144 : 176
        let out = y.assumingMemoryBound(to: UInt8.self)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 512) { levelBuffer in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 64) { floatBuffer in
        withUnsafeTemporaryAllocation(of: FloatLanes.self, capacity: 32) { laneBuffer in
            levelBuffer.initialize(repeating: 0)
            floatBuffer.initialize(repeating: 0)
            let L = levelBuffer.baseAddress!, floats = floatBuffer.baseAddress!, lanes = laneBuffer.baseAddress!
            let Laux = L + 256, Ls = L + 288, Lm = L + 296
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
                        importanceWeights(qw, xb + 32 * j, count: 32, sigma2: sigma2, into: weights)
                        var sumw: Float = 0
                        for l in 0..<32 { sumw += weights[l] }
                        sw[j] = sumw
                        scales[j] = makeQKXQuants(32, nmax, xb + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9, 0.05, 36, false, variant3: true, levelScratch: lanes, half: half)
                    }
                    let dBlock = makeQPQuants(8, 63, scales, Ls, sw, half: half)
                    let mBlock = makeQPQuants(8, 63, mins, Lm, sw, half: half)
                    for j in 0..<8 { packScaleMinK4(j, Swift.min(63, Ls[j]), Swift.min(63, Lm[j]), o + 4) }
                    storeUInt16(Half.bits(dBlock), raw, 0)
                    storeUInt16(Half.bits(mBlock), raw, 2)
                } else {
                    var maxScale: Float = 0, maxMin: Float = 0
                    for j in 0..<8 {
                        var sumX2: Float = 0
                        for l in 0..<32 { sumX2 += xb[32 * j + l] * xb[32 * j + l] }
                        let avX = (sumX2 / 32).squareRoot()
                        for l in 0..<32 { weights[l] = avX + abs(xb[32 * j + l]) }
                        scales[j] = bits == 4
                            ? makeQKXQuants(32, nmax, xb + 32 * j, weights, L + 32 * j, &mins[j], Laux, -1, 0.1, 20, false, variant3: false, levelScratch: lanes, half: half)
                            : makeQKXQuants(32, nmax, xb + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.5, 0.1, 15, false, variant3: false, levelScratch: lanes, half: half)
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
                    storeUInt16(Half.bits(maxScale / 63), raw, 0)
                    storeUInt16(Half.bits(maxMin / 63), raw, 2)
                }
                let dAll = Half.value(loadUInt16(raw, 0)), minAll = Half.value(loadUInt16(raw, 2))
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
        }
    }
}
