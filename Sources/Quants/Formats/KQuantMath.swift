import QuantKernels

/// The search routines ggml's quantizers share (`ggml/src/ggml-quants.c` as vendored by
/// llama-cpp-python 0.3.36, llama.cpp commit 0c1e570). Ports keep the C evaluation order
/// operation for operation (left-to-right float products, no fused multiply-add), because the
/// chosen integer levels, and so the bytes, depend on the last bit.

/// `make_q3_quants`: levels in [-nmax, nmax-1] (stored + nmax) with a coordinate-descent refinement.
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

/// `make_qkx2_quants` (`weights` required) and `make_qkx3_quants` (`weights` optional, x² by
/// default): asymmetric levels in [0, nmax] with a minimum, searching `nstep + 1` scales.
/// The two differ in the degenerate test (`max == min` vs `max <= min`) and in how a search step
/// clamps (`qkx3` guards against inf/NaN); `variant3` selects the latter.
func makeQKXQuants(
    _ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>?,
    _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ Laux: UnsafeMutablePointer<UInt8>,
    _ rmin: Float, _ rdelta: Float, _ nstep: Int, _ useMAD: Bool, variant3: Bool
) -> Float {
    return withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { buffer -> Float in
    let w: UnsafePointer<Float>
    if let weights {
        w = weights
    } else {
        for i in 0..<n { buffer[i] = x[i] * x[i] }
        w = UnsafePointer(buffer.baseAddress!)
    }
    @inline(__always) func weight(_ i: Int) -> Float { w[i] }
    var min = x[0], max = x[0]
    var sumW = weight(0)
    var sumX = sumW * x[0]
    for i in 1..<n {
        if x[i] < min { min = x[i] }
        if x[i] > max { max = x[i] }
        let w = weight(i)
        sumW += w
        sumX += w * x[i]
    }
    if min > 0 { min = 0 }
    if variant3 ? max <= min : max == min {
        for i in 0..<n { L[i] = 0 }
        theMin = -min
        return 0
    }
    var iscale = Float(nmax) / (max - min)
    var scale = 1 / iscale
    var bestError: Float = 0
    for i in 0..<n {
        let l = nearestInt(iscale * (x[i] - min))
        L[i] = UInt8(truncatingIfNeeded: Swift.max(0, Swift.min(nmax, l)))
        var diff = scale * Float(L[i]) + min - x[i]
        diff = useMAD ? abs(diff) : diff * diff
        bestError += weight(i) * diff
    }
    if nstep < 1 {
        theMin = -min
        return scale
    }
    // Search steps run eight at a time, one per lane, speculating that `min` stays as it is: each
    // lane computes its step's levels, sums, least-squares scale and min, and error exactly as the
    // C loop would with the current `min` (every lane adds in C order, so the bits are the C
    // loop's). The lanes are then taken in step order; when one improves, `min` changes and the
    // steps after it are computed again. (On weight-like data 2.7 of Q4_K's 21 steps improve; one
    // step at a time, each step waited on two chains of 32 dependent adds.)
    let stepCount = nstep + 1
    return withUnsafeTemporaryAllocation(of: FloatLanes.self, capacity: n) { levelBuffer -> Float in
    let levels = levelBuffer.baseAddress!
    let top = FloatLanes(repeating: Float(nmax)), topInt = IntLanes(repeating: nmax), zero = IntLanes()
    let magic = FloatLanes(repeating: 12_582_912)
    @inline(__always) func bits(_ v: FloatLanes) -> IntLanes { unsafeBitCast(v, to: IntLanes.self) }
    @inline(__always) func floats(_ v: IntLanes) -> FloatLanes { unsafeBitCast(v, to: FloatLanes.self) }
    /// `a` where `mask` is all ones, else `b`.
    @inline(__always) func select(_ mask: IntLanes, _ a: FloatLanes, _ b: FloatLanes) -> FloatLanes {
        floats((bits(a) & mask) | (bits(b) & (mask ^ IntLanes(repeating: -1))))
    }
    @inline(__always) func nearest(_ v: FloatLanes) -> IntLanes { (bits(v + magic) & 0x007F_FFFF) &- 0x0040_0000 }
    var first = 0
    while first < stepCount {
        let steps = FloatLanes(0, 1, 2, 3, 4, 5, 6, 7) + Float(first)
        // C: iscale = (rmin + rdelta*is + nmax)/(max - min)
        let iscales = (FloatLanes(repeating: rmin) + FloatLanes(repeating: rdelta) * steps + top) / FloatLanes(repeating: max - min)
        var sumL = FloatLanes(), sumL2 = FloatLanes(), sumXL = FloatLanes()
        for i in 0..<n {
            let xi = x[i], wi = weight(i)
            let v = iscales * (xi - min)
            let l: IntLanes
            if variant3 {
                // C: l = v > 0 ? nearest_int(MIN(v, nmax)) : 0 (`min` sits near `max`: v can be inf or NaN).
                let capped = select(allOnes(top .< v), top, v)
                l = nearest(capped) & allOnes(v .> 0)
            } else {
                l = lanesMaximum(lanesMinimum(nearest(v), topInt), zero)
            }
            let lf = FloatLanes(l)
            levels[i] = lf
            let p = wi * lf  // C: w*l, w*l*l, w*l*x[i], left to right
            sumL += p
            sumL2 += p * lf
            sumXL += p * xi
        }
        let D = sumW * sumL2 - sumL * sumL
        var thisScale = (sumW * sumXL - sumX * sumL) / D
        var thisMin = (sumL2 * sumX - sumL * sumXL) / D
        let positive = allOnes(thisMin .> 0)
        thisScale = select(positive, sumXL / sumL2, thisScale)
        thisMin = select(positive, FloatLanes(), thisMin)
        var error = FloatLanes()
        for i in 0..<n {
            let diff = thisScale * levels[i] + thisMin - x[i]
            error += weight(i) * (useMAD ? floats(bits(diff) & 0x7FFF_FFFF) : diff * diff)
        }
        var next = first + 8
        for t in 0..<Swift.min(8, stepCount - first) where D[t] > 0 && error[t] < bestError {
            for i in 0..<n { L[i] = UInt8(levels[i][t]) }
            bestError = error[t]
            scale = thisScale[t]
            min = thisMin[t]
            next = first + t + 1  // the later lanes assumed the old min
            break
        }
        first = next
    }
    theMin = -min
    return scale
    }
    }
}

/// `make_qp_quants`: non-negative levels in [0, nmax] for the sub-block scales of the weighted
/// k-quant paths.
func makeQPQuants(
    _ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>, _ weights: UnsafePointer<Float>
) -> Float {
    var max: Float = 0
    for i in 0..<n { max = Swift.max(max, x[i]) }
    if max < groupMaxEps {
        for i in 0..<n { L[i] = 0 }
        return 0
    }
    var iscale = Float(nmax) / max
    for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: nearestInt(iscale * x[i])) }
    let scale = 1 / iscale
    var bestMSE: Float = 0
    for i in 0..<n {
        let diff = x[i] - scale * Float(L[i])
        bestMSE += weights[i] * diff * diff
    }
    for step in -4...4 where step != 0 {
        let iscaleStep = (0.1 * Float(step) + Float(nmax)) / max
        let scaleStep = 1 / iscaleStep
        var mse: Float = 0
        for i in 0..<n {
            let l = Swift.min(nmax, nearestInt(iscaleStep * x[i]))
            let diff = x[i] - scaleStep * Float(l)
            mse += weights[i] * diff * diff
        }
        if mse < bestMSE {
            bestMSE = mse
            iscale = iscaleStep
        }
    }
    var sumlx: Float = 0, suml2: Float = 0
    for i in 0..<n {
        let l = Swift.min(nmax, nearestInt(iscale * x[i]))
        L[i] = UInt8(truncatingIfNeeded: l)
        let w = weights[i]
        sumlx += w * x[i] * Float(l)
        suml2 += w * Float(l) * Float(l)
    }
    for _ in 0..<5 {
        var changed = 0
        for i in 0..<n {
            let w = weights[i]
            var slx = sumlx - w * x[i] * Float(L[i])
            var sl2 = suml2 - w * Float(L[i]) * Float(L[i])
            if slx > 0 && sl2 > 0 {
                let newL = Swift.min(nmax, nearestInt(x[i] * sl2 / slx))
                if newL != Int32(L[i]) {
                    slx += w * x[i] * Float(newL)
                    sl2 += w * Float(newL) * Float(newL)
                    if slx * slx * suml2 > sumlx * sumlx * sl2 {
                        L[i] = UInt8(truncatingIfNeeded: newL)
                        sumlx = slx
                        suml2 = sl2
                        changed += 1
                    }
                }
            }
        }
        if changed == 0 { break }
    }
    return suml2 > 0 ? sumlx / suml2 : 0
}

/// Packs Q4_K/Q5_K's eight 6-bit scales and mins into 12 bytes (the inverse of `scaleMinK4`).
@inline(__always)
func packScaleMinK4(_ j: Int, _ ls: UInt8, _ lm: UInt8, _ scales: UnsafeMutablePointer<UInt8>) {
    if j < 4 {
        scales[j] = ls
        scales[j + 4] = lm
    } else {
        scales[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
        scales[j - 4] |= ((ls >> 4) << 6)
        scales[j] |= ((lm >> 4) << 6)
    }
}

/// `best_index_int8` over the IQ4 levels: the index of the level nearest to `x` (ties to the upper
/// level). The C binary search ends at mu = the number of levels <= x (x strictly inside the
/// range), which is counted here with one 16-lane compare instead of four data-dependent branches
/// (their mispredictions were most of IQ4's quantization time). `values` must be `iq4Levels`.
@inline(__always)
func bestIndexInt8(_ values: UnsafePointer<Int8>, _ x: Float) -> Int {
    let atOrBelow = unsafeBitCast(iq4LevelLanes .<= SIMD16<Float>(repeating: x), to: SIMD16<Int32>.self)
    let mu = Int(0 &- atOrBelow.wrappedSum())
    if mu == 0 { return 0 }
    if mu == 16 { return 15 }
    // Nearly a coin toss per weight: an integer select, not a branch.
    let nearerBelow = x - Float(values[mu - 1]) < Float(values[mu]) - x
    return mu &- Int(truncatingIfNeeded: UInt8(nearerBelow ? 1 : 0))
}
