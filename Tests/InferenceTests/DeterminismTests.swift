import DeepSeekV3
import Foundation
import Inference
import Testing

/// Batch composition and thread count must not change a single bit of the logits: that is what
/// lets layer-major batches, chunk-by-chunk runs and merged partial runs report identical figures.
@Suite struct DeterminismTests {
    static let chunks = Fixtures.chunks(count: 3, length: 40, vocabulary: Fixtures.tinyWeights.config.vocabSize, seed: 7)

    static func bits(_ matrices: [Matrix]) -> [[UInt32]] { matrices.map { $0.values.map(\.bitPattern) } }

    @Test func layerMajorBatchEqualsChunkByChunk() throws {
        let model = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 2)
        let batched = try model.logits(chunks: Self.chunks, positions: 20..<39)
        var single: [Matrix] = []
        for chunk in Self.chunks { single += try model.logits(chunks: [chunk], positions: 20..<39) }
        #expect(Self.bits(batched) == Self.bits(single))
    }

    /// A batch started at a layer from the residual stream saved there (what `--target-size`'s
    /// sensitivity passes do) gives the whole pass's logits, bit for bit, at every layer and at the
    /// head; the saved streams are the whole pass's too.
    @Test func startingAtASavedLayerEqualsTheWholePass() throws {
        let model = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 2)
        let layers = model.config.numHiddenLayers
        let whole = try model.logits(chunks: Self.chunks, positions: 20..<39)
        let (again, saved) = try model.logits(chunks: Self.chunks, positions: 20..<39, saving: Set(0...layers))
        #expect(Self.bits(again) == Self.bits(whole))
        #expect(saved.keys.sorted() == Array(0...layers))
        for layer in 0...layers {
            let resumed = try model.logits(chunks: Self.chunks, positions: 20..<39, from: (layer, try #require(saved[layer])))
            #expect(Self.bits(resumed) == Self.bits(whole), "from layer \(layer)")
        }
    }

    @Test func threadCountDoesNotChangeLogits() throws {
        let one = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 1).logits(chunks: Self.chunks, positions: 0..<40)
        let two = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 2).logits(chunks: Self.chunks, positions: 0..<40)
        let five = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 5).logits(chunks: Self.chunks, positions: 0..<40)
        #expect(Self.bits(one) == Self.bits(two))
        #expect(Self.bits(one) == Self.bits(five))
    }

    /// Guards the head run a few chunks at a time into reused buffers (perplexity's path): every
    /// grouping, down to one chunk per group with its buffer overwritten by the next, hands out the
    /// logits `logits` returns, and in chunk order.
    @Test(arguments: [1, 1 << 12, 1 << 30])
    func chunkByChunkHeadEqualsTheWholeBatch(budget: Int) throws {
        let model = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 2)
        let whole = try model.logits(chunks: Self.chunks, positions: 20..<39)
        var seen: [Int] = []
        var streamed: [[UInt32]] = []
        try model.forEachLogits(chunks: Self.chunks, positions: 20..<39, headOutputBudget: budget) { chunk, logits in
            seen.append(chunk)
            streamed.append(logits.values.map(\.bitPattern))
        }
        #expect(seen == Array(0..<Self.chunks.count))
        #expect(streamed == Self.bits(whole))
    }

    /// Scoring shares a chunk's positions across threads; the sums must not depend on how.
    @Test func scoringThreadsDoNotChangeTheFigures() throws {
        let logits = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 1).logits(chunks: Self.chunks, positions: 0..<39)
        for (c, matrix) in logits.enumerated() {
            let targets = Array(Self.chunks[c][1...])
            let one = Scoring.score(chunk: c, logits: matrix, targets: targets, threads: 1)
            for threads in [2, 3, 7] { #expect(Scoring.score(chunk: c, logits: matrix, targets: targets, threads: threads) == one) }
            // And equal to the full log-softmax the comparisons use.
            let base = Scoring.baseLogProbabilities(matrix)
            let full = targets.enumerated().reduce(0.0) { $0 - Double(base.row($1.offset)[$1.element]) }
            #expect(one.nll == full)
        }
    }

    @Test func absorbedAndPlainAttentionAgree() throws {
        let absorbed = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 2, attention: .absorbed).logits(chunks: Self.chunks, positions: 0..<40)
        let plain = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 2, attention: .plain).logits(chunks: Self.chunks, positions: 0..<40)
        var maxDifference: Float = 0
        for (a, p) in zip(absorbed, plain) {
            for (x, y) in zip(a.values, p.values) { maxDifference = max(maxDifference, abs(x - y)) }
        }
        // Same function, different association of the products: float rounding only.
        #expect(maxDifference > 0)
        #expect(maxDifference < 1e-4)
    }

    @Test func outOfVocabularyTokenIsNamed() throws {
        let model = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 1)
        #expect(throws: WeightError.self) { try model.logits(chunks: [[0, 5, 99_999]], positions: 0..<3) }
    }
}
