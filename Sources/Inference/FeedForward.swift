import DeepSeekV3
import Quants

/// SwiGLU MLP weights (`w2(silu(w1 x) · w3 x)`): a dense layer, a routed expert or the shared experts.
struct MLPWeights: @unchecked Sendable {
    var gate: Matrix  // [f, hidden]
    var up: Matrix  // [f, hidden]
    var down: Matrix  // [hidden, f]

    static func names(prefix: String) -> [String] {
        [prefix + "gate_proj.weight", prefix + "up_proj.weight", prefix + "down_proj.weight"]
    }

    static func load(prefix: String, from loader: WeightLoader) throws(WeightError) -> MLPWeights {
        let n = names(prefix: prefix)
        return MLPWeights(gate: try loader.matrix(n[0]), up: try loader.matrix(n[1]), down: try loader.matrix(n[2]))
    }

    /// `out[m×hidden] = MLP(x[m×hidden])`, weight tiles split across `threads`.
    func forward(_ x: UnsafePointer<Float>, rows m: Int, into out: UnsafeMutablePointer<Float>, threads: Int, observing: MLPObservation? = nil) {
        let hidden = gate.columns, f = gate.rows
        let g = Matrix(rows: m, columns: f), u = Matrix(rows: m, columns: f)  // [m, f]
        observing?.observe(RowsView(x, rows: m, columns: hidden), \.gate)
        observing?.observe(RowsView(x, rows: m, columns: hidden), \.up)
        Kernels.linear(
            [
                .init(x, rows: m, inputStride: hidden, weight: gate, into: g.pointer, outputStride: f),
                .init(x, rows: m, inputStride: hidden, weight: up, into: u.pointer, outputStride: f),
            ], threads: threads)
        // Row by row on every thread (each value on its own: the same bits for any split).
        parallelFor(m, threads: threads, minimumPerThread: 4) { rows in
            Kernels.swiGLU(g.row(rows.lowerBound), u.row(rows.lowerBound), count: rows.count * f)
        }
        observing?.observe(RowsView(g.pointer, rows: m, columns: f), \.down)
        Kernels.linear(g.pointer, rows: m, inputStride: f, weight: down, into: out, outputStride: hidden, threads: threads)
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

    var prefix: String { "model.layers.\(layer).mlp." }

    func routerNames() -> [String] { [prefix + "gate.weight", prefix + "gate.e_score_correction_bias"] }

    func expertNames(_ e: Int) -> [String] { MLPWeights.names(prefix: prefix + "experts.\(e).") }

    func sharedNames() -> [String] { MLPWeights.names(prefix: prefix + "shared_experts.") }

    /// `out[N×hidden] = MoE(x[N×hidden])`; `chunks` are the row ranges of the batch's chunks.
    func forward(
        _ x: Matrix, chunks: [Range<Int>], source: any WeightSource, loader: WeightLoader, into out: Matrix, threads: Int,
        observer: (any ActivationObserver)? = nil
    ) throws(WeightError) {
        let hidden = config.hiddenSize, tokens = x.rows
        let router = try loader.matrix(prefix + "gate.weight")  // [E, hidden]
        let bias = try source.vector(prefix + "gate.e_score_correction_bias")
        // Route.
        let logits = Matrix(rows: tokens, columns: gate.experts)  // [N, E]
        for chunk in chunks {
            observer?.observe(RowsView(x.row(chunk.lowerBound), rows: chunk.count, columns: hidden), tensor: DeepSeek2Name.ffnGateInp.name(layer: layer), slot: .whole)
            Kernels.linear(x.row(chunk.lowerBound), rows: chunk.count, inputStride: hidden, weight: router, into: logits.row(chunk.lowerBound), outputStride: gate.experts, threads: threads)
        }
        let choices = bias.withUnsafeBufferPointer { b in
            (0..<tokens).map { t in gate.route(logits: logits.row(t), bias: b.baseAddress) }
        }
        // Tokens of each expert, in token order: (token, slot).
        let assigned = {
            var lists = [[(token: Int, slot: Int)]](repeating: [], count: gate.experts)
            for t in 0..<tokens {
                for (slot, choice) in choices[t].enumerated() { lists[choice.expert].append((t, slot)) }
            }
            return lists
        }()
        let used = (0..<gate.experts).filter { !assigned[$0].isEmpty }
        let chunkOf = ChunkIndex(chunks)
        out.zero()
        // Experts one at a time in ascending order (the reference's loop), each decoded once for the
        // whole batch on all threads, then applied to each chunk's tokens; every token's output
        // accumulates its experts in that order, whatever the batch.
        if let first = used.first { source.prefetch(expertNames(first)) }
        for (u, e) in used.enumerated() {
            if u + 1 < used.count { source.prefetch(expertNames(used[u + 1])) }
            let weights = try MLPWeights.load(prefix: prefix + "experts.\(e).", from: loader)
            let list = assigned[e]
            var start = 0
            while start < list.count {
                let chunk = chunkOf[list[start].token]
                var end = start
                while end < list.count && chunkOf[list[end].token] == chunk { end += 1 }
                let m = end - start
                let gathered = Matrix(rows: m, columns: hidden)  // [m, hidden]: this chunk's tokens
                for i in 0..<m { gathered.row(i).update(from: x.row(list[start + i].token), count: hidden) }
                let result = Matrix(rows: m, columns: hidden)
                let observing = observer.map { MLPObservation(observer: $0, layer: layer, names: (.ffnGateExps, .ffnUpExps, .ffnDownExps), slot: .expert(e, of: gate.experts)) }
                weights.forward(gathered.pointer, rows: m, into: result.pointer, threads: threads, observing: observing)
                for i in 0..<m {
                    let (token, slot) = list[start + i]
                    let w = choices[token][slot].weight
                    let y = out.row(token), r = result.row(i)
                    for j in 0..<hidden { y[j] += r[j] * w }
                }
                start = end
            }
            source.release(expertNames(e))
        }
        // Shared experts, chunk by chunk.
        let shared = Matrix(rows: tokens, columns: hidden)
        if config.nSharedExperts > 0 {
            let weights = try MLPWeights.load(prefix: prefix + "shared_experts.", from: loader)
            let observing = observer.map { MLPObservation(observer: $0, layer: layer, names: (.ffnGateShexp, .ffnUpShexp, .ffnDownShexp), slot: .whole) }
            for chunk in chunks {
                weights.forward(x.row(chunk.lowerBound), rows: chunk.count, into: shared.row(chunk.lowerBound), threads: threads, observing: observing)
            }
        }
        // y + z.
        let y = out.pointer, z = shared.pointer
        for i in 0..<(tokens * hidden) { y[i] += z[i] }
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
