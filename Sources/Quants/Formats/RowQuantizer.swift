/// Checked entry points for whole rows: the format kernels assume finite input and whole blocks;
/// these verify both and say exactly what is wrong.
package enum QuantizationError: Error, Equatable, CustomStringConvertible, Sendable {
    case notWholeBlocks(type: GGMLType, count: Int)
    case nonFinite(index: Int, value: Float)
    case unsupported(GGMLType)

    package var description: String {
        switch self {
        case .notWholeBlocks(let type, let count):
            "a row of \(count) weights is not a whole number of \(type.name) blocks (\(type.blockGeometry.weights) weights each)"
        case .nonFinite(let index, let value):
            "\(value.isNaN ? "NaN" : "infinite") value at column \(index); only finite weights can be quantized"
        case .unsupported(let type): "moepack cannot write \(type.name)"
        }
    }
}

extension GGMLType {
    /// Quantizes one row after checking it: whole blocks, finite values (NaN/Inf would silently
    /// poison a block's scale), and a buffer of exactly `rowBytes(count)`.
    package func quantize(
        row: UnsafeBufferPointer<Float>, importance: UnsafeBufferPointer<Float>? = nil, into output: UnsafeMutableRawBufferPointer
    ) throws(QuantizationError) {
        guard let format else { throw .unsupported(self) }
        guard let bytes = rowBytes(row.count), bytes == output.count else { throw .notWholeBlocks(type: self, count: row.count) }
        if let bad = row.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(index: bad, value: row[bad]) }
        if let importance {
            precondition(importance.count == row.count, "one importance weight per column")
        }
        format.quantizeRow(row.baseAddress!, count: row.count, importance: importance?.baseAddress, into: output.baseAddress!)
    }

    /// Decodes one row of `count` weights.
    package func dequantize(row: UnsafeRawBufferPointer, count: Int, into output: UnsafeMutableBufferPointer<Float>)
        throws(QuantizationError)
    {
        guard let format else { throw .unsupported(self) }
        guard let bytes = rowBytes(count), bytes == row.count, output.count == count else {
            throw .notWholeBlocks(type: self, count: count)
        }
        format.dequantizeRow(row.baseAddress!, count: count, into: output.baseAddress!)
    }
}
