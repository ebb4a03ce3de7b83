import DeepSeekV3
import Quants

/// One decoder layer of `DeepseekV3ForCausalLM` over a layer-major batch: the math only.
/// `DeepSeekV3Model` schedules the layers (read-ahead, page release, progress, saved residuals).
///
///     h = x + MLA(attn_norm(x))      [N, hidden]   MultiLatentAttention.swift, chunk by chunk
///     x = h + FFN(ffn_norm(h))       [N, hidden]   a dense SwiGLU MLP (below) for the first
///                                                  first_k_dense_replace layers, else the MoE
///                                                  (MixtureOfExperts.swift)
///
/// Following one token through one MoE layer takes this file, MultiLatentAttention.swift and
/// MixtureOfExperts.swift; the row kernels (RMSNorm, SGEMM, SwiGLU) are in Kernels.swift.
struct DecoderLayer {
    let layer: Int
    let config: DeepSeekV3Config

    /// The layer's weights other than its experts, loaded in one place (experts are decoded one
    /// at a time inside the MoE so that memory does not grow with their count).
    struct Weights {
        var attention: AttentionWeights
        var ffnNorm: [Float]
        var feedForward: FeedForward
    }

    enum FeedForward {
        case dense(MLPWeights)
        case mixture(RoutedExperts.Router)
    }

    var experts: RoutedExperts { RoutedExperts(config: config, layer: layer) }

    /// Every non-expert weight `load` reads (what the scheduler reads ahead and releases).
    var names: [String] {
        var names = AttentionWeights.names(layer: layer) + [CheckpointName.Layer.postAttentionNorm.name(layer: layer)]
        if config.isMoELayer(layer) {
            names += experts.routerNames() + experts.sharedNames()
        } else {
            names += CheckpointName.mlp(.dense, layer: layer)
        }
        return names
    }

    func load(from loader: WeightLoader) throws(WeightError) -> Weights {
        Weights(
            attention: try AttentionWeights.load(layer: layer, from: loader),
            ffnNorm: try loader.vector(CheckpointName.Layer.postAttentionNorm.name(layer: layer)),
            feedForward: config.isMoELayer(layer)
                ? .mixture(try experts.loadRouter(from: loader))
                : .dense(try MLPWeights.load(CheckpointName.mlp(.dense, layer: layer), from: loader)))
    }

    /// The batch's residual stream and the two scratch matrices a layer writes, `[N, hidden]`
    /// each, with the row range of every chunk (chunks are independent sequences).
    struct Batch {
        let residual: Matrix
        let normed: Matrix
        let delta: Matrix
        let chunks: [Range<Int>]
        let rotary: (cos: [Float], sin: [Float])
    }

    /// `x += MLA(attn_norm(x)); x += FFN(ffn_norm(x))` for the whole batch, in place.
    func forward(
        _ batch: Batch, weights w: Weights, attention: MultiLatentAttention, loader: WeightLoader, threads: Int,
        observer: (any ActivationObserver)?
    ) throws(WeightError) {
        let eps = Float(config.rmsNormEps)
        let x = batch.residual, h = batch.normed, delta = batch.delta  // [N, hidden] each
        // Attention, chunk by chunk (its intermediates scale with one chunk only).
        Kernels.rmsNorm(x.view, weight: w.attention.inputNorm, epsilon: eps, into: h.view)
        for chunk in batch.chunks {
            attention.forward(h.rows(chunk), weights: w.attention, rotary: batch.rotary, into: delta.rows(chunk), threads: threads, observing: observer.map { (layer, $0) })
        }
        x.add(delta)
        // Feed-forward.
        Kernels.rmsNorm(x.view, weight: w.ffnNorm, epsilon: eps, into: h.view)
        switch w.feedForward {
        case .mixture(let router):
            try experts.forward(h, chunks: batch.chunks, router: router, loader: loader, into: delta, threads: threads, observer: observer)
        case .dense(let mlp):
            let observing = observer.map { MLPObservation(observer: $0, layer: layer, names: (.ffnGate, .ffnUp, .ffnDown), slot: .whole) }
            for chunk in batch.chunks {
                mlp.forward(h.rows(chunk), into: delta.rows(chunk), threads: threads, observing: observing)
            }
        }
        x.add(delta)
    }
}

/// SwiGLU MLP weights (`w2(silu(w1 x) · w3 x)`): a dense layer, a routed expert or the shared experts.
struct MLPWeights: @unchecked Sendable {
    var gate: Matrix  // [f, hidden]
    var up: Matrix  // [f, hidden]
    var down: Matrix  // [hidden, f]

    /// `names`: gate, up, down (`CheckpointName.mlp`).
    static func load(_ n: [String], from loader: WeightLoader) throws(WeightError) -> MLPWeights {
        return MLPWeights(gate: try loader.matrix(n[0]), up: try loader.matrix(n[1]), down: try loader.matrix(n[2]))
    }

    /// `out[m×hidden] = MLP(x[m×hidden])`, weight tiles split across `threads`.
    func forward(_ x: MatrixView, into out: MatrixView, threads: Int, observing: MLPObservation? = nil) {
        let m = x.rows, f = gate.rows
        let g = Matrix(rows: m, columns: f), u = Matrix(rows: m, columns: f)  // [m, f]
        observing?.observe(x.readOnly, \.gate)
        observing?.observe(x.readOnly, \.up)
        Kernels.linear([.init(x, weight: gate, into: g.view), .init(x, weight: up, into: u.view)], threads: threads)
        // Row by row on every thread (each value on its own: the same bits for any split).
        parallelFor(m, threads: threads, minimumPerThread: 4) { rows in
            Kernels.swiGLU(g.row(rows.lowerBound), u.row(rows.lowerBound), count: rows.count * f)
        }
        observing?.observe(g.view.readOnly, \.down)
        Kernels.linear(g.view, weight: down, into: out, threads: threads)
    }
}

/// Where an MLP's inputs are reported: the GGUF names of its three weights in one layer, and which
/// matrix of them it is (a routed expert of a stack, or the whole weight).
struct MLPObservation {
    struct Names {
        var gate: DeepSeek2Name
        var up: DeepSeek2Name
        var down: DeepSeek2Name
    }
    let observer: any ActivationObserver
    let layer: Int
    let names: Names
    let slot: MatrixSlot

    init(observer: any ActivationObserver, layer: Int, names: (DeepSeek2Name, DeepSeek2Name, DeepSeek2Name), slot: MatrixSlot) {
        self.observer = observer
        self.layer = layer
        self.names = Names(gate: names.0, up: names.1, down: names.2)
        self.slot = slot
    }

    func observe(_ input: RowsView, _ weight: KeyPath<Names, DeepSeek2Name>) {
        observer.observe(input, tensor: names[keyPath: weight].name(layer: layer), slot: slot)
    }
}

