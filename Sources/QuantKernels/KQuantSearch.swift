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

