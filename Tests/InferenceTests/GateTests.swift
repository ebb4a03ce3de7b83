import Foundation
import Inference
import Testing

/// The router on hand-made scores (`Gate.forward`, DeepSeek `inference/model.py`).
@Suite struct GateTests {
    /// Logits whose sigmoid is exactly `p` (so the expected weights are easy to write down).
    static func logits(_ probabilities: [Float]) -> [Float] { probabilities.map { Float(log(Double($0) / (1 - Double($0)))) } }

    func route(_ gate: MoEGate, _ probabilities: [Float], bias: [Float]?) -> [MoEGate.Choice] {
        let l = Self.logits(probabilities)
        return l.withUnsafeBufferPointer { lp in
            if let bias { return bias.withUnsafeBufferPointer { gate.route(logits: lp.baseAddress!, bias: $0.baseAddress) } }
            return gate.route(logits: lp.baseAddress!, bias: nil)
        }
    }

    @Test func biasChangesSelectionButNotWeights() {
        let gate = MoEGate(experts: 4, groups: 1, groupsKept: 1, expertsPerToken: 2, normalize: false, scale: 1)
        let p: [Float] = [0.9, 0.8, 0.3, 0.2]
        #expect(route(gate, p, bias: nil).map(\.expert) == [0, 1])
        // A bias of +1 on expert 3 makes it win selection; its weight stays its own sigmoid 0.2.
        let biased = route(gate, p, bias: [0, 0, 0, 1])
        #expect(biased.map(\.expert) == [3, 0])
        #expect(abs(biased[0].weight - 0.2) < 1e-6)
        #expect(abs(biased[1].weight - 0.9) < 1e-6)
    }

    @Test func maskedGroupsAreNeverSelected() {
        // 4 groups of 2; the best single expert (0.99, expert 6) sits in group 3 whose top-2 sum is
        // low (0.99 + 0.01 < 0.6 + 0.6 and 0.7 + 0.5), so with 2 groups kept it must not be chosen.
        let gate = MoEGate(experts: 8, groups: 4, groupsKept: 2, expertsPerToken: 3, normalize: true, scale: 1)
        let p: [Float] = [0.6, 0.6, 0.7, 0.55, 0.1, 0.1, 0.99, 0.01]
        let choices = route(gate, p, bias: [Float](repeating: 0, count: 8))
        #expect(!choices.contains { $0.expert == 6 })
        #expect(Set(choices.map(\.expert)) == [0, 1, 2])
        #expect(choices.allSatisfy { $0.expert < 4 })
        // Without groups the 0.99 expert wins.
        let flat = MoEGate(experts: 8, groups: 1, groupsKept: 1, expertsPerToken: 3, normalize: true, scale: 1)
        #expect(route(flat, p, bias: [Float](repeating: 0, count: 8)).first?.expert == 6)
    }

    @Test func weightsAreNormalisedThenScaled() {
        let gate = MoEGate(experts: 4, groups: 2, groupsKept: 2, expertsPerToken: 2, normalize: true, scale: 2.5)
        let choices = route(gate, [0.75, 0.25, 0.5, 0.125], bias: [0, 0, 0, 0])
        #expect(choices.map(\.expert) == [0, 2])
        // 0.75 / 1.25 · 2.5 = 1.5 and 0.5 / 1.25 · 2.5 = 1.0
        #expect(abs(choices[0].weight - 1.5) < 1e-6)
        #expect(abs(choices[1].weight - 1.0) < 1e-6)
        #expect(abs(choices.reduce(0) { $0 + $1.weight } - 2.5) < 1e-6)
    }

    @Test func tiesGoToTheLowerIndex() {
        let gate = MoEGate(experts: 4, groups: 1, groupsKept: 1, expertsPerToken: 2, normalize: false, scale: 1)
        #expect(route(gate, [0.5, 0.5, 0.5, 0.5], bias: nil).map(\.expert) == [0, 1])
    }
}
