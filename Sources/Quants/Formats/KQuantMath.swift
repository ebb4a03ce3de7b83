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
