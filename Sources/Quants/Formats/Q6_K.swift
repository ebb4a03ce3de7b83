import QuantKernels

/// Q6_K: super-blocks of 256 weights in 16 groups of 16, 210 bytes (6.5625 bpw).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 128 | `ql`: low 4 bits; for half h, byte 64h + l holds elements 128h + l (low) and 128h + 64 + l (high), byte 64h + 32 + l holds 128h + 32 + l and 128h + 96 + l |
/// | 128 | 64 | `qh`: high 2 bits; byte 32h + l holds elements 128h + l + 32s at bits 2s |
/// | 192 | 16 | `scales`: int8 per group |
/// | 208 | 2 | `d` (F16) |
///
/// weight = d·scale_g·(q − 32). Quantizers: `quantize_row_q6_K_ref` (`make_qx_quants`, nmax 32)
/// and, with importance, `quantize_row_q6_K_impl`.
public enum Q6_K: BlockFormat {
    public static let type = GGMLType.q6_K

    public static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        let out = y.assumingMemoryBound(to: UInt8.self)
        withScratch { levels, _, floats in
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
                storeUInt16(fp16Bits(1 / iscale), raw, 208)
                for g in 0..<16 {
                    o[192 + g] = UInt8(bitPattern: Int8(truncatingIfNeeded: Swift.min(127, nearestInt(iscale * scales[g]))))
                }
                let dAll = fp16Value(loadUInt16(raw, 208))
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

    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        BlockKernels.active.dequantizeQ6_K(y, count / 256, x)
    }
}
