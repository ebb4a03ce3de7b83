/// Q3_K: super-blocks of 256 weights in 16 groups of 16, 110 bytes (3.4375 bpw).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 32 | `hmask`: bit (e / 32) of byte (e % 32) is set when element e's level is ≥ 4 (i.e. ≥ 0) |
/// | 32 | 64 | `qs`: low 2 bits of each level, packed as Q2_K's |
/// | 96 | 12 | `scales`: sixteen 6-bit group scales, stored +32: low nibbles in bytes 0–7 (groups 0–7 low, 8–15 high), top 2 bits in bytes 8–11 |
/// | 108 | 2 | `d`: F16 |
///
/// weight = d·(scale − 32)·(q − 4) with q = low bits + 4·hmask bit. Quantizers:
/// `quantize_row_q3_K_ref` (`make_q3_quants`) and, with importance, `quantize_row_q3_K_impl`.
/// The loops are QuantKernels' `SuperBlockQuantizers.q3_K`, compiled per SIMD level.
package enum Q3_K: BlockFormat {
    package static let type = GGMLType.q3_K
}
