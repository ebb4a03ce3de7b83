import DeepSeekV3
import Foundation
import Quants

/// The MoE feed-forward of one layer over a whole batch of chunks (`MoE.forward` in the reference):
/// route every token, then run each *used* expert once for the batch: its weights are decoded once,
/// then multiplied with the tokens of each chunk routed to it. Per-chunk calls keep every SGEMM
/// identical to chunk-by-chunk evaluation; the weighted expert outputs are summed per token in
/// ascending expert order (the reference's loop order), then the shared experts' output is added.
/// Only one expert is decoded at a time, so memory does not grow with the expert count.
struct RoutedExperts {
    let config: DeepSeekV3Config
    let layer: Int
    let gate: MoEGate

    init(config: DeepSeekV3Config, layer: Int) {
        self.config = config
        self.layer = layer
        gate = MoEGate(config: config)
    }

    func routerNames() -> [String] { [CheckpointName.Layer.router.name(layer: layer), CheckpointName.Layer.routerBias.name(layer: layer)] }

    func expertNames(_ e: Int) -> [String] { CheckpointName.mlp(.expert(e), layer: layer) }

    func sharedNames() -> [String] { CheckpointName.mlp(.shared, layer: layer) }

    /// The router's weights, loaded with the layer's other non-expert weights.
    struct Router: @unchecked Sendable {
        var weight: Matrix  // [E, hidden]
        var bias: [Float]  // [E], added for selection only
    }

    func loadRouter(from loader: WeightLoader) throws(WeightError) -> Router {
        let names = routerNames()
        return Router(weight: try loader.matrix(names[0], alwaysF32: true), bias: try loader.vector(names[1]))
    }

    /// `out[N×hidden] = MoE(x[N×hidden])`; `chunks` are the row ranges of the batch's chunks.
    /// Routed and shared experts are decoded one at a time, here, and released when done.
    func forward(
        _ x: Matrix, chunks: [Range<Int>], router: Router, loader: WeightLoader, into out: Matrix, threads: Int,
        observer: (any ActivationObserver)? = nil
    ) throws(WeightError) {
        let choices = route(x, chunks: chunks, router: router, threads: threads, observer: observer)  // [N][k]
        let assigned = tokensByExpert(choices)
        let used = (0..<gate.experts).filter { !assigned[$0].isEmpty }
        let chunkOf = ChunkIndex(chunks)
        out.zero()
        // Experts one at a time in ascending order (the reference's loop), each decoded once for the
        // whole batch on all threads, then applied to each chunk's tokens; every token's output
        // accumulates its experts in that order, whatever the batch.
        if let first = used.first { loader.prefetch(expertNames(first)) }
        for (u, e) in used.enumerated() {
            if u + 1 < used.count { loader.prefetch(expertNames(used[u + 1])) }
            let weights = try MLPWeights.load(expertNames(e), from: loader)
            apply(expert: e, weights, to: assigned[e], of: x, choices: choices, chunkOf: chunkOf, into: out, threads: threads, observer: observer)
            loader.release(expertNames(e))
        }
        // y + z: the shared experts, chunk by chunk.
        if config.nSharedExperts > 0 {
            let shared = Matrix(rows: x.rows, columns: config.hiddenSize)
            let weights = try MLPWeights.load(sharedNames(), from: loader)
            let observing = observer.map { MLPObservation(observer: $0, layer: layer, names: (.ffnGateShexp, .ffnUpShexp, .ffnDownShexp), slot: .whole) }
            for chunk in chunks {
                weights.forward(x.rows(chunk), into: shared.rows(chunk), threads: threads, observing: observing)
            }
            out.add(shared)
        }
    }

    /// Each token's experts and weights: router logits `[N, E]` chunk by chunk, then `MoEGate`.
    func route(_ x: Matrix, chunks: [Range<Int>], router: Router, threads: Int, observer: (any ActivationObserver)?) -> [[MoEGate.Choice]] {
        let logits = Matrix(rows: x.rows, columns: gate.experts)  // [N, E]
        for chunk in chunks {
            observer?.observe(x.rows(chunk).readOnly, tensor: DeepSeek2Name.ffnGateInp.name(layer: layer), slot: .whole)
            Kernels.linear(x.rows(chunk), weight: router.weight, into: logits.rows(chunk), threads: threads)
        }
        return router.bias.withUnsafeBufferPointer { b in
            (0..<x.rows).map { t in gate.route(logits: logits.row(t), bias: b.baseAddress) }
        }
    }

    /// The tokens sent to each expert, in token order, with the slot of the choice that sent them.
    func tokensByExpert(_ choices: [[MoEGate.Choice]]) -> [[(token: Int, slot: Int)]] {
        var lists = [[(token: Int, slot: Int)]](repeating: [], count: gate.experts)
        for (t, tokenChoices) in choices.enumerated() {
            for (slot, choice) in tokenChoices.enumerated() { lists[choice.expert].append((t, slot)) }
        }
        return lists
    }

    /// `out[token] += weight · expert(x[token])` for the expert's tokens, one chunk's tokens per
    /// product (gathered into `[m, hidden]`, so every SGEMM is the one a one-chunk batch makes).
    func apply(
        expert e: Int, _ weights: MLPWeights, to list: [(token: Int, slot: Int)], of x: Matrix, choices: [[MoEGate.Choice]], chunkOf: ChunkIndex,
        into out: Matrix, threads: Int, observer: (any ActivationObserver)?
    ) {
        let hidden = config.hiddenSize
        let observing = observer.map { MLPObservation(observer: $0, layer: layer, names: (.ffnGateExps, .ffnUpExps, .ffnDownExps), slot: .expert(e, of: gate.experts)) }
        var start = 0
        while start < list.count {
            let chunk = chunkOf[list[start].token]
            var end = start
            while end < list.count && chunkOf[list[end].token] == chunk { end += 1 }
            let m = end - start
            let gathered = Matrix(rows: m, columns: hidden)  // [m, hidden]: this chunk's tokens
            for i in 0..<m { gathered.row(i).update(from: x.row(list[start + i].token), count: hidden) }
            let result = Matrix(rows: m, columns: hidden)
            weights.forward(gathered.view, into: result.view, threads: threads, observing: observing)
            for i in 0..<m {
                let (token, slot) = list[start + i]
                let w = choices[token][slot].weight
                let y = out.row(token), r = result.row(i)
                for j in 0..<hidden { y[j] += r[j] * w }
            }
            start = end
        }
    }
}

/// Which chunk a batch row belongs to.
struct ChunkIndex: Sendable {
    let owner: [Int]
    init(_ chunks: [Range<Int>]) {
        var owner = [Int](repeating: 0, count: chunks.last?.upperBound ?? 0)
        for (c, range) in chunks.enumerated() { for r in range { owner[r] = c } }
        self.owner = owner
    }
    subscript(row: Int) -> Int { owner[row] }
}

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
