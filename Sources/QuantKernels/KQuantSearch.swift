/// The scale searches of ggml's k-quant quantizers that QuantKernels compiles per SIMD level
/// (ported from `ggml/src/ggml-quants.c` as vendored by llama-cpp-python 0.3.36, llama.cpp
/// commit 0c1e570). Ports keep the C evaluation order operation for operation (left-to-right
/// float products, no fused multiply-add): the chosen levels, and so the bytes, depend on the
/// last bit. The other searches are in Quants' KQuantMath.swift.

/// `GROUP_MAX_EPS`: below this a group counts as all zeros.
public let groupMaxEps: Float = 1e-15

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
        let shifted = iscale * xi + FloatLanes(repeating: roundingMagic)
        let l = FloatLanes(lanesMaximum(lanesMinimum(mantissaInteger(shifted), high), low))
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

