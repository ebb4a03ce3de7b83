import Conversion
import Foundation
import Quants
import SyntheticModels

/// `moepack bench quants`: quantize and dequantize throughput per block format on one fixed
/// weight-like matrix, on 1 thread and on all, beside llama.cpp's `ggml_quantize_chunk` on the
/// same matrix in the same run when a Python with llama-cpp-python is given as the peer.
package struct QuantBenchmark {
    package struct Row: Sendable {
        package var type: GGMLType
        package var quantizeSeconds: (one: Double, all: Double)
        package var dequantizeSeconds: (one: Double, all: Double)
        package var peerSeconds: (one: Double, all: Double)?
        /// Matrix-vector product over all rows, 1 thread: fused dot product (F32 and BF16 vector),
        /// and dequantize-then-dot (F32 vector).
        package var dotSeconds: (fused: Double, fusedBF16: Double, dequantizeThenDot: Double)?
    }

    /// One run: every type's row, and the memory-read reference on the same matrix.
    package struct Report: Sendable {
        package var rows: [Row]
        /// Reading the F32 matrix once (a sum over its bits), 1 thread and all: the ceiling a
        /// quantizer bound by memory bandwidth, not arithmetic, would approach.
        package var readSeconds: (one: Double, all: Double)
        package var simdLevel: SIMDLevel
    }

    package let rows: Int
    package let columns: Int
    package let threads: Int
    package let types: [GGMLType]

    package init(rows: Int = 512, columns: Int = 4096, threads: Int, types: [GGMLType]) {
        self.rows = rows
        self.columns = columns
        self.threads = threads
        self.types = types
    }

    /// A weight-like matrix: heavy-tailed values with per-row gains and outlier columns, as in the
    /// synthetic checkpoints.
    package func matrix() -> [Float] {
        var values = [Float](repeating: 0, count: rows * columns)
        values.withUnsafeMutableBufferPointer { buffer in
            for row in 0..<rows {
                var random = SplitMix64(seed: SplitMix64.derive(42, "bench", row))
                let gain = 0.6 + 0.8 * random.unit()
                for column in 0..<columns {
                    let outlier: Float = column % 97 == 13 ? 6 : 1
                    buffer[row * columns + column] = random.heavyTailedSample() * 0.02 * gain * outlier
                }
            }
        }
        return values
    }

    /// Best of `repeats` timings of `body`.
    func time(repeats: Int = 3, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }

    /// Streams the matrix through the cores once, summing it as integers (no arithmetic to speak of).
    func readTime(_ input: [Float]) -> (one: Double, all: Double) {
        input.withUnsafeBytes { raw in
            let base = SendableRawPointer(raw.baseAddress!)
            let chunks = raw.count / 32
            let sums = SendableMutableRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 64 * 8, alignment: 64))
            defer { sums.pointer.deallocate() }
            @Sendable func read(_ range: Range<Int>) {
                var sum = SIMD8<UInt32>()
                for i in range { sum &+= base.pointer.loadUnaligned(fromByteOffset: 32 * i, as: SIMD8<UInt32>.self) }
                // Each worker stores its sum in its own cache line (slot 0..<8 by position), so the reads are not dead code.
                sums.pointer.storeBytes(of: sum.wrappedSum(), toByteOffset: 64 * (range.lowerBound * 7 / Swift.max(chunks, 1)), as: UInt32.self)
            }
            let one = time(repeats: 5) { read(0..<chunks) }
            let all = time(repeats: 5) { parallelFor(chunks, threads: threads) { read($0) } }
            return (one, all)
        }
    }

    package func run(peerPython: String?, peerScript: String?, log: (String) -> Void) throws -> Report {
        let input = matrix()
        var peer: [String: [Double]] = [:]
        let path = NSTemporaryDirectory() + "moepack-bench-matrix-\(getpid()).f32"
        defer { unlink(path) }
        /// Times llama.cpp (a child process); run before and after moepack's timings, keeping each
        /// type's best, so that both sides get the machine's quiet moments (this VM is noisy).
        func timePeer() throws {
            guard let peerPython, let peerScript else { return }
            if !FileManager.default.fileExists(atPath: path) {
                try input.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
            }
            log("timing llama.cpp's ggml_quantize_chunk through \(peerPython)")
            let result = try ChildProcess.run(
                peerPython, [peerScript, path, "\(rows)", "\(columns)", "\(threads)"] + types.map { "\($0.rawValue)" })
            guard result.exitStatus == 0, let json = try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: [Double]] else {
                log("peer failed (status \(result.exitStatus)); reporting moepack alone")
                return
            }
            for (key, times) in json { peer[key] = peer[key].map { zip($0, times).map { Swift.min($0, $1) } } ?? times }
        }
        try timePeer()
        var results: [Row] = []
        for type in types {
            guard let format = type.format, let rowBytes = type.rowBytes(columns) else { continue }
            log("\(type.name)")
            var bytes = [UInt8](repeating: 0, count: rowBytes * rows)
            var back = [Float](repeating: 0, count: rows * columns)
            let cols = columns
            let (q1, qN, d1, dN): (Double, Double, Double, Double) = input.withUnsafeBufferPointer { x in
                bytes.withUnsafeMutableBytes { out in
                    back.withUnsafeMutableBufferPointer { y in
                        let xp = SendableRawPointer(UnsafeRawPointer(x.baseAddress!))
                        let op = SendableMutableRawPointer(out.baseAddress!)
                        let yp = SendableMutableRawPointer(UnsafeMutableRawPointer(y.baseAddress!))
                        @Sendable func quantize(_ range: Range<Int>) {
                            for row in range {
                                format.quantizeRow(
                                    xp.pointer.assumingMemoryBound(to: Float.self) + row * cols, count: cols, importance: nil,
                                    into: op.pointer + row * rowBytes)
                            }
                        }
                        @Sendable func dequantize(_ range: Range<Int>) {
                            for row in range {
                                format.dequantizeRow(
                                    UnsafeRawPointer(op.pointer + row * rowBytes), count: cols,
                                    into: yp.pointer.assumingMemoryBound(to: Float.self) + row * cols)
                            }
                        }
                        let q1 = time(repeats: 5) { quantize(0..<rows) }
                        let qN = time { parallelFor(rows, threads: threads) { quantize($0) } }
                        let d1 = time { dequantize(0..<rows) }
                        let dN = time { parallelFor(rows, threads: threads) { dequantize($0) } }
                        return (q1, qN, d1, dN)
                    }
                }
            }
            var dotTimes: (Double, Double, Double)?
            if let kernel = type.dotProduct {
                let vector = (0..<columns).map { Float($0 % 7) - 3 }
                let vectorBF16 = vector.map(BFloat16.fromFloat)
                var sink: Float = 0
                var scratch = [Float](repeating: 0, count: columns)
                bytes.withUnsafeBytes { raw in
                    vector.withUnsafeBufferPointer { v in
                        scratch.withUnsafeMutableBufferPointer { s in
                            let fused = time { for row in 0..<rows { sink += kernel.dot(raw.baseAddress! + row * rowBytes, v.baseAddress!, count: columns) } }
                            let fusedBF16 = vectorBF16.withUnsafeBufferPointer { h in
                                time { for row in 0..<rows { sink += kernel.dot(raw.baseAddress! + row * rowBytes, bf16: h.baseAddress!, count: columns) } }
                            }
                            let plain = time {
                                for row in 0..<rows {
                                    format.dequantizeRow(raw.baseAddress! + row * rowBytes, count: columns, into: s.baseAddress!)
                                    var acc = SIMD16<Float>()
                                    for i in stride(from: 0, to: columns, by: 16) {
                                        acc += UnsafeRawPointer(s.baseAddress! + i).loadUnaligned(as: SIMD16<Float>.self)
                                            * UnsafeRawPointer(v.baseAddress! + i).loadUnaligned(as: SIMD16<Float>.self)
                                    }
                                    sink += acc.sum()
                                }
                            }
                            dotTimes = (fused, fusedBF16, plain)
                        }
                    }
                }
                if sink.isNaN { log("") }  // keeps the work observable
            }
            results.append(Row(type: type, quantizeSeconds: (q1, qN), dequantizeSeconds: (d1, dN), peerSeconds: nil, dotSeconds: dotTimes))
        }
        try timePeer()
        for i in results.indices {
            results[i].peerSeconds = peer["\(results[i].type.rawValue)"].map { ($0[0], $0[1]) }
        }
        log("memory read reference")
        return Report(rows: results, readSeconds: readTime(input), simdLevel: .active)
    }

    package func markdown(_ report: Report) -> String {
        let results = report.rows
        let weights = Double(rows * columns)
        let megabytes = weights * 4 / 1e6
        var lines = [
            "| type | bpw | quantize 1 thread MB/s | quantize \(threads) threads MB/s | llama.cpp 1 thread MB/s | moepack / llama.cpp (1 thread) | dequantize 1 thread MB/s | dequantize \(threads) threads MB/s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in results {
            let peer = row.peerSeconds.map { String(format: "%.0f | %.2fx", megabytes / $0.one, $0.one / row.quantizeSeconds.one) } ?? "– | –"
            lines.append(
                "| \(row.type.name) | \(String(format: "%.4g", row.type.bitsPerWeight)) | "
                    + String(format: "%.0f | %.0f | ", megabytes / row.quantizeSeconds.one, megabytes / row.quantizeSeconds.all)
                    + peer + " | "
                    + String(format: "%.0f | %.0f |", megabytes / row.dequantizeSeconds.one, megabytes / row.dequantizeSeconds.all))
        }
        lines.append(
            "| memory read (reference) | – | "
                + String(format: "%.0f | %.0f", megabytes / report.readSeconds.one, megabytes / report.readSeconds.all)
                + " | – | – | – | – |")
        lines.append("")
        lines.append("| type | mat-vec, fused dot product (1 thread) | fused, BF16 vector | mat-vec, dequantize then dot (1 thread) | speed-up (fused F32) |")
        lines.append("|---|---|---|---|---|")
        for row in results {
            guard let dot = row.dotSeconds else { continue }
            lines.append(
                "| \(row.type.name) | "
                    + String(
                        format: "%.2f G weights/s | %.2f G weights/s | %.2f G weights/s | %.2fx |", weights / dot.fused / 1e9,
                        weights / dot.fusedBF16 / 1e9, weights / dot.dequantizeThenDot / 1e9, dot.dequantizeThenDot / dot.fused))
        }
        lines.append("")
        lines.append("Matrix: \(rows) × \(columns) F32 weight-like values (\(String(format: "%.1f", megabytes)) MB); MB/s of F32 input (quantize) or output (dequantize); best of 5 (moepack quantize) or 3; llama.cpp timed before and after moepack, best kept; no importance weights. Kernels: \(report.simdLevel) (MOEPACK_SIMD=baseline selects the fallback). Memory read: one pass summing the matrix, the ceiling for a quantizer bound by memory bandwidth; a matrix larger than the last-level cache (--rows 65536) measures it from DRAM.")
        return lines.joined(separator: "\n")
    }
}
