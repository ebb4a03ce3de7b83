/// IQ4_NL (32 weights, 18 bytes, 4.5 bpw) and IQ4_XS (256 weights, 136 bytes, 4.25 bpw): 4-bit
/// indices into 16 non-linear levels `kvalues_iq4nl`, nibbles packed as Q4_0's.
///
/// IQ4_NL block: F16 `d`, 16 bytes of indices; weight = d · level[q].
/// IQ4_XS block: F16 `d`, u16 `scales_h` (2 high bits per group of 32), 4 bytes `scales_l` (low
/// nibbles, two groups per byte), 128 bytes of indices; weight = d·(scale_g − 32)·level[q].
///
/// Quantizer: `quantize_row_iq4_nl_impl` with ntry 7, as llama.cpp's `quantize_iq4_nl` and
/// `quantize_iq4_xs` call it (with or without importance weights).
/// The loops are QuantKernels' `IQ4Quantizer`, compiled per SIMD level.
package enum IQ4_NL: BlockFormat {
    package static let type = GGMLType.iq4_nl
}

package enum IQ4_XS: BlockFormat {
    package static let type = GGMLType.iq4_xs
}
