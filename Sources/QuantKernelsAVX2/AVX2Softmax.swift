import QuantKernels

/// `SoftmaxKernels` compiled for Haswell and later (see `AVX2Kernels` for why each entry point
/// is `@inline(never)`): four 256-bit f64 operations where the baseline build needs eight.
public enum AVX2Softmax {
    @inline(never) public static func logSumExp(_ x: UnsafePointer<Float>, count: Int) -> Double {
        SoftmaxKernels.logSumExp(x, count: count)
    }
    @inline(never) public static func klDivergence(base b: UnsafePointer<Float>, model m: UnsafePointer<Double>, count: Int) -> Double {
        SoftmaxKernels.klDivergence(base: b, model: m, count: count)
    }
}
