/// Q5_1: blocks of 32 weights, 24 bytes (6 bpw): F16 `d`, F16 `m`, u32 `qh` (bit 4 of each level),
/// 16 bytes of low nibbles; weight = d · q + m.
///
/// Quantizers: `quantize_row_q5_1_ref` (d = (max − min)/31, m = min) and, with importance weights,
/// `quantize_row_q5_1_impl` (`make_qkx3_quants`, nmax 31). Shares code with Q4_1.
public enum Q5_1: BlockFormat {
    public static let type = GGMLType.q5_1

    public static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        quantizeAsymmetric(x, count: count, importance: importance, into: y, bits: 5)
    }

    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        let bytes = y.assumingMemoryBound(to: UInt8.self)
        for block in 0..<(count / 32) {
            let b = bytes + block * 24
            let d = fp16Value(loadUInt16(y, block * 24)), m = fp16Value(loadUInt16(y, block * 24 + 2))
            let qh = UInt32(littleEndian: y.loadUnaligned(fromByteOffset: block * 24 + 4, as: UInt32.self))
            for j in 0..<16 {
                let h0 = UInt8(truncatingIfNeeded: ((qh >> j) << 4) & 0x10)
                let h1 = UInt8(truncatingIfNeeded: (qh >> (j + 12)) & 0x10)
                x[block * 32 + j] = Float((b[8 + j] & 0x0F) | h0) * d + m
                x[block * 32 + j + 16] = Float((b[8 + j] >> 4) | h1) * d + m
            }
        }
    }
}
