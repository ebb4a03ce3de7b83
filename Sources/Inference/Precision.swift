import AVX512Kernels

/// The arithmetic of the engine's weight products (`y = x · Wᵀ`).
///
/// - `f32`: weights decoded to f32 and multiplied in f32 (OpenBLAS SGEMM). The reference mode,
///   whose figures agree with llama.cpp's.
/// - `bf16`: weights and activations rounded to BF16 (round to nearest even), products summed in
///   f32 by AVX-512 BF16, as DeepSeek's own inference runs its linear layers in BF16. About twice
///   the multiply rate of f32 on one core; the cost in accuracy is measured by `verify` (README).
///   The router and the attention products between activations (scores, latent values, the
///   absorbed `attn_k_b`/`attn_v_b`) stay f32: they are a small share of the work, and rounding the
///   router's inputs would flip expert choices.
package enum Precision: String, Sendable, CaseIterable {
    case f32
    case bf16

    package struct Unsupported: Error, CustomStringConvertible {
        package var description: String
    }

    /// Whether this CPU runs the mode.
    package var isSupported: Bool { self == .f32 || moepack_bf16_supported() != 0 }

    /// Throws when this CPU cannot run the mode.
    package func ensureSupported() throws(Unsupported) {
        if !isSupported {
            throw Unsupported(description: "--precision bf16 needs a CPU with AVX-512 BF16 (avx512_bf16: Zen 4 and later, Cooper Lake, Sapphire Rapids and later); this one lacks it: use --precision f32")
        }
    }
}
