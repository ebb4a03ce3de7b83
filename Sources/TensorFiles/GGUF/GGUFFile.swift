import Foundation
import Quants

/// A GGUF file, memory-mapped and validated like llama.cpp's `gguf_init_from_file_impl`: magic,
/// version 2 or 3, counts and lengths bounded by the bytes that remain, no nested arrays, no
/// duplicate keys or tensor names, tensor names under 64 bytes, 1–4 non-negative dimensions with
/// overflow-checked sizes, known type ids (unknown ones reported by number), rows of whole blocks,
/// a power-of-two `general.alignment`, tensor offsets exactly sequential and data inside the file.
package final class GGUFFile: @unchecked Sendable {
    package struct TensorInfo: Sendable, Equatable {
        package var name: String
        package var dimensions: [Int]
        package var type: GGMLType
        /// Relative to the data section.
        package var offset: Int
        package var byteCount: Int
    }

    package let path: String
    package let mapping: MappedFile
    package let version: UInt32
    package let metadata: [(key: String, value: GGUFValue)]
    package let tensors: [TensorInfo]
    package let alignment: Int
    package let dataOffset: Int
    private let keyIndex: [String: Int]
    private let tensorIndex: [String: Int]

    package convenience init(path: String) throws {
        try self.init(mapping: MappedFile(path: path))
    }

    package init(mapping: MappedFile) throws(GGUFError) {
        self.mapping = mapping
        path = mapping.path
        var reader = GGUFByteReader(bytes: mapping.bytes, file: path)
        guard mapping.size >= 24 else { throw .tooSmall(file: path, size: mapping.size) }
        let magic = try reader.bytes(4)
        guard magic == GGUFLayout.magic else { throw .badMagic(file: path, found: magic) }
        version = try reader.read(UInt32.self)
        guard version == 2 || version == 3 else { throw .unsupportedVersion(file: path, version: version) }
        let tensorCount = try reader.read(UInt64.self)
        let keyCount = try reader.read(UInt64.self)
        // Each key-value takes at least 8 + 1 + 4 + 1 bytes and each tensor info 8 + 1 + 4 + 8 + 4 + 8.
        guard keyCount <= UInt64(reader.remaining / 14) else { throw .countTooLarge(file: path, what: "metadata entries", count: keyCount) }
        guard tensorCount <= UInt64(reader.remaining / 33) else { throw .countTooLarge(file: path, what: "tensors", count: tensorCount) }

        var metadata: [(key: String, value: GGUFValue)] = []
        var keyIndex: [String: Int] = [:]
        for _ in 0..<keyCount {
            let key = try reader.string()
            guard keyIndex[key] == nil else { throw .duplicateKey(file: path, key: key) }
            let rawKind = try reader.read(UInt32.self)
            guard let kind = GGUFValue.Kind(rawValue: rawKind) else { throw .unknownValueType(file: path, key: key, type: rawKind) }
            keyIndex[key] = metadata.count
            metadata.append((key, try reader.value(kind, key: key)))
        }
        var alignment = GGUFLayout.defaultAlignment
        if let index = keyIndex[GGUFLayout.alignmentKey] {
            guard case .uint32(let value) = metadata[index].value, value > 0, value & (value - 1) == 0 else {
                throw .badAlignment(file: path, value: "\(metadata[index].value)")
            }
            alignment = Int(value)
        }

        var tensors: [TensorInfo] = []
        var tensorIndex: [String: Int] = [:]
        var expectedOffset = 0
        for _ in 0..<tensorCount {
            let name = try reader.string()
            guard name.utf8.count < 64 else { throw .badTensor(file: path, tensor: name, detail: "name longer than 63 bytes") }
            guard tensorIndex[name] == nil else { throw .duplicateTensor(file: path, tensor: name) }
            let dimensionCount = try reader.read(UInt32.self)
            guard (1...4).contains(dimensionCount) else {
                throw .badTensor(file: path, tensor: name, detail: "\(dimensionCount) dimensions (1 to 4 allowed)")
            }
            var dimensions: [Int] = []
            var elements = 1
            for _ in 0..<dimensionCount {
                let raw = try reader.read(Int64.self)
                guard raw >= 0 else { throw .badTensor(file: path, tensor: name, detail: "negative dimension \(raw)") }
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(raw))
                guard !overflow else { throw .badTensor(file: path, tensor: name, detail: "element count overflows") }
                elements = product
                dimensions.append(Int(raw))
            }
            let rawType = try reader.read(UInt32.self)
            guard let type = GGMLType(rawValue: rawType) else { throw .unknownTensorType(file: path, tensor: name, type: rawType) }
            guard dimensions[0] % type.blockGeometry.weights == 0 else {
                throw .badTensor(file: path, tensor: name, detail: "first dimension \(dimensions[0]) is not a multiple of \(type.name)'s block of \(type.blockGeometry.weights)")
            }
            // The row count, the byte count of a row and of the tensor may overflow even when the
            // element count does not (a first dimension of 0), and a tensor cannot exceed the file.
            var rows = 1
            for dimension in dimensions.dropFirst() {
                let (product, overflow) = rows.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw .badTensor(file: path, tensor: name, detail: "row count overflows") }
                rows = product
            }
            guard let rowBytes = type.rowBytes(dimensions[0]) else {
                throw .badTensor(file: path, tensor: name, detail: "row size overflows (first dimension \(dimensions[0]))")
            }
            let (byteCount, overflow) = rowBytes.multipliedReportingOverflow(by: rows)
            guard !overflow else { throw .badTensor(file: path, tensor: name, detail: "byte size overflows") }
            guard byteCount <= mapping.size else {
                throw .badTensor(file: path, tensor: name, detail: "\(byteCount) bytes of data, more than the file's \(mapping.size)")
            }
            let offset = try reader.read(UInt64.self)
            guard offset == UInt64(expectedOffset) else {
                throw .badTensor(file: path, tensor: name, detail: "data offset \(offset), expected \(expectedOffset) (offsets must follow each other, padded to \(alignment))")
            }
            tensorIndex[name] = tensors.count
            tensors.append(TensorInfo(name: name, dimensions: dimensions, type: type, offset: Int(offset), byteCount: byteCount))
            // Both terms are at most the file size, so the sum cannot overflow; past the file, the
            // next tensor's offset check or the truncation check below reports it.
            expectedOffset += GGUFLayout.padded(byteCount, to: alignment)
            guard expectedOffset <= mapping.size else {
                throw .badTensor(file: path, tensor: name, detail: "data would end \(expectedOffset) bytes into the data section, past the end of the \(mapping.size)-byte file")
            }
        }
        dataOffset = GGUFLayout.padded(reader.position, to: alignment)
        if let last = tensors.last, dataOffset + last.offset + last.byteCount > mapping.size {
            throw .truncated(file: path, tensor: last.name, needed: dataOffset + last.offset + last.byteCount, size: mapping.size)
        }
        self.metadata = metadata
        self.tensors = tensors
        self.alignment = alignment
        self.keyIndex = keyIndex
        self.tensorIndex = tensorIndex
    }

    package func value(_ key: String) -> GGUFValue? { keyIndex[key].map { metadata[$0].value } }

    package func tensor(_ name: String) -> TensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The tensor's data inside the mapping; valid while this object is alive.
    package func bytes(of tensor: TensorInfo) -> UnsafeRawBufferPointer {
        let start = dataOffset + tensor.offset
        return UnsafeRawBufferPointer(rebasing: mapping.bytes[start..<(start + tensor.byteCount)])
    }
}

/// A bounds-checked little-endian cursor over untrusted bytes.
struct GGUFByteReader {
    let bytes: UnsafeRawBufferPointer
    let file: String
    var position = 0

    var remaining: Int { bytes.count - position }

    mutating func need(_ count: Int, _ what: String) throws(GGUFError) {
        guard count >= 0, count <= remaining else {
            throw .truncatedHeader(file: file, what: what, offset: position, needed: count, remaining: remaining)
        }
    }

    mutating func bytes(_ count: Int) throws(GGUFError) -> [UInt8] {
        try need(count, "\(count) bytes")
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    mutating func read<T: FixedWidthInteger>(_ type: T.Type) throws(GGUFError) -> T {
        try need(MemoryLayout<T>.size, "\(T.self)")
        defer { position += MemoryLayout<T>.size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    mutating func string() throws(GGUFError) -> String {
        let length = try read(UInt64.self)
        guard length <= UInt64(remaining) else {
            throw .truncatedHeader(file: file, what: "string of \(length) bytes", offset: position, needed: Int(clamping: length), remaining: remaining)
        }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + Int(length))])
        position += Int(length)
        guard let text = String(validating: raw, as: UTF8.self) else { throw .invalidString(file: file, offset: position - Int(length)) }
        return text
    }

    mutating func value(_ kind: GGUFValue.Kind, key: String) throws(GGUFError) -> GGUFValue {
        switch kind {
        case .uint8: return .uint8(try read(UInt8.self))
        case .int8: return .int8(try read(Int8.self))
        case .uint16: return .uint16(try read(UInt16.self))
        case .int16: return .int16(try read(Int16.self))
        case .uint32: return .uint32(try read(UInt32.self))
        case .int32: return .int32(try read(Int32.self))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self)))
        case .bool:
            let raw = try read(UInt8.self)
            guard raw <= 1 else { throw .badValue(file: file, key: key, detail: "bool byte \(raw)") }
            return .bool(raw == 1)
        case .string: return .string(try string())
        case .uint64: return .uint64(try read(UInt64.self))
        case .int64: return .int64(try read(Int64.self))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self)))
        case .array:
            let rawElement = try read(UInt32.self)
            guard let element = GGUFValue.Kind(rawValue: rawElement) else { throw .unknownValueType(file: file, key: key, type: rawElement) }
            guard element != .array else { throw .badValue(file: file, key: key, detail: "nested arrays are not supported") }
            let count = try read(UInt64.self)
            // Every element takes at least one byte (strings at least eight).
            let minimum = element.fixedSize ?? 8
            guard count <= UInt64(remaining / minimum) else {
                throw .badValue(file: file, key: key, detail: "array of \(count) elements does not fit in the remaining \(remaining) bytes")
            }
            let n = Int(count)
            func many<T>(_ one: () throws(GGUFError) -> T) throws(GGUFError) -> [T] {
                var values: [T] = []
                values.reserveCapacity(n)
                for _ in 0..<n { values.append(try one()) }
                return values
            }
            switch element {
            case .uint8: return .array(.uint8(try bytes(n)))
            case .int8: return .array(.int8(try many { () throws(GGUFError) in try read(Int8.self) }))
            case .uint16: return .array(.uint16(try many { () throws(GGUFError) in try read(UInt16.self) }))
            case .int16: return .array(.int16(try many { () throws(GGUFError) in try read(Int16.self) }))
            case .uint32: return .array(.uint32(try many { () throws(GGUFError) in try read(UInt32.self) }))
            case .int32: return .array(.int32(try many { () throws(GGUFError) in try read(Int32.self) }))
            case .float32: return .array(.float32(try many { () throws(GGUFError) in Float(bitPattern: try read(UInt32.self)) }))
            case .bool: return .array(.bool(try many { () throws(GGUFError) in try read(UInt8.self) != 0 }))
            case .string: return .array(.string(try many { () throws(GGUFError) in try string() }))
            case .uint64: return .array(.uint64(try many { () throws(GGUFError) in try read(UInt64.self) }))
            case .int64: return .array(.int64(try many { () throws(GGUFError) in try read(Int64.self) }))
            case .float64: return .array(.float64(try many { () throws(GGUFError) in Double(bitPattern: try read(UInt64.self)) }))
            case .array: fatalError("excluded above")
            }
        }
    }
}

/// Everything that can be wrong with a GGUF file; one line each, naming the file.
package enum GGUFError: Error, CustomStringConvertible, Sendable {
    case tooSmall(file: String, size: Int)
    case badMagic(file: String, found: [UInt8])
    case unsupportedVersion(file: String, version: UInt32)
    case countTooLarge(file: String, what: String, count: UInt64)
    case truncatedHeader(file: String, what: String, offset: Int, needed: Int, remaining: Int)
    case invalidString(file: String, offset: Int)
    case duplicateKey(file: String, key: String)
    case unknownValueType(file: String, key: String, type: UInt32)
    case badValue(file: String, key: String, detail: String)
    case badAlignment(file: String, value: String)
    case duplicateTensor(file: String, tensor: String)
    case badTensor(file: String, tensor: String, detail: String)
    case unknownTensorType(file: String, tensor: String, type: UInt32)
    case truncated(file: String, tensor: String, needed: Int, size: Int)

    package var description: String {
        switch self {
        case .tooSmall(let file, let size): "\(file): \(size) bytes is too small for a GGUF header"
        case .badMagic(let file, let found): "\(file): not a GGUF file (magic \(found.map { String(format: "%02x", $0) }.joined(separator: " ")))"
        case .unsupportedVersion(let file, let version): "\(file): GGUF version \(version) is not supported (2 and 3 are)"
        case .countTooLarge(let file, let what, let count): "\(file): header claims \(count) \(what), more than the file can hold"
        case .truncatedHeader(let file, let what, let offset, let needed, let remaining):
            "\(file): header cut short reading \(what) at offset \(offset): needed \(needed) bytes, only \(remaining) remain"
        case .invalidString(let file, let offset): "\(file): string at offset \(offset) is not valid UTF-8"
        case .duplicateKey(let file, let key): "\(file): metadata key '\(key)' appears twice"
        case .unknownValueType(let file, let key, let type): "\(file): metadata '\(key)' has unknown value type \(type)"
        case .badValue(let file, let key, let detail): "\(file): metadata '\(key)': \(detail)"
        case .badAlignment(let file, let value): "\(file): general.alignment \(value) must be a u32 power of two"
        case .duplicateTensor(let file, let tensor): "\(file): tensor '\(tensor)' appears twice"
        case .badTensor(let file, let tensor, let detail): "\(file): tensor '\(tensor)': \(detail)"
        case .unknownTensorType(let file, let tensor, let type): "\(file): tensor '\(tensor)' has unknown ggml type id \(type)"
        case .truncated(let file, let tensor, let needed, let size):
            "\(file): truncated: tensor '\(tensor)' ends at byte \(needed) but the file has \(size)"
        }
    }
}
