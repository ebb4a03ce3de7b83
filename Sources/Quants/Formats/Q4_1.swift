/// Q4_1: blocks of 32 weights, 20 bytes (5 bpw): F16 `d`, F16 `m`, 16 bytes of 4-bit levels (low
/// nibble weight j, high nibble weight j+16); weight = d · q + m.
///
/// Quantizers: `quantize_row_q4_1_ref` (d = (max − min)/15, m = min, level = trunc((x−m)/d + 0.5))
/// and, with importance weights, `quantize_row_q4_1_impl` (`make_qkx3_quants`, nmax 15).
public enum Q4_1: BlockFormat {
    public static let type = GGMLType.q4_1

    public static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        quantizeAsymmetric(x, count: count, importance: importance, into: y, bits: 4)
    }

    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        let bytes = y.assumingMemoryBound(to: UInt8.self)
        for block in 0..<(count / 32) {
            let b = bytes + block * 20
            let d = fp16Value(loadUInt16(y, block * 20)), m = fp16Value(loadUInt16(y, block * 20 + 2))
            for j in 0..<16 {
                x[block * 32 + j] = Float(b[4 + j] & 0x0F) * d + m
                x[block * 32 + j + 16] = Float(b[4 + j] >> 4) * d + m
            }
        }
    }
}

/// Q4_1 and Q5_1 share their quantizers; they differ in level count and in Q5_1's `qh` word.
/// Inlined so that each caller gets a copy specialised for its constant `bits`.
@inline(__always)
func quantizeAsymmetric(
    _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, bits: Int
) {
    let nmax = Int32((1 << bits) - 1)
    let blockBytes = bits == 4 ? 20 : 24
    let quantOffset = bits == 4 ? 4 : 8
    let out = y.assumingMemoryBound(to: UInt8.self)
    @inline(__always) func store(_ L: UnsafePointer<UInt8>, _ o: UnsafeMutablePointer<UInt8>) {
        var qh: UInt32 = 0
        for j in 0..<16 {
            let l0 = L[j], l1 = L[j + 16]
            o[quantOffset + j] = (l0 & 0x0F) | ((l1 & 0x0F) << 4)
            qh |= UInt32((l0 & 0x10) >> 4) << j
            qh |= UInt32((l1 & 0x10) >> 4) << (j + 16)
        }
        if bits == 5 { UnsafeMutableRawPointer(o).storeBytes(of: qh.littleEndian, toByteOffset: 4, as: UInt32.self) }
    }
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { scratch in
        let L = scratch.baseAddress!, Laux = scratch.baseAddress! + 32
        guard let importance else {
            for block in 0..<(count / 32) {
                let xb = x + block * 32, o = out + block * blockBytes
                let (min, max) = extremes32(xb)
                let d = (max - min) / Float(nmax)
                let id: Float = d != 0 ? 1 / d : 0
                storeUInt16(fp16Bits(d), UnsafeMutableRawPointer(o), 0)
                storeUInt16(fp16Bits(min), UnsafeMutableRawPointer(o), 2)
                for j in 0..<32 {
                    // C: (uint8_t)(x + 0.5f), then MIN(15, ...) for Q4_1 only.
                    let level = UInt8(truncatingIfNeeded: truncatingNonNegative((xb[j] - min) * id + 0.5))
                    L[j] = bits == 4 && level > 15 ? 15 : level
                }
                store(L, o)
            }
            return
        }
        let sigma2 = rowMeanSquare(x, count)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { weight in
            for block in 0..<(count / 32) {
                let xb = x + block * 32, qw = importance + block * 32, o = out + block * blockBytes
                for j in 0..<32 { weight[j] = qw[j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
                var min: Float = 0
                let d = makeQKXQuants(32, nmax, xb, weight.baseAddress!, L, &min, Laux, -0.9, 0.05, 36, false, variant3: true)
                storeUInt16(fp16Bits(d), UnsafeMutableRawPointer(o), 0)
                storeUInt16(fp16Bits(-min), UnsafeMutableRawPointer(o), 2)
                store(L, o)
            }
        }
    }
}

/// The C loop's `min` and `max` of 32 values (first occurrence on ties, which only matters for the
/// sign of a zero), found in two interleaved lanes so the select chains are half as long.
@inline(__always)
func extremes32(_ x: UnsafePointer<Float>) -> (min: Float, max: Float) {
    var min0 = Float.greatestFiniteMagnitude, min1 = Float.greatestFiniteMagnitude
    var max0 = -Float.greatestFiniteMagnitude, max1 = -Float.greatestFiniteMagnitude
    var minAt0 = Int.max, minAt1 = Int.max, maxAt0 = Int.max, maxAt1 = Int.max
    for j in stride(from: 0, to: 32, by: 2) {
        let a = x[j], b = x[j + 1]
        let lowerA = a < min0, lowerB = b < min1, higherA = a > max0, higherB = b > max1
        min0 = lowerA ? a : min0
        minAt0 = lowerA ? j : minAt0
        min1 = lowerB ? b : min1
        minAt1 = lowerB ? j + 1 : minAt1
        max0 = higherA ? a : max0
        maxAt0 = higherA ? j : maxAt0
        max1 = higherB ? b : max1
        maxAt1 = higherB ? j + 1 : maxAt1
    }
    let min = min1 < min0 || (min1 == min0 && minAt1 < minAt0) ? min1 : min0
    let max = max1 > max0 || (max1 == max0 && maxAt1 < maxAt0) ? max1 : max0
    return (min, max)
}
