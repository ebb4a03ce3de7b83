import QuantKernels

/// Q4_0: blocks of 32 weights, 18 bytes (4.5 bpw): F16 `d` then 16 bytes of 4-bit levels; byte j
/// holds weight j in its low nibble and weight j+16 in its high nibble; weight = d · (q − 8).
///
/// Quantizers: `quantize_row_q4_0_ref` (d = signed absmax / −8, level = trunc(x/d + 8.5) capped at
/// 15) and, with importance weights, `quantize_row_q4_0_impl` (`make_qx_quants`, nmax 8).
public enum Q4_0: BlockFormat {
    public static let type = GGMLType.q4_0

    public static func quantizeRow(
        _ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer
    ) {
        let out = y.assumingMemoryBound(to: UInt8.self)
        guard let importance else {
            unweightedQuantizer(type)(x, count, y)
            return
        }
        let sigma2 = rowMeanSquare(x, count)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { weight in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { L in
                for block in 0..<(count / 32) {
                    let xb = x + block * 32, qw = importance + block * 32, o = out + block * 18
                    importanceWeights(qw, xb, count: 32, sigma2: sigma2, into: weight.baseAddress!)
                    let d = makeQXQuants(32, 8, xb, L.baseAddress!, 1, weight.baseAddress!)
                    storeUInt16(fp16Bits(d), UnsafeMutableRawPointer(o), 0)
                    for j in 0..<16 { o[2 + j] = UInt8(bitPattern: L[j]) | (UInt8(bitPattern: L[j + 16]) << 4) }
                }
            }
        }
    }
}

/// Σx² / n over a whole row (`sigma2` of the weighted legacy quantizers).
@inline(__always)
func rowMeanSquare(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var sum: Float = 0
    for j in 0..<count { sum += x[j] * x[j] }
    return sum / Float(count)
}

/// The active level's unweighted quantizer of a legacy 32-weight `type`, whose importance-weighted
/// path is written in Quants.
@inline(__always)
func unweightedQuantizer(_ type: GGMLType) -> RowKernels.Quantize {
    guard let quantize = BlockKernels.active.quantizer(type) else { preconditionFailure("no \(type.name) quantizer") }
    return quantize
}
