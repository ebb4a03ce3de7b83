import Conversion
import DeepSeekV3
import Foundation
import Inference
import TensorFiles
import Testing
import TestSupport

/// Optional job: llama.cpp (through llama-cpp-python, which builds it from source in 15-25 minutes,
/// hence not in every CI run) evaluates the same GGUF as moepack's engine, and the logits agree:
///     MOEPACK_LLAMA_PYTHON=/tmp/llama/bin/python swift test -c release --filter LlamaCppForwardTests
/// llama.cpp multiplies block-quantized weights with activations quantized to Q8 blocks, so only
/// the F32 file can agree to float rounding; the quantized files agree to that extra error.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MOEPACK_LLAMA_PYTHON"] != nil))
struct LlamaCppForwardTests {
    @Test(arguments: ["F32", "Q8_0", "Q4_K_M", "IQ3_XXS", "IQ2_XXS", "IQ1_S"])
    func logitsAgreeWithLlamaCpp(type: String) throws {
        let python = ProcessInfo.processInfo.environment["MOEPACK_LLAMA_PYTHON"]!
        let root = TestSupport.scratchDirectory("llama-forward-\(type)")
        let path = root + "/model.gguf"
        var options = GGUFConverter.Options()
        if type == "F32" {
            options.rules = [try QuantRecipe.Rule(parsing: ".*=F32")]
        } else {
            options.recipe = QuantRecipe.Mix(argument: type)!
        }
        if type.hasPrefix("IQ") {
            // The IQ mixes need an importance matrix: the tiny model's own, on other tokens.
            let collector = ImatrixCollector()
            let calibration = Fixtures.chunks(count: 4, length: 64, vocabulary: Fixtures.tinyWeights.config.vocabSize, seed: 11)
            _ = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 2, observer: collector).logits(chunks: calibration, positions: 0..<0)
            options.importance = (try collector.result(datasets: [], chunkCount: 4, chunkSize: 64), "calibration", "-")
        }
        options.progress = .quiet
        _ = try GGUFConverter(input: Fixtures.tiny, output: path, options: options).run()
        let weights = try GGUFWeights(path: path)
        let vocabulary = weights.config.vocabSize
        let chunks = Fixtures.chunks(count: 2, length: 128, vocabulary: vocabulary, seed: 3)
        let positions = 64..<127
        let ours = try DeepSeekV3Model(source: weights, threads: 2).logits(chunks: chunks, positions: positions)
        try JSONSerialization.data(withJSONObject: chunks).write(to: URL(fileURLWithPath: root + "/chunks.json"))
        let result = try TestSupport.run(python, [
            TestSupport.packageRoot + "/Tests/Oracles/llama_logits.py", path, root + "/chunks.json", "\(positions.lowerBound)", "\(positions.upperBound)", root + "/llama.npy", "2",
        ])
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        let theirs = try NumpyArray(path: root + "/llama.npy")
        var maxDifference = 0.0, maxMagnitude = 0.0, same = 0, nllOurs = 0.0, nllTheirs = 0.0
        for (c, logits) in ours.enumerated() {
            for p in 0..<positions.count {
                let base = (c * positions.count + p) * vocabulary
                var bestOurs = 0, bestTheirs = 0
                var maxOurs = -Double.infinity, maxTheirs = -Double.infinity
                for v in 0..<vocabulary {
                    let o = Double(logits.row(p)[v]), t = theirs.values[base + v]
                    maxDifference = max(maxDifference, abs(o - t))
                    maxMagnitude = max(maxMagnitude, abs(t))
                    if o > maxOurs { maxOurs = o; bestOurs = v }
                    if t > maxTheirs { maxTheirs = t; bestTheirs = v }
                }
                if bestOurs == bestTheirs { same += 1 }
                let target = chunks[c][positions.lowerBound + p + 1]
                var sumOurs = 0.0, sumTheirs = 0.0
                for v in 0..<vocabulary {
                    sumOurs += exp(Double(logits.row(p)[v]) - maxOurs)
                    sumTheirs += exp(theirs.values[base + v] - maxTheirs)
                }
                nllOurs += maxOurs + log(sumOurs) - Double(logits.row(p)[target])
                nllTheirs += maxTheirs + log(sumTheirs) - theirs.values[base + target]
            }
        }
        let n = Double(chunks.count * positions.count)
        let pplOurs = exp(nllOurs / n), pplTheirs = exp(nllTheirs / n)
        print("llama.cpp vs moepack on \(type) GGUF: max |logit difference| \(maxDifference) (logits up to \(maxMagnitude)), same top-1 \(same)/\(Int(n)), PPL \(pplOurs) vs \(pplTheirs)")
        if type == "F32" {
            // Same weights, both in f32: float rounding only (measured 6e-6 on logits up to 11.5).
            #expect(maxDifference < 1e-4 * max(1, maxMagnitude))
            #expect(same == Int(n))
            #expect(abs(pplOurs / pplTheirs - 1) < 1e-6)
        } else {
            // llama.cpp also rounds the activations to Q8 blocks; on a few tokens that flips an
            // expert choice and moves those logits by O(1) (measured: Q8_0 122/126 and Q4_K_M
            // 112/126 same top-1, PPL within 0.8% and 0.2%).
            #expect(Double(same) >= 0.85 * n)
            #expect(abs(pplOurs / pplTheirs - 1) < 0.015)
        }
    }
}
