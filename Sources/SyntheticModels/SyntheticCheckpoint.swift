import Conversion
import DeepSeekV3
import Foundation
import Quants
import TensorFiles

/// Writes a deterministic DeepSeek-V3-architecture FP8 checkpoint with the release's on-disk
/// conventions: tensor names and dtypes from `CheckpointLayout` (FP8 E4M3 linear weights with
/// F32 `_scale_inv` grids, BF16 embeddings/norms/router, F32 router bias, the MTP layer), several
/// shards named like R1's (`model-00001-of-000163.safetensors`), the index, `config.json`,
/// `tokenizer.json` and `tokenizer_config.json`.
///
/// Weights are heavy-tailed with a few outlier input channels and per-row gains, and each 128x128
/// block is quantized as DeepSeek's are: scale = block amax / 448, code = E4M3(x / scale).
/// The same preset and seed give byte-identical files on any machine and thread count.
package struct SyntheticCheckpoint {
    package let preset: SyntheticPreset
    package let seed: UInt64
    package let threads: Int

    package init(preset: SyntheticPreset, seed: UInt64 = 0, threads: Int = availableCoreCount) {
        self.preset = preset
        self.seed = seed
        self.threads = threads
    }

    package static let tokenizerMerges = 640

    /// The preset's checkpoint under `cache/synthetic-PRESET`, written the first time it is asked for
    /// (benchmarks reuse it across runs).
    package static func cached(_ preset: SyntheticPreset, in cache: String, threads: Int, log: (String) -> Void) throws -> String {
        let directory = cache + "/synthetic-\(preset.rawValue)"
        if !FileManager.default.fileExists(atPath: directory + "/" + Checkpoint.indexFileName) {
            log("generating the \(preset.rawValue) checkpoint in \(directory) (once)")
            try SyntheticCheckpoint(preset: preset, threads: threads).write(to: directory, progress: .quiet)
        }
        return directory
    }

    /// Writes the checkpoint into `directory` (created if needed). Returns the bytes of tensor data.
    @discardableResult
    package func write(to directory: String, progress: ProgressReporter.Style = .automatic) throws -> Int {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = preset.config
        let layout = CheckpointLayout(config: config)
        let shards = Self.assignShards(layout.tensors, count: preset.shardCount)
        let reporter = ProgressReporter(label: "synth \(preset.rawValue)", totalBytes: layout.storedBytes, style: progress)

        var weightMap: [(String, String)] = []
        for (number, tensors) in shards.enumerated() {
            let name = String(format: "model-%05d-of-%06d.safetensors", number + 1, shards.count)
            try writeShard(tensors, to: directory + "/" + name, blockSize: layout.blockSize, progress: reporter)
            weightMap += tensors.map { ($0.name, name) }
        }
        reporter.finish()

        let index =
            "{\n  \"metadata\": {\n    \"total_size\": \(layout.storedBytes)\n  },\n  \"weight_map\": {\n"
            + weightMap.sorted { $0.0 < $1.0 }.map { "    \(jsonText($0.0)): \(jsonText($0.1))" }.joined(separator: ",\n")
            + "\n  }\n}\n"
        try AtomicOutputFile.write(Array(index.utf8), to: directory + "/" + Checkpoint.indexFileName)
        try AtomicOutputFile.write(Array(preset.configJSON.utf8), to: directory + "/config.json")
        let tokenizer = SyntheticTokenizer(mergeCount: Self.tokenizerMerges)
        try AtomicOutputFile.write(Array(tokenizer.tokenizerJSON().utf8), to: directory + "/tokenizer.json")
        try AtomicOutputFile.write(Array(tokenizer.tokenizerConfigJSON().utf8), to: directory + "/tokenizer_config.json")
        return layout.storedBytes
    }

    /// Splits the layout into `count` runs of roughly equal bytes, never separating a weight from
    /// its scale grid (the grid always follows its weight).
    static func assignShards(_ tensors: [CheckpointLayout.Tensor], count: Int) -> [[CheckpointLayout.Tensor]] {
        let total = tensors.reduce(0) { $0 + $1.storedBytes }
        var shards: [[CheckpointLayout.Tensor]] = [[]]
        var bytesSoFar = 0
        for tensor in tensors {
            let target = total * shards.count / count
            if tensor.storage != .scaleInverse && bytesSoFar >= target && shards.count < count && !shards[shards.count - 1].isEmpty {
                shards.append([])
            }
            shards[shards.count - 1].append(tensor)
            bytesSoFar += tensor.storedBytes
        }
        return shards
    }

    // MARK: - Shard

    private func writeShard(
        _ tensors: [CheckpointLayout.Tensor], to path: String, blockSize: Int, progress: ProgressReporter
    ) throws {
        let entries = tensors.map { tensor in
            SafetensorsLayout.Entry(name: tensor.name, dtype: Self.dtype(of: tensor.storage), shape: tensor.shape)
        }
        let layout = SafetensorsLayout(entries: entries, metadata: [("format", "pt")])
        let file = try AtomicOutputFile(path: path)
        try file.reserve(size: layout.fileSize)
        try file.write(layout.headerBytes, at: 0)
        var pendingScales: [Float] = []
        for (index, tensor) in tensors.enumerated() {
            let offset = layout.fileRange(of: index).lowerBound
            switch tensor.storage {
            case .fp8Linear:
                pendingScales = try writeFP8(tensor, blockSize: blockSize, to: file, at: offset, progress: progress)
            case .scaleInverse:
                try pendingScales.withUnsafeBytes { bytes in try file.write(bytes, at: offset) }
                progress.advance(by: tensor.storedBytes)
            case .bf16, .f32:
                try writeDense(tensor, to: file, at: offset, progress: progress)
            }
        }
        try file.commit()
    }

    static func dtype(of storage: CheckpointLayout.Storage) -> SafetensorsDType {
        switch storage {
        case .fp8Linear: .f8E4M3
        case .scaleInverse, .f32: .f32
        case .bf16: .bf16
        }
    }

    /// Generates a `[rows, columns]` weight stripe by stripe (one 128-row block row each), in
    /// parallel, writes its FP8 codes, and returns its scale grid.
    private func writeFP8(
        _ tensor: CheckpointLayout.Tensor, blockSize: Int, to file: AtomicOutputFile, at offset: Int,
        progress: ProgressReporter
    ) throws -> [Float] {
        let rows = tensor.shape[0], columns = tensor.shape[1]
        let grid = FP8BlockDequant.scaleGridShape(rows: rows, columns: columns, blockSize: blockSize)
        var scales = [Float](repeating: 0, count: grid.rows * grid.columns)
        let tensorSeed = SplitMix64.derive(seed, tensor.name)
        let gain = Self.gain(of: tensor.name)
        let stripesPerBatch = max(1, threads * 2)
        let codes = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: stripesPerBatch * blockSize * columns)
        let values = UnsafeMutableBufferPointer<Float>.allocate(capacity: stripesPerBatch * blockSize * columns)
        defer {
            codes.deallocate()
            values.deallocate()
        }
        let codePointer = SendablePointer(codes.baseAddress!)
        let valuePointer = SendablePointer(values.baseAddress!)
        var stripe = 0
        while stripe < grid.rows {
            let batch = min(stripesPerBatch, grid.rows - stripe)
            let first = stripe
            scales.withUnsafeMutableBufferPointer { scaleBuffer in
                let scalePointer = SendablePointer(scaleBuffer.baseAddress!)
                parallelFor(batch, threads: threads) { range in
                    for local in range {
                        let blockRow = first + local
                        let rowStart = blockRow * blockSize
                        let rowCount = min(blockSize, rows - rowStart)
                        let stripeValues = valuePointer.pointer + local * blockSize * columns
                        let stripeCodes = codePointer.pointer + local * blockSize * columns
                        Self.fillLinear(
                            stripeValues, rows: rowStart..<(rowStart + rowCount), columns: columns,
                            tensorSeed: tensorSeed, gain: gain)
                        for blockColumn in 0..<grid.columns {
                            let columnStart = blockColumn * blockSize
                            let columnCount = min(blockSize, columns - columnStart)
                            var amax: Float = 0
                            for r in 0..<rowCount {
                                for c in columnStart..<(columnStart + columnCount) {
                                    amax = max(amax, stripeValues[r * columns + c].magnitude)
                                }
                            }
                            let scale = amax > 0 ? amax / Float8E4M3.maxFinite : 1
                            scalePointer.pointer[blockRow * grid.columns + blockColumn] = scale
                            for r in 0..<rowCount {
                                for c in columnStart..<(columnStart + columnCount) {
                                    stripeCodes[r * columns + c] = Float8E4M3.encode(stripeValues[r * columns + c] / scale)
                                }
                            }
                        }
                    }
                }
            }
            let rowStart = stripe * blockSize
            let rowCount = min(batch * blockSize, rows - rowStart)
            try file.write(
                UnsafeRawBufferPointer(start: codes.baseAddress!, count: rowCount * columns), at: offset + rowStart * columns)
            progress.advance(by: rowCount * columns)
            stripe += batch
        }
        return scales
    }

    /// Output gain of a linear weight. Projections that write into the residual stream (`o_proj`,
    /// `down_proj`) get 0.2, as trained networks keep each block's update small against the stream
    /// (GPT-2-style scaled init): without it every layer overwrites the stream and the random model
    /// becomes chaotic, so that even Q8_0 rounding flips its predictions, which no real checkpoint does.
    static func gain(of name: String) -> Float {
        name.hasSuffix("o_proj.weight") || name.hasSuffix("down_proj.weight") ? 0.2 : 1
    }

    /// Heavy-tailed values with per-row gains and ~1% outlier input channels (6x), scaled so a
    /// unit-RMS input gives an output of RMS `gain`.
    static func fillLinear(_ output: UnsafeMutablePointer<Float>, rows: Range<Int>, columns: Int, tensorSeed: UInt64, gain: Float = 1) {
        let sigma = gain / Float(columns).squareRoot()
        for (local, row) in rows.enumerated() {
            var random = SplitMix64(seed: SplitMix64.derive(tensorSeed, "row", row))
            let rowGain = 0.6 + 0.8 * random.unit()
            let line = output + local * columns
            for column in 0..<columns {
                let outlier = (UInt64(column) &* 0x9E37_79B9_7F4A_7C15 ^ tensorSeed) >> 57 == 0
                line[column] = random.heavyTailedSample() * sigma * rowGain * (outlier ? 6 : 1)
            }
        }
    }

    /// BF16/F32 tensors: norms near 1, router bias near 0, everything else heavy-tailed.
    private func writeDense(
        _ tensor: CheckpointLayout.Tensor, to file: AtomicOutputFile, at offset: Int, progress: ProgressReporter
    ) throws {
        let columns = tensor.shape.count == 2 ? tensor.shape[1] : tensor.shape[0]
        let rows = tensor.shape.count == 2 ? tensor.shape[0] : 1
        let width = tensor.storage == .f32 ? 4 : 2
        let tensorSeed = SplitMix64.derive(seed, tensor.name)
        let rowsPerChunk = max(1, (4 << 20) / (columns * width))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: rowsPerChunk * columns * width, alignment: 16)
        defer { buffer.deallocate() }
        let pointer = SendableMutableRawPointer(buffer.baseAddress!)
        let role = tensor.role
        let isF32 = tensor.storage == .f32
        var row = 0
        while row < rows {
            let count = min(rowsPerChunk, rows - row)
            let first = row
            parallelFor(count, threads: threads, minimumPerThread: 16) { range in
                for local in range {
                    var random = SplitMix64(seed: SplitMix64.derive(tensorSeed, "row", first + local))
                    for column in 0..<columns {
                        let value: Float
                        switch role {
                        case .norm: value = 0.8 + 0.4 * random.unit()
                        case .router: value = isF32 ? 0.02 * random.heavyTailedSample() : random.heavyTailedSample() / Float(columns).squareRoot()
                        // Unit-RMS embeddings start the residual stream at the scale the blocks expect.
                        case .embedding: value = random.heavyTailedSample()
                        default: value = random.heavyTailedSample() / Float(columns).squareRoot()
                        }
                        let index = local * columns + column
                        if isF32 {
                            pointer.pointer.storeBytes(of: value, toByteOffset: index * 4, as: Float.self)
                        } else {
                            pointer.pointer.storeBytes(of: BFloat16.fromFloat(value), toByteOffset: index * 2, as: UInt16.self)
                        }
                    }
                }
            }
            let bytes = count * columns * width
            try file.write(UnsafeRawBufferPointer(start: buffer.baseAddress!, count: bytes), at: offset + row * columns * width)
            progress.advance(by: bytes)
            row += count
        }
    }
}
