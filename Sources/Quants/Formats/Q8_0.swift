/// Q8_0: blocks of 32 weights, 34 bytes (8.5 bits per weight). See `formats/blocks.md`.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 2 | `d`: F16 scale = absmax / 127 |
/// | 2 | 32 | `qs`: int8 levels, weight = d · q |
///
/// Quantizer: `quantize_row_q8_0_ref` (llama.cpp ignores importance weights for Q8_0). Rounding is
/// C `roundf` (half away from zero) on x · (1/d) in F32. The loops are in QuantKernels
/// (`LegacyQuantizers.q8_0`, `Q8_0Kernels`), compiled for baseline and AVX2 CPUs.
package enum Q8_0: BlockFormat {
    package static let type = GGMLType.q8_0
}
