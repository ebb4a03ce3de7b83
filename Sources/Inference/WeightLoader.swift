import Foundation
import Quants

/// The engine's one way to its weights: whole tensors into F32 matrices (row blocks decoded on all
/// threads; FP8 and GGML decoding are row-separable), vectors, single rows (embedding rows, head
/// tiles), and the schedule's read-ahead and release hints, all by checkpoint name.
final class WeightLoader: @unchecked Sendable {
    let source: any WeightSource
    let threads: Int
    /// How the weights `matrix` loads are multiplied (`.bf16`: they carry BF16 panels too).
    let precision: Precision

    init(source: any WeightSource, threads: Int, precision: Precision = .f32) {
        self.source = source
        self.threads = threads
        self.precision = precision
    }

    /// A whole weight in f32 and, in `.bf16` mode, in BF16 panels as well, unless `alwaysF32`: this
    /// weight's products stay f32 in every mode (the router, the absorbed attention factors).
    func matrix(_ name: String, alwaysF32: Bool = false) throws(WeightError) -> Matrix {
        let (rows, columns) = try source.shape(of: name)
        let matrix = Matrix(rows: rows, columns: columns)
        try read(name, rows: 0..<rows, into: matrix)
        if precision == .bf16, !alwaysF32 { matrix.bf16 = BF16Panels(packing: matrix, threads: threads) }
        return matrix
    }

    func vector(_ name: String) throws(WeightError) -> [Float] { try source.vector(name) }

    /// `rows` of `name` decoded into `output` on the calling thread.
    func decodeRows(_ name: String, rows: Range<Int>, into output: UnsafeMutablePointer<Float>) throws(WeightError) {
        try source.read(name, rows: rows, into: output)
    }

    /// Asks the source to read these tensors ahead (they are needed next).
    func prefetch(_ names: [String]) { source.prefetch(names) }

    /// Tells the source these tensors are done with (their pages may go).
    func release(_ names: [String]) { source.release(names) }

    /// Decodes `rows` of `name` into `matrix` (which has room for them), 64-row blocks in parallel.
    func read(_ name: String, rows: Range<Int>, into matrix: Matrix) throws(WeightError) {
        let block = 64
        let blocks = (rows.count + block - 1) / block
        let failure = FirstError()
        let source = self.source
        parallelFor(blocks, threads: threads) { range in
            for b in range {
                let start = rows.lowerBound + b * block
                let end = Swift.min(rows.upperBound, start + block)
                do throws(WeightError) { try source.read(name, rows: start..<end, into: matrix.row(start - rows.lowerBound)) } catch {
                    failure.record(error, order: b)
                }
            }
        }
        if let error = failure.error { throw error }
    }
}

/// The error of the lowest-numbered failing piece of parallel work, so the report is the same
/// whatever the thread count.
final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var best: (order: Int, error: WeightError)?

    func record(_ error: WeightError, order: Int) {
        lock.withLock { if best == nil || order < best!.order { best = (order, error) } }
    }

    var error: WeightError? { lock.withLock { best?.error } }
}
