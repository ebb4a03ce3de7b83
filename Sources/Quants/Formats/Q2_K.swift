/// Q2_K: super-blocks of 256 weights in 16 groups of 16, 84 bytes (2.625 bpw).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 16 | `scales`: per group, low nibble = scale level, high nibble = min level |
/// | 16 | 64 | `qs`: 2-bit levels; byte 32·h + l holds elements 128h + l + 32s at bits 2s (s = 0…3) |
/// | 80 | 2 | `d`: F16 scale of the scale levels |
/// | 82 | 2 | `dmin`: F16 scale of the min levels |
///
/// weight = d·(scale level)·q − dmin·(min level). Quantizers: `quantize_row_q2_K_ref`
/// (`make_qkx2_quants`, MAD) and, with importance weights, `quantize_row_q2_K_impl`.
/// The loops are QuantKernels' `SuperBlockQuantizers.q2_K`, compiled per SIMD level.
package enum Q2_K: BlockFormat {
    package static let type = GGMLType.q2_K
}
