import Quants

/// The plan of a GGUF v3 file before any tensor data exists: the header bytes (metadata and tensor
/// infos), each tensor's offset, the total size. A pure value: printable, testable without I/O, and
/// deterministic (metadata and tensors keep the caller's order).
///
/// Layout rules are llama.cpp's (`ggml/src/gguf.cpp`): little-endian; strings are a u64 length and
/// UTF-8 bytes; tensor dimensions in ggml order (ne0 = the contiguous axis); the data section
/// starts at the first multiple of the alignment after the header; tensor i's offset is the sum of
/// the earlier tensors' sizes each padded to the alignment (the loader checks exactly this).
package struct GGUFLayout: Sendable {
    package struct Tensor: Sendable, Equatable {
        package var name: String
        /// ggml order: `dimensions[0]` is the fastest-varying axis (numpy's last).
        package var dimensions: [Int]
        package var type: GGMLType
        package init(name: String, dimensions: [Int], type: GGMLType) {
            self.name = name
            self.dimensions = dimensions
            self.type = type
        }

        /// Bytes of the tensor's data: rows of `dimensions[0]` weights.
        package var byteCount: Int {
            let rows = dimensions.dropFirst().reduce(1, *)
            return type.rowBytes(dimensions.first ?? 1)! * rows
        }
    }

    package static let magic: [UInt8] = Array("GGUF".utf8)
    package static let version: UInt32 = 3
    package static let defaultAlignment = 32
    package static let alignmentKey = GGUFKey.alignment

    package let metadata: [(key: String, value: GGUFValue)]
    package let tensors: [Tensor]
    package let alignment: Int
    /// Offsets relative to the start of the data section.
    package let tensorOffsets: [Int]
    package let headerBytes: [UInt8]
    /// Absolute file offset of the data section (header padded to the alignment).
    package let dataOffset: Int
    package let fileSize: Int

    package enum PlanError: Error, CustomStringConvertible, Sendable, Equatable {
        case badAlignment(Int)
        case badShape(tensor: String, dimensions: [Int], type: GGMLType)
        case nameTooLong(String)
        case duplicateKey(String)
        case duplicateTensor(String)

        package var description: String {
            switch self {
            case .badAlignment(let value): "general.alignment \(value) is not a power of two"
            case .badShape(let tensor, let dimensions, let type):
                "tensor '\(tensor)': dimensions \(dimensions) do not fit \(type.name) (1 to 4 positive dimensions, the first a multiple of \(type.blockGeometry.weights))"
            case .nameTooLong(let name): "tensor name '\(name)' is longer than 63 bytes (GGML_MAX_NAME)"
            case .duplicateKey(let key): "metadata key '\(key)' appears twice"
            case .duplicateTensor(let name): "tensor '\(name)' appears twice"
            }
        }
    }

    package init(metadata: [(key: String, value: GGUFValue)], tensors: [Tensor]) throws(PlanError) {
        var seenKeys = Set<String>()
        var alignment = Self.defaultAlignment
        for (key, value) in metadata {
            guard seenKeys.insert(key).inserted else { throw .duplicateKey(key) }
            if key == Self.alignmentKey {
                guard case .uint32(let a) = value, a > 0, a & (a - 1) == 0 else {
                    if case .uint32(let a) = value { throw .badAlignment(Int(a)) }
                    throw .badAlignment(-1)
                }
                alignment = Int(a)
            }
        }
        var seenTensors = Set<String>()
        for tensor in tensors {
            guard seenTensors.insert(tensor.name).inserted else { throw .duplicateTensor(tensor.name) }
            guard tensor.name.utf8.count < 64 else { throw .nameTooLong(tensor.name) }
            guard (1...4).contains(tensor.dimensions.count), tensor.dimensions.allSatisfy({ $0 > 0 }),
                tensor.type.rowBytes(tensor.dimensions[0]) != nil
            else { throw .badShape(tensor: tensor.name, dimensions: tensor.dimensions, type: tensor.type) }
        }
        self.metadata = metadata
        self.tensors = tensors
        self.alignment = alignment

        var bytes = GGUFByteWriter()
        bytes.append(Self.magic)
        bytes.append(Self.version)
        bytes.append(UInt64(tensors.count))
        bytes.append(UInt64(metadata.count))
        for (key, value) in metadata {
            bytes.append(string: key)
            bytes.append(value.kind.rawValue)
            bytes.append(value: value)
        }
        var offsets: [Int] = []
        var offset = 0
        for tensor in tensors {
            bytes.append(string: tensor.name)
            bytes.append(UInt32(tensor.dimensions.count))
            for dimension in tensor.dimensions { bytes.append(UInt64(dimension)) }
            bytes.append(tensor.type.rawValue)
            bytes.append(UInt64(offset))
            offsets.append(offset)
            offset += Self.padded(tensor.byteCount, to: alignment)
        }
        tensorOffsets = offsets
        headerBytes = bytes.bytes
        dataOffset = Self.padded(bytes.bytes.count, to: alignment)
        // The last tensor is padded too (gguf-py and llama-quantize write that padding).
        fileSize = dataOffset + offset
    }

    package static func padded(_ value: Int, to alignment: Int) -> Int { (value + alignment - 1) / alignment * alignment }

    /// Absolute file range of tensor `index`'s data (without padding).
    package func fileRange(of index: Int) -> Range<Int> {
        let start = dataOffset + tensorOffsets[index]
        return start..<(start + tensors[index].byteCount)
    }
}

/// Little-endian serialization of GGUF fields.
struct GGUFByteWriter {
    var bytes: [UInt8] = []

    mutating func append(_ raw: [UInt8]) { bytes += raw }
    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }
    mutating func append(string: String) {
        let utf8 = Array(string.utf8)
        append(UInt64(utf8.count))
        bytes += utf8
    }
    mutating func append(value: GGUFValue) {
        switch value {
        case .uint8(let v): append(v)
        case .int8(let v): append(v)
        case .uint16(let v): append(v)
        case .int16(let v): append(v)
        case .uint32(let v): append(v)
        case .int32(let v): append(v)
        case .float32(let v): append(v.bitPattern)
        case .bool(let v): append(UInt8(v ? 1 : 0))
        case .string(let v): append(string: v)
        case .uint64(let v): append(v)
        case .int64(let v): append(v)
        case .float64(let v): append(v.bitPattern)
        case .array(let array):
            append(array.elementKind.rawValue)
            append(UInt64(array.count))
            switch array {
            case .uint8(let a): bytes += a
            case .int8(let a): a.forEach { append($0) }
            case .uint16(let a): a.forEach { append($0) }
            case .int16(let a): a.forEach { append($0) }
            case .uint32(let a): a.forEach { append($0) }
            case .int32(let a): a.forEach { append($0) }
            case .float32(let a): a.forEach { append($0.bitPattern) }
            case .bool(let a): a.forEach { append(UInt8($0 ? 1 : 0)) }
            case .string(let a): a.forEach { append(string: $0) }
            case .uint64(let a): a.forEach { append($0) }
            case .int64(let a): a.forEach { append($0) }
            case .float64(let a): a.forEach { append($0.bitPattern) }
            }
        }
    }
}
