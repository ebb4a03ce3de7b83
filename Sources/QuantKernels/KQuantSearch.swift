/// The scale searches of ggml's k-quant quantizers that QuantKernels compiles per SIMD level
/// (ported from `ggml/src/ggml-quants.c` as vendored by llama-cpp-python 0.3.36, llama.cpp
/// commit 0c1e570). Ports keep the C evaluation order operation for operation (left-to-right
/// float products, no fused multiply-add): the chosen levels, and so the bytes, depend on the
/// last bit. The searches only the formats in Quants use are in its KQuantMath.swift.

/// `GROUP_MAX_EPS`: below this a group counts as all zeros.
public let groupMaxEps: Float = 1e-15

/// The error weights of ggml's importance-matrix quantizers (`quantize_row_*_impl`):
/// w_i = qw_i · √(σ² + x_i²), σ² a mean square of the row or super-block.
@inlinable @inline(__always)
public func importanceWeights(
    _ importance: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int, sigma2: Float, into w: UnsafeMutablePointer<Float>
) {
    for i in 0..<count { w[i] = importance[i] * (sigma2 + x[i] * x[i]).squareRoot() }
}

/// `nearest_int`: round half to even through the 1.5·2^23 trick (valid for |x| <= 4194303).
@inlinable @inline(__always)
public func nearestInt(_ value: Float) -> Int32 {
    let shifted = value + 12_582_912
    return Int32(bitPattern: shifted.bitPattern & 0x007F_FFFF) - 0x0040_0000
}

/// The first value of largest magnitude among `x[0..<n]` and that magnitude, as every ggml search
/// finds it (`if (ax > amax) { amax = ax; max = x[i]; }`: ties keep the earlier value).
@inlinable @inline(__always)
public func largestMagnitude(_ x: UnsafePointer<Float>, _ n: Int) -> (max: Float, amax: Float) {
    // The C loop keeps the first element of largest |x| (strict >). Four interleaved scans (element
    // i goes to lane i % 4) each keep their own first maximum; the winner is the largest, ties to the
    // lowest index: the same element, found with four independent chains of selects instead of one.
    guard n % 4 == 0 else {
        var max: Float = 0, amax: Float = 0
        for i in 0..<n {
            let a = abs(x[i])
            let larger = a > amax
            amax = larger ? a : amax
            max = larger ? x[i] : max
        }
        return (max, amax)
    }
    // Scalars, not SIMD4 lanes: per-lane subscripting of SIMD types compiles to slow code on baseline x86-64.
    var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
    var m0: Float = 0, m1: Float = 0, m2: Float = 0, m3: Float = 0
    var i0 = Int.max, i1 = Int.max, i2 = Int.max, i3 = Int.max
    @inline(__always) func scan(_ i: Int, _ a: inout Float, _ m: inout Float, _ at: inout Int) {
        let v = abs(x[i])
        let larger = v > a
        a = larger ? v : a
        m = larger ? x[i] : m
        at = larger ? i : at
    }
    for i in stride(from: 0, to: n, by: 4) {
        scan(i, &a0, &m0, &i0)
        scan(i + 1, &a1, &m1, &i1)
        scan(i + 2, &a2, &m2, &i2)
        scan(i + 3, &a3, &m3, &i3)
    }
    var a = a0, m = m0, at = i0
    @inline(__always) func merge(_ b: Float, _ mb: Float, _ ib: Int) {
        if b > a || (b == a && ib < at) { (a, m, at) = (b, mb, ib) }
    }
    merge(a1, m1, i1)
    merge(a2, m2, i2)
    merge(a3, m3, i3)
    return (m, a)
}

/// `make_qx_quants`: symmetric levels in [-nmax, nmax-1] stored as L + nmax; searches 19 scales.
/// `rmseType` 1 weights errors by x² (or by `weights` when given).
@inlinable @inline(__always)  // so each build compiles its own copy, for its instruction set
public func makeQXQuants(
    _ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>, _ rmseType: Int32,
    _ weights: UnsafePointer<Float>?
) -> Float {
    let (max, amax) = largestMagnitude(x, n)
    if amax < groupMaxEps {
        for i in 0..<n { L[i] = 0 }
        return 0
    }
    let iscale = -Float(nmax) / max
    var rmseType = rmseType
    if rmseType == 0 {
        for i in 0..<n {
            let l = nearestInt(iscale * x[i])
            L[i] = Int8(truncatingIfNeeded: nmax + Swift.max(-nmax, Swift.min(nmax - 1, l)))
        }
        return 1 / iscale
    }
    var returnEarly = false
    if rmseType < 0 {
        rmseType = -rmseType
        returnEarly = true
    }
    // The C code's per-element weight (no buffers or closures here: a closure's body would be
    // compiled once, in this module, instead of in each SIMD build that inlines this function).
    @inline(__always) func weight(_ i: Int) -> Float {
        if let weights { return weights[i] }
        switch rmseType {
        case 1: return x[i] * x[i]
        case 2: return 1
        case 3: return abs(x[i])
        default: return abs(x[i]).squareRoot()
        }
    }
    var sumlx: Float = 0, suml2: Float = 0
    for i in 0..<n {
        var l = nearestInt(iscale * x[i])
        l = Swift.max(-nmax, Swift.min(nmax - 1, l))
        L[i] = Int8(truncatingIfNeeded: l + nmax)
        let w = weight(i)
        sumlx += w * x[i] * Float(l)
        suml2 += w * Float(l) * Float(l)
    }
    var scale: Float = suml2 != 0 ? sumlx / suml2 : 0
    if returnEarly { return suml2 > 0 ? 0.5 * (scale + 1 / iscale) : 1 / iscale }
    var best = scale * sumlx
    // The 18 trial scales, eight per lane vector: for each element, every trial's level and its two
    // products are computed in lanes, and lane t's sums add the products in C order (i = 0, 1, ...),
    // so they have the C loop's bits; only the comparisons with `best`, in C order, are scalar.
    // (One trial at a time spent most of its instructions on 16-element loops and on two
    // dependent chains of scalar adds.)
    let steps = (FloatLanes(-9, -8, -7, -6, -5, -4, -3, -2), FloatLanes(-1, 1, 2, 3, 4, 5, 6, 7), FloatLanes(8, 9, 0, 0, 0, 0, 0, 0))
    let top = FloatLanes(repeating: Float(nmax)), maxLanes = FloatLanes(repeating: max)
    // C: iscale = -(nmax + 0.1f*is)/max, per lane.
    let iscales = (-(top + 0.1 * steps.0) / maxLanes, -(top + 0.1 * steps.1) / maxLanes, -(top + 0.1 * steps.2) / maxLanes)
    var trialSumlx = (FloatLanes(), FloatLanes(), FloatLanes()), trialSuml2 = (FloatLanes(), FloatLanes(), FloatLanes())
    let low = IntLanes(repeating: -nmax), high = IntLanes(repeating: nmax - 1)
    @inline(__always) func products(_ iscale: FloatLanes, _ xi: Float, _ wi: Float, _ lx: inout FloatLanes, _ l2: inout FloatLanes) {
        let l = FloatLanes(lanesMaximum(lanesMinimum(nearestIntegers(iscale * xi), high), low))
        lx += (wi * xi) * l  // C: w*x[i]*l, left to right
        l2 += (wi * l) * l
    }
    for i in 0..<n {
        let xi = x[i], wi = weight(i)
        products(iscales.0, xi, wi, &trialSumlx.0, &trialSuml2.0)
        products(iscales.1, xi, wi, &trialSumlx.1, &trialSuml2.1)
        products(iscales.2, xi, wi, &trialSumlx.2, &trialSuml2.2)
    }
    @inline(__always) func lane(_ v: (FloatLanes, FloatLanes, FloatLanes), _ k: Int) -> Float {
        k < 8 ? v.0[k] : (k < 16 ? v.1[k - 8] : v.2[k - 16])
    }
    for k in 0..<18 {
        let iscale = lane(iscales, k), sumlx = lane(trialSumlx, k), suml2 = lane(trialSuml2, k)
        if suml2 > 0 && sumlx * sumlx > best * suml2 {
            for i in 0..<n {
                let l = nearestInt(iscale * x[i])
                L[i] = Int8(truncatingIfNeeded: nmax + Swift.max(-nmax, Swift.min(nmax - 1, l)))
            }
            scale = sumlx / suml2
            best = scale * sumlx
        }
    }
    return scale
}

/// `make_qkx2_quants` (`weights` required) and `make_qkx3_quants` (`weights` optional, x² by
/// default): asymmetric levels in [0, nmax] with a minimum, searching `nstep + 1` scales.
/// The two differ in the degenerate test (`max == min` vs `max <= min`) and in how a search step
/// clamps (`qkx3` guards against inf/NaN); `variant3` selects the latter.
/// Generic over `Half` only so that each SIMD build specialises (compiles) its own copy: this
/// function is too large for `@inline(__always)` to be honoured across modules.
@inlinable @inline(__always)
public func makeQKXQuants<Half: HalfFloatConversion>(
    _ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>?,
    _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ Laux: UnsafeMutablePointer<UInt8>,
    _ rmin: Float, _ rdelta: Float, _ nstep: Int, _ useMAD: Bool, variant3: Bool,
    levelScratch levels: UnsafeMutablePointer<FloatLanes>, half: Half.Type
) -> Float {
    // No closures in here (see makeQXQuants); `levels` holds n lane vectors.
    @inline(__always) func weight(_ i: Int) -> Float {
        if let weights { return weights[i] }
        return x[i] * x[i]
    }
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
    let iscale = Float(nmax) / (max - min)
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
    let top = FloatLanes(repeating: Float(nmax)), topInt = IntLanes(repeating: nmax), zero = IntLanes()
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
                l = nearestIntegers(capped) & allOnes(v .> 0)
            } else {
                l = lanesMaximum(lanesMinimum(nearestIntegers(v), topInt), zero)
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
            error += weight(i) * (useMAD ? magnitude(diff) : diff * diff)
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

/// `make_qp_quants`: non-negative levels in [0, nmax] for the sub-block scales of the weighted
/// k-quant paths.
@inlinable @inline(__always)
public func makeQPQuants<Half: HalfFloatConversion>(
    _ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>, _ weights: UnsafePointer<Float>,
    half: Half.Type
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
@inlinable @inline(__always)
public func packScaleMinK4(_ j: Int, _ ls: UInt8, _ lm: UInt8, _ scales: UnsafeMutablePointer<UInt8>) {
    if j < 4 {
        scales[j] = ls
        scales[j + 4] = lm
    } else {
        scales[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
        scales[j - 4] |= ((ls >> 4) << 6)
        scales[j] |= ((lm >> 4) << 6)
    }
}
