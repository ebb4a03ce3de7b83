import QuantKernels

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
}

/// Q4_1 and Q5_1 share their quantizers; they differ in level count and in Q5_1's `qh` word.
/// Without importance weights the loops are QuantKernels' `LegacyQuantizers.asymmetric`.
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
    guard let importance else {
        unweightedQuantizer(bits == 4 ? .q4_1 : .q5_1)(x, count, y)
        return
    }
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { scratch in
        let L = scratch.baseAddress!, Laux = scratch.baseAddress! + 32
        let sigma2 = rowMeanSquare(x, count)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { weight in
        withUnsafeTemporaryAllocation(of: FloatLanes.self, capacity: 32) { lanes in
            for block in 0..<(count / 32) {
                let xb = x + block * 32, qw = importance + block * 32, o = out + block * blockBytes
                importanceWeights(qw, xb, count: 32, sigma2: sigma2, into: weight.baseAddress!)
                var min: Float = 0
                let d = makeQKXQuants(32, nmax, xb, weight.baseAddress!, L, &min, Laux, -0.9, 0.05, 36, false, variant3: true, levelScratch: lanes.baseAddress!, half: SoftwareHalf.self)
                storeUInt16(fp16Bits(d), UnsafeMutableRawPointer(o), 0)
                storeUInt16(fp16Bits(-min), UnsafeMutableRawPointer(o), 2)
                store(L, o)
            }
        }
        }
    }
}
