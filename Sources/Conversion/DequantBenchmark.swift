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
        /// Writing and fsyncing the output's byte count.
        public var writeSeconds: Double
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
            let outputBytes = checkpoint.dataBytes + fp8Weights  // BF16: one more byte per FP8 weight (scales dropped)
            let (memcpySeconds, writeSeconds) = try ceilings(checkpoint, outputBytes: outputBytes, scratch: cacheDirectory + "/bench-write.bin")
            log("dequantizing \(preset.rawValue) (\(formatBytes(checkpoint.dataBytes)))")
            let result = try ChildProcess.run(
                executable, ["dequant", source, output, "--dtype", "bf16", "--quiet", "--json", "--threads", "\(threads)"])
            guard result.exitStatus == 0,
                let summary = try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
                let peak = summary["peak_rss_bytes"] as? Int
            else {
                throw ConfigError(file: source, message: "dequant child exited with status \(result.exitStatus)")
            }
            try? FileManager.default.removeItem(atPath: output)
            rows.append(
                Row(
                    preset: preset, inputBytes: checkpoint.dataBytes, fp8Weights: fp8Weights, seconds: result.seconds,
                    peakResidentBytes: peak, memcpySeconds: memcpySeconds, writeSeconds: writeSeconds))
        }
        return rows
    }

    /// Two ceilings on the same machine in the same run, single-threaded: a memcpy of every input
    /// tensor byte (memory bandwidth), and writing as many bytes as the dequantized output has
    /// to a file and fsyncing it (what any converter must at least do on this disk).
    func ceilings(_ checkpoint: Checkpoint, outputBytes: Int, scratch: String) throws -> (Double, Double) {
        let chunk = 16 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0x5A, count: chunk)
        func copyAll() {
            for shard in checkpoint.shards {
                let data = UnsafeRawBufferPointer(rebasing: shard.mapping.bytes[shard.dataOffset...])
                var offset = 0
                while offset < data.count {
                    let count = min(chunk, data.count - offset)
                    buffer.copyMemory(from: data.baseAddress! + offset, byteCount: count)
                    offset += count
                }
                shard.mapping.advise(.dontNeed)
            }
        }
        copyAll()  // warm the page cache as the dequant run finds it
        var start = Date()
        copyAll()
        let memcpySeconds = Date().timeIntervalSince(start)
        start = Date()
        let file = try AtomicOutputFile(path: scratch)
        try file.reserve(size: outputBytes)
        var offset = 0
        while offset < outputBytes {
            let count = min(chunk, outputBytes - offset)
            try file.write(UnsafeRawBufferPointer(start: buffer, count: count), at: offset)
            offset += count
        }
        try file.commit()
        let writeSeconds = Date().timeIntervalSince(start)
        unlink(scratch)
        return (memcpySeconds, writeSeconds)
    }

    public static func markdown(_ rows: [Row], threads: Int) -> String {
        var lines = [
            "| preset | FP8 input | dequant: weights/s | dequant: input GB/s | memcpy input GB/s | write+fsync output alone | dequant time / write-alone time | peak RSS |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in rows {
            lines.append(
                "| \(row.preset.rawValue) | \(formatBytes(row.inputBytes)) | "
                    + String(
                        format: "%.2f G | %.2f | %.2f | %.2f s | %.2fx | ", Double(row.fp8Weights) / row.seconds / 1e9,
                        Double(row.inputBytes) / row.seconds / 1e9, Double(row.inputBytes) / row.memcpySeconds / 1e9,
                        row.writeSeconds, row.seconds / row.writeSeconds)
                    + "\(formatBytes(row.peakResidentBytes)) |")
        }
        lines.append("")
        lines.append(
            "threads: \(threads); output BF16; dequant times are the whole `moepack dequant` process "
                + "(start-up, validation, fsync of every shard); peak RSS is the child's VmHWM.")
        return lines.joined(separator: "\n")
    }
}
