/// Q4_1: blocks of 32 weights, 20 bytes (5 bpw): F16 `d`, F16 `m`, 16 bytes of 4-bit levels (low
/// nibble weight j, high nibble weight j+16); weight = d · q + m.
///
/// Quantizers: `quantize_row_q4_1_ref` (d = (max − min)/15, m = min, level = trunc((x−m)/d + 0.5))
/// and, with importance weights, `quantize_row_q4_1_impl` (`make_qkx3_quants`, nmax 15).
/// The loops are QuantKernels' `LegacyQuantizers.asymmetric` and `LegacyWeightedQuantizers.asymmetric`,
/// compiled per SIMD level.
package enum Q4_1: BlockFormat {
    package static let type = GGMLType.q4_1
}

