import Foundation
import Quants

/// Row-wise kernels of the forward pass. Each output row depends only on its own input row, and
/// every reduction runs in one fixed order, so results never depend on batch size or thread count.
package enum Kernels {
    /// `y = x / sqrt(mean(x²) + eps) · w` for `rows` rows of `count` (RMSNorm, f32; the sum of
    /// squares accumulates in f64).
    package static func rmsNorm(_ x: MatrixView, weight: [Float], epsilon: Float, into y: MatrixView) {
        precondition(x.rows == y.rows && x.columns == y.columns && weight.count == x.columns)
        let count = x.columns
        weight.withUnsafeBufferPointer { w in
            for r in 0..<x.rows {
                let source = x.row(r)
                let destination = y.row(r)
                var sum: Double = 0
                for i in 0..<count { sum += Double(source[i]) * Double(source[i]) }
                let inverse = Float(1 / (sum / Double(count) + Double(epsilon)).squareRoot())
                for i in 0..<count { destination[i] = source[i] * inverse * w[i] }
            }
        }
    }

    /// Softmax of `x[0..<count]` in place (max-subtracted, f32 exponentials, f64 sum).
    package static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = Swift.max(maximum, x[i]) }
        var sum: Double = 0
        for i in 0..<count {
            // Below −103.97 glibc's expf returns +0 through its slow underflow path (`__math_uflowf`),
            // which trained attention rows hit often (3% of an evaluation); the result is the same.
            let shifted = x[i] - maximum
            let e = shifted < -104 ? 0 : Foundation.exp(shifted)
            x[i] = e
            sum += Double(e)
        }
        let inverse = Float(1 / sum)
        for i in 0..<count { x[i] *= inverse }
    }

    /// `gate[i] = silu(gate[i]) · up[i]`.
    package static func swiGLU(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let g = gate[i]
            gate[i] = g / (1 + Foundation.exp(-g)) * up[i]
        }
    }

    /// Rows of the weight handled by one SGEMM call in `linear`. Fixed, so that the split (and so
    /// every output bit) is the same for any thread count. A multiple of BF16 panels' 32 rows.
    package static let weightRowTile = 512

    /// `y[m×n] = x[m×k] · Wᵀ` with `W` `[n×k]`, the weight's rows split into fixed tiles across threads.
    package static func linear(_ x: MatrixView, weight: Matrix, into y: MatrixView, threads: Int) {
        linear([Product(x, weight: weight, into: y)], threads: threads)
    }

    /// One `y = x · Wᵀ` of a group run by `linear(_:threads:)`.
    package struct Product: @unchecked Sendable {
        let x: MatrixView  // [m, k]
        let weight: Matrix  // [n, k]
        let y: MatrixView  // [m, n]

        package init(_ x: MatrixView, weight: Matrix, into y: MatrixView) {
            precondition(x.columns == weight.columns && y.columns == weight.rows && x.rows == y.rows)
            self.x = x
            self.weight = weight
            self.y = y
        }

        var rows: Int { x.rows }
    }

    /// The BF16 left operand of each product whose weight is multiplied in BF16 (nil for the f32
    /// ones), rounded once per distinct input (an MLP's gate and up share theirs).
    static func roundedInputs(_ products: [Product], threads: Int) -> [BF16Rows?] {
        var rounded: [BF16Rows?] = []
        for (p, product) in products.enumerated() {
            guard product.weight.bf16 != nil, product.rows > 0 else {
                rounded.append(nil)
                continue
            }
            let shared = products[..<p].indices.first { q in
                let other = products[q].x
                return rounded[q] != nil && other.pointer == product.x.pointer && other.rows == product.x.rows
                    && other.columns == product.x.columns && other.stride == product.x.stride
            }
            rounded.append(shared.map { rounded[$0]! } ?? BF16Rows(product.x, threads: threads))
        }
        return rounded
    }

    /// Several independent products (e.g. an MLP's gate and up) as one list of weight-row tiles
    /// shared out across threads by their row counts, so two `[768, k]` weights (tiles of 512 and
    /// 256 each) keep both cores busy where one at a time would leave one idle for a third of it.
    /// Every SGEMM is the one `linear` makes for that product alone (same tiles, same operands):
    /// only which thread runs it changes, so results are bit-identical.
    package static func linear(_ products: [Product], threads: Int) {
        var tiles: [(product: Int, start: Int, count: Int)] = []
        for (p, product) in products.enumerated() where product.rows > 0 {
            for start in stride(from: 0, to: product.weight.rows, by: weightRowTile) {
                tiles.append((p, start, Swift.min(weightRowTile, product.weight.rows - start)))
            }
        }
        // Contiguous runs of tiles of about equal rows per worker (rows stand for cost: every tile of
        // a group has the same `m`, and `k` too when the products share an input).
        let total = tiles.reduce(0) { $0 + $1.count }
        let workers = Swift.max(1, Swift.min(threads, tiles.count))
        var bounds = [0]
        var sum = 0
        for (i, tile) in tiles.enumerated() {
            if bounds.count < workers, sum > 0, sum * workers >= total * bounds.count { bounds.append(i) }
            sum += tile.count
        }
        bounds.append(tiles.count)
        let plan = tiles, cuts = bounds
        let bf16Inputs = roundedInputs(products, threads: threads)
        parallelFor(cuts.count - 1, threads: workers) { range in
            for worker in range {
                for t in cuts[worker]..<cuts[worker + 1] {
                    let tile = plan[t], product = products[tile.product]
                    if let panels = product.weight.bf16, let x = bf16Inputs[tile.product] {
                        panels.multiply(x, rows: tile.start, count: tile.count, into: product.y)
                    } else {
                        BLAS.multiplyTransposed(
                            m: product.rows, n: tile.count, k: product.weight.columns, a: product.x.pointer, lda: product.x.stride,
                            b: product.weight.row(tile.start), ldb: product.weight.columns, c: product.y.pointer + tile.start, ldc: product.y.stride)
                    }
                }
            }
        }
    }
}
