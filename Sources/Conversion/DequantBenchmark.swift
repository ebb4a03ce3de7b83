import DeepSeekV3
import Foundation
import Quants
import TensorFiles

/// `moepack bench dequant`: FP8 -> BF16 throughput and peak memory on synthetic checkpoints,
/// beside two ceilings measured in the same run on the same bytes: a plain memory copy of the
/// input tensors, and a copy of them into a file (what any converter must at least do).
public struct DequantBenchmark {
    public struct Row: Sendable {
        public var preset: SyntheticPreset
        public var inputBytes: Int
        public var fp8Weights: Int
        public var seconds: Double
        public var peakResidentBytes: Int
        public var memcpySeconds: Double
        public var fileCopySeconds: Double
    }

    public let cacheDirectory: String
    public let presets: [SyntheticPreset]
    public let threads: Int
    public let executable: String

    public init(cacheDirectory: String, presets: [SyntheticPreset], threads: Int, executable: String) {
        self.cacheDirectory = cacheDirectory
        self.presets = presets
        self.threads = threads
        self.executable = executable
    }

    public func run(log: (String) -> Void) throws -> [Row] {
        var rows: [Row] = []
        for preset in presets {
            let source = cacheDirectory + "/synthetic-\(preset.rawValue)"
            if !FileManager.default.fileExists(atPath: source + "/" + Checkpoint.indexFileName) {
                log("generating the \(preset.rawValue) checkpoint in \(source) (once)")
                try SyntheticCheckpoint(preset: preset, threads: threads).write(to: source, progress: .quiet)
            }
            let checkpoint = try Checkpoint(directory: source)
            let fp8Weights = checkpoint.tensorNames.reduce(0) { total, name in
                let info = checkpoint.info(name)!
                return total + (info.dtype == .f8E4M3 ? info.elementCount : 0)
            }
            let output = cacheDirectory + "/bench-out-\(preset.rawValue)"
            try? FileManager.default.removeItem(atPath: output)
            // Warm the page cache the same way for every measurement.
            let (memcpySeconds, fileCopySeconds) = try ceilings(checkpoint, scratch: cacheDirectory + "/bench-copy.bin")
            log("dequantizing \(preset.rawValue) (\(formatBytes(checkpoint.dataBytes)))")
            let result = try ChildProcess.run(
                executable, ["dequant", source, output, "--dtype", "bf16", "--quiet", "--json", "--threads", "\(threads)"])
            guard result.exitStatus == 0 else {
                throw ConfigError(file: source, message: "dequant child exited with status \(result.exitStatus)")
            }
            try? FileManager.default.removeItem(atPath: output)
            rows.append(
                Row(
                    preset: preset, inputBytes: checkpoint.dataBytes, fp8Weights: fp8Weights, seconds: result.seconds,
                    peakResidentBytes: result.peakResidentBytes, memcpySeconds: memcpySeconds,
                    fileCopySeconds: fileCopySeconds))
        }
        return rows
    }

    /// Times a memcpy of every tensor byte into a 16 MiB buffer, and a write of the same bytes to
    /// a scratch file (single thread each, the way a copy tool would).
    func ceilings(_ checkpoint: Checkpoint, scratch: String) throws -> (Double, Double) {
        let chunk = 16 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        func eachChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
            for shard in checkpoint.shards {
                let data = UnsafeRawBufferPointer(rebasing: shard.mapping.bytes[shard.dataOffset...])
                var offset = 0
                while offset < data.count {
                    let count = min(chunk, data.count - offset)
                    try body(UnsafeRawBufferPointer(rebasing: data[offset..<(offset + count)]))
                    offset += count
                }
            }
        }
        eachChunk { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }  // warm-up
        var start = Date()
        eachChunk { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let memcpySeconds = Date().timeIntervalSince(start)
        start = Date()
        let file = try AtomicOutputFile(path: scratch)
        var offset = 0
        try eachChunk { piece in
            try file.write(piece, at: offset)
            offset += piece.count
        }
        try file.commit()
        let fileCopySeconds = Date().timeIntervalSince(start)
        unlink(scratch)
        return (memcpySeconds, fileCopySeconds)
    }

    public static func markdown(_ rows: [Row], threads: Int) -> String {
        var lines = [
            "| preset | FP8 input | weights/s | input GB/s | memcpy GB/s (ceiling) | copy-to-file GB/s | dequant / file copy | peak RSS |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in rows {
            let gbps = Double(row.inputBytes) / row.seconds / 1e9
            let memcpy = Double(row.inputBytes) / row.memcpySeconds / 1e9
            let copy = Double(row.inputBytes) / row.fileCopySeconds / 1e9
            lines.append(
                "| \(row.preset.rawValue) | \(formatBytes(row.inputBytes)) | "
                    + String(format: "%.2fG | %.2f | %.2f | %.2f | %.2fx | ", Double(row.fp8Weights) / row.seconds / 1e9, gbps, memcpy, copy, row.fileCopySeconds / row.seconds)
                    + "\(formatBytes(row.peakResidentBytes)) |")
        }
        lines.append("")
        lines.append("threads: \(threads); dequant output BF16 (2 bytes per FP8 weight); times include process start, config and header validation, fsync.")
        return lines.joined(separator: "\n")
    }
}
