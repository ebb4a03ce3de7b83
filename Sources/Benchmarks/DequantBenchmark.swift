import Conversion
import DeepSeekV3
import Foundation
import Quants
import SyntheticModels
import TensorFiles

/// `moepack bench dequant`: FP8 -> BF16 throughput and peak memory on synthetic checkpoints,
/// beside two ceilings measured in the same run on the same bytes: a plain memory copy of the
/// input tensors, and a copy of them into a file (what any converter must at least do).
package struct DequantBenchmark {
    package struct Row: Sendable {
        package var preset: SyntheticPreset
        package var inputBytes: Int
        package var fp8Weights: Int
        package var seconds: Double
        package var peakResidentBytes: Int
        package var memcpySeconds: Double
        /// Writing and fsyncing the output's byte count.
        package var writeSeconds: Double
        /// FP8 -> BF16 kernel alone (no I/O), weights per second, on 1 thread and on all.
        package var kernelOneThread: Double
        package var kernelAllThreads: Double
    }

    package let cacheDirectory: String
    package let presets: [SyntheticPreset]
    package let threads: Int
    package let executable: String

    package init(cacheDirectory: String, presets: [SyntheticPreset], threads: Int, executable: String) {
        self.cacheDirectory = cacheDirectory
        self.presets = presets
        self.threads = threads
        self.executable = executable
    }

    package func run(log: (String) -> Void) throws -> [Row] {
        var rows: [Row] = []
        for preset in presets {
            let source = try SyntheticCheckpoint.cached(preset, in: cacheDirectory, threads: threads, log: log)
            let checkpoint = try Checkpoint(directory: source)
            let fp8Weights = checkpoint.tensorNames.reduce(0) { total, name in
                let info = checkpoint.info(name)!
                return total + (info.dtype == .f8E4M3 ? info.elementCount : 0)
            }
            let output = cacheDirectory + "/bench-out-\(preset.rawValue)"
            try? FileManager.default.removeItem(atPath: output)
            log("kernel-only throughput on \(preset.rawValue)")
            _ = try Self.kernelThroughput(checkpoint, threads: threads)  // warm-up: page cache, code
            let kernelOne = try Self.kernelThroughput(checkpoint, threads: 1)
            let kernelAll = try Self.kernelThroughput(checkpoint, threads: threads)
            for shard in checkpoint.shards { shard.mapping.advise(.dontNeed) }
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
                    peakResidentBytes: peak, memcpySeconds: memcpySeconds, writeSeconds: writeSeconds,
                    kernelOneThread: kernelOne, kernelAllThreads: kernelAll))
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

    /// The kernel alone, no file I/O: every FP8 tensor of `checkpoint` dequantized to BF16 into a
    /// reused buffer, on `threads` threads. Returns FP8 weights per second (page cache warm).
    package static func kernelThroughput(_ checkpoint: Checkpoint, threads: Int) throws -> Double {
        let names = checkpoint.tensorNames.filter { checkpoint.info($0)!.dtype == .f8E4M3 }
        let widest = names.map { checkpoint.info($0)!.shape[1] }.max() ?? 1
        let rowsPerStep = max(1, (16 << 20) / (widest * 2))
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: rowsPerStep * widest * 2, alignment: 64)
        defer { buffer.deallocate() }
        let output = SendableMutableRawPointer(buffer)
        var weights = 0
        let start = Date()
        for name in names {
            let info = checkpoint.info(name)!
            let codes = SendableRawPointer(try checkpoint.bytes(of: name).baseAddress!)
            let scales = SendableRawPointer(try checkpoint.bytes(of: name + "_scale_inv").baseAddress!)
            let rows = info.shape[0], columns = info.shape[1]
            var row = 0
            while row < rows {
                let count = min(rowsPerStep, rows - row)
                let first = row
                parallelFor(count, threads: threads, minimumPerThread: 8) { range in
                    _ = FP8BlockDequant.dequantize(
                        weight: codes.pointer.assumingMemoryBound(to: UInt8.self), columns: columns,
                        rows: (first + range.lowerBound)..<(first + range.upperBound),
                        scales: scales.pointer.assumingMemoryBound(to: Float.self), blockSize: 128, encoding: .e4m3fn,
                        output: output.pointer + range.lowerBound * columns * 2, outputType: .bf16)
                }
                row += count
            }
            weights += info.elementCount
        }
        return Double(weights) / Date().timeIntervalSince(start)
    }

    package static func markdown(_ rows: [Row], threads: Int) -> String {
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
        lines.append("| preset | kernel only (no I/O), 1 thread | kernel only, \(threads) threads | memcpy of the FP8 bytes |")
        lines.append("|---|---|---|---|")
        for row in rows {
            lines.append(
                "| \(row.preset.rawValue) | "
                    + String(
                        format: "%.2f G weights/s (%.2f GB/s in, %.2f GB/s out) | %.2f G weights/s | %.2f GB/s |",
                        row.kernelOneThread / 1e9, row.kernelOneThread / 1e9, row.kernelOneThread * 2 / 1e9,
                        row.kernelAllThreads / 1e9, Double(row.inputBytes) / row.memcpySeconds / 1e9))
        }
        lines.append("")
        lines.append(
            "threads: \(threads); output BF16; dequant times are the whole `moepack dequant` process "
                + "(start-up, validation, fsync of every shard); peak RSS is the child's VmHWM.")
        return lines.joined(separator: "\n")
    }
}
