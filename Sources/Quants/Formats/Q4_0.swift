/// Q4_0: blocks of 32 weights, 18 bytes (4.5 bpw): F16 `d` then 16 bytes of 4-bit levels; byte j
/// holds weight j in its low nibble and weight j+16 in its high nibble; weight = d · (q − 8).
///
/// Quantizers: `quantize_row_q4_0_ref` (d = signed absmax / −8, level = trunc(x/d + 8.5) capped at
/// 15) and, with importance weights, `quantize_row_q4_0_impl` (`make_qx_quants`, nmax 8).
/// The loops are QuantKernels' `LegacyQuantizers.symmetric` and `LegacyWeightedQuantizers.symmetric`,
/// compiled per SIMD level.
package enum Q4_0: BlockFormat {
    package static let type = GGMLType.q4_0
}

