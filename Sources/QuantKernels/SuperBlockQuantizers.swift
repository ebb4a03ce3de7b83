/// The quantizers of Q2_K and Q3_K (layouts: formats/blocks.md), generic over the F16 conversion
/// so that each SIMD level's build compiles its own copy: ports of `quantize_row_q2_K_ref` /
/// `quantize_row_q2_K_impl` and `quantize_row_q3_K_ref` / `quantize_row_q3_K_impl` (llama.cpp
/// commit 0c1e570), in the C evaluation order. With `importance == nil` the reference path.
public enum SuperBlockQuantizers {
    @inlinable
    public static func q2_K<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
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
                        scales[j] = makeQKXQuants(16, 3, xb + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.9, 0.05, 36, false, variant3: true, levelScratch: lanes, half: Half.self)
                    }
                    let Ls = Laux, Lm = Laux + 16
                    var dm = makeQPQuants(16, 15, scales, Ls, sw, half: Half.self)
                    var mm = makeQPQuants(16, 15, mins, Lm, sw, half: Half.self)
                    storeUInt16(Half.bits(dm), raw, 80)
                    storeUInt16(Half.bits(mm), raw, 82)
                    dm = Half.value(loadUInt16(raw, 80))
                    mm = Half.value(loadUInt16(raw, 82))
                    for j in 0..<16 { o[j] = Ls[j] | (Lm[j] << 4) }
                    requantize(xb, o, L, d: dm, dmin: mm)
                } else {
                    var maxScale: Float = 0, maxMin: Float = 0
                    for j in 0..<16 {
                        for l in 0..<16 { weights[l] = abs(xb[16 * j + l]) }
                        scales[j] = makeQKXQuants(16, 3, xb + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5, 0.1, 15, true, variant3: false, levelScratch: lanes, half: Half.self)
                        if scales[j] > maxScale { maxScale = scales[j] }
                        if mins[j] > maxMin { maxMin = mins[j] }
                    }
                    if maxScale > 0 {
                        let iscale = 15 / maxScale
                        for j in 0..<16 { o[j] = UInt8(truncatingIfNeeded: nearestInt(iscale * scales[j])) }
                        storeUInt16(Half.bits(maxScale / 15), raw, 80)
                    } else {
                        for j in 0..<16 { o[j] = 0 }
                        storeUInt16(Half.bits(0), raw, 80)
                    }
                    if maxMin > 0 {
                        let iscale = 15 / maxMin
                        for j in 0..<16 { o[j] |= UInt8(truncatingIfNeeded: nearestInt(iscale * mins[j]) << 4) }
                        storeUInt16(Half.bits(maxMin / 15), raw, 82)
                    } else {
                        storeUInt16(Half.bits(0), raw, 82)
                    }
                    requantize(xb, o, L, d: Half.value(loadUInt16(raw, 80)), dmin: Half.value(loadUInt16(raw, 82)))
                }
                packTwoBit(L, into: o + 16)
            }
        }
    }

    /// Final levels from the stored (rounded) scales, as both C paths do.
    @inlinable @inline(__always)
    static func requantize(_ xb: UnsafePointer<Float>, _ o: UnsafeMutablePointer<UInt8>, _ L: UnsafeMutablePointer<UInt8>, d dAll: Float, dmin: Float) {
        for j in 0..<16 {
            let d = dAll * Float(o[j] & 0xF)
            if d == 0 { continue }
            let m = dmin * Float(o[j] >> 4)
            for i in 0..<16 {
                L[16 * j + i] = UInt8(truncatingIfNeeded: Swift.max(0, Swift.min(3, nearestInt((xb[16 * j + i] + m) / d))))
            }
        }
    }

    @inlinable
    public static func q3_K<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
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
                    storeUInt16(Half.bits(dBlock), raw, 108)
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
                        storeUInt16(Half.bits(1 / iscale), raw, 108)
                    } else {
                        storeUInt16(Half.bits(0), raw, 108)
                    }
                }
                let dAll = Half.value(loadUInt16(raw, 108))
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
    @inlinable @inline(__always)
    static func packScale(_ j: Int, _ l: Int32, _ scales: UnsafeMutablePointer<UInt8>) {
        if j < 8 {
            scales[j] = UInt8(truncatingIfNeeded: l & 0xF)
        } else {
            scales[j - 8] |= UInt8(truncatingIfNeeded: (l & 0xF) << 4)
        }
        scales[j % 4 + 8] |= UInt8(truncatingIfNeeded: (l >> 4) << (2 * (j / 4)))
    }

    /// Group `j`'s signed scale (stored level − 32).
    @inlinable @inline(__always)
    static func groupScale(_ j: Int, _ scales: UnsafePointer<UInt8>) -> Int32 {
        let low = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4
        return Int32(low | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32
    }
}

/// Packs 256 two-bit levels: byte 32·h + l holds elements 128h + l + 32s at bits 2s.
@inlinable @inline(__always)
func packTwoBit(_ L: UnsafePointer<UInt8>, into qs: UnsafeMutablePointer<UInt8>) {
    for j in stride(from: 0, to: 256, by: 128) {
        for l in 0..<32 {
            qs[j / 4 + l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6)
        }
    }
}

/// Scratch for one super-block: 256 levels, 256 auxiliary levels, 64 floats, 32 lane vectors.
@inlinable @inline(__always)
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

/// `make_q3_quants`: levels in [-nmax, nmax-1] (stored + nmax) with a coordinate-descent refinement.
@inlinable @inline(__always)  // so each build compiles its own copy, for its instruction set
func makeQ3Quants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>, _ doRMSE: Bool)
    -> Float
{
    let (max, amax) = largestMagnitude(x, n)
    if amax < groupMaxEps {
        for i in 0..<n { L[i] = 0 }
        return 0
    }
    let iscale = -Float(nmax) / max
    if doRMSE {
        var sumlx: Float = 0, suml2: Float = 0
        // Products first (vectorizable), then the sums in C order: same bits.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * n) { products in
            let wxl = products.baseAddress!, wll = wxl + n
            for i in 0..<n {
                var l = nearestInt(iscale * x[i])
                l = Swift.max(-nmax, Swift.min(nmax - 1, l))
                L[i] = Int8(truncatingIfNeeded: l)
                let w = x[i] * x[i]
                wxl[i] = w * x[i] * Float(l)
                wll[i] = w * Float(l) * Float(l)
            }
            for i in 0..<n {
                sumlx += wxl[i]
                suml2 += wll[i]
            }
        }
        for _ in 0..<5 {
            var changed = 0
            for i in 0..<n {
                let w = x[i] * x[i]
                var slx = sumlx - w * x[i] * Float(L[i])
                if slx > 0 {
                    var sl2 = suml2 - w * Float(L[i]) * Float(L[i])
                    var newL = nearestInt(x[i] * sl2 / slx)
                    newL = Swift.max(-nmax, Swift.min(nmax - 1, newL))
                    if newL != Int32(L[i]) {
                        slx += w * x[i] * Float(newL)
                        sl2 += w * Float(newL) * Float(newL)
                        if sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                            L[i] = Int8(truncatingIfNeeded: newL)
                            sumlx = slx
                            suml2 = sl2
                            changed += 1
                        }
                    }
                }
            }
            if changed == 0 { break }
        }
        for i in 0..<n { L[i] = Int8(truncatingIfNeeded: Int32(L[i]) + nmax) }
        return suml2 > 0 ? sumlx / suml2 : 0
    }
    for i in 0..<n {
        var l = nearestInt(iscale * x[i])
        l = Swift.max(-nmax, Swift.min(nmax - 1, l))
        L[i] = Int8(truncatingIfNeeded: l + nmax)
    }
    return 1 / iscale
}

