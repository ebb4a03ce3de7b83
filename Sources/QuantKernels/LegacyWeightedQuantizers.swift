/// The legacy 32-weight formats' quantizers with importance weights (`quantize_row_q4_0_impl`,
/// `quantize_row_q5_0_impl`: `make_qx_quants`; `quantize_row_q4_1_impl`, `quantize_row_q5_1_impl`:
/// `make_qkx3_quants`; llama.cpp commit 0c1e570), generic over the F16 conversion so that each SIMD
/// level's build compiles its own copy. Without importance weights they are the reference
/// quantizers, `LegacyQuantizers`.
public enum LegacyWeightedQuantizers {
    /// Q4_0 (`bits` 4, nmax 8) and Q5_0 (`bits` 5, nmax 16).
    @inlinable
    public static func symmetric<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, bits: Int,
        half: Half.Type
    ) {
        guard let importance else {
            LegacyQuantizers.symmetric(x, blocks: count / 32, into: y, bits: bits, half: Half.self)
            return
        }
        let out = y.assumingMemoryBound(to: UInt8.self)
        let blockBytes = bits == 4 ? 18 : 22
        let nmax: Int32 = bits == 4 ? 8 : 16
        let sigma2 = rowMeanSquare(x, count)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { weight in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { L in
                for block in 0..<(count / 32) {
                    let xb = x + block * 32, qw = importance + block * 32, o = out + block * blockBytes
                    importanceWeights(qw, xb, count: 32, sigma2: sigma2, into: weight.baseAddress!)
                    let d = makeQXQuants(32, nmax, xb, L.baseAddress!, 1, weight.baseAddress!)
                    storeUInt16(Half.bits(d), UnsafeMutableRawPointer(o), 0)
                    if bits == 4 {
                        for j in 0..<16 { o[2 + j] = UInt8(bitPattern: L[j]) | (UInt8(bitPattern: L[j + 16]) << 4) }
                    } else {
                        var qh: UInt32 = 0
                        for j in 0..<16 {
                            let l0 = UInt8(bitPattern: L[j]), l1 = UInt8(bitPattern: L[j + 16])
                            o[6 + j] = (l0 & 0x0F) | ((l1 & 0x0F) << 4)
                            qh |= UInt32((l0 & 0x10) >> 4) << j
                            qh |= UInt32((l1 & 0x10) >> 4) << (j + 16)
                        }
                        UnsafeMutableRawPointer(o).storeBytes(of: qh.littleEndian, toByteOffset: 2, as: UInt32.self)
                    }
                }
            }
        }
    }

    /// Q4_1 (`bits` 4, nmax 15) and Q5_1 (`bits` 5, nmax 31; adds the `qh` word of fifth bits).
    @inlinable
    public static func asymmetric<Half: HalfFloatConversion>(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer, bits: Int,
        half: Half.Type
    ) {
        guard let importance else {
            LegacyQuantizers.asymmetric(x, blocks: count / 32, into: y, bits: bits, half: Half.self)
            return
        }
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
            let sigma2 = rowMeanSquare(x, count)
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { weight in
                withUnsafeTemporaryAllocation(of: FloatLanes.self, capacity: 32) { lanes in
                    for block in 0..<(count / 32) {
                        let xb = x + block * 32, qw = importance + block * 32, o = out + block * blockBytes
                        importanceWeights(qw, xb, count: 32, sigma2: sigma2, into: weight.baseAddress!)
                        var min: Float = 0
                        let d = makeQKXQuants(
                            32, nmax, xb, weight.baseAddress!, L, &min, Laux, -0.9, 0.05, 36, false, variant3: true,
                            levelScratch: lanes.baseAddress!, half: Half.self)
                        storeUInt16(Half.bits(d), UnsafeMutableRawPointer(o), 0)
                        storeUInt16(Half.bits(-min), UnsafeMutableRawPointer(o), 2)
                        store(L, o)
                    }
                }
            }
        }
    }
}

/// Σx² / n over a whole row (`sigma2` of the weighted legacy quantizers).
@inlinable @inline(__always)
func rowMeanSquare(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var sum: Float = 0
    for j in 0..<count { sum += x[j] * x[j] }
    return sum / Float(count)
}
