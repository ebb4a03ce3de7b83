import DeepSeekV3
import Quants

/// Multi-head Latent Attention over one chunk of tokens (causal, positions `0..<T`), as
/// `MLA.forward` in DeepSeek's `inference/model.py`.
///
/// Shapes (H heads, n = qk_nope, r = qk_rope, v = v_head, L = kv_lora_rank):
/// `q = q_b(q_norm(q_a(x)))` `[T, H·(n+r)]`; `kv = kv_a(x)` `[T, L+r]` → latent `c = kv_norm(kv[:, :L])`
/// `[T, L]` and the shared rope key `k_pe = rope(kv[:, L:])` `[T, r]`; `kv_b` `[H·(n+v), L]` holds per
/// head `W_k[h]` `[n, L]` then `W_v[h]` `[v, L]`.
///
/// - `.absorbed` (the reference's `attn_impl="absorb"`, llama.cpp's MLA path): `q_c = q_nope·W_k[h]`
///   `[T, L]`; `scores = q_c·cᵀ + q_pe·k_peᵀ`; `o = (P·c)·W_v[h]ᵀ`. Attention runs in the latent space.
/// - `.plain` (`attn_impl="naive"`): `k_nope = c·W_k[h]ᵀ`, `v = c·W_v[h]ᵀ`, ordinary attention.
/// The two are the same function up to float rounding (tested).
package enum AttentionForm: String, Sendable, CaseIterable {
    case absorbed, plain
}

struct AttentionWeights: @unchecked Sendable {
    var inputNorm: [Float]
    var qA: Matrix
    var qANorm: [Float]
    var qB: Matrix
    var kvA: Matrix
    var kvANorm: [Float]
    var kvB: Matrix
    var output: Matrix

    static func names(layer i: Int) -> [String] {
        [CheckpointName.Layer.inputNorm, .qA, .qANorm, .qB, .kvA, .kvANorm, .kvB, .attentionOutput].map { $0.name(layer: i) }
    }

    static func load(layer i: Int, from loader: WeightLoader) throws(WeightError) -> AttentionWeights {
        let n = names(layer: i)
        return AttentionWeights(
            inputNorm: try loader.vector(n[0]), qA: try loader.matrix(n[1]), qANorm: try loader.vector(n[2]),
            qB: try loader.matrix(n[3]), kvA: try loader.matrix(n[4]), kvANorm: try loader.vector(n[5]),
            kvB: try loader.matrix(n[6], alwaysF32: true), output: try loader.matrix(n[7]))
    }
}

struct MultiLatentAttention {
    let config: DeepSeekV3Config
    let form: AttentionForm
    /// In BF16 mode the absorbed form's two activation products (`q_c·cᵀ` and `P·c`) are BF16
    /// products too, as in DeepSeek's own BF16 inference; the rope scores and the `kv_b` products
    /// stay f32 (the plain form stays f32 throughout).
    let precision: Precision
    let softmaxScale: Float
    let rope: YaRNRotary

    init(config: DeepSeekV3Config, form: AttentionForm, precision: Precision = .f32) {
        self.config = config
        self.form = form
        self.precision = precision
        softmaxScale = YaRNRotary.softmaxScale(config: config)
        rope = YaRNRotary(config: config)
    }

    /// `out[T×hidden] = MLA(x)` for normalised input `x[T×hidden]`; `observing` (layer, observer)
    /// sees each weight's input in llama.cpp's MLA form (absorbed only).
    func forward(
        _ x: MatrixView, weights w: AttentionWeights, rotary: (cos: [Float], sin: [Float]),
        into out: MatrixView, threads: Int, observing: (layer: Int, observer: any ActivationObserver)? = nil
    ) {
        let c = config, t = x.rows
        let heads = c.numAttentionHeads, nope = c.qkNopeHeadDim, r = c.qkRopeHeadDim, v = c.vHeadDim
        let latent = c.kvLoraRank, qk = nope + r
        let eps = Float(c.rmsNormEps)
        let half = r / 2

        @Sendable func observe(_ input: RowsView, _ name: DeepSeek2Name, _ slot: MatrixSlot = .whole) {
            observing?.observer.observe(input, tensor: name.name(layer: observing!.layer), slot: slot)
        }
        observe(x.readOnly, .attnQA)
        observe(x.readOnly, .attnKVAMQA)
        let qa = Matrix(rows: t, columns: c.qLoraRank)  // [T, qLora]
        let kv = Matrix(rows: t, columns: latent + r)  // [T, L+r]
        // q_a and kv_a read the same input: one tile list keeps both cores busy (same products).
        Kernels.linear([.init(x, weight: w.qA, into: qa.view), .init(x, weight: w.kvA, into: kv.view)], threads: threads)
        Kernels.rmsNorm(qa.view, weight: w.qANorm, epsilon: eps, into: qa.view)
        observe(qa.view.readOnly, .attnQB)
        let q = Matrix(rows: t, columns: heads * qk)  // [T, H·(n+r)]
        Kernels.linear(qa.view, weight: w.qB, into: q.view, threads: threads)
        let latentKV = Matrix(rows: t, columns: latent)  // [T, L]: c, the normalised latent
        Kernels.rmsNorm(kv.view.columns(0..<latent), weight: w.kvANorm, epsilon: eps, into: latentKV.view)
        let keyPE = Matrix(rows: t, columns: r)  // [T, r]
        rotary.cos.withUnsafeBufferPointer { cos in
            rotary.sin.withUnsafeBufferPointer { sin in
                for p in 0..<t {
                    keyPE.row(p).update(from: kv.row(p) + latent, count: r)
                    YaRNRotary.rotate(keyPE.row(p), half: half, cos: cos.baseAddress! + p * half, sin: sin.baseAddress! + p * half)
                    for h in 0..<heads {
                        YaRNRotary.rotate(q.row(p) + h * qk + nope, half: half, cos: cos.baseAddress! + p * half, sin: sin.baseAddress! + p * half)
                    }
                }
            }
        }

        let attended = Matrix(rows: t, columns: heads * v)  // [T, H·v]
        var latentPanels: LatentPanels?
        if precision == .bf16, form == .absorbed { latentPanels = LatentPanels(latentKV, threads: threads) }
        let inputs = HeadInputs(tokens: t, q: q, keyPE: keyPE, latentKV: latentKV, latentPanels: latentPanels, kvB: w.kvB, attended: attended)
        let form = form
        parallelFor(heads, threads: threads) { range in
            let scratch = HeadScratch(tokens: t, columns: Swift.max(latent, nope, v))
            for h in range {
                switch form {
                case .absorbed: absorbedHead(h, inputs, scratch, observe: observe)
                case .plain: plainHead(h, inputs, scratch)
                }
            }
        }
        observe(attended.view.readOnly, .attnOutput)
        Kernels.linear(attended.view, weight: w.output, into: out, threads: threads)
    }

    /// What every head reads, and `attended` `[T, H·v]`, where head `h` writes columns `h·v..<(h+1)·v`.
    struct HeadInputs: @unchecked Sendable {
        let tokens: Int
        let q: Matrix  // [T, H·(n+r)], rope already applied to each head's last r
        let keyPE: Matrix  // [T, r]
        let latentKV: Matrix  // [T, L]
        /// c in BF16 for both of the absorbed form's products (BF16 mode), else nil.
        let latentPanels: LatentPanels?
        let kvB: Matrix  // [H·(n+v), L]
        let attended: Matrix
    }

    /// The latent `c` `[T, L]` as the right operand of both BF16 products, packed once per chunk
    /// and layer for every head: `c` itself for `q_c·cᵀ`, and `cᵀ` `[L, T]` for `P·c = P·(cᵀ)ᵀ`.
    struct LatentPanels: @unchecked Sendable {
        let keys: BF16Panels
        let values: BF16Panels

        init(_ latentKV: Matrix, threads: Int) {
            keys = BF16Panels(packing: latentKV, threads: threads)
            values = BF16Panels(packingTransposeOf: latentKV)
        }
    }

    /// One thread's buffers: scores `[T, T]` and two `[T, ≥ max(L, n, v)]` intermediates.
    struct HeadScratch {
        let scores: Matrix
        let first: Matrix
        let second: Matrix
        init(tokens t: Int, columns: Int) {
            scores = Matrix(rows: t, columns: t)
            first = Matrix(rows: t, columns: columns)
            second = Matrix(rows: t, columns: columns)
        }
    }

    /// Head `h` in the latent space (llama.cpp's MLA path): `q_c = q_nope·W_k[h]` `[T, L]`,
    /// `scores = q_c·cᵀ + q_pe·k_peᵀ`, `o = (P·c)·W_v[h]ᵀ` `[T, v]`.
    func absorbedHead(_ h: Int, _ x: HeadInputs, _ scratch: HeadScratch, observe: (RowsView, DeepSeek2Name, MatrixSlot) -> Void) {
        let c = config, t = x.tokens, heads = c.numAttentionHeads, nope = c.qkNopeHeadDim, v = c.vHeadDim, latent = c.kvLoraRank
        let wk = x.kvB.row(h * (nope + v)), wv = x.kvB.row(h * (nope + v) + nope)  // [n, L], [v, L]
        let qNope = x.q.pointer + h * (nope + c.qkRopeHeadDim)  // rows of stride H·(n+r)
        let qC = scratch.first, attendedLatent = scratch.second
        observe(RowsView(qNope, rows: t, columns: nope, stride: x.q.columns), .attnKB, .head(h, of: heads))
        BLAS.multiply(m: t, n: latent, k: nope, a: qNope, lda: x.q.columns, b: wk, ldb: latent, c: qC.pointer, ldc: latent)  // q_c [T, L]
        if let panels = x.latentPanels {
            panels.keys.multiply(BF16Rows(MatrixView(qC.pointer, rows: t, columns: latent, stride: latent), threads: 1), rows: 0, count: t, into: scratch.scores.view)
        } else {
            BLAS.multiplyTransposed(m: t, n: t, k: latent, a: qC.pointer, lda: latent, b: x.latentKV.pointer, ldb: latent, c: scratch.scores.pointer, ldc: t)
        }
        addRopeScoresAndSoftmax(h, x, scratch.scores)
        if let panels = x.latentPanels {
            panels.values.multiply(BF16Rows(scratch.scores.view, threads: 1), rows: 0, count: latent, into: MatrixView(attendedLatent.pointer, rows: t, columns: latent, stride: latent))
        } else {
            BLAS.multiply(m: t, n: latent, k: t, a: scratch.scores.pointer, lda: t, b: x.latentKV.pointer, ldb: latent, c: attendedLatent.pointer, ldc: latent)  // P·c [T, L]
        }
        observe(RowsView(attendedLatent.pointer, rows: t, columns: latent), .attnVB, .head(h, of: heads))
        BLAS.multiplyTransposed(m: t, n: v, k: latent, a: attendedLatent.pointer, lda: latent, b: wv, ldb: latent, c: x.attended.pointer + h * v, ldc: x.attended.columns)
    }

    /// Head `h` as ordinary attention: `k_nope = c·W_k[h]ᵀ` `[T, n]`, `v = c·W_v[h]ᵀ` `[T, v]`,
    /// `scores = q_nope·k_nopeᵀ + q_pe·k_peᵀ`, `o = P·v`.
    func plainHead(_ h: Int, _ x: HeadInputs, _ scratch: HeadScratch) {
        let c = config, t = x.tokens, nope = c.qkNopeHeadDim, v = c.vHeadDim, latent = c.kvLoraRank
        let wk = x.kvB.row(h * (nope + v)), wv = x.kvB.row(h * (nope + v) + nope)  // [n, L], [v, L]
        let qNope = x.q.pointer + h * (nope + c.qkRopeHeadDim)  // rows of stride H·(n+r)
        let keyNope = scratch.first, value = scratch.second
        BLAS.multiplyTransposed(m: t, n: nope, k: latent, a: x.latentKV.pointer, lda: latent, b: wk, ldb: latent, c: keyNope.pointer, ldc: nope)  // k_nope [T, n]
        BLAS.multiplyTransposed(m: t, n: t, k: nope, a: qNope, lda: x.q.columns, b: keyNope.pointer, ldb: nope, c: scratch.scores.pointer, ldc: t)
        addRopeScoresAndSoftmax(h, x, scratch.scores)
        BLAS.multiplyTransposed(m: t, n: v, k: latent, a: x.latentKV.pointer, lda: latent, b: wv, ldb: latent, c: value.pointer, ldc: v)  // v [T, v]
        BLAS.multiply(m: t, n: v, k: t, a: scratch.scores.pointer, lda: t, b: value.pointer, ldb: v, c: x.attended.pointer + h * v, ldc: x.attended.columns)
    }

    /// `scores += q_pe·k_peᵀ`, then the scaled causal softmax of each row (keys `0...p`).
    func addRopeScoresAndSoftmax(_ h: Int, _ x: HeadInputs, _ scores: Matrix) {
        let t = x.tokens, r = config.qkRopeHeadDim, qk = config.qkNopeHeadDim + r
        BLAS.multiplyTransposed(m: t, n: t, k: r, a: x.q.pointer + h * qk + config.qkNopeHeadDim, lda: x.q.columns, b: x.keyPE.pointer, ldb: r, c: scores.pointer, ldc: t, accumulate: true)
        for p in 0..<t {
            let row = scores.row(p)
            for j in 0...p { row[j] *= softmaxScale }
            Kernels.softmax(row, count: p + 1)
            for j in (p + 1)..<t { row[j] = 0 }
        }
    }
}
