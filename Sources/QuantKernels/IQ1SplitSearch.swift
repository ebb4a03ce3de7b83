// The exhaustive 3-level split searches of `quantize_row_iq1_s_impl` and `quantize_row_iq1_m_impl`
// (llama.cpp commit 0c1e570): over the weights sorted by x, every split (i1, i2) into levels
// 0/1/2 and every shift gives a trial scale sumqx/sumq2, and the C loop keeps the first candidate
// with sumqx² > best·sumq2 (strict), then best = scale·sumqx. That loop was most of IQ1_S's time.
//
// Here eight consecutive i2 at a time: the lanes compute each candidate's sumqx and sumq2 with the
// C expression, operation for operation (element-wise, so the same roundings), and are compared
// with the current best. Only when some lane passes are the lanes replayed one by one in the C
// order, updating best as the C loop does. Exact whatever best does: if no lane passes against
// the best at the start of the chunk, the C loop changes nothing in that chunk either.

/// The split search's result: the chosen scale and (i1, i2, shift), or i1 = −1 when no candidate passed.
@usableFromInline
struct IQ1Split {
    @usableFromInline var scale: Float
    @usableFromInline var i1: Int
    @usableFromInline var i2: Int
    @usableFromInline var shift: Int

    @inlinable init(scale: Float) {
        self.scale = scale
        i1 = -1
        i2 = -1
        shift = 0
    }
}

/// The eight lane numbers 0…7.
@inlinable @inline(__always)
var laneNumbers: IntLanes { IntLanes(0, 1, 2, 3, 4, 5, 6, 7) }

/// IQ1_S (blocks of `n` = 32, one shift per block): `sumx[j]`, `sumw[j]` are the prefix sums of w·x
/// and w over the sorted block (j = 0…n), readable for 7 entries past n (the lanes past n are
/// masked off). Shift 1 is `xp`, −1 is `xm`, as the C `besti1/besti2/shift`. Generic over `Half` so
/// that each SIMD level compiles its own copy.
@inlinable @inline(__always)
func iq1sSplitSearch<Half: HalfFloatConversion>(
    sumx: UnsafePointer<Float>, sumw: UnsafePointer<Float>, n: Int, xp: InlineArray<3, Float>, xm: InlineArray<3, Float>,
    initialScale: Float, half: Half.Type
) -> IQ1Split {
    var result = IQ1Split(scale: initialScale)
    var bestScore = -Float.greatestFiniteMagnitude
    let p0 = xp[0], p1 = xp[1], p2 = xp[2], m0 = xm[0], m1 = xm[1], m2 = xm[2]
    let x0 = sumx[0], w0 = sumw[0], xEnd = sumx[n], wEnd = sumw[n]
    for i1 in 0...n {
        let x1 = sumx[i1], w1 = sumw[i1]
        // The C terms that depend on i1 only, as it computes them ((w1 − w0)·p0·p0 left to right).
        let qxP = (x1 - x0) * p0, qxM = (x1 - x0) * m0
        let q2P = (w1 - w0) * p0 * p0, q2M = (w1 - w0) * m0 * m0
        var i2 = i1
        while i2 <= n {
            let x2 = UnsafeRawPointer(sumx + i2).loadUnaligned(as: FloatLanes.self)
            let w2 = UnsafeRawPointer(sumw + i2).loadUnaligned(as: FloatLanes.self)
            let dx = x2 - x1, ex = xEnd - x2, dw = w2 - w1, ew = wEnd - w2
            let sumqxP = qxP + dx * p1 + ex * p2
            let sumq2P = q2P + dw * p1 * p1 + ew * p2 * p2
            let sumqxM = qxM + dx * m1 + ex * m2
            let sumq2M = q2M + dw * m1 * m1 + ew * m2 * m2
            let valid = laneNumbers .<= IntLanes(repeating: Int32(n - i2))
            let best = FloatLanes(repeating: bestScore)
            let passP = (sumq2P .> 0) .& (sumqxP * sumqxP .> best * sumq2P)
            let passM = (sumq2M .> 0) .& (sumqxM * sumqxM .> best * sumq2M)
            if any(valid .& (passP .| passM)) {
                for t in 0..<Swift.min(8, n - i2 + 1) {
                    if sumq2P[t] > 0 && sumqxP[t] * sumqxP[t] > bestScore * sumq2P[t] {
                        result.scale = sumqxP[t] / sumq2P[t]
                        bestScore = result.scale * sumqxP[t]
                        result.i1 = i1
                        result.i2 = i2 + t
                        result.shift = 1
                    }
                    if sumq2M[t] > 0 && sumqxM[t] * sumqxM[t] > bestScore * sumq2M[t] {
                        result.scale = sumqxM[t] / sumq2M[t]
                        bestScore = result.scale * sumqxM[t]
                        result.i1 = i1
                        result.i2 = i2 + t
                        result.shift = -1
                    }
                }
            }
            i2 += 8
        }
    }
    return result
}

/// IQ1_M (blocks of `n` = 16, a shift per half of 8): `px`/`pw` hold the prefix sums of w·x and w
/// over the sorted block restricted to each half (`px[17·h + j]`, j = 0…n), readable for 7 entries
/// past each half's end. Shifts k = 0…3 are (xp, xp), (xp, xm), (xm, xp), (xm, xm) for the halves,
/// tried in that order per (i1, i2) as the C loop does.
@inlinable @inline(__always)
func iq1mSplitSearch<Half: HalfFloatConversion>(
    px: UnsafePointer<Float>, pw: UnsafePointer<Float>, n: Int, xp: InlineArray<3, Float>, xm: InlineArray<3, Float>,
    initialScale: Float, half: Half.Type
) -> IQ1Split {
    var result = IQ1Split(scale: initialScale)
    var bestScore = -Float.greatestFiniteMagnitude
    let txs = (px[n], px[17 + n])
    let tws = (pw[n], pw[17 + n])
    let p2 = xp[2], m2 = xm[2]
    let cp1 = xp[0] * xp[0] - xp[1] * xp[1]
    let cp2 = xp[1] * xp[1] - xp[2] * xp[2]
    let cm1 = xm[0] * xm[0] - xm[1] * xm[1]
    let cm2 = xm[1] * xm[1] - xm[2] * xm[2]
    // Loop-invariant terms hoisted (the same values the C code recomputes).
    let t0p = tws.0 * p2 * p2, t1p = tws.1 * p2 * p2, t0m = tws.0 * m2 * m2, t1m = tws.1 * m2 * m2
    let s0p = txs.0 * p2, s1p = txs.1 * p2, s0m = txs.0 * m2, s1m = txs.1 * m2
    for i1 in 0...n {
        let a0 = px[i1], a1 = px[17 + i1], b0 = pw[i1], b1 = pw[17 + i1]
        // t + b·c1 first, as the C sum's left-to-right order adds them.
        let u0p = t0p + b0 * cp1, u1p = t1p + b1 * cp1, u0m = t0m + b0 * cm1, u1m = t1m + b1 * cm1
        var i2 = i1
        while i2 <= n {
            let sx0 = a0 + UnsafeRawPointer(px + i2).loadUnaligned(as: FloatLanes.self)
            let sx1 = a1 + UnsafeRawPointer(px + 17 + i2).loadUnaligned(as: FloatLanes.self)
            let c0 = UnsafeRawPointer(pw + i2).loadUnaligned(as: FloatLanes.self)
            let c1 = UnsafeRawPointer(pw + 17 + i2).loadUnaligned(as: FloatLanes.self)
            let qxP0 = s0p - sx0, qxM0 = s0m - sx0, qxP1 = s1p - sx1, qxM1 = s1m - sx1
            let q2P0 = u0p + c0 * cp2, q2M0 = u0m + c0 * cm2
            let q2P1 = u1p + c1 * cp2, q2M1 = u1m + c1 * cm2
            let sumqx = (qxP0 + qxP1, qxP0 + qxM1, qxM0 + qxP1, qxM0 + qxM1)
            let sumq2 = (q2P0 + q2P1, q2P0 + q2M1, q2M0 + q2P1, q2M0 + q2M1)
            let best = FloatLanes(repeating: bestScore)
            @inline(__always) func passes(_ qx: FloatLanes, _ q2: FloatLanes) -> SIMDMask<IntLanes> {
                (q2 .> 0) .& (qx * qx .> best * q2)
            }
            let pass = passes(sumqx.0, sumq2.0) .| passes(sumqx.1, sumq2.1) .| passes(sumqx.2, sumq2.2) .| passes(sumqx.3, sumq2.3)
            if any(pass .& (laneNumbers .<= IntLanes(repeating: Int32(n - i2)))) {
                for t in 0..<Swift.min(8, n - i2 + 1) {
                    @inline(__always) func consider(_ qx: FloatLanes, _ q2: FloatLanes, _ k: Int) {
                        if q2[t] > 0 && qx[t] * qx[t] > bestScore * q2[t] {
                            result.scale = qx[t] / q2[t]
                            bestScore = result.scale * qx[t]
                            result.i1 = i1
                            result.i2 = i2 + t
                            result.shift = k
                        }
                    }
                    consider(sumqx.0, sumq2.0, 0)
                    consider(sumqx.1, sumq2.1, 1)
                    consider(sumqx.2, sumq2.2, 2)
                    consider(sumqx.3, sumq2.3, 3)
                }
            }
            i2 += 8
        }
    }
    return result
}
