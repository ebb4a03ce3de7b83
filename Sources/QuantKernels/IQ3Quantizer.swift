// The quantizers of ggml's 3-bit lattice formats (`quantize_row_iq3_xxs_impl`,
// `quantize_row_iq3_s_impl`, llama.cpp commit 0c1e570), generic over the F16 conversion so that each
// SIMD level's build compiles its own copy of the searches. Transcribed loop for loop, as
// IQ2Quantizer.swift. Formats and layouts: Quants' IQ3.swift, formats/blocks.md.

public enum IQ3Quantizer {
    /// IQ3_XXS: groups of 32 in 8 grid points of 4, scale search over 31 steps.
    @inlinable
    public static func iq3_xxs<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        let grid = IQSearchGrid.iq3xxs
        withIQScratch(floats: 3 * 32 + 8, bytes: 2 * 32 + 8) { f, b in
            let weight = f, xval = f + 32, waux = f + 64, scales = f + 96
            let L = b, Laux = b + 32, blockSigns = b + 64
            let kMaxQ: Int32 = 8
            for ibl in 0..<(count / 256) {
                let out = (y + 98 * ibl).assumingMemoryBound(to: UInt8.self)
                out.initialize(repeating: 0, count: 98)
                let q3 = out + 2
                var scalesAndSigns = InlineArray<8, UInt32>(repeating: 0)
                var maxScale: Float = 0
                let xbl = x + 256 * ibl
                var sumx2: Float = 0
                for i in 0..<256 { sumx2 += xbl[i] * xbl[i] }
                let sigma2 = 2 * sumx2 / 256
                for ib in 0..<8 {
                    let xb = xbl + 32 * ib
                    if let importance {
                        let qw = importance + 256 * ibl + 32 * ib
                        for i in 0..<32 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
                    } else {
                        for i in 0..<32 { weight[i] = xb[i] * xb[i] }
                    }
                    for i in 0..<32 { waux[i] = weight[i].squareRoot() }
                    for k in 0..<4 { blockSigns[k] = splitSigns(xb + 8 * k, weight + 8 * k, into: xval + 8 * k, evenFlips: true) }
                    var max = xval[0]
                    for i in 1..<32 { max = cMax(max, xval[i]) }
                    for i in 0..<32 { L[i] = 0 }
                    if max < 1e-8 {
                        scales[ib] = 0
                        continue
                    }
                    var best: Float = 0
                    var scale = max / Float(2 * kMaxQ - 1)
                    var onGrid = InlineArray<8, Bool>(repeating: true)
                    for step in -15...15 {
                        let id = (Float(2 * kMaxQ - 1) + Float(step) * 0.2) / max
                        let thisScale = 1 / id
                        var onGridAux = InlineArray<8, Bool>(repeating: true)
                        for k in 0..<8 {
                            if !grid.roundToGrid(xval + 4 * k, waux + 4 * k, id: id, scale: thisScale, kMaxQ: kMaxQ, into: Laux + 4 * k, half: Half.self) {
                                onGridAux[k] = false
                            }
                        }
                        let (sumqx, sumq2) = oddLevelSums(weight, xval, Laux, count: 32)
                        if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                            scale = sumqx / sumq2
                            best = scale * sumqx
                            L.update(from: Laux, count: 32)
                            onGrid = onGridAux
                        }
                    }
                    var offGrid = 0
                    for k in 0..<8 where !onGrid[k] { offGrid += 1 }
                    if offGrid > 0 && scale > 0 {
                        let id = 1 / scale
                        for k in 0..<8 where !onGrid[k] {
                            _ = grid.roundToGrid(xval + 4 * k, waux + 4 * k, id: id, scale: scale, kMaxQ: kMaxQ, into: L + 4 * k, half: Half.self)
                        }
                        let (sumqx, sumq2) = oddLevelSums(weight, xval, L, count: 32)
                        if sumq2 > 0 { scale = sumqx / sumq2 }
                    }
                    if scale < 0 {
                        scale = -scale
                        for k in 0..<4 { blockSigns[k] = ~blockSigns[k] & 127 }
                    }
                    for k in 0..<8 {
                        let index = grid.map[grid.pack(L + 4 * k)]
                        precondition(index >= 0, "IQ3_XXS: point not on the grid")
                        q3[8 * ib + k] = UInt8(index)
                    }
                    scalesAndSigns[ib] = UInt32(blockSigns[0]) | UInt32(blockSigns[1]) << 7 | UInt32(blockSigns[2]) << 14 | UInt32(blockSigns[3]) << 21
                    scales[ib] = scale
                    maxScale = cMax(maxScale, scale)
                }
                if maxScale == 0 {
                    q3.initialize(repeating: 0, count: 96)
                    continue
                }
                let d = maxScale / 31
                storeUInt16(Half.bits(d * 1.0125), UnsafeMutableRawPointer(out), 0)
                let id = 1 / d
                for ib in 0..<8 {
                    let l = Swift.max(0, Swift.min(15, nearestInt(0.5 * (id * scales[ib] - 1))))
                    scalesAndSigns[ib] |= UInt32(l) << 28
                }
                for ib in 0..<8 { UnsafeMutableRawPointer(out).storeBytes(of: scalesAndSigns[ib].littleEndian, toByteOffset: 66 + 4 * ib, as: UInt32.self) }
            }
        }
    }

    /// IQ3_S: groups of 32, scale search over 19 steps, every group re-searched at the final scale.
    @inlinable
    public static func iq3_s<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        let grid = IQSearchGrid.iq3s
        withIQScratch(floats: 3 * 32 + 8, bytes: 2 * 32 + 4) { f, b in
            let weight = f, xval = f + 32, waux = f + 64, scales = f + 96
            let L = b, Laux = b + 32, blockSigns = b + 64
            let kMaxQ: Int32 = 8
            for ibl in 0..<(count / 256) {
                let out = (y + 110 * ibl).assumingMemoryBound(to: UInt8.self)
                out.initialize(repeating: 0, count: 110)
                // As in the C code, a group with max == 0 does not advance these two cursors.
                var qs = out + 2
                let qh = out + 66
                var signs = out + 74
                var maxScale: Float = 0
                let xbl = x + 256 * ibl
                var sumx2: Float = 0
                for i in 0..<256 { sumx2 += xbl[i] * xbl[i] }
                let sigma2 = 2 * sumx2 / 256
                for ib in 0..<8 {
                    let xb = xbl + 32 * ib
                    if let importance {
                        let qw = importance + 256 * ibl + 32 * ib
                        for i in 0..<32 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
                    } else {
                        for i in 0..<32 { weight[i] = xb[i] * xb[i] }
                    }
                    for i in 0..<32 { waux[i] = weight[i].squareRoot() }
                    for k in 0..<4 { blockSigns[k] = splitSigns(xb + 8 * k, weight + 8 * k, into: xval + 8 * k, evenFlips: false) }
                    var max = xval[0]
                    for i in 1..<32 { max = cMax(max, xval[i]) }
                    for i in 0..<32 { L[i] = 0 }
                    if max == 0 {
                        scales[ib] = 0
                        continue
                    }
                    var best: Float = 0
                    var scale = max / Float(2 * kMaxQ - 1)
                    var onGrid = InlineArray<8, Bool>(repeating: false)
                    for step in -9...9 {
                        let id = (Float(2 * kMaxQ - 1) + Float(step) * 0.2) / max
                        let thisScale = 1 / id
                        var onGridAux = InlineArray<8, Bool>(repeating: true)
                        for k in 0..<8 {
                            if !grid.roundToGrid(xval + 4 * k, waux + 4 * k, id: id, scale: thisScale, kMaxQ: kMaxQ, into: Laux + 4 * k, half: Half.self) {
                                onGridAux[k] = false
                            }
                        }
                        let (sumqx, sumq2) = oddLevelSums(weight, xval, Laux, count: 32)
                        if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                            scale = sumqx / sumq2
                            best = scale * sumqx
                            L.update(from: Laux, count: 32)
                            onGrid = onGridAux
                        }
                    }
                    var offGrid = 0
                    for k in 0..<8 where !onGrid[k] { offGrid += 1 }
                    if offGrid > 0 && scale > 0 {
                        let id = 1 / scale
                        for k in 0..<8 {  // every group, on the grid or not (the C `continue` is commented out)
                            _ = grid.roundToGrid(xval + 4 * k, waux + 4 * k, id: id, scale: scale, kMaxQ: kMaxQ, into: L + 4 * k, half: Half.self)
                        }
                        let (sumqx, sumq2) = oddLevelSums(weight, xval, L, count: 32)
                        if sumq2 > 0 { scale = sumqx / sumq2 }
                    }
                    if scale < 0 {
                        scale = -scale
                        for k in 0..<4 { blockSigns[k] = ~blockSigns[k] }
                    }
                    for k in 0..<8 {
                        let index = Int(grid.map[grid.pack(L + 4 * k)])
                        precondition(index >= 0, "IQ3_S: point not on the grid")
                        qs[k] = UInt8(truncatingIfNeeded: index)
                        qh[(ib * 8 + k) / 8] |= UInt8((index >> 8) << ((ib * 8 + k) % 8))
                    }
                    qs += 8
                    for k in 0..<4 { signs[k] = blockSigns[k] }
                    signs += 4
                    scales[ib] = scale
                    maxScale = cMax(maxScale, scale)
                }
                if maxScale == 0 { continue }
                let d = maxScale / 31
                storeUInt16(Half.bits(d * 1.033), UnsafeMutableRawPointer(out), 0)
                let id = 1 / d
                for ib in stride(from: 0, to: 8, by: 2) {
                    let l1 = Swift.max(0, Swift.min(15, nearestInt(0.5 * (id * scales[ib] - 1))))
                    let l2 = Swift.max(0, Swift.min(15, nearestInt(0.5 * (id * scales[ib + 1] - 1))))
                    out[106 + ib / 2] = UInt8(l1 | (l2 << 4))
                }
            }
        }
    }
}
