/// Q4_K: super-blocks of 256 weights in 8 groups of 32, 144 bytes (4.5 bpw).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 2 | `d`: F16 scale of the group scales |
/// | 2 | 2 | `dmin`: F16 scale of the group mins |
/// | 4 | 12 | eight 6-bit scales and eight 6-bit mins (`get_scale_min_k4` packing) |
/// | 16 | 128 | 4-bit levels: byte 32·p + l holds element 64p + l (low nibble) and 64p + 32 + l (high) |
///
/// weight = d·scale_g·q − dmin·min_g. Quantizers: `quantize_row_q4_K_ref` (`make_qkx2_quants`,
/// weights av|x| + |x|) and, with importance, `quantize_row_q4_K_impl`. The loops are QuantKernels'
/// `KQuantizers.kWithMins`, compiled per SIMD level.
package enum Q4_K: BlockFormat {
    package static let type = GGMLType.q4_K
}
