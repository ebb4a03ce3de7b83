import Conversion
import Foundation
import Inference
import SyntheticModels
import TestSupport

/// Synthetic checkpoints shared by this target's tests, generated once per test process.
enum Fixtures {
    static let tiny: String = {
        let directory = TestSupport.scratchDirectory("inference-tiny") + "/fp8"
        try! SyntheticCheckpoint(preset: .tiny, seed: 0).write(to: directory, progress: .quiet)
        return directory
    }()

    static let tinyWeights: CheckpointWeights = try! CheckpointWeights(directory: tiny)

    /// Mean per-token KL divergence of `logits` from `base` (log-probs, `Scoring.baseLogProbabilities`),
    /// llama-perplexity's figure; chunk i is scored against `targets(i)`.
    static func meanKLD(base: [Matrix], logits: [Matrix], targets: (Int) -> [Int]) -> Double {
        var sum = 0.0, count = 0
        for i in base.indices {
            let kld = Scoring.compare(chunk: i, base: base[i], logits: logits[i], targets: targets(i)).kld ?? []
            sum += kld.reduce(0.0) { $0 + Double($1) }
            count += kld.count
        }
        return sum / Double(count)
    }

    /// Deterministic token chunks (ids spread over the vocabulary, first token BOS).
    static func chunks(count: Int, length: Int, vocabulary: Int, seed: UInt64 = 1) -> [[Int]] {
        var state = seed
        return (0..<count).map { _ in
            (0..<length).map { i in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return i == 0 ? 0 : Int((state >> 33) % UInt64(vocabulary))
            }
        }
    }
}
