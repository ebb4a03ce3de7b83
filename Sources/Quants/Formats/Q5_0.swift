/// Q5_0: blocks of 32 weights, 22 bytes (5.5 bpw): F16 `d`, a little-endian u32 `qh` holding bit 4
/// of each level (bit j for weight j), 16 bytes of low nibbles (weight j low, j+16 high);
/// weight = d · (q − 16).
///
/// Quantizers: `quantize_row_q5_0_ref` (d = signed absmax / −16, level = trunc(x/d + 16.5) capped
/// at 31) and, with importance weights, `quantize_row_q5_0_impl` (`make_qx_quants`, nmax 16).
/// The loops are QuantKernels' `LegacyQuantizers.symmetric` and `LegacyWeightedQuantizers.symmetric`,
/// compiled per SIMD level.
package enum Q5_0: BlockFormat {
    package static let type = GGMLType.q5_0
}
