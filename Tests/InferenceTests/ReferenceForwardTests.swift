import Conversion
import DeepSeekV3
import Foundation
import Inference
import Testing
import TestSupport

/// The engine against `Tests/Oracles/reference_forward.py`, an independent float64 numpy forward
/// pass written from DeepSeek's `inference/model.py` (plain MLA, the reference's gate, YaRN).
@Suite(.enabled(if: TestSupport.oraclesAvailable)) struct ReferenceForwardTests {
    @Test(arguments: AttentionForm.allCases)
    func logitsMatchTheNumpyReference(form: AttentionForm) throws {
        let weights = Fixtures.tinyWeights
        let vocabulary = weights.config.vocabSize
        let chunks = Fixtures.chunks(count: 2, length: 48, vocabulary: vocabulary)
        let positions = 8..<40
        let model = try DeepSeekV3Model(source: weights, threads: 2, attention: form)
        let ours = try model.logits(chunks: chunks, positions: positions)

        let scratch = TestSupport.scratchDirectory("reference-forward")
        let chunksFile = scratch + "/chunks-\(form).json", output = scratch + "/logits-\(form).npy"
        try JSONSerialization.data(withJSONObject: chunks).write(to: URL(fileURLWithPath: chunksFile))
        _ = try TestSupport.oracle("reference_forward.py", [Fixtures.tiny, chunksFile, "\(positions.lowerBound)", "\(positions.upperBound)", output])
        let reference = try NumpyArray(path: output)
        #expect(reference.shape == [chunks.count, positions.count, vocabulary])

        var maxDifference = 0.0, maxMagnitude = 0.0, sameArgmax = 0
        for (c, logits) in ours.enumerated() {
            for p in 0..<positions.count {
                var bestOurs = 0, bestReference = 0
                for v in 0..<vocabulary {
                    let r = reference.values[(c * positions.count + p) * vocabulary + v]
                    let o = Double(logits.row(p)[v])
                    maxDifference = max(maxDifference, abs(o - r))
                    maxMagnitude = max(maxMagnitude, abs(r))
                    if o > Double(logits.row(p)[bestOurs]) { bestOurs = v }
                    if r > reference.values[(c * positions.count + p) * vocabulary + bestReference] { bestReference = v }
                }
                if bestOurs == bestReference { sameArgmax += 1 }
            }
        }
        print("reference forward (\(form)): max |logit difference| \(maxDifference) (logits up to \(maxMagnitude)), same argmax \(sameArgmax)/\(chunks.count * positions.count)")
        // f32 engine vs float64 reference through 3 layers: rounding-level agreement only.
        #expect(maxDifference < 2e-4 * max(1, maxMagnitude))
        #expect(sameArgmax == chunks.count * positions.count)
    }
}
