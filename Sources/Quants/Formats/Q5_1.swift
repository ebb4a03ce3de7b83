/// Q5_1: blocks of 32 weights, 24 bytes (6 bpw): F16 `d`, F16 `m`, u32 `qh` (bit 4 of each level),
/// 16 bytes of low nibbles; weight = d · q + m.
///
/// Quantizers: `quantize_row_q5_1_ref` (d = (max − min)/31, m = min) and, with importance weights,
/// `quantize_row_q5_1_impl` (`make_qkx3_quants`, nmax 31). Shares code with Q4_1.
/// The loops are QuantKernels' `LegacyQuantizers.asymmetric` and `LegacyWeightedQuantizers.asymmetric`,
/// compiled per SIMD level.
package enum Q5_1: BlockFormat {
    package static let type = GGMLType.q5_1
}
