/// Q6_K: super-blocks of 256 weights in 16 groups of 16, 210 bytes (6.5625 bpw).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 128 | `ql`: low 4 bits; for half h, byte 64h + l holds elements 128h + l (low) and 128h + 64 + l (high), byte 64h + 32 + l holds 128h + 32 + l and 128h + 96 + l |
/// | 128 | 64 | `qh`: high 2 bits; byte 32h + l holds elements 128h + l + 32s at bits 2s |
/// | 192 | 16 | `scales`: int8 per group |
/// | 208 | 2 | `d` (F16) |
///
/// weight = d·scale_g·(q − 32). Quantizers: `quantize_row_q6_K_ref` (`make_qx_quants`, nmax 32)
/// and, with importance, `quantize_row_q6_K_impl`. The loops are QuantKernels' `KQuantizers.q6_K`,
/// compiled per SIMD level.
package enum Q6_K: BlockFormat {
    package static let type = GGMLType.q6_K
}
