import Foundation
import Quants

/// Row-wise kernels of the forward pass. Each output row depends only on its own input row, and
/// every reduction runs in one fixed order, so results never depend on batch size or thread count.
public enum Kernels {
    /// `y = x / sqrt(mean(x²) + eps) · w` for `rows` rows of `count` (RMSNorm, f32; the sum of
    /// squares accumulates in f64).
    public static func rmsNorm(
        _ x: UnsafePointer<Float>, rows: Int, count: Int, stride: Int, weight: [Float], epsilon: Float,
        into y: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        weight.withUnsafeBufferPointer { w in
            for r in 0..<rows {
                let source = x + r * stride
                let destination = y + r * outputStride
                var sum: Double = 0
                for i in 0..<count { sum += Double(source[i]) * Double(source[i]) }
                let inverse = Float(1 / (sum / Double(count) + Double(epsilon)).squareRoot())
                for i in 0..<count { destination[i] = source[i] * inverse * w[i] }
            }
        }
    }

    /// Softmax of `x[0..<count]` in place (max-subtracted, f32 exponentials, f64 sum).
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = Swift.max(maximum, x[i]) }
        var sum: Double = 0
        for i in 0..<count {
            let e = Foundation.exp(x[i] - maximum)
            x[i] = e
            sum += Double(e)
        }
        let inverse = Float(1 / sum)
        for i in 0..<count { x[i] *= inverse }
    }

    /// `gate[i] = silu(gate[i]) · up[i]`.
    public static func swiGLU(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let g = gate[i]
            gate[i] = g / (1 + Foundation.exp(-g)) * up[i]
        }
    }

    /// Rows of the weight handled by one SGEMM call in `linear`. Fixed, so that the split (and so
    /// every output bit) is the same for any thread count.
    public static let weightRowTile = 512

    /// `y[m×n] = x[m×k] · Wᵀ` with `W` `[n×k]`, the weight's rows split into fixed tiles across threads.
    public static func linear(
        _ x: UnsafePointer<Float>, rows m: Int, inputStride: Int, weight: Matrix, into y: UnsafeMutablePointer<Float>,
        outputStride: Int, threads: Int
    ) {
        let n = weight.rows, k = weight.columns
        let tiles = (n + weightRowTile - 1) / weightRowTile
        let input = SendablePointer(UnsafeMutablePointer(mutating: x)), output = SendablePointer(y)
        parallelFor(tiles, threads: threads) { range in
            for tile in range {
                let start = tile * weightRowTile
                let count = Swift.min(weightRowTile, n - start)
                BLAS.multiplyTransposed(
                    m: m, n: count, k: k, a: input.pointer, lda: inputStride, b: weight.row(start), ldb: k,
                    c: output.pointer + start, ldc: outputStride)
            }
        }
    }
}
