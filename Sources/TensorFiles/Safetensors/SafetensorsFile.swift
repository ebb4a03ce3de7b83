import Foundation

/// One tensor as a safetensors header describes it.
package struct SafetensorsTensorInfo: Sendable, Equatable {
    package var name: String
    package var dtype: SafetensorsDType
    package var shape: [Int]
    /// Byte range relative to the start of the data section.
    package var dataRange: Range<Int>

    package init(name: String, dtype: SafetensorsDType, shape: [Int], dataRange: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataRange = dataRange
    }

    package var elementCount: Int { shape.reduce(1, *) }
    package var byteCount: Int { dataRange.count }
}

/// A safetensors file, memory-mapped and validated rule for rule as `safetensors`' `tensor.rs`
/// validates it: header length within the 100 MB cap and the file, UTF-8 JSON object, known
/// dtypes, overflow-checked byte counts equal to the offsets' span, offsets contiguous from 0 in
/// offset order, and the data section ending exactly at the end of the file.
package final class SafetensorsFile: @unchecked Sendable {
    package static let maximumHeaderLength: UInt64 = 100_000_000

    package let path: String
    package let mapping: MappedFile
    /// Tensors in data-offset order.
    package let tensors: [SafetensorsTensorInfo]
    package let metadata: [String: String]?
    /// Absolute file offset of the data section (8 + header length).
    package let dataOffset: Int
    /// The raw header bytes (JSON plus padding), for fingerprints.
    package let headerLength: Int
    private let indexByName: [String: Int]

    package convenience init(path: String) throws {
        try self.init(mapping: MappedFile(path: path))
    }

    package init(mapping: MappedFile) throws(SafetensorsError) {
        self.mapping = mapping
        path = mapping.path
        let bytes = mapping.bytes
        guard bytes.count >= 8 else { throw .fileTooSmall(file: path, size: bytes.count) }
        let length = bytes.loadUnaligned(as: UInt64.self).littleEndian
        guard length <= Self.maximumHeaderLength else { throw .headerTooLarge(file: path, length: length) }
        guard Int(length) <= bytes.count - 8 else {
            throw .headerBeyondFile(file: path, length: length, fileSize: bytes.count)
        }
        headerLength = Int(length)
        dataOffset = 8 + headerLength
        let header = Data(bytes[8..<dataOffset])
        guard String(data: header, encoding: .utf8) != nil else { throw .headerNotUTF8(file: path) }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: header, options: [])
        } catch {
            throw .headerNotJSON(file: path, detail: Self.shortDescription(of: error))
        }
        guard let object = parsed as? [String: Any] else { throw .headerNotObject(file: path) }

        var metadata: [String: String]?
        var infos: [SafetensorsTensorInfo] = []
        infos.reserveCapacity(object.count)
        for (name, value) in object {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else {
                    throw .badMetadata(file: path, detail: "is not an object")
                }
                var strings: [String: String] = [:]
                for (key, entry) in map {
                    guard let text = entry as? String else {
                        throw .badMetadata(file: path, detail: "value of '\(key)' is not a string")
                    }
                    strings[key] = text
                }
                metadata = strings
                continue
            }
            infos.append(try Self.parseEntry(name: name, value: value, file: path))
        }
        infos.sort { ($0.dataRange.lowerBound, $0.dataRange.upperBound) < ($1.dataRange.lowerBound, $1.dataRange.upperBound) }

        var expectedStart = 0
        for info in infos {
            guard info.dataRange.lowerBound == expectedStart else {
                throw .offsetsNotContiguous(
                    file: path, tensor: info.name, expectedStart: expectedStart, actualStart: info.dataRange.lowerBound)
            }
            expectedStart = info.dataRange.upperBound
        }
        let dataSize = bytes.count - dataOffset
        guard expectedStart == dataSize else {
            let cutOff = infos.last { $0.dataRange.upperBound > dataSize }?.name
            throw .dataSizeMismatch(file: path, declaredEnd: expectedStart, actualSize: dataSize, lastTensor: cutOff)
        }
        tensors = infos
        self.metadata = metadata
        indexByName = Dictionary(uniqueKeysWithValues: infos.enumerated().map { ($1.name, $0) })
    }

    private static func parseEntry(name: String, value: Any, file: String) throws(SafetensorsError)
        -> SafetensorsTensorInfo
    {
        guard let entry = value as? [String: Any] else {
            throw .badEntry(file: file, tensor: name, detail: "entry is not an object")
        }
        guard let dtypeName = entry["dtype"] as? String else {
            throw .badEntry(file: file, tensor: name, detail: "missing or non-string 'dtype'")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw .unknownDType(file: file, tensor: name, dtype: dtypeName)
        }
        guard let shapeValues = entry["shape"] as? [Any] else {
            throw .badEntry(file: file, tensor: name, detail: "missing or non-array 'shape'")
        }
        var shape: [Int] = []
        for dimension in shapeValues {
            guard let size = exactInteger(dimension), size >= 0 else {
                throw .badEntry(file: file, tensor: name, detail: "shape \(shapeValues) has a non-integer or negative size")
            }
            shape.append(size)
        }
        guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
            let begin = exactInteger(offsets[0]), let end = exactInteger(offsets[1]), begin >= 0, end >= begin
        else {
            throw .badEntry(file: file, tensor: name, detail: "'data_offsets' must be [begin, end] with 0 <= begin <= end")
        }
        var elements = 1
        for size in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else { throw .sizeOverflow(file: file, tensor: name) }
            elements = product
        }
        let (byteCount, overflow) = elements.multipliedReportingOverflow(by: dtype.byteWidth)
        guard !overflow else { throw .sizeOverflow(file: file, tensor: name) }
        guard byteCount == end - begin else {
            throw .byteCountMismatch(file: file, tensor: name, shape: shape, dtype: dtype, declared: end - begin)
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataRange: begin..<end)
    }

    private static func exactInteger(_ value: Any) -> Int? { JSONNumbers.integer(value) }

    private static func shortDescription(of error: any Error) -> String {
        let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        return text ?? "\(error)"
    }

    package func info(_ name: String) -> SafetensorsTensorInfo? {
        indexByName[name].map { tensors[$0] }
    }

    package func contains(_ name: String) -> Bool { indexByName[name] != nil }

    /// The tensor's bytes inside the mapping; valid while this object is alive.
    package func bytes(of info: SafetensorsTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: mapping.bytes[(dataOffset + info.dataRange.lowerBound)..<(dataOffset + info.dataRange.upperBound)])
    }

    package func bytes(of name: String) throws(SafetensorsError) -> UnsafeRawBufferPointer {
        guard let info = info(name) else { throw .tensorNotFound(file: path, tensor: name) }
        return bytes(of: info)
    }

    /// Absolute byte range of a tensor in the file.
    package func fileRange(of info: SafetensorsTensorInfo) -> Range<Int> {
        (dataOffset + info.dataRange.lowerBound)..<(dataOffset + info.dataRange.upperBound)
    }

    /// XXH3 of the 8-byte length and the header: identifies a shard's layout cheaply, without
    /// reading tensor data.
    package var headerFingerprint: UInt64 {
        XXH3Hasher.hash(UnsafeRawBufferPointer(rebasing: mapping.bytes[0..<dataOffset]))
    }
}
