/// Everything that can be wrong with a safetensors file or a sharded checkpoint. Each case renders
/// as one line naming the file and, where there is one, the tensor.
package enum SafetensorsError: Error, CustomStringConvertible, Sendable {
    case fileTooSmall(file: String, size: Int)
    case headerTooLarge(file: String, length: UInt64)
    case headerBeyondFile(file: String, length: UInt64, fileSize: Int)
    case headerNotUTF8(file: String)
    case headerNotJSON(file: String, detail: String)
    case headerNotObject(file: String)
    case badMetadata(file: String, detail: String)
    case badEntry(file: String, tensor: String, detail: String)
    case unknownDType(file: String, tensor: String, dtype: String)
    case sizeOverflow(file: String, tensor: String)
    case byteCountMismatch(file: String, tensor: String, shape: [Int], dtype: SafetensorsDType, declared: Int)
    case offsetsNotContiguous(file: String, tensor: String, expectedStart: Int, actualStart: Int)
    case dataSizeMismatch(file: String, declaredEnd: Int, actualSize: Int, lastTensor: String?)
    case tensorNotFound(file: String, tensor: String)
    case badIndex(file: String, detail: String)
    case shardMissing(index: String, shard: String)
    case indexEntryMissingFromShard(index: String, tensor: String, shard: String)
    case tensorNotInIndex(index: String, tensor: String, shard: String)
    case duplicateTensor(tensor: String, firstShard: String, secondShard: String)
    case noCheckpoint(path: String)

    package var description: String {
        switch self {
        case .fileTooSmall(let file, let size):
            "\(file): not a safetensors file: \(size) bytes, shorter than the 8-byte header length"
        case .headerTooLarge(let file, let length):
            "\(file): header length \(length) exceeds the 100,000,000-byte limit (corrupt header?)"
        case .headerBeyondFile(let file, let length, let fileSize):
            "\(file): header claims \(length) bytes but the file has only \(fileSize) (truncated or corrupt)"
        case .headerNotUTF8(let file):
            "\(file): header is not valid UTF-8"
        case .headerNotJSON(let file, let detail):
            "\(file): header is not valid JSON: \(detail)"
        case .headerNotObject(let file):
            "\(file): header is not a JSON object"
        case .badMetadata(let file, let detail):
            "\(file): __metadata__ \(detail)"
        case .badEntry(let file, let tensor, let detail):
            "\(file): tensor '\(tensor)': \(detail)"
        case .unknownDType(let file, let tensor, let dtype):
            "\(file): tensor '\(tensor)': unknown dtype '\(dtype)'"
        case .sizeOverflow(let file, let tensor):
            "\(file): tensor '\(tensor)': shape × element size overflows"
        case .byteCountMismatch(let file, let tensor, let shape, let dtype, let declared):
            "\(file): tensor '\(tensor)': shape \(shape) of \(dtype.rawValue) needs "
                + "\(shape.reduce(1, *) * dtype.byteWidth) bytes but its data_offsets span \(declared)"
        case .offsetsNotContiguous(let file, let tensor, let expectedStart, let actualStart):
            actualStart < expectedStart
                ? "\(file): tensor '\(tensor)': data starts at \(actualStart), overlapping the previous tensor (ends at \(expectedStart))"
                : "\(file): tensor '\(tensor)': data starts at \(actualStart), leaving a gap after the previous tensor (ends at \(expectedStart))"
        case .dataSizeMismatch(let file, let declaredEnd, let actualSize, let lastTensor):
            actualSize < declaredEnd
                ? "\(file): truncated: tensor data needs \(declaredEnd) bytes but only \(actualSize) are present"
                    + (lastTensor.map { " (tensor '\($0)' is cut off)" } ?? "")
                : "\(file): \(actualSize - declaredEnd) bytes of data after the last tensor (header and data disagree)"
        case .tensorNotFound(let file, let tensor):
            "\(file): no tensor named '\(tensor)'"
        case .badIndex(let file, let detail):
            "\(file): \(detail)"
        case .shardMissing(let index, let shard):
            "\(index): shard '\(shard)' listed in weight_map does not exist"
        case .indexEntryMissingFromShard(let index, let tensor, let shard):
            "\(index): tensor '\(tensor)' is mapped to '\(shard)' but that shard has no such tensor"
        case .tensorNotInIndex(let index, let tensor, let shard):
            "\(index): shard '\(shard)' holds tensor '\(tensor)' which weight_map does not list"
        case .duplicateTensor(let tensor, let firstShard, let secondShard):
            "tensor '\(tensor)' appears in both '\(firstShard)' and '\(secondShard)'"
        case .noCheckpoint(let path):
            "\(path): no model.safetensors.index.json, model.safetensors or *.safetensors found"
        }
    }
}
