import AVX512Kernels

/// The arithmetic of the engine's weight products (`y = x · Wᵀ`).
///
/// - `f32`: weights decoded to f32 and multiplied in f32 (OpenBLAS SGEMM). The reference mode,
///   whose figures agree with llama.cpp's.
/// - `bf16`: weights and activations rounded to BF16 (round to nearest even), products summed in
///   f32 by AVX-512 BF16, as DeepSeek's own inference runs its linear layers in BF16. About twice
///   the multiply rate of f32 on one core; the cost in accuracy is measured by `verify` (README).
///   The absorbed attention's latent products (`q_c·cᵀ`, `P·c`) are BF16 too; the router, the
///   rope scores and the `kv_b` (`attn_k_b`/`attn_v_b`) products stay f32: they are a small share
///   of the work, and rounding the router's inputs would flip expert choices.
package enum Precision: String, Sendable, CaseIterable {
    case f32
    case bf16

    /// The mode's arithmetic as results and imatrix fingerprints name it: nil for f32 (whose
    /// fingerprints are those of every earlier version), and for bf16 a revision that changes
    /// whenever its arithmetic does, so results or sums of two revisions never merge.
    /// Revision 2: the attention's latent products in BF16 too.
    package var fingerprintTag: String? { self == .f32 ? nil : "bf16.2" }

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
