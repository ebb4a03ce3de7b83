import Conversion
import DeepSeekV3
import Foundation
import Inference
import Quants
import SyntheticModels
import TensorFiles
import TestSupport
import Testing

@Suite struct TargetFitKLDTests {
    /// A degraded tensor reads back as its rows quantized and dequantized; every other weight is
    /// the base's, bit for bit.
    @Test func degradedWeightsQuantizeOnlyTheirTensor() throws {
        let base = Fixtures.tinyWeights
        let tensors = DeepSeek2Tensor.plan(base.config)
        let target = try #require(tensors.first { $0.name == "blk.1.ffn_up_exps.weight" })
        let degraded = try DegradedWeights(base: base, degrading: [(target, .q4_K, nil)])
        guard case .stacked(let names) = target.source else { Issue.record("not a stack"); return }
        let (rows, columns) = try base.shape(of: names[3])
        var original = [Float](repeating: 0, count: rows * columns), read = original
        try original.withUnsafeMutableBufferPointer { (b) throws(WeightError) in try base.read(names[3], rows: 0..<rows, into: b.baseAddress!) }
        try read.withUnsafeMutableBufferPointer { (b) throws(WeightError) in try degraded.read(names[3], rows: 0..<rows, into: b.baseAddress!) }
        var expected = [Float](repeating: 0, count: columns)
        var bytes = [UInt8](repeating: 0, count: GGMLType.q4_K.rowBytes(columns)!)
        try original.withUnsafeBufferPointer { all in
            try bytes.withUnsafeMutableBytes { raw in
                try expected.withUnsafeMutableBufferPointer { out in
                    try GGMLType.q4_K.quantize(row: UnsafeBufferPointer(rebasing: all[0..<columns]), into: raw)
                    try GGMLType.q4_K.dequantize(row: UnsafeRawBufferPointer(raw), count: columns, into: out)
                }
            }
        }
        #expect(Array(read[0..<columns]) == expected)
        #expect(read != original)
        let other = "model.layers.1.self_attn.q_a_proj.weight"
        let (r2, c2) = try base.shape(of: other)
        var a = [Float](repeating: 0, count: r2 * c2), b = a
        try a.withUnsafeMutableBufferPointer { (p) throws(WeightError) in try base.read(other, rows: 0..<r2, into: p.baseAddress!) }
        try b.withUnsafeMutableBufferPointer { (p) throws(WeightError) in try degraded.read(other, rows: 0..<r2, into: p.baseAddress!) }
        #expect(a == b)
    }

    /// The cost model's assumption that single-tensor ΔKLDs add up: the fitted file's KLD against
    /// the original, measured on the calibration chunks, is within a factor of 2 of the prediction
    /// (in-sample, on random weights; the trained checkpoint's case is `TargetFitDevModelTests`).
    @Test func predictedKLDMatchesTheFittedFile() throws {
        let directory = TestSupport.scratchDirectory("fit-kld")
        let text = directory + "/calib.txt"
        try Data(String(repeating: SyntheticCorpus.text + "\n", count: 4).utf8).write(to: URL(fileURLWithPath: text))
        var converter = GGUFConverter.Options()
        converter.threads = 2
        converter.progress = .quiet
        var options = TargetFit.Options()
        options.calibration = text
        options.context = 64
        options.probeChunks = 4
        options.sampleRows = 32
        options.target = .bitsPerWeight(4.5)
        let fitter = TargetFit(input: Fixtures.tiny, converterOptions: converter, options: options)
        let result = try fitter.solve(try fitter.measure())
        let path = directory + "/fit.gguf"
        _ = try GGUFConverter(input: Fixtures.tiny, output: path, options: try fitter.converterOptions(for: result)).run()

        let tokenizer = try BPETokenizer(path: Fixtures.tiny)
        let chunks = TokenChunks(text: [UInt8](try Data(contentsOf: URL(fileURLWithPath: text))), tokenizer: tokenizer, context: 64)
        let list = (0..<min(4, chunks.available)).map(chunks.chunk)
        let original = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 2)
        let fitted = try DeepSeekV3Model(source: try GGUFWeights(path: path), threads: 2)
        let base = try original.logits(chunks: list, positions: chunks.positions).map { Scoring.baseLogProbabilities($0) }
        let logits = try fitted.logits(chunks: list, positions: chunks.positions)
        var sum = 0.0, count = 0
        for i in 0..<list.count {
            let kld = Scoring.compare(chunk: i, base: base[i], logits: logits[i], targets: chunks.targets(i)).kld ?? []
            sum += kld.reduce(0.0) { $0 + Double($1) }
            count += kld.count
        }
        let measured = sum / Double(count)
        let ratio = measured / result.predictedKLD
        #expect(ratio > 0.5 && ratio < 2, "predicted \(result.predictedKLD), measured \(measured)")
    }
}

/// `--target-size` on the trained dev checkpoint, the case the README's tables measure: importance
/// matrix and sensitivities from the first 4 chunks of the held-out text, KLD measured on the other
/// 8. At the size of llama.cpp's IQ4_XS mix the free fit beats the mix by more than the 0.8× the
/// allocation issue asks for (measured in this setting: 0.59×), and its prediction is within the
/// factor 4 the README states (measured in this setting: 2.9× too low; README runs: up to 2.6×).
@Suite(.enabled(if: TestSupport.devModelAvailable)) struct TargetFitDevModelTests {
    @Test func fitBeatsTheMixAtItsSizeAndPredictsItsKLD() throws {
        let (checkpoint, textPath) = try #require(TestSupport.devModel)
        let weights = try CheckpointWeights(directory: checkpoint)
        let tokenizer = try BPETokenizer(path: checkpoint)
        let chunks = TokenChunks(text: [UInt8](try Data(contentsOf: URL(fileURLWithPath: textPath))), tokenizer: tokenizer, context: 512)
        try #require(chunks.available >= 12)
        let collector = ImatrixCollector()
        _ = try DeepSeekV3Model(source: weights, threads: 2, attention: .absorbed, observer: collector)
            .logits(chunks: (0..<4).map(chunks.chunk), positions: 0..<0)
        var converter = GGUFConverter.Options()
        converter.threads = 2
        converter.progress = .quiet
        converter.importance = (try collector.result(datasets: [textPath], chunkCount: 4, chunkSize: 512), "calibration chunks 0..<4", "test")
        var mix = converter
        mix.recipe = .iq4_xs
        let directory = TestSupport.scratchDirectory("fit-dev")
        let mixPath = directory + "/mix-IQ4_XS.gguf"
        let mixSize = try GGUFConverter(input: checkpoint, output: mixPath, options: mix).run().plan.layout.fileSize

        var options = TargetFit.Options()
        options.calibration = textPath  // its first probeChunks chunks: the imatrix's
        options.probeChunks = 4
        options.target = .bytes(mixSize)
        let fitter = TargetFit(input: checkpoint, converterOptions: converter, options: options)
        let result = try fitter.solve(try fitter.measure())
        let fitPath = directory + "/fit.gguf"
        _ = try GGUFConverter(input: checkpoint, output: fitPath, options: try fitter.converterOptions(for: result)).run()
        #expect(result.plan.layout.fileSize <= mixSize && Double(result.plan.layout.fileSize) > 0.995 * Double(mixSize))

        let held = (4..<12).map(chunks.chunk)
        let base = try DeepSeekV3Model(source: weights, threads: 2).logits(chunks: held, positions: chunks.positions).map { Scoring.baseLogProbabilities($0) }
        func meanKLD(_ path: String) throws -> Double {
            let logits = try DeepSeekV3Model(source: try GGUFWeights(path: path), threads: 2).logits(chunks: held, positions: chunks.positions)
            return Fixtures.meanKLD(base: base, logits: logits) { chunks.targets(4 + $0) }
        }
        let fitted = try meanKLD(fitPath), mixed = try meanKLD(mixPath)
        #expect(fitted <= 0.8 * mixed, "fit \(fitted) vs IQ4_XS mix \(mixed)")
        let ratio = fitted / result.predictedKLD
        #expect(ratio > 1.0 / 4 && ratio < 4, "predicted \(result.predictedKLD), measured \(fitted)")
    }
}
