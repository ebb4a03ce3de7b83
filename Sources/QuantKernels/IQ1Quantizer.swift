// The quantizers of ggml's ternary formats IQ1_S and IQ1_M (`quantize_row_iq1_s_impl`,
// `quantize_row_iq1_m_impl`, llama.cpp commit 0c1e570), generic over the F16 conversion so that each
// SIMD level's build compiles its own copy of the searches (the (i1, i2) split search is most of
// IQ1_S's time). Transcribed loop for loop; formats and layouts: Quants' IQ1.swift, formats/blocks.md.

public enum IQ1Quantizer {
    /// IQ1_S. llama.cpp refuses to quantize it without importance weights; moepack then uses weights of 1.
    @inlinable
    public static func iq1_s<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        withImportanceOrOnes(importance, count: count) { qwRow in
            iq1Quantize(x, count: count, importance: qwRow, into: y, medium: false, half: Half.self)
        }
    }

    @inlinable
    public static func iq1_m<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        iq1Quantize(x, count: count, importance: importance, into: y, medium: true, half: Half.self)
    }
}

/// `iq1_find_best_neighbour2`: among u's neighbours the grid point minimizing Σ w·(scale·xg[l] − x)²;
/// writes its levels to `L`. `xg` is `x_p` or `x_m` ({−1, 0, 1} + ±`IQ1S_DELTA`, each entry exact), so
/// xg[l] = (l − 1) + xg[1] exactly: the ternary levels plus the shift.
/// Generic over `Half` only so that a copy the optimizer leaves out of line is still one per level
/// (a non-generic one is a single symbol the linker shares between the levels: formats/blocks.md).
@inlinable @inline(__always)
func iq1BestNeighbour<Half: HalfFloatConversion>(
    _ grid: IQSearchGrid, _ u: Int, _ xval: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ scale: Float,
    _ xg: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>, half: Half.Type
) -> Int {
    // The C code then scans the whole grid (reading past xval) and asserts; finite inputs never get there.
    let index = grid.nearest(u, xval, weight, scale, offset: xg[1], half: Half.self)
    grid.levels(index, into: L)
    return index
}

/// `quantize_row_iq1_s_impl` (`medium` false: blocks of 32, one shift per block) and
/// `quantize_row_iq1_m_impl` (`medium` true: blocks of 16, a shift per 8 weights).
@inlinable @inline(__always)
func iq1Quantize<Half: HalfFloatConversion>(
    _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, medium: Bool,
    half: Half.Type
) {
    let grid = IQSearchGrid.iq1s
    let blockSize = medium ? 16 : 32
    let groups = 256 / blockSize
    let blockBytes = medium ? 56 : 50
    let xp: InlineArray<3, Float> = [-1 + iq1Delta, iq1Delta, 1 + iq1Delta]
    let xm: InlineArray<3, Float> = [-1 - iq1Delta, -iq1Delta, 1 - iq1Delta]
    let masks: InlineArray<4, UInt8> = [0x00, 0x80, 0x08, 0x88]
    // sumx, sumw (33 prefix sums) and px, pw (two halves of 17) each with 7 floats of slack for the
    // split search's eight-lane loads past the end.
    withIQScratch(floats: 32 + 16 + 2 * 40 + 2 * 41 + 32, bytes: 32 + 32 + 16) { f, b in
        let weight = f, scales = f + 32, sumx = f + 48, sumw = f + 88, px = f + 128, pw = f + 169, sortedX = f + 210
        let L = b, order = b + 32, shifts = b + 64
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 6) { tables in
            let xP = tables.baseAddress!, xM = xP + 3
            for i in 0..<3 {
                xP[i] = xp[i]
                xM[i] = xm[i]
            }
            for ibl in 0..<(count / 256) {
                let out = (y + blockBytes * ibl).assumingMemoryBound(to: UInt8.self)
                out.initialize(repeating: 0, count: blockBytes)
                let qs = medium ? out : out + 2
                var maxScale: Float = 0
                let xbl = x + 256 * ibl
                var sumx2: Float = 0
                for i in 0..<256 { sumx2 += xbl[i] * xbl[i] }
                let sigma2 = 2 * sumx2 / 256
                var index = InlineArray<4, Int>(repeating: 0)
                for ib in 0..<groups {
                    let xb = xbl + blockSize * ib
                    if let importance {
                        let qw = importance + 256 * ibl + blockSize * ib
                        for i in 0..<blockSize { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
                    } else {
                        for i in 0..<blockSize { weight[i] = xb[i] * xb[i] }
                    }
                    var max = abs(xb[0])
                    for i in 1..<blockSize { max = cMax(max, abs(xb[i])) }
                    if max < (medium ? 1e-7 : 1e-12) {
                        scales[ib] = 0
                        shifts[ib] = medium ? 0 : 1
                        continue
                    }
                    // qsort of (x, index) pairs by x: glibc's merge sort, stable for equal x.
                    for j in 0..<blockSize {
                        var k = j
                        while k > 0 && sortedX[k - 1] > xb[j] {
                            sortedX[k] = sortedX[k - 1]
                            order[k] = order[k - 1]
                            k -= 1
                        }
                        sortedX[k] = xb[j]
                        order[k] = UInt8(j)
                    }
                    let split: IQ1Split
                    if !medium {
                        sumx[0] = 0
                        sumw[0] = 0
                        for j in 0..<blockSize {
                            let i = Int(order[j])
                            sumx[j + 1] = sumx[j] + weight[i] * xb[i]
                            sumw[j + 1] = sumw[j] + weight[i]
                        }
                        split = iq1sSplitSearch(sumx: sumx, sumw: sumw, n: blockSize, xp: xp, xm: xm, initialScale: max, half: Half.self)
                    } else {
                        // Prefix sums per half of the block (px[h][j], pw[h][j] at h·17 + j).
                        px[0] = 0
                        px[17] = 0
                        pw[0] = 0
                        pw[17] = 0
                        for j in 0..<blockSize {
                            let i = Int(order[j])
                            let h = i < blockSize / 2 ? 0 : 1
                            px[17 * h + j + 1] = px[17 * h + j] + weight[i] * xb[i]
                            px[17 * (1 - h) + j + 1] = px[17 * (1 - h) + j]
                            pw[17 * h + j + 1] = pw[17 * h + j] + weight[i]
                            pw[17 * (1 - h) + j + 1] = pw[17 * (1 - h) + j]
                        }
                        split = iq1mSplitSearch(px: px, pw: pw, n: blockSize, xp: xp, xm: xm, initialScale: max, half: Half.self)
                    }
                    var scale = split.scale
                    let besti1 = split.i1, besti2 = split.i2
                    var bestShift = medium && split.i1 < 0 ? -1 : split.shift
                    if besti1 < 0 || besti2 < 0 || (medium ? bestShift < 0 : bestShift == 0) {
                        scales[ib] = 0
                        shifts[ib] = medium ? 0 : 1
                        continue
                    }
                    for j in 0..<besti1 { L[Int(order[j])] = 0 }
                    for j in besti1..<besti2 { L[Int(order[j])] = 1 }
                    for j in besti2..<blockSize { L[Int(order[j])] = 2 }
                    if scale < 0 {
                        for j in 0..<blockSize { L[j] = 2 - L[j] }
                        scale = -scale
                        bestShift = medium ? 3 - bestShift : -bestShift
                    }
                    // The shift table of group k of 8.
                    @inline(__always) func table(_ k: Int) -> UnsafeMutablePointer<Float> {
                        if !medium { return bestShift == 1 ? xP : xM }
                        return k == 0 ? (bestShift < 2 ? xP : xM) : (bestShift % 2 == 0 ? xP : xM)
                    }
                    var allOnGrid = true
                    for k in 0..<(blockSize / 8) {
                        let u = grid.pack(L + 8 * k)
                        var gridIndex = Int(grid.map[u])
                        if gridIndex < 0 {
                            allOnGrid = false
                            gridIndex = iq1BestNeighbour(grid, u, xb + 8 * k, weight + 8 * k, scale, table(k), L + 8 * k, half: Half.self)
                        }
                        index[k] = gridIndex
                    }
                    if !allOnGrid {
                        var sumqx: Float = 0, sumq2: Float = 0
                        for k in 0..<(blockSize / 8) {
                            let xx = table(k)
                            let pg = grid.points + 8 * index[k]
                            for j in 0..<8 {
                                let w = weight[8 * k + j]
                                let q = xx[Int((pg[j] - 1) / 2)]
                                sumqx += w * q * xb[8 * k + j]
                                sumq2 += w * q * q
                            }
                        }
                        if sumqx > 0 && sumq2 > 0 { scale = sumqx / sumq2 }
                    }
                    if medium {
                        qs[2 * ib] = UInt8(truncatingIfNeeded: index[0])
                        qs[2 * ib + 1] = UInt8(truncatingIfNeeded: index[1])
                        out[32 + ib] = UInt8((index[0] >> 8) | ((index[1] >> 8) << 4))
                    } else {
                        var h: UInt16 = 0
                        for k in 0..<4 {
                            qs[4 * ib + k] = UInt8(truncatingIfNeeded: index[k])
                            h |= UInt16(index[k] >> 8) << (3 * UInt16(k))
                        }
                        storeUInt16(h, UnsafeMutableRawPointer(out), 34 + 2 * ib)
                    }
                    scales[ib] = scale
                    shifts[ib] = UInt8(bitPattern: Int8(bestShift))
                    maxScale = cMax(maxScale, scale)
                }
                if maxScale == 0 { continue }
                if !medium {
                    let d = maxScale / 15
                    storeUInt16(Half.bits(d * 1.125), UnsafeMutableRawPointer(out), 0)
                    let id = 1 / d
                    for ib in 0..<8 {
                        var l = Swift.max(0, Swift.min(7, nearestInt(0.5 * (id * scales[ib] - 1))))
                        if Int8(bitPattern: shifts[ib]) == -1 { l |= 8 }
                        let h = loadUInt16(UnsafeRawPointer(out), 34 + 2 * ib) | UInt16(l) << 12
                        storeUInt16(h, UnsafeMutableRawPointer(out), 34 + 2 * ib)
                    }
                    continue
                }
                var sc = InlineArray<4, UInt16>(repeating: 0)
                var d = maxScale / 15
                let id = 1 / d
                var sumqxF: Float = 0, sumq2F: Float = 0
                for ib in 0..<16 {
                    let l = Swift.max(0, Swift.min(7, nearestInt(0.5 * (id * scales[ib] - 1))))
                    sc[ib / 4] |= UInt16(l) << (3 * UInt16(ib % 4))
                    out[32 + ib] |= masks[Int(shifts[ib])]
                    let xb = xbl + blockSize * ib
                    if let importance {
                        let qw = importance + 256 * ibl + blockSize * ib
                        for i in 0..<blockSize { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
                    } else {
                        for i in 0..<blockSize { weight[i] = xb[i] * xb[i] }
                    }
                    for k in 0..<2 {
                        let shift = Int(shifts[ib])
                        let xx = k == 0 ? (shift < 2 ? xP : xM) : (shift % 2 == 0 ? xP : xM)
                        let gi = Int(qs[2 * ib + k]) + ((Int(out[32 + ib]) << (8 - 4 * k)) & 0x700)
                        let pg = grid.points + 8 * gi
                        for j in 0..<8 {
                            let w = weight[8 * k + j]
                            let q = xx[Int((pg[j] - 1) / 2)] * Float(2 * l + 1)
                            sumqxF += w * q * xb[8 * k + j]
                            sumq2F += w * q * q
                        }
                    }
                }
                if sumq2F > 0 { d = sumqxF / sumq2F }
                let s = Half.bits(d * 1.1125)
                sc[0] |= (s & 0x000F) << 12
                sc[1] |= (s & 0x00F0) << 8
                sc[2] |= (s & 0x0F00) << 4
                sc[3] |= s & 0xF000
                for j in 0..<4 { storeUInt16(sc[j], UnsafeMutableRawPointer(out), 48 + 2 * j) }
            }
        }
    }
}
