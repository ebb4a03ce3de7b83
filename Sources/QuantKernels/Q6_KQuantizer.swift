/// Q6_K's quantizer (`quantize_row_q6_K_ref`, and `quantize_row_q6_K_impl` with importance
/// weights): sixteen `make_qx_quants` searches per super-block, then the int8 group scales.
/// Layout: formats/blocks.md. In QuantKernels so that the AVX2 build compiles it too (its search
/// loops gain a third there; the other k-quants gain nothing and stay in Quants).
public enum KQuantizers {
    @inlinable
    public static func q6_K<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, half: Half.Type
    ) {
        let out = y.assumingMemoryBound(to: UInt8.self)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { levelBuffer in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { floatBuffer in
                let levels = levelBuffer.baseAddress!, floats = floatBuffer.baseAddress!
                levelBuffer.initialize(repeating: 0)
                let L = UnsafeMutableRawPointer(levels).assumingMemoryBound(to: Int8.self)
                let scales = floats
                for block in 0..<(count / 256) {
                    let xb = x + block * 256, o = out + block * 210
                    let raw = UnsafeMutableRawPointer(o)
                    var maxScale: Float = 0, maxAbsScale: Float = 0
                    for g in 0..<16 {
                        let qw = importance.map { $0 + block * 256 + 16 * g }
                        let scale = makeQXQuants(16, 32, xb + 16 * g, L + 16 * g, 1, qw)
                        scales[g] = scale
                        if abs(scale) > maxAbsScale {
                            maxAbsScale = abs(scale)
                            maxScale = scale
                        }
                    }
                    if maxAbsScale < groupMaxEps {
                        raw.initializeMemory(as: UInt8.self, repeating: 0, count: 210)
                        continue
                    }
                    let iscale = -128 / maxScale
                    storeUInt16(Half.bits(1 / iscale), raw, 208)
                    for g in 0..<16 {
                        o[192 + g] = UInt8(bitPattern: Int8(truncatingIfNeeded: Swift.min(127, nearestInt(iscale * scales[g]))))
                    }
                    let dAll = Half.value(loadUInt16(raw, 208))
                    for g in 0..<16 {
                        let d = dAll * Float(Int8(bitPattern: o[192 + g]))
                        if d == 0 { continue }
                        for i in 0..<16 {
                            L[16 * g + i] = Int8(Swift.max(-32, Swift.min(31, nearestInt(xb[16 * g + i] / d))) + 32)
                        }
                    }
                    let ql = o, qh = o + 128
                    for h in 0..<2 {
                        let j = 128 * h
                        for l in 0..<32 {
                            let q1 = levels[j + l] & 0xF, q2 = levels[j + l + 32] & 0xF
                            let q3 = levels[j + l + 64] & 0xF, q4 = levels[j + l + 96] & 0xF
                            ql[64 * h + l] = q1 | (q3 << 4)
                            ql[64 * h + l + 32] = q2 | (q4 << 4)
                            qh[32 * h + l] = (levels[j + l] >> 4) | ((levels[j + l + 32] >> 4) << 2)
                                | ((levels[j + l + 64] >> 4) << 4) | ((levels[j + l + 96] >> 4) << 6)
                        }
                    }
                }
            }
        }
    }
}
