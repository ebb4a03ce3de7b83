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

    package static let active = forLevel(SIMDLevel.active)
}
