import QuantKernels

/// Q5_0: blocks of 32 weights, 22 bytes (5.5 bpw): F16 `d`, a little-endian u32 `qh` holding bit 4
/// of each level (bit j for weight j), 16 bytes of low nibbles (weight j low, j+16 high);
/// weight = d · (q − 16).
///
/// Quantizers: `quantize_row_q5_0_ref` (d = signed absmax / −16, level = trunc(x/d + 16.5) capped
/// at 31) and, with importance weights, `quantize_row_q5_0_impl` (`make_qx_quants`, nmax 16).
public enum Q5_0: BlockFormat {
    public static let type = GGMLType.q5_0

    public static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        let out = y.assumingMemoryBound(to: UInt8.self)
        @inline(__always) func store(_ level: (Int) -> UInt8, _ o: UnsafeMutablePointer<UInt8>) {
            var qh: UInt32 = 0
            for j in 0..<16 {
                let l0 = level(j), l1 = level(j + 16)
                o[6 + j] = (l0 & 0x0F) | ((l1 & 0x0F) << 4)
                qh |= UInt32((l0 & 0x10) >> 4) << j
                qh |= UInt32((l1 & 0x10) >> 4) << (j + 16)
            }
            UnsafeMutableRawPointer(o).storeBytes(of: qh.littleEndian, toByteOffset: 2, as: UInt32.self)
        }
        guard let importance else {
            unweightedQuantizer(type)(x, count, y)
            return
        }
        let sigma2 = rowMeanSquare(x, count)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { weight in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { L in
                for block in 0..<(count / 32) {
                    let xb = x + block * 32, qw = importance + block * 32, o = out + block * 22
                    importanceWeights(qw, xb, count: 32, sigma2: sigma2, into: weight.baseAddress!)
                    let d = makeQXQuants(32, 16, xb, L.baseAddress!, 1, weight.baseAddress!)
                    storeUInt16(fp16Bits(d), UnsafeMutableRawPointer(o), 0)
                    store({ UInt8(bitPattern: L[$0]) }, o)
                }
            }
        }
    }
}
