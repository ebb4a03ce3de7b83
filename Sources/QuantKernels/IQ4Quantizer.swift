/// The IQ4_NL and IQ4_XS quantizer (`quantize_iq4_nl`, `quantize_iq4_xs`: `quantize_row_iq4_nl_impl`
/// with ntry 7, with or without importance weights; llama.cpp commit 0c1e570), generic over the F16
/// conversion so that each SIMD level's build compiles its own copy. Layouts: formats/blocks.md.
public enum IQ4Quantizer {
    @inlinable
    public static func iq4_nl<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        for block in 0..<(count / 32) {
            quantize(superBlock: 32, x + 32 * block, importance.map { $0 + 32 * block }, y + 18 * block, half: Half.self)
        }
    }

    @inlinable
    public static func iq4_xs<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        for block in 0..<(count / 256) {
            quantize(superBlock: 256, x + 256 * block, importance.map { $0 + 256 * block }, y + 136 * block, half: Half.self)
        }
    }

    /// `quantize_row_iq4_nl_impl(super_block_size, 32, ..., kvalues_iq4nl, quant_weights, 7)`.
    /// `superBlock` 32 writes an IQ4_NL block, 256 an IQ4_XS block.
    @inlinable
    static func quantize<Half: HalfFloatConversion>(
        superBlock: Int, _ x: UnsafePointer<Float>, _ importance: UnsafePointer<Float>?, _ y: UnsafeMutableRawPointer, half: Half.Type
    ) {
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
                storeUInt16(Half.bits(0), y, 0)
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
                    storeUInt16(Half.bits(d), y, 0)
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
                    storeUInt16(Half.bits(scales[0]), y, 0)
                    let id: Float = scales[0] != 0 ? 1 / scales[0] : 0
                    for j in 0..<superBlock { L[j] = UInt8(bestIndexInt8(values, id * x[j])) }
                }
                for i in 0..<(superBlock / 32) {
                    for j in 0..<16 { q4[16 * i + j] = L[32 * i + j] | (L[32 * i + 16 + j] << 4) }
                }
            }
        }
    }
}

/// `best_index_int8` over the IQ4 levels: the index of the level nearest to `x` (ties to the upper
/// level). The C binary search ends at mu = the number of levels <= x (x strictly inside the
/// range), which is counted here with one 16-lane compare instead of four data-dependent branches
/// (their mispredictions were most of IQ4's quantization time). `values` must be `iq4Levels`.
@inlinable @inline(__always)
func bestIndexInt8(_ values: UnsafePointer<Int8>, _ x: Float) -> Int {
    let atOrBelow = unsafeBitCast(iq4LevelLanes .<= SIMD16<Float>(repeating: x), to: SIMD16<Int32>.self)
    let mu = Int(0 &- atOrBelow.wrappedSum())
    if mu == 0 { return 0 }
    if mu == 16 { return 15 }
    // Nearly a coin toss per weight: an integer select, not a branch.
    let nearerBelow = x - Float(values[mu - 1]) < Float(values[mu]) - x
    return mu &- Int(truncatingIfNeeded: UInt8(nearerBelow ? 1 : 0))
}
