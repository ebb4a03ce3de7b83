/// A row-major F32 matrix in one heap buffer, shared by reference across worker threads. Threads
/// write disjoint rows or columns only, which is what makes the engine's results independent of
/// how the work is split.
package final class Matrix: @unchecked Sendable {
    package let rows: Int
    package let columns: Int
    package let pointer: UnsafeMutablePointer<Float>
    /// The same values rounded to BF16 for the products of `--precision bf16`, when this matrix is
    /// a weight loaded for that mode (set once, before the matrix is shared).
    package var bf16: BF16Panels?

    package init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        pointer = .allocate(capacity: Swift.max(1, rows * columns))
        pointer.initialize(repeating: 0, count: Swift.max(1, rows * columns))
    }

    deinit { pointer.deallocate() }

    package var count: Int { rows * columns }

    @inline(__always)
    package func row(_ index: Int) -> UnsafeMutablePointer<Float> { pointer + index * columns }

    package func zero() { pointer.update(repeating: 0, count: count) }

    /// `self += other`, element by element (the residual connection).
    func add(_ other: Matrix) {
        precondition(other.count == count)
        let d = other.pointer, r = pointer
        for i in 0..<count { r[i] += d[i] }
    }

    /// The whole matrix as a view; `rows(range)`: some of its rows.
    package var view: MatrixView { MatrixView(pointer, rows: rows, columns: columns) }
    package func rows(_ range: Range<Int>) -> MatrixView { view.rows(range) }

    /// The values as an array (tests and reports).
    package var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// `rows × columns` f32 values in memory, row `r` at `pointer + r·stride`: a matrix, some of its
/// rows or some of its columns (e.g. `kv[:, :L]`), as the kernels take them.
package struct MatrixView: @unchecked Sendable {
    package let pointer: UnsafeMutablePointer<Float>
    package let rows: Int
    package let columns: Int
    package let stride: Int

    package init(_ pointer: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int? = nil) {
        precondition((stride ?? columns) >= columns)
        self.pointer = pointer
        self.rows = rows
        self.columns = columns
        self.stride = stride ?? columns
    }

    @inline(__always)
    package func row(_ index: Int) -> UnsafeMutablePointer<Float> { pointer + index * stride }

    package func rows(_ range: Range<Int>) -> MatrixView {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows)
        return MatrixView(row(range.lowerBound), rows: range.count, columns: columns, stride: stride)
    }

    package func columns(_ range: Range<Int>) -> MatrixView {
        precondition(range.lowerBound >= 0 && range.upperBound <= columns)
        return MatrixView(pointer + range.lowerBound, rows: rows, columns: range.count, stride: stride)
    }

    /// The same values for reading (what activation observers see).
    package var readOnly: RowsView { RowsView(pointer, rows: rows, columns: columns, stride: stride) }
}
