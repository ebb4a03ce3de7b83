import DeepSeekV3
import Foundation

/// DeepSeek-V3's router for one token (`Gate.forward` in DeepSeek's `inference/model.py`, after
/// the 2025-02-14 fix that masks dropped groups with −inf):
/// 1. `s = sigmoid(logits)`; the unbiased scores are kept for the weights;
/// 2. selection uses `s + e_score_correction_bias`;
/// 3. with `n_group > 1`: each group's score is the sum of its two best biased scores, the best
///    `topk_group` groups survive, the others' experts can never be chosen;
/// 4. the `num_experts_per_tok` best biased scores among survivors are chosen (ties: lower index);
/// 5. weights are the chosen experts' *unbiased* scores, divided by their sum when
///    `norm_topk_prob`, times `routed_scaling_factor`.
package struct MoEGate: Sendable {
    package var experts: Int
    package var groups: Int
    package var groupsKept: Int
    package var expertsPerToken: Int
    package var normalize: Bool
    package var scale: Float

    package init(config: DeepSeekV3Config) {
        experts = config.nRoutedExperts
        groups = config.nGroup
        groupsKept = config.topkGroup
        expertsPerToken = config.numExpertsPerToken
        normalize = config.normTopkProb
        scale = Float(config.routedScalingFactor)
    }

    package init(experts: Int, groups: Int, groupsKept: Int, expertsPerToken: Int, normalize: Bool, scale: Float) {
        self.experts = experts
        self.groups = groups
        self.groupsKept = groupsKept
        self.expertsPerToken = expertsPerToken
        self.normalize = normalize
        self.scale = scale
    }

    package struct Choice: Sendable, Equatable {
        package var expert: Int
        package var weight: Float
    }

    /// The experts for one token, best first, from its router logits (`x · W_gateᵀ`) and the bias.
    package func route(logits: UnsafePointer<Float>, bias: UnsafePointer<Float>?) -> [Choice] {
        var original = [Float](repeating: 0, count: experts)
        var biased = [Float](repeating: 0, count: experts)
        for e in 0..<experts {
            let s = 1 / (1 + Foundation.exp(-logits[e]))
            original[e] = s
            biased[e] = s + (bias?[e] ?? 0)
        }
        if groups > 1 {
            let size = experts / groups
            var groupScores = [Float](repeating: 0, count: groups)
            for g in 0..<groups {
                let members = biased[(g * size)..<((g + 1) * size)]
                // Without a bias the reference takes the group's maximum instead of its top-2 sum.
                if bias == nil {
                    groupScores[g] = members.max()!
                } else {
                    let best = Self.topIndices(Array(members), count: 2)
                    groupScores[g] = best.reduce(0) { $0 + members[members.startIndex + $1] }
                }
            }
            let kept = Set(Self.topIndices(groupScores, count: groupsKept))
            for g in 0..<groups where !kept.contains(g) {
                for e in (g * size)..<((g + 1) * size) { biased[e] = -.infinity }
            }
        }
        let chosen = Self.topIndices(biased, count: expertsPerToken)
        var weights = chosen.map { original[$0] }
        if normalize {
            let sum = weights.reduce(0, +)
            weights = weights.map { $0 / sum }
        }
        return zip(chosen, weights).map { Choice(expert: $0, weight: $1 * scale) }
    }

    /// Indices of the `count` largest values, largest first; equal values keep index order.
    static func topIndices(_ values: [Float], count: Int) -> [Int] {
        Array(values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }.prefix(count))
    }
}
