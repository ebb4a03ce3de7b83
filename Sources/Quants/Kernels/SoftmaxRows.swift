import AVX512Kernels
import QuantKernels
#if canImport(QuantKernelsAVX2)
import QuantKernelsAVX2
#endif

/// Log-softmax's row reductions (`SoftmaxKernels`) at a `SIMDLevel`; every level computes the
/// same bits, `active` is the fastest this CPU runs.
package struct SoftmaxRows: Sendable {
    package let logSumExp: @Sendable (_ x: UnsafePointer<Float>, _ count: Int) -> Double
    package let klDivergence: @Sendable (_ base: UnsafePointer<Float>, _ model: UnsafePointer<Double>, _ count: Int) -> Double

    package static func forLevel(_ level: SIMDLevel) -> SoftmaxRows {
        precondition(SIMDLevel.supported.contains(level), "\(level) kernels do not run on this CPU")
        #if canImport(QuantKernelsAVX2)
        if level == .avx2 {
            return SoftmaxRows(logSumExp: { AVX2Softmax.logSumExp($0, count: $1) }, klDivergence: { AVX2Softmax.klDivergence(base: $0, model: $1, count: $2) })
        }
        #endif
        return SoftmaxRows(
            logSumExp: { SoftmaxKernels.logSumExp($0, count: $1) },
            klDivergence: { SoftmaxKernels.klDivergence(base: $0, model: $1, count: $2) })
    }

    /// The AVX-512 build (C, `AVX512Kernels`) when the CPU has AVX-512 F: the same bits as every
    /// level in half the instructions (log-softmax over R1's vocabulary is a fifth of an
    /// evaluation of a small model).
    package static let avx512: SoftmaxRows? = moepack_avx512_softmax_supported() == 0 ? nil : SoftmaxRows(
        logSumExp: { moepack_avx512_log_sum_exp($0, $1) }, klDivergence: { moepack_avx512_kl_divergence($0, $1, $2) })

    /// The fastest this CPU runs (the baseline one under `MOEPACK_SIMD=baseline`).
    package static let active = SIMDLevel.active == SIMDLevel.supported.last ? avx512 ?? forLevel(SIMDLevel.active) : forLevel(SIMDLevel.active)
}
