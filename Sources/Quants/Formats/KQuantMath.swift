import QuantKernels

/// The search routines ggml's quantizers share (`ggml/src/ggml-quants.c` as vendored by
/// llama-cpp-python 0.3.36, llama.cpp commit 0c1e570). Ports keep the C evaluation order
/// operation for operation (left-to-right float products, no fused multiply-add), because the
/// chosen integer levels, and so the bytes, depend on the last bit.

/// `GROUP_MAX_EPS`: below this a group counts as all zeros.
let groupMaxEps: Float = 1e-15

/// `nearest_int`: round half to even through the 1.5·2^23 trick (valid for |x| <= 4194303).
@inline(__always)
func nearestInt(_ value: Float) -> Int32 {
    let shifted = value + 12_582_912
    return Int32(bitPattern: shifted.bitPattern & 0x007F_FFFF) - 0x0040_0000
}

/// The first value of largest magnitude among `x[0..<n]` and that magnitude, as every ggml search
/// finds it (`if (ax > amax) { amax = ax; max = x[i]; }`: ties keep the earlier value).
@inline(__always)
func largestMagnitude(_ x: UnsafePointer<Float>, _ n: Int) -> (max: Float, amax: Float) {
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
func makeQXQuants(
    _ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>, _ rmseType: Int32,
    _ weights: UnsafePointer<Float>?
) -> Float {
    let (max, amax) = largestMagnitude(x, n)
    if amax < groupMaxEps {
        for i in 0..<n { L[i] = 0 }
        return 0
    }
    var iscale = -Float(nmax) / max
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
    // The per-element weights, computed once (the C code recomputes them identically per pass).
    return withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { buffer -> Float in
    let w: UnsafePointer<Float>
    if let weights {
        w = weights
    } else {
        for i in 0..<n {
            switch rmseType {
            case 1: buffer[i] = x[i] * x[i]
            case 2: buffer[i] = 1
            case 3: buffer[i] = abs(x[i])
            default: buffer[i] = abs(x[i]).squareRoot()
            }
        }
        w = UnsafePointer(buffer.baseAddress!)
    }
    @inline(__always) func weight(_ i: Int) -> Float { w[i] }
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
    // Products in a vectorizable pass, then the sums in C order (same bits; see makeQKXQuants).
    return withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * n) { products -> Float in
    let wxl = products.baseAddress!, wll = wxl + n
    for step in -9...9 where step != 0 {
        iscale = -(Float(nmax) + 0.1 * Float(step)) / max
        for i in 0..<n {
            var l = nearestInt(iscale * x[i])
            l = Swift.max(-nmax, Swift.min(nmax - 1, l))
            let w = weight(i)
            wxl[i] = w * x[i] * Float(l)
            wll[i] = w * Float(l) * Float(l)
        }
        sumlx = 0
        suml2 = 0
        for i in 0..<n {
            sumlx += wxl[i]
            suml2 += wll[i]
        }
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
    }
}

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
    // Each search step first computes every element's products in a loop with no running sum (the
    // compiler vectorizes it), then adds them in the C loop's order: the same operations on the same
    // values in the same order as `make_qkx2/3_quants`, so the same bits, with a third of the work
    // left in the latency-bound sums.
    return withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * n) { products -> Float in
    let wl = products.baseAddress!, wll = wl + n, wlx = wl + 2 * n
    for step in 0...nstep {
        iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (max - min)
        for i in 0..<n {
            let l: Int32
            if variant3 {
                // `min` is the best fit so far and can sit near `max`, so v can be inf, NaN or huge.
                let v = iscale * (x[i] - min)
                l = v > 0 ? nearestInt(Swift.min(v, Float(nmax))) : 0
            } else {
                l = Swift.max(0, Swift.min(nmax, nearestInt(iscale * (x[i] - min))))
            }
            Laux[i] = UInt8(truncatingIfNeeded: l)
            let p = weight(i) * Float(l)  // C: w*l, w*l*l, w*l*x[i], evaluated left to right
            wl[i] = p
            wll[i] = p * Float(l)
            wlx[i] = p * x[i]
        }
        var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
        for i in 0..<n {
            sumL += wl[i]
            sumL2 += wll[i]
            sumXL += wlx[i]
        }
        let D = sumW * sumL2 - sumL * sumL
        if D > 0 {
            var thisScale = (sumW * sumXL - sumX * sumL) / D
            var thisMin = (sumL2 * sumX - sumL * sumXL) / D
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            for i in 0..<n {
                var diff = thisScale * Float(Laux[i]) + thisMin - x[i]
                diff = useMAD ? abs(diff) : diff * diff
                wl[i] = weight(i) * diff
            }
            var error: Float = 0
            for i in 0..<n { error += wl[i] }
            if error < bestError {
                for i in 0..<n { L[i] = Laux[i] }
                bestError = error
                scale = thisScale
                min = thisMin
            }
        }
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

/// C `roundf` (half away from zero) to an integer, for |value| <= 4194303, without a libm call
/// or a trapping conversion: baseline x86-64 has no `roundss`, so `Float.rounded(.toNearestOrAwayFromZero)`
/// calls `roundf` for every weight. Rounds to nearest-even with `nearestInt`'s 1.5·2^23 trick,
/// then moves exact ties away from zero (the difference `value − even` is exact). Equal to `roundf`
/// on every float in [-130, 130] (checked exhaustively when written).
@inline(__always)
func roundedAwayFromZero(_ value: Float) -> Int32 {
    let even = nearestInt(value)
    let difference = value - Float(even)
    let up: Int32 = difference == 0.5 && value > 0 ? 1 : 0
    let down: Int32 = difference == -0.5 && value < 0 ? 1 : 0
    return even &+ up &- down
}

/// C's `(int)value` for 0 <= value <= 4194303, without a trapping conversion: the nearest integer
/// (1.5·2^23 trick) minus one when it lies above `value`. The legacy quantizers' levels
/// (`x·id + 8.5`, `(x − min)·id + 0.5`) are in this range by construction.
@inline(__always)
func truncatingNonNegative(_ value: Float) -> Int32 {
    let nearest = nearestInt(value)
    return nearest &- (Float(nearest) > value ? 1 : 0)
}
