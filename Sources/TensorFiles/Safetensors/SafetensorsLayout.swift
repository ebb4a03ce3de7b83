/// The plan of a safetensors file before any tensor data exists: header bytes, each tensor's
/// offsets, the total size. Pure value, so it can be printed and tested without I/O.
///
/// Output follows what the `safetensors` library writes: `__metadata__` first, the JSON padded with
/// spaces to a multiple of 8 bytes so the data section (and every tensor whose offset is a
/// multiple of its element size) is aligned. Tensors keep the caller's order, which makes the file
/// deterministic; readers sort by offset anyway.
package struct SafetensorsLayout: Sendable {
    package struct Entry: Sendable, Equatable {
        package var name: String
        package var dtype: SafetensorsDType
        package var shape: [Int]
        package init(name: String, dtype: SafetensorsDType, shape: [Int]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }
        package var byteCount: Int { shape.reduce(1, *) * dtype.byteWidth }
    }

    package let entries: [Entry]
    /// Metadata in the order written.
    package let metadata: [(key: String, value: String)]
    /// Byte range of each entry relative to the data section.
    package let dataRanges: [Range<Int>]
    package let headerBytes: [UInt8]

    package init(entries: [Entry], metadata: [(key: String, value: String)]) {
        self.entries = entries
        self.metadata = metadata
        var ranges: [Range<Int>] = []
        var offset = 0
        for entry in entries {
            ranges.append(offset..<(offset + entry.byteCount))
            offset += entry.byteCount
        }
        dataRanges = ranges

        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += "\"__metadata__\":{"
            json += metadata.map { "\(jsonString($0.key)):\(jsonString($0.value))" }.joined(separator: ",")
            json += "}"
            first = false
        }
        for (entry, range) in zip(entries, ranges) {
            if !first { json += "," }
            first = false
            let shape = entry.shape.map(String.init).joined(separator: ",")
            json += "\(jsonString(entry.name)):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],"
            json += "\"data_offsets\":[\(range.lowerBound),\(range.upperBound)]}"
        }
        json += "}"
        var header = Array(json.utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var prefix = [UInt8](repeating: 0, count: 8)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { for (i, byte) in $0.enumerated() { prefix[i] = byte } }
        headerBytes = prefix + header
    }

    package var dataOffset: Int { headerBytes.count }
    package var dataSize: Int { dataRanges.last?.upperBound ?? 0 }
    package var fileSize: Int { dataOffset + dataSize }

    /// Absolute file range of entry `index`.
    package func fileRange(of index: Int) -> Range<Int> {
        (dataOffset + dataRanges[index].lowerBound)..<(dataOffset + dataRanges[index].upperBound)
    }
}

/// JSON string literal with the escapes RFC 8259 requires.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// JSON string literal (RFC 8259 escapes), for the few JSON files moepack writes by hand so that
/// their key order and number formatting stay fixed.
package func jsonText(_ text: String) -> String { jsonString(text) }
