// The quantizers of ggml's 2-bit lattice formats (`quantize_row_iq2_xxs_impl`,
// `quantize_row_iq2_xs_impl`, `quantize_row_iq2_s_impl`, llama.cpp commit 0c1e570), generic over the
// F16 conversion so that each SIMD level's build compiles its own copy of the scale and neighbour
// searches. Transcribed loop for loop (float products left to right, no fused multiply-add, as
// ggml-base's generic x86-64 build computes them). Formats and layouts: Quants' IQ2.swift, formats/blocks.md.

public enum IQ2Quantizer {
    /// IQ2_XXS: groups of 32, scale search over 13 steps. llama.cpp refuses to quantize it without
    /// importance weights; moepack then uses weights of 1.
    @inlinable
    public static func iq2_xxs<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        let grid = IQSearchGrid.iq2xxs
        withImportanceOrOnes(importance, count: count) { qwRow in
            withIQScratch(floats: 4 * 32 + 8, bytes: 3 * 32 + 4) { f, b in
                let weight = f, xval = f + 32, waux = f + 64, scales = f + 96
                let L = b, Laux = b + 32, blockSigns = b + 64
                let kMaxQ: Int32 = 3
                for ibl in 0..<(count / 256) {
                    let out = y + 66 * ibl
                    storeUInt16(Half.bits(0), out, 0)
                    var q2 = InlineArray<16, UInt32>(repeating: 0)
                    var maxScale: Float = 0
                    let xbl = x + 256 * ibl
                    var sumx2: Float = 0
                    for i in 0..<256 { sumx2 += xbl[i] * xbl[i] }
                    let sigma2 = sumx2 / 256
                    for ib in 0..<8 {
                        let xb = xbl + 32 * ib
                        let qw = qwRow + 256 * ibl + 32 * ib
                        for i in 0..<32 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
                        for i in 0..<32 { waux[i] = weight[i].squareRoot() }
                        for k in 0..<4 { blockSigns[k] = splitSigns(xb + 8 * k, weight + 8 * k, into: xval + 8 * k, evenFlips: true) }
                        var max = xval[0]
                        for i in 1..<32 { max = cMax(max, xval[i]) }
                        if max < groupMaxEps {
                            scales[ib] = 0
                            continue
                        }
                        var scale = makeQPQuants(32, kMaxQ + 1, xval, L, weight, half: Half.self)
                        let effMax = scale * Float(kMaxQ)
                        if effMax <= 0 {
                            scales[ib] = 0
                            continue
                        }
                        var best: Float = 0
                        for step in -6...6 {
                            let id = (Float(2 * kMaxQ - 1) + Float(step) * 0.1) / effMax
                            let thisScale = 1 / id
                            for k in 0..<4 {
                                _ = grid.roundToGrid(xval + 8 * k, waux + 8 * k, id: id, scale: thisScale, kMaxQ: kMaxQ, into: Laux + 8 * k, half: Half.self)
                            }
                            let (sumqx, sumq2) = oddLevelSums(weight, xval, Laux, count: 32)
                            if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                                scale = sumqx / sumq2
                                best = scale * sumqx
                                L.update(from: Laux, count: 32)
                            }
                        }
                        if scale > 0 {
                            let id = 1 / scale
                            for k in 0..<4 {
                                _ = grid.roundToGrid(xval + 8 * k, waux + 8 * k, id: id, scale: scale, kMaxQ: kMaxQ, into: L + 8 * k, half: Half.self)
                            }
                            let (sumqx, sumq2) = oddLevelSums(weight, xval, L, count: 32)
                            if sumq2 > 0 { scale = sumqx / sumq2 }
                        }
                        if scale < 0 {
                            scale = -scale
                            for k in 0..<4 { blockSigns[k] = ~blockSigns[k] & 127 }
                        }
                        for k in 0..<4 {
                            let index = grid.map[grid.pack(L + 8 * k)]
                            precondition(index >= 0, "IQ2_XXS: point not on the grid")
                            q2[2 * ib] |= UInt32(index) << (8 * UInt32(k))
                            q2[2 * ib + 1] |= UInt32(blockSigns[k]) << (7 * UInt32(k))
                        }
                        scales[ib] = scale
                        maxScale = cMax(maxScale, scale)
                    }
                    if maxScale == 0 {
                        (out + 2).initializeMemory(as: UInt8.self, repeating: 0, count: 64)
                        continue
                    }
                    let d = maxScale / 31
                    storeUInt16(Half.bits(d), out, 0)
                    let id = 1 / d
                    for ib in 0..<8 {
                        let l = Swift.max(0, Swift.min(15, nearestInt(0.5 * (id * scales[ib] - 1))))
                        q2[2 * ib + 1] |= UInt32(l) << 28
                    }
                    for j in 0..<16 { out.storeBytes(of: q2[j].littleEndian, toByteOffset: 2 + 4 * j, as: UInt32.self) }
                }
            }
        }
    }

    /// IQ2_XS. llama.cpp refuses to quantize it without importance weights; moepack then uses weights of 1.
    @inlinable
    public static func iq2_xs<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        withImportanceOrOnes(importance, count: count) { qwRow in
            iq2Sixteen(x, count: count, importance: qwRow, into: y, grid: IQSearchGrid.iq2xs, variant: .xs, half: Half.self)
        }
    }

    @inlinable
    public static func iq2_s<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        iq2Sixteen(x, count: count, importance: importance, into: y, grid: IQSearchGrid.iq2s, variant: .s, half: Half.self)
    }
}

@usableFromInline enum IQ2SixteenVariant { case xs, s }

/// `quantize_row_iq2_xs_impl` (`.xs`, weights required) and `quantize_row_iq2_s_impl` (`.s`): groups of
/// 16 weights, scale search over 19 steps, then the groups' 4-bit scales relative to `max_scale/31`.
@inlinable @inline(__always)
func iq2Sixteen<Half: HalfFloatConversion>(
    _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, grid: IQSearchGrid,
    variant: IQ2SixteenVariant, half: Half.Type
) {
    let blockBytes = variant == .xs ? 74 : 82
    withIQScratch(floats: 3 * 16 + 16, bytes: 2 * 16 + 2) { f, b in
        let weight = f, xval = f + 16, waux = f + 32, scales = f + 48
        let L = b, Laux = b + 16, blockSigns = b + 32
        let kMaxQ: Int32 = 3
        for ibl in 0..<(count / 256) {
            let out = (y + blockBytes * ibl).assumingMemoryBound(to: UInt8.self)
            out.initialize(repeating: 0, count: blockBytes)
            var q2 = InlineArray<32, UInt16>(repeating: 0)
            var maxScale: Float = 0
            let xbl = x + 256 * ibl
            var sumx2: Float = 0
            for i in 0..<256 { sumx2 += xbl[i] * xbl[i] }
            let sigma2 = variant == .xs ? sumx2 / 256 : 2 * sumx2 / 256
            for ib in 0..<16 {
                let xb = xbl + 16 * ib
                if let importance {
                    let qw = importance + 256 * ibl + 16 * ib
                    for i in 0..<16 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
                } else {
                    for i in 0..<16 { weight[i] = 0.25 * sigma2 + xb[i] * xb[i] }
                }
                for i in 0..<16 { waux[i] = weight[i].squareRoot() }
                for k in 0..<2 { blockSigns[k] = splitSigns(xb + 8 * k, weight + 8 * k, into: xval + 8 * k, evenFlips: variant == .xs) }
                var max = xval[0]
                for i in 1..<16 { max = cMax(max, xval[i]) }
                for i in 0..<16 { L[i] = 0 }
                if max < (variant == .xs ? groupMaxEps : 1e-8) {
                    scales[ib] = 0
                    continue
                }
                var best: Float = 0
                var scale = max / Float(2 * kMaxQ - 1)
                var onGrid = (true, true)
                for step in -9...9 {
                    let id = (Float(2 * kMaxQ - 1) + Float(step) * 0.1) / max
                    let thisScale = 1 / id
                    var onGridAux = (true, true)
                    for k in 0..<2 {
                        if !grid.roundToGrid(xval + 8 * k, waux + 8 * k, id: id, scale: thisScale, kMaxQ: kMaxQ, into: Laux + 8 * k, half: Half.self) {
                            if k == 0 { onGridAux.0 = false } else { onGridAux.1 = false }
                        }
                    }
                    let (sumqx, sumq2) = oddLevelSums(weight, xval, Laux, count: 16)
                    if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                        scale = sumqx / sumq2
                        best = scale * sumqx
                        L.update(from: Laux, count: 16)
                        onGrid = onGridAux
                    }
                }
                if !(onGrid.0 && onGrid.1) && scale > 0 {
                    let id = 1 / scale
                    for k in 0..<2 where !(k == 0 ? onGrid.0 : onGrid.1) {
                        _ = grid.roundToGrid(xval + 8 * k, waux + 8 * k, id: id, scale: scale, kMaxQ: kMaxQ, into: L + 8 * k, half: Half.self)
                    }
                    let (sumqx, sumq2) = oddLevelSums(weight, xval, L, count: 16)
                    if sumq2 > 0 { scale = sumqx / sumq2 }
                }
                if scale < 0 {
                    scale = -scale
                    for k in 0..<2 { blockSigns[k] = variant == .xs ? ~blockSigns[k] & 127 : ~blockSigns[k] }
                }
                for k in 0..<2 {
                    let index = grid.map[grid.pack(L + 8 * k)]
                    precondition(index >= 0, "IQ2_XS/IQ2_S: point not on the grid")
                    let i8 = 2 * ib + k
                    if variant == .xs {
                        q2[i8] = UInt16(index) | UInt16(blockSigns[k]) << 9
                    } else {
                        out[2 + i8] = UInt8(truncatingIfNeeded: index)
                        out[66 + i8 / 4] |= UInt8((index >> 8) << (2 * Int32(i8 % 4)))
                        out[34 + i8] = blockSigns[k]
                    }
                }
                scales[ib] = scale
                maxScale = cMax(maxScale, scale)
            }
            if maxScale == 0 { continue }
            let d = maxScale / 31
            storeUInt16(Half.bits(variant == .xs ? d : d * 0.9875), UnsafeMutableRawPointer(out), 0)
            let id = 1 / d
            let scaleBytes = out + (variant == .xs ? 66 : 74)
            for ib in 0..<16 {
                let l = UInt8(Swift.max(0, Swift.min(15, nearestInt(0.5 * (id * scales[ib] - 1)))))
                if ib % 2 == 0 { scaleBytes[ib / 2] = l } else { scaleBytes[ib / 2] |= l << 4 }
            }
            if variant == .xs {
                for j in 0..<32 { storeUInt16(q2[j], UnsafeMutableRawPointer(out), 2 + 2 * j) }
            }
        }
    }
}
