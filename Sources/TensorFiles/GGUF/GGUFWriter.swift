import Quants

/// Writes a planned GGUF file atomically: header, zero padding, then each tensor's bytes at its
/// planned offset, fsync, rename. Tensor bytes come from a closure per tensor, so a caller can
/// stream them (for example chunk by chunk from a conversion) without holding the model in memory.
package enum GGUFWriter {
    /// - Parameter fill: called once per tensor index, in order, with the file and the tensor's
    ///   absolute file range; it must write exactly that range.
    /// - Parameter finalHeader: called after all tensors are written; a header of the same length
    ///   to write over the planned one (for checksums known only at the end).
    package static func write(
        _ layout: GGUFLayout, to path: String, fill: (Int, AtomicOutputFile, Range<Int>) throws -> Void,
        finalHeader: (() throws -> [UInt8])? = nil
    ) throws {
        let file = try AtomicOutputFile(path: path)
        try file.reserve(size: layout.fileSize)
        try file.write(layout.headerBytes, at: 0)
        // Padding bytes are zeros: `reserve` extends the file with zeros, so nothing else to write.
        for index in layout.tensors.indices {
            try fill(index, file, layout.fileRange(of: index))
        }
        if let finalHeader {
            let header = try finalHeader()
            precondition(header.count == layout.headerBytes.count, "the final header must keep the planned length")
            try file.write(header, at: 0)
        }
        try file.commit()
    }

    /// Fills an already opened (possibly resumed) file: `fill` may skip tensors it knows are
    /// complete. Writes the header, the tensors, the final header, then commits.
    package static func write(
        _ layout: GGUFLayout, into file: AtomicOutputFile, fill: (Int, AtomicOutputFile, Range<Int>) throws -> Void,
        finalHeader: () throws -> [UInt8]
    ) throws {
        try file.reserve(size: layout.fileSize)
        try file.write(layout.headerBytes, at: 0)
        for index in layout.tensors.indices {
            try fill(index, file, layout.fileRange(of: index))
        }
        let header = try finalHeader()
        precondition(header.count == layout.headerBytes.count, "the final header must keep the planned length")
        try file.write(header, at: 0)
        try file.commit()
    }

    /// Convenience for small files: tensor data given as byte arrays.
    package static func write(_ layout: GGUFLayout, to path: String, data: [[UInt8]]) throws {
        try write(layout, to: path) { index, file, range in
            precondition(data[index].count == range.count, "tensor \(index) has \(data[index].count) bytes, planned \(range.count)")
            try file.write(data[index], at: range.lowerBound)
        }
    }
}
