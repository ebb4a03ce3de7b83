import Quants

/// Writes a planned GGUF file atomically: header, zero padding, then each tensor's bytes at its
/// planned offset, fsync, rename. Tensor bytes come from a closure per tensor, so a caller can
/// stream them (for example chunk by chunk from a conversion) without holding the model in memory.
public enum GGUFWriter {
    /// - Parameter fill: called once per tensor index, in order, with the file and the tensor's
    ///   absolute file range; it must write exactly that range.
    public static func write(
        _ layout: GGUFLayout, to path: String, fill: (Int, AtomicOutputFile, Range<Int>) throws -> Void
    ) throws {
        let file = try AtomicOutputFile(path: path)
        try file.reserve(size: layout.fileSize)
        try file.write(layout.headerBytes, at: 0)
        // Padding bytes are zeros: `reserve` extends the file with zeros, so nothing else to write.
        for index in layout.tensors.indices {
            try fill(index, file, layout.fileRange(of: index))
        }
        try file.commit()
    }

    /// Convenience for small files: tensor data given as byte arrays.
    public static func write(_ layout: GGUFLayout, to path: String, data: [[UInt8]]) throws {
        try write(layout, to: path) { index, file, range in
            precondition(data[index].count == range.count, "tensor \(index) has \(data[index].count) bytes, planned \(range.count)")
            try file.write(data[index], at: range.lowerBound)
        }
    }
}
