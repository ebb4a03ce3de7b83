import QuantKernels

/// IQ4_NL (32 weights, 18 bytes, 4.5 bpw) and IQ4_XS (256 weights, 136 bytes, 4.25 bpw): 4-bit
/// indices into 16 non-linear levels `kvalues_iq4nl`, nibbles packed as Q4_0's.
///
/// IQ4_NL block: F16 `d`, 16 bytes of indices; weight = d · level[q].
/// IQ4_XS block: F16 `d`, u16 `scales_h` (2 high bits per group of 32), 4 bytes `scales_l` (low
/// nibbles, two groups per byte), 128 bytes of indices; weight = d·(scale_g − 32)·level[q].
///
/// Quantizer: `quantize_row_iq4_nl_impl` with ntry 7, as llama.cpp's `quantize_iq4_nl` and
/// `quantize_iq4_xs` call it (with or without importance weights).
public enum IQ4_NL: BlockFormat {
    public static let type = GGMLType.iq4_nl

    public static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        for block in 0..<(count / 32) {
            quantizeIQ4(superBlock: 32, x + 32 * block, importance.map { $0 + 32 * block }, y + 18 * block)
        }
    }

    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.active.dequantizeIQ4_NL(y, count / 32, x)
    }
}

public enum IQ4_XS: BlockFormat {
    public static let type = GGMLType.iq4_xs

    public static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        for block in 0..<(count / 256) {
            quantizeIQ4(superBlock: 256, x + 256 * block, importance.map { $0 + 256 * block }, y + 136 * block)
        }
    }

    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.active.dequantizeIQ4_XS(y, count / 256, x)
    }
}

/// `quantize_row_iq4_nl_impl(super_block_size, 32, ..., kvalues_iq4nl, quant_weights, 7)`.
/// `superBlock` 32 writes an IQ4_NL block, 256 an IQ4_XS block.
func quantizeIQ4(superBlock: Int, _ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?, _ y: UnsafeMutableRawPointer) {
    let ntry = 7
    let groups = superBlock / 32
    let out = y.assumingMemoryBound(to: UInt8.self)
    iq4Levels.withUnsafeBufferPointer { levelBuffer in
        let values = levelBuffer.baseAddress!
        withScratch { L, _, floats, _ in
            let weight = floats, scales = floats + 32
            var sigma2: Float = 0
            for j in 0..<superBlock { sigma2 += x[j] * x[j] }
            sigma2 *= 2 / Float(superBlock)
            let q4 = superBlock == 32 ? out + 2 : out + 8
            for j in 0..<(superBlock / 2) { q4[j] = 0 }
            storeUInt16(fp16Bits(0), y, 0)
            var maxScale: Float = 0, amaxScale: Float = 0
            for ib in 0..<groups {
                let xb = x + 32 * ib, Lb = L + 32 * ib
                if let importance {
                    let qw = importance + 32 * ib
                    importanceWeights(qw, xb, count: 32, sigma2: sigma2, into: weight)
                } else {
                    for j in 0..<32 { weight[j] = xb[j] * xb[j] }
                }
                let (max, amax) = largestMagnitude(xb, 32)
                if amax < groupMaxEps {
                    scales[ib] = 0
                    continue
                }
                var d = -max / Float(values[0])
                var id = 1 / d
                var sumqx: Float = 0, sumq2: Float = 0
                for j in 0..<32 {
                    let al = id * xb[j]
                    let l = bestIndexInt8(values, al)
                    Lb[j] = UInt8(l)
                    let q = Float(values[l])
                    let w = weight[j]
                    sumqx += w * q * xb[j]
                    sumq2 += w * q * q
                }
                d = sumq2 > 0 ? sumqx / sumq2 : 0
                var best = d * sumqx
                for itry in -ntry...ntry {
                    id = Float(itry + Int(values[0])) / max
                    sumqx = 0
                    sumq2 = 0
                    for j in 0..<32 {
                        let al = id * xb[j]
                        let l = bestIndexInt8(values, al)
                        let q = Float(values[l])
                        let w = weight[j]
                        sumqx += w * q * xb[j]
                        sumq2 += w * q * q
                    }
                    if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                        d = sumqx / sumq2
                        best = d * sumqx
                    }
                }
                scales[ib] = d
                if abs(d) > amaxScale {
                    amaxScale = abs(d)
                    maxScale = d
                }
            }
            if groups > 1 {
                let scalesLow = out + 4
                var scalesHigh: UInt16 = 0
                let d = -maxScale / 32
                storeUInt16(fp16Bits(d), y, 0)
                let id: Float = d != 0 ? 1 / d : 0
                for ib in 0..<groups {
                    var l = nearestInt(id * scales[ib])
                    l = Swift.max(-32, Swift.min(31, l))
                    let dl = d * Float(l)
                    let idl: Float = dl != 0 ? 1 / dl : 0
                    for j in 0..<32 { L[32 * ib + j] = UInt8(bestIndexInt8(values, idl * x[32 * ib + j])) }
                    l += 32
                    let low = UInt8(l & 0xF), high = UInt16(l >> 4)
                    if ib % 2 == 0 { scalesLow[ib / 2] = low } else { scalesLow[ib / 2] |= low << 4 }
                    scalesHigh |= high << (2 * UInt16(ib % 8))
                }
                storeUInt16(scalesHigh, y, 2)
            } else {
                storeUInt16(fp16Bits(scales[0]), y, 0)
                let id: Float = scales[0] != 0 ? 1 / scales[0] : 0
                for j in 0..<superBlock { L[j] = UInt8(bestIndexInt8(values, id * x[j])) }
            }
            for i in 0..<(superBlock / 32) {
                for j in 0..<16 { q4[16 * i + j] = L[32 * i + j] | (L[32 * i + 16 + j] << 4) }
            }
        }
    }
}
