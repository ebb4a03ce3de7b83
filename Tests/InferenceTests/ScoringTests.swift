import Foundation
import Inference
import Testing

/// llama-perplexity's method and figures on hand-made inputs.
@Suite struct ScoringTests {
    @Test func chunksFollowLlamaPerplexity() {
        let chunks = TokenChunks(tokens: Array(0..<10), context: 4, bos: 99)
        #expect(chunks.available == 2)
        #expect(chunks.first == 2)
        #expect(chunks.positions == 2..<3)
        #expect(chunks.chunk(0) == [99, 1, 2, 3])
        #expect(chunks.chunk(1) == [99, 5, 6, 7])
        #expect(chunks.targets(1) == [7])
        #expect(TokenChunks(tokens: Array(0..<10), context: 4, bos: nil).chunk(1) == [4, 5, 6, 7])
    }

    static func matrix(_ rows: [[Float]]) -> Matrix {
        let m = Matrix(rows: rows.count, columns: rows[0].count)
        for (r, row) in rows.enumerated() { for (c, v) in row.enumerated() { m.row(r)[c] = v } }
        return m
    }

    @Test func uniformLogitsGiveTheVocabularySize() {
        let logits = Self.matrix([[Float](repeating: 0.25, count: 8), [Float](repeating: -3, count: 8)])
        let report = EvaluationReport(scores: [Scoring.score(chunk: 0, logits: logits, targets: [3, 5])])
        #expect(abs(report.perplexity.value - 8) < 1e-5)
        #expect(report.perplexity.uncertainty == 0)
        #expect(report.tokens == 2)
    }

    @Test func perplexityErrorIsLlamaPerplexitysFormula() {
        // Per-token NLL 1 and 3: PPL = e², error = e² · sqrt((⟨nll²⟩ − ⟨nll⟩²)/(n−1)) = e² · 1.
        var score = ChunkScore(chunk: 0, count: 2, nll: 4, nll2: 10)
        score.chunk = 0
        let report = EvaluationReport(scores: [score])
        #expect(abs(report.perplexity.value - exp(2)) < 1e-12)
        #expect(abs(report.perplexity.uncertainty - exp(2)) < 1e-12)
    }

    @Test func aModelComparedWithItselfHasZeroDivergence() {
        let logits = Self.matrix([[1, 2, 3, 4], [4, 1, 0, -1], [0.5, 0.5, 0.25, 2]])
        let base = Scoring.baseLogProbabilities(logits)
        let score = Scoring.compare(chunk: 0, base: base, logits: logits, targets: [3, 0, 1])
        #expect(score.kld == [0, 0, 0])
        #expect(score.deltaP == [0, 0, 0])
        #expect(score.sameTop == 3)
        #expect(score.nll == score.baseNLL)
        let report = EvaluationReport(scores: [score])
        #expect(report.perplexityRatio == 1)
        #expect(report.sameTop?.value == 1)
    }

    @Test func divergenceMatchesTheDefinition() {
        // base p = softmax([0, 0]) = (½, ½); model q = softmax([ln 3, 0]) = (¾, ¼):
        // KL(p‖q) = ½ ln(½/¾) + ½ ln(½/¼) = ½ ln(4/3); Δp on target 0 = ¾ − ½; top-1 differs (tie → 0 vs 0).
        let base = Scoring.baseLogProbabilities(Self.matrix([[0, 0]]))
        let score = Scoring.compare(chunk: 0, base: base, logits: Self.matrix([[Float(log(3.0)), 0]]), targets: [0])
        #expect(abs(Double(score.kld![0]) - 0.5 * log(4.0 / 3.0)) < 1e-6)
        #expect(abs(Double(score.deltaP![0]) - 0.25) < 1e-6)
        #expect(score.sameTop == 1)
    }
}
