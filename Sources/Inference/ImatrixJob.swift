import DeepSeekV3
import Foundation
import Quants
import TensorFiles

/// `moepack imatrix`: the importance matrix of a model on a calibration text, collected by the
/// engine over the model as it is (FP8 checkpoint or GGUF), chunk by chunk as llama-imatrix does
/// (BOS-led chunks of `context` tokens, every position's activations), in layer-major batches.
///
/// Long runs survive being killed: after every `saveEvery` chunks the exact sums so far go to a
/// resume file beside the output (`.NAME.moepack-partial`, written atomically); a rerun with the
/// same model, text and settings continues from it. A run over a slice `--chunks A..B` writes a
/// slice file (exact sums, the chunks it covers) that `merge-imatrix` adds up bit for bit.
package final class ImatrixJob {
    package struct Options: Sendable {
        package var range: Range<Int>
        package var batchChunks: Int
        package var threads: Int
        package var processOutput = false
        /// Chunks between resume-file saves.
        package var saveEvery = 10
        /// Write a slice file (exact sums) rather than a plain llama.cpp imatrix.
        package var slice = false
        /// The dataset name recorded in the file (llama-imatrix records the text's path).
        package var dataset: String
        /// The arithmetic of the weight products. The observed activations are each product's
        /// f32 inputs, before BF16 rounding, so the two modes differ only by what the rounding
        /// changes upstream (`bench imatrix` measures it).
        package var precision: Precision = .f32

        package init(range: Range<Int>, batchChunks: Int, threads: Int, dataset: String) {
            self.range = range
            self.batchChunks = batchChunks
            self.threads = threads
            self.dataset = dataset
        }
    }

    package struct Summary: Sendable {
        package var matrix: ImportanceMatrix
        package var scores: [ChunkScore]
        /// Chunks taken over from a resume file.
        package var resumedChunks: Int
        package var seconds: Double
    }

    package let source: any WeightSource
    package let chunks: TokenChunks
    package let output: String
    package let options: Options
    /// Called after every layer of every batch: (steps done, steps in the run, what).
    package var progress: (@Sendable (Int, Int, String) -> Void)?

    package init(source: any WeightSource, chunks: TokenChunks, output: String, options: Options) {
        self.source = source
        self.chunks = chunks
        self.output = output
        self.options = options
    }

    /// Identifies what the sums come from: model, tokens, context, whether the head is included,
    /// and the precision when it is not f32 (so f32 slices keep the fingerprint they always had).
    package var fingerprint: String {
        let precision = options.precision.fingerprintTag.map { "|precision=\($0)" } ?? ""
        let text = "\(source.identity)|\(TokenFingerprint.xxh3(chunks.tokens))|\(chunks.tokens.count)|\(chunks.context)|output=\(options.processOutput)\(precision)"
        return XXH3Hasher.hex(Array(text.utf8).withUnsafeBytes { XXH3Hasher.hash($0) })
    }

    package var resumePath: String {
        let url = URL(fileURLWithPath: output)
        return url.deletingLastPathComponent().appendingPathComponent("." + url.lastPathComponent + ".moepack-partial").path
    }

    package func run() throws -> Summary {
        let started = Date()
        let collector = ImatrixCollector(observesOutput: options.processOutput)
        let range = options.range
        var start = range.lowerBound
        var resumed = 0
        // Resume from the sums of an interrupted run over the same model, text and settings.
        if FileManager.default.fileExists(atPath: resumePath),
            let (matrix, slice) = try? ImatrixFile.read(path: resumePath), let slice,
            slice.fingerprint == fingerprint, slice.chunks.lowerBound == range.lowerBound, slice.chunks.upperBound <= range.upperBound
        {
            collector.preload(matrix)
            start = slice.chunks.upperBound
            resumed = slice.chunks.count
        }
        let model = try DeepSeekV3Model(source: source, threads: options.threads, attention: .absorbed, precision: options.precision, observer: collector)
        let steps = source.config.numHiddenLayers + 1
        let saveEvery = Swift.max(options.batchChunks, options.saveEvery / options.batchChunks * options.batchChunks)
        let totalSteps = ((range.upperBound - start + options.batchChunks - 1) / options.batchChunks) * steps
        var scores: [ChunkScore] = []
        var done = 0
        var segment = start
        while segment < range.upperBound {
            let end = Swift.min(segment + saveEvery, range.upperBound)
            let evaluator = Evaluator(chunks: chunks, range: segment..<end, batchChunks: options.batchChunks)
            let offset = done, progress = self.progress
            evaluator.progress = { step, _, what in progress?(offset + step, totalSteps, what) }
            scores += try evaluator.perplexity(model)
            done += evaluator.batches.count * steps
            segment = end
            if segment < range.upperBound {
                let partial = try collector.result(datasets: [options.dataset], chunkCount: segment - range.lowerBound, chunkSize: chunks.context)
                try ImatrixFile.write(partial, slice: .init(fingerprint: fingerprint, chunks: range.lowerBound..<segment), to: resumePath)
            }
        }
        let matrix = try collector.result(datasets: [options.dataset], chunkCount: range.count, chunkSize: chunks.context)
        try ImatrixFile.write(matrix, slice: options.slice ? .init(fingerprint: fingerprint, chunks: range) : nil, to: output)
        unlink(resumePath)
        return Summary(matrix: matrix, scores: scores, resumedChunks: resumed, seconds: Date().timeIntervalSince(started))
    }

    /// Adds slice files into one importance matrix. Slices must come from the same model, text and
    /// settings and must not overlap; any number of plain llama.cpp imatrix files may be added too
    /// (their F32 sums, as llama-imatrix `--in-file` adds them).
    package static func merge(_ files: [String]) throws -> ImportanceMatrix {
        var merged = ImportanceMatrix()
        var fingerprint: String?
        var covered: [(file: String, chunks: Range<Int>)] = []
        for file in files {
            let (matrix, slice) = try ImatrixFile.read(path: file)
            if let slice {
                if let fingerprint, fingerprint != slice.fingerprint {
                    throw ImatrixError.malformed(file: file, detail: "a slice of another model, text or settings than \(files[0])")
                }
                fingerprint = slice.fingerprint
                if let other = covered.first(where: { $0.chunks.overlaps(slice.chunks) }) {
                    throw ImatrixError.malformed(file: file, detail: "chunks \(slice.chunks.lowerBound)..<\(slice.chunks.upperBound) overlap \(other.file)'s \(other.chunks.lowerBound)..<\(other.chunks.upperBound)")
                }
                covered.append((file, slice.chunks))
            }
            do { try merged.add(matrix) } catch { throw ImatrixError.malformed(file: file, detail: "\(error)") }
        }
        return merged
    }
}

/// How many calibration tokens each routed expert received, per MoE layer: a cold expert (none,
/// or only a few) has no measured importance of its own.
package struct ExpertCoverage: Sendable, Codable, Equatable {
    package struct Layer: Sendable, Codable, Equatable {
        package var layer: Int
        package var experts: Int
        package var withoutTokens: Int
        package var belowThreshold: Int
        package var minimum: Int64
        package var median: Int64
        package var maximum: Int64
    }

    package var threshold: Int
    package var layers: [Layer]

    /// From the `ffn_gate_exps` counts of each MoE layer.
    package init(_ matrix: ImportanceMatrix, config: DeepSeekV3Config, threshold: Int) {
        self.threshold = threshold
        layers = (0..<config.numHiddenLayers).filter(config.isMoELayer).compactMap { layer in
            guard let entry = matrix.entries[DeepSeek2Name.ffnGateExps.name(layer: layer)], !entry.counts.isEmpty else { return nil }
            let sorted = entry.counts.sorted()
            return Layer(
                layer: layer, experts: sorted.count, withoutTokens: sorted.filter { $0 == 0 }.count,
                belowThreshold: sorted.filter { $0 < Int64(threshold) }.count, minimum: sorted.first!,
                median: sorted[sorted.count / 2], maximum: sorted.last!)
        }
    }

    package var lines: [String] {
        var out = ["Routed-expert coverage (tokens per expert; cold: fewer than \(threshold)):",
                   "  layer  experts  no tokens  cold  min  median  max"]
        for l in layers {
            out.append(String(format: "  %5d  %7d  %9d  %4d  %3lld  %6lld  %lld", l.layer, l.experts, l.withoutTokens, l.belowThreshold, l.minimum, l.median, l.maximum))
        }
        if layers.contains(where: { $0.withoutTokens > 0 }) {
            out.append("  Experts without tokens have no importance of their own: `quantize --imatrix` gives their gate/up the layer's hidden-state statistics and their down 1s (--cold-experts hidden-mean, the default; llama-quantize uses 1s for all).")
        }
        return out
    }
}
