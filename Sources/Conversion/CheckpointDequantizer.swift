import DeepSeekV3
import Foundation
import Quants
import Synchronization
import TensorFiles

/// Turns an FP8 checkpoint into a standard BF16/F16/F32 Hugging Face checkpoint, what DeepSeek's
/// `fp8_cast_bf16.py` does, but streaming, parallel, atomic and resumable:
///
/// - the same shard files, each FP8 weight dequantized with its `_scale_inv` (which is dropped),
///   every other tensor copied byte for byte;
/// - memory bounded by one row chunk per shard, whatever the tensor or model size;
/// - each shard written to a temporary name, fsynced and renamed; its `__metadata__` records the
///   source shard's header hash and an XXH3 of its data, so a rerun verifies finished shards
///   and skips them;
/// - then `model.safetensors.index.json` with the new `total_size`, `config.json` without
///   `quantization_config`, and every other file of the input directory.
package final class CheckpointDequantizer {
    package struct Options: Sendable {
        package var outputType: DenseFloatType = .bf16
        package var threads: Int = availableCoreCount
        /// Output bytes produced per parallel step.
        package var chunkBytes: Int = 4 << 20
        package var progress: ProgressReporter.Style = .automatic
        package init() {}
    }

    package struct Summary: Sendable {
        package var shardsWritten = 0
        package var shardsSkipped = 0
        package var tensorsDequantized = 0
        package var tensorsCopied = 0
        package var inputBytes = 0
        package var outputBytes = 0
        package var seconds = 0.0
    }

    /// `__metadata__` format version of moepack's outputs; bump when what is written changes.
    static let formatVersion = "1"

    package let inputDirectory: String
    package let outputDirectory: String
    package let options: Options

    package init(input: String, output: String, options: Options) {
        inputDirectory = input
        outputDirectory = output
        self.options = options
    }

    package func run() throws -> Summary {
        let started = Date()
        let inputURL = URL(fileURLWithPath: inputDirectory).standardizedFileURL
        let outputURL = URL(fileURLWithPath: outputDirectory).standardizedFileURL
        guard inputURL.resolvingSymlinksInPath() != outputURL.resolvingSymlinksInPath() else {
            throw ConversionError.outputIsInput(path: outputDirectory)
        }
        let configPath = inputDirectory + "/config.json"
        let config = try DeepSeekV3Config.load(path: configPath)
        let checkpoint = try Checkpoint(directory: inputDirectory)
        try ConversionError.requireValidLayout(config: config, checkpoint: checkpoint, directory: inputDirectory)
        let reader = CheckpointRows(checkpoint: checkpoint, blockSize: config.weightBlockSize?.rows ?? 128)
        try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)

        let plans = try checkpoint.shards.map { try ShardPlan(shard: $0, checkpoint: checkpoint, outputType: options.outputType) }
        let progress = ProgressReporter(
            label: "dequant", totalBytes: plans.reduce(0) { $0 + $1.inputBytes }, style: options.progress)
        // A step handles whole rows, so a buffer holds at least the widest output row.
        let widestRow = plans.flatMap(\.entries).filter { $0.scaleName != nil }
            .map { $0.source.shape[1] * options.outputType.byteWidth }.max() ?? 0
        let writer = OrderedWriter(bufferBytes: max(options.chunkBytes, widestRow))
        var summary = Summary()
        var weightMap: [(String, String)] = []
        for plan in plans {
            let shardName = fileName(plan.shard.path)
            let destination = outputDirectory + "/" + shardName
            if try isComplete(destination, plan: plan) {
                summary.shardsSkipped += 1
                progress.advance(by: plan.inputBytes, note: "\(shardName) verified, skipped")
            } else {
                try write(plan, to: destination, reader: reader, progress: progress, writer: writer)
                summary.shardsWritten += 1
            }
            summary.tensorsDequantized += plan.entries.filter { $0.scaleName != nil }.count
            summary.tensorsCopied += plan.entries.filter { $0.scaleName == nil }.count
            summary.inputBytes += plan.inputBytes
            summary.outputBytes += plan.layout.dataSize
            weightMap += plan.entries.map { ($0.name, shardName) }
        }
        progress.finish()

        if checkpoint.indexPath != nil {
            try writeIndex(weightMap: weightMap, totalSize: summary.outputBytes)
        }
        try writeConfig(from: configPath)
        try copyOtherFiles()
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    // MARK: - Plan

    /// One output shard: its entries, where each comes from, and the header to write.
    struct ShardPlan {
        struct Entry {
            var name: String
            var source: SafetensorsTensorInfo
            /// The companion scale grid for an FP8 weight; nil for a tensor copied as is.
            var scaleName: String?
            var outputDType: SafetensorsDType
        }
        let shard: SafetensorsFile
        let entries: [Entry]
        let layout: SafetensorsLayout
        let inputBytes: Int
        let sourceFingerprint: String
        let outputType: DenseFloatType

        init(shard: SafetensorsFile, checkpoint: Checkpoint, outputType: DenseFloatType) throws {
            self.shard = shard
            var entries: [Entry] = []
            var inputBytes = 0
            for info in shard.tensors {
                inputBytes += info.byteCount
                if info.name.hasSuffix("_scale_inv"),
                    let weight = checkpoint.info(String(info.name.dropLast("_scale_inv".count))),
                    weight.dtype.fp8Encoding != nil
                {
                    continue
                }
                if info.dtype.fp8Encoding != nil {
                    let scaleName = info.name + "_scale_inv"
                    guard checkpoint.contains(scaleName) else {
                        throw ConversionError.unsupportedTensor(
                            file: shard.path, tensor: info.name, detail: "FP8 weight without '\(scaleName)'")
                    }
                    guard info.shape.count == 2 else {
                        throw ConversionError.unsupportedTensor(
                            file: shard.path, tensor: info.name, detail: "FP8 weight of rank \(info.shape.count); only 2-D weights have block scales")
                    }
                    entries.append(Entry(name: info.name, source: info, scaleName: scaleName, outputDType: SafetensorsDType(outputType)))
                } else {
                    entries.append(Entry(name: info.name, source: info, scaleName: nil, outputDType: info.dtype))
                }
            }
            self.entries = entries
            self.inputBytes = inputBytes
            self.outputType = outputType
            sourceFingerprint = XXH3Hasher.hex(shard.headerFingerprint)
            layout = SafetensorsLayout(
                entries: entries.map { .init(name: $0.name, dtype: $0.outputDType, shape: $0.source.shape) },
                metadata: Self.metadata(source: fileName(shard.path), fingerprint: sourceFingerprint, outputType: outputType, dataHash: 0))
        }

        static func metadata(source: String, fingerprint: String, outputType: DenseFloatType, dataHash: UInt64)
            -> [(key: String, value: String)]
        {
            [
                ("format", "pt"),
                ("moepack.format_version", CheckpointDequantizer.formatVersion),
                ("moepack.source", source),
                ("moepack.source_header_xxh3", fingerprint),
                ("moepack.dtype", outputType.rawValue),
                ("moepack.data_xxh3", XXH3Hasher.hex(dataHash)),
            ]
        }

        func finalLayout(dataHash: UInt64) -> SafetensorsLayout {
            SafetensorsLayout(
                entries: layout.entries,
                metadata: Self.metadata(
                    source: fileName(shard.path), fingerprint: sourceFingerprint,
                    outputType: outputType, dataHash: dataHash))
        }
    }

    // MARK: - Resume

    /// True when `path` is a finished output of exactly this plan whose data still hashes to
    /// the checksum stored in its header.
    func isComplete(_ path: String, plan: ShardPlan) throws -> Bool {
        guard FileManager.default.fileExists(atPath: path),
            let existing = try? SafetensorsFile(path: path),
            let metadata = existing.metadata
        else { return false }
        for (key, value) in plan.layout.metadata where key != "moepack.data_xxh3" {
            if metadata[key] != value { return false }
        }
        let expectedEntries = plan.layout.entries
        guard existing.tensors.count == expectedEntries.count else { return false }
        for (info, entry) in zip(existing.tensors, expectedEntries)
        where info.name != entry.name || info.dtype != entry.dtype || info.shape != entry.shape {
            return false
        }
        guard let stored = metadata["moepack.data_xxh3"] else { return false }
        let hash = existing.mapping.xxh3(of: existing.dataOffset..<existing.mapping.size)
        return XXH3Hasher.hex(hash) == stored
    }

    // MARK: - Write

    private func write(
        _ plan: ShardPlan, to destination: String, reader: CheckpointRows, progress: ProgressReporter, writer: OrderedWriter
    ) throws {
        let output = try AtomicOutputFile(path: destination)
        try output.reserve(size: plan.layout.fileSize)
        plan.shard.mapping.advise(.sequential)
        writer.begin(file: output)
        let shard = plan.shard
        do {
            for (index, entry) in plan.entries.enumerated() {
                let source = shard.bytes(of: entry.source)
                let sourceRange = shard.fileRange(of: entry.source)
                var writeOffset = plan.layout.fileRange(of: index).lowerBound
                if entry.scaleName != nil {
                    let tensor: CheckpointTensor
                    do throws(CheckpointReadError) { tensor = try reader.open(entry.name) } catch { throw ConversionError(error) }
                    let columns = entry.source.shape[1]
                    let rowBytes = columns * options.outputType.byteWidth
                    var row = 0
                    while row < entry.source.shape[0] {
                        let (bufferIndex, buffer) = try writer.buffer()
                        let rows = min(buffer.count / rowBytes, entry.source.shape[0] - row)
                        try dequantizeRows(
                            row..<(row + rows), of: tensor, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(rows * rowBytes)]))
                        writer.write(buffer: bufferIndex, count: rows * rowBytes, at: writeOffset)
                        writeOffset += rows * rowBytes
                        row += rows
                        // Input pages already used are dropped from this process's mapping, so
                        // resident memory stays at the chunk buffers whatever the shard size.
                        shard.mapping.advise(.dontNeed, range: sourceRange.lowerBound..<(sourceRange.lowerBound + row * columns))
                        progress.advance(by: rows * columns)
                    }
                } else {
                    let name = entry.name, dtype = entry.source.dtype, shape = entry.source.shape, path = shard.path
                    let mapping = shard.mapping
                    var offset = 0
                    while offset < source.count {
                        let count = min(options.chunkBytes, source.count - offset)
                        let elementOffset = offset / dtype.byteWidth
                        let consumed = sourceRange.lowerBound..<(sourceRange.lowerBound + offset + count)
                        writer.write(
                            UnsafeRawBufferPointer(rebasing: source[offset..<(offset + count)]), at: writeOffset,
                            check: { piece in
                                if let problem = CheckpointRows.firstNonFinite(piece, dtype: dtype, elementOffset: elementOffset) {
                                    throw ConversionError.badValue(
                                        file: path, tensor: name, problem: shape.count == 2 ? problem.located(columns: shape[1]) : problem)
                                }
                            },
                            then: {
                                mapping.advise(.dontNeed, range: consumed)
                                progress.advance(by: count)
                            })
                        writeOffset += count
                        offset += count
                    }
                }
            }
        } catch {
            writer.fail(error)
            _ = try? writer.finish()
            throw error
        }
        let header = plan.finalLayout(dataHash: try writer.finish()).headerBytes
        precondition(header.count == plan.layout.headerBytes.count, "fixed-width hash keeps the header length")
        try output.write(header, at: 0)
        try output.commit()
        shard.mapping.advise(.dontNeed)
    }

    /// Rows of an FP8 weight dequantized in parallel; the first bad value in row order is reported.
    private func dequantizeRows(_ rows: Range<Int>, of tensor: CheckpointTensor, into output: UnsafeMutableRawBufferPointer) throws {
        let outputType = options.outputType
        let rowBytes = tensor.shape.columns * outputType.byteWidth
        let destination = SendableMutableRawPointer(output.baseAddress!)
        let firstProblem = Mutex<CheckpointReadError?>(nil)
        let base = rows.lowerBound
        parallelFor(rows.count, threads: options.threads, minimumPerThread: 8) { range in
            do throws(CheckpointReadError) {
                try tensor.read(
                    rows: (base + range.lowerBound)..<(base + range.upperBound), into: destination.pointer + range.lowerBound * rowBytes,
                    as: outputType)
            } catch {
                firstProblem.withLock { current in
                    guard case .value(let problem) = error.kind, let earlier = current, case .value(let other) = earlier.kind else {
                        if current == nil { current = error }
                        return
                    }
                    if (problem.row, problem.column) < (other.row, other.column) { current = error }
                }
            }
        }
        if let error = firstProblem.withLock({ $0 }) { throw ConversionError(error) }
    }

    // MARK: - Index, config, other files

    private func writeIndex(weightMap: [(String, String)], totalSize: Int) throws {
        let map = weightMap.sorted { $0.0 < $1.0 }
        var json = "{\n  \"metadata\": {\n    \"total_size\": \(totalSize)\n  },\n  \"weight_map\": {\n"
        json += map.map { "    \(jsonText($0.0)): \(jsonText($0.1))" }.joined(separator: ",\n")
        json += "\n  }\n}\n"
        try AtomicOutputFile.write(Array(json.utf8), to: outputDirectory + "/" + Checkpoint.indexFileName)
    }

    private func writeConfig(from path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard var object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return }
        object.removeValue(forKey: "quantization_config")
        object["torch_dtype"] =
            switch options.outputType {
            case .bf16: "bfloat16"
            case .f16: "float16"
            case .f32: "float32"
            }
        let text = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try AtomicOutputFile.write(Array(text) + [0x0A], to: outputDirectory + "/config.json")
    }

    private func copyOtherFiles() throws {
        let fileManager = FileManager.default
        for name in try fileManager.contentsOfDirectory(atPath: inputDirectory).sorted() {
            if name.hasPrefix(".") || name.hasSuffix(".safetensors") || name == Checkpoint.indexFileName || name == "config.json" {
                continue
            }
            var isDirectory: ObjCBool = false
            let path = inputDirectory + "/" + name
            guard fileManager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let source = try MappedFile(path: path)
            let destination = try AtomicOutputFile(path: outputDirectory + "/" + name)
            try destination.write(source.bytes, at: 0)
            try destination.commit()
        }
    }
}
