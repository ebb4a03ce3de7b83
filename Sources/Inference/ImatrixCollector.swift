import Foundation
import TensorFiles

/// Accumulates an importance matrix from the inputs the forward pass shows it, with
/// llama-imatrix's semantics (`tools/imatrix/imatrix.cpp`, `collect_imatrix`): per input column
/// Σx² over every input row, a single row count for a dense weight (for a 3-D one, each call's
/// tokens once, not once per head), and for routed experts a sum and a count per expert over the
/// tokens routed to it.
///
/// Each call's rows are summed in f64 in row order, then added to exact fixed-point totals, so
/// the result does not depend on batch composition, thread count or how a text is split into
/// slices (`ImportanceMatrix`).
package final class ImatrixCollector: ActivationObserver, @unchecked Sendable {
    package let observesOutput: Bool
    private let lock = NSLock()
    private var entries: [String: ImportanceMatrix.Entry] = [:]
    private var failure: ImatrixError?

    package init(observesOutput: Bool = false) {
        self.observesOutput = observesOutput
    }

    package func observe(_ input: RowsView, tensor: String, slot: MatrixSlot) {
        let n = input.columns
        // Σx² of this call, outside the lock (heads arrive from several threads).
        var partial = [Double](repeating: 0, count: n)
        var finite = true
        partial.withUnsafeMutableBufferPointer { sums in
            for r in 0..<input.rows {
                let x = input.row(r)
                for j in 0..<n {
                    let v = Double(x[j])
                    sums[j] += v * v
                }
            }
            for j in 0..<n where !sums[j].isFinite { finite = false }
        }
        lock.lock()
        defer { lock.unlock() }
        guard failure == nil else { return }
        guard finite else {
            failure = .mismatch(entry: tensor, detail: "non-finite activation (the model's weights or inputs overflow)")
            return
        }
        // (count groups, this call's group, values per group, offset in the group, counts its rows)
        let (groups, group, width, offset, countsRows): (Int, Int, Int, Int, Bool) =
            switch slot {
            case .whole: (1, 0, n, 0, true)
            case .head(let h, let heads): (1, 0, n * heads, h * n, h == 0)
            case .expert(let e, let experts): (experts, e, n, 0, true)
            }
        var entry = entries[tensor] ?? ImportanceMatrix.Entry(columns: width, matrices: groups)
        precondition(entry.columns == width && entry.matrices == groups, "\(tensor): observed with two shapes")
        let base = group * width + offset
        for j in 0..<n {
            guard let fixed = ImportanceMatrix.fixed(partial[j]), let sum = ImportanceMatrix.adding(entry.sums[base + j], fixed) else {
                failure = .mismatch(entry: tensor, detail: "sum of squared activations exceeds \(ImportanceMatrix.largestSum)")
                return
            }
            entry.sums[base + j] = sum
        }
        if countsRows { entry.counts[group] += Int64(input.rows) }
        entries[tensor] = entry
    }

    /// What was collected, or the first problem met.
    package func result(datasets: [String], chunkCount: Int, chunkSize: Int) throws(ImatrixError) -> ImportanceMatrix {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        return ImportanceMatrix(entries: entries, datasets: datasets, chunkCount: chunkCount, chunkSize: chunkSize)
    }

    /// Continues from earlier sums (a resumed run).
    package func preload(_ matrix: ImportanceMatrix) {
        lock.lock()
        defer { lock.unlock() }
        entries = matrix.entries
    }
}
