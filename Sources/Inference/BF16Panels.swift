import AVX512Kernels
import Quants

/// A weight `[rows, columns]` rounded to BF16 in the panel layout the BF16 product reads (32 rows
/// per panel, pairs of columns interleaved: `Sources/AVX512Kernels/include/AVX512Kernels.h`). Built
/// once when the weight is loaded for `--precision bf16`.
package final class BF16Panels: @unchecked Sendable {
    package let rows: Int
    package let columns: Int
    let words: UnsafeMutablePointer<UInt32>
    /// u32 words of one panel.
    let panelWords: Int

    static let panelRows = Int(MOEPACK_BF16_PANEL_ROWS)

    /// Panels of `rows` rows (the last one padded with zero rows).
    static func panels(rows: Int) -> Int { (rows + panelRows - 1) / panelRows }

    /// Room for the panels of a `[rows, columns]` weight.
    private init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        panelWords = Self.panelRows * BF16Rows.pairs(columns)
        words = .allocate(capacity: Swift.max(1, Self.panels(rows: rows) * panelWords))
    }

    /// Packs `matrix`, panels shared out across `threads`.
    package convenience init(packing matrix: Matrix, threads: Int) {
        self.init(rows: matrix.rows, columns: matrix.columns)
        let panels = Self.panels(rows: rows), panelWords = panelWords
        let (source, destination, rows, columns) = (SendablePointer(matrix.pointer), SendablePointer(words), rows, columns)
        parallelFor(panels, threads: threads, minimumPerThread: 4) { range in
            let first = range.lowerBound * Self.panelRows
            let count = Swift.min(rows, range.upperBound * Self.panelRows) - first
            moepack_bf16_pack_panels(source.pointer + first * columns, count, columns, columns, destination.pointer + range.lowerBound * panelWords)
        }
    }

    /// Packs `matrix`ᵀ (`matrix.columns` rows of `matrix.rows` values) without transposing it
    /// first, on one thread (the callers' matrices are one chunk's latent, `[T, L]`).
    package convenience init(packingTransposeOf matrix: Matrix) {
        self.init(rows: matrix.columns, columns: matrix.rows)
        moepack_bf16_pack_transposed_panels(matrix.pointer, matrix.rows, matrix.columns, matrix.columns, words)
    }

    deinit { words.deallocate() }

    /// `y[:, start..<start+count] = x · W[start..<start+count]ᵀ`; `start` a multiple of 32.
    func multiply(_ x: BF16Rows, rows start: Int, count: Int, into y: MatrixView) {
        precondition(start % Self.panelRows == 0 && start + count <= rows && x.columns == columns && y.rows == x.rows)
        moepack_bf16_multiply(x.rows, count, columns, x.words, words + start / Self.panelRows * panelWords, y.pointer + start, y.stride)
    }
}

/// Activations `[rows, columns]` rounded to BF16, row by row (the left operand of a BF16 product).
final class BF16Rows: @unchecked Sendable {
    let rows: Int
    let columns: Int
    let words: UnsafeMutablePointer<UInt32>

    static func pairs(_ columns: Int) -> Int { (columns + 1) / 2 }

    init(_ x: MatrixView, threads: Int) {
        rows = x.rows
        columns = x.columns
        let pairs = Self.pairs(columns)
        words = .allocate(capacity: Swift.max(1, rows * pairs))
        let (source, destination, columns, stride) = (SendablePointer(x.pointer), SendablePointer(words), columns, x.stride)
        parallelFor(rows, threads: threads, minimumPerThread: 64) { range in
            moepack_bf16_pack_rows(source.pointer + range.lowerBound * stride, range.count, columns, stride, destination.pointer + range.lowerBound * pairs)
        }
    }

    deinit { words.deallocate() }
}
