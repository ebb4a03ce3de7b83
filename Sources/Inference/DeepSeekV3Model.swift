import DeepSeekV3
import Foundation
import Quants

/// `DeepseekV3ForCausalLM` inference over batches of token chunks, **layer-major**: every chunk of
/// the batch passes layer 0, then layer 1, … so each layer's weights (and each routed expert, for
/// the tokens sent to it) are read and decoded once per batch instead of once per chunk. Chunks
/// are independent sequences (positions restart at 0, causal attention within the chunk).
///
/// Block: `x += MLA(attn_norm(x)); x += FFN(ffn_norm(x))`; dense SwiGLU FFN for the first
/// `first_k_dense_replace` layers, MoE after; final RMSNorm; LM head (`Transformer.forward`).
///
/// Every SGEMM a one-chunk batch would make is made the same way in a larger batch and the work is
/// split in fixed pieces, so logits are bit-identical for any batch size and thread count.
package final class DeepSeekV3Model: @unchecked Sendable {
    package let source: any WeightSource
    package let config: DeepSeekV3Config
    package let threads: Int
    package let attentionForm: AttentionForm
    /// The arithmetic of the weight products (`Precision`).
    package let precision: Precision
    let loader: WeightLoader
    let attention: MultiLatentAttention
    /// Sees every weight's input (importance-matrix collection); nil for plain evaluation.
    package let observer: (any ActivationObserver)?

    /// Progress of one batch: the layer just finished (of `layers`, the head counting as one more).
    package typealias LayerProgress = @Sendable (_ done: Int, _ of: Int) -> Void

    /// An `observer` needs the absorbed attention form (the one whose products llama.cpp's graph
    /// makes, so `attn_k_b`/`attn_v_b` inputs exist).
    package init(
        source: any WeightSource, threads: Int, attention: AttentionForm = .absorbed, precision: Precision = .f32,
        observer: (any ActivationObserver)? = nil
    ) throws {
        precondition(observer == nil || attention == .absorbed, "activations are observed in the absorbed attention form")
        self.observer = observer
        try BLAS.ensureLoaded()
        try precision.ensureSupported()
        self.source = source
        config = source.config
        self.threads = Swift.max(1, threads)
        attentionForm = attention
        self.precision = precision
        loader = WeightLoader(source: source, threads: self.threads, precision: precision)
        self.attention = MultiLatentAttention(config: source.config, form: attention, precision: precision)
    }

    /// Logits for `positions` of each chunk (clamped to its length): one `[positions, vocab]`
    /// matrix per chunk, in order.
    package func logits(chunks: [[Int]], positions: Range<Int>, progress: LayerProgress? = nil) throws -> [Matrix] {
        var outputs: [Matrix] = []
        try logits(chunks: chunks, positions: positions, progress: progress, keeping: true) { _, matrix in outputs.append(matrix) }
        return outputs
    }

    /// The same logits handed to `body` chunk by chunk, in order, in a buffer that is reused for
    /// the next chunk (copy what must outlive the call). Only a few chunks' `[positions, vocab]`
    /// logits exist at once, so a batch of many chunks with a large vocabulary does not fault in
    /// (and zero) gigabytes of fresh pages. Each chunk's head products are the ones `logits` makes,
    /// so the values are bit-identical.
    /// `headOutputBudget` bounds the bytes of logits held at once (at least one chunk's).
    package func forEachLogits(
        chunks: [[Int]], positions: Range<Int>, progress: LayerProgress? = nil, headOutputBudget: Int = DeepSeekV3Model.headOutputBudget,
        _ body: (Int, Matrix) throws -> Void
    ) throws {
        try logits(chunks: chunks, positions: positions, progress: progress, keeping: false, budget: headOutputBudget, body)
    }

    /// Bytes of head output `forEachLogits` holds at once by default.
    package static let headOutputBudget = 256 << 20

    /// The batch's residual stream at the input of some layers (`numHiddenLayers`: the input of the
    /// final norm and head), from `logits(chunks:positions:saving:)`.
    package typealias SavedResiduals = [Int: Matrix]

    /// `logits`, also keeping a copy of the residual stream at the input of each layer in `saving`,
    /// so that a later batch of the same chunks through a model that differs only from one layer on
    /// can start there (`logits(chunks:positions:from:)`) instead of recomputing the layers before it.
    package func logits(chunks: [[Int]], positions: Range<Int>, saving layers: Set<Int>) throws -> (logits: [Matrix], residuals: SavedResiduals) {
        var outputs: [Matrix] = []
        var saved: SavedResiduals = [:]
        try logits(chunks: chunks, positions: positions, progress: nil, keeping: true, saving: layers, saved: &saved) { _, matrix in outputs.append(matrix) }
        return (outputs, saved)
    }

    /// Logits of `chunks` starting at layer `start.layer` from a residual stream saved at its input
    /// (by a model whose weights before that layer are this model's): the same operations from that
    /// layer on as a whole pass, so the logits are bit-identical to `logits(chunks:positions:)`.
    package func logits(chunks: [[Int]], positions: Range<Int>, from start: (layer: Int, residual: Matrix)) throws -> [Matrix] {
        var outputs: [Matrix] = []
        var saved: SavedResiduals = [:]
        try logits(chunks: chunks, positions: positions, progress: nil, keeping: true, start: start, saved: &saved) { _, matrix in outputs.append(matrix) }
        return outputs
    }

    func logits(
        chunks: [[Int]], positions: Range<Int>, progress: LayerProgress?, keeping: Bool, budget: Int = DeepSeekV3Model.headOutputBudget,
        _ body: (Int, Matrix) throws -> Void
    ) throws {
        var saved: SavedResiduals = [:]
        try logits(chunks: chunks, positions: positions, progress: progress, keeping: keeping, budget: budget, saved: &saved, body)
    }

    func logits(
        chunks: [[Int]], positions: Range<Int>, progress: LayerProgress?, keeping: Bool, budget: Int = DeepSeekV3Model.headOutputBudget,
        start: (layer: Int, residual: Matrix)? = nil, saving: Set<Int> = [], saved: inout SavedResiduals,
        _ body: (Int, Matrix) throws -> Void
    ) throws {
        let c = config, hidden = c.hiddenSize
        var ranges: [Range<Int>] = []
        var row = 0
        for chunk in chunks {
            ranges.append(row..<(row + chunk.count))
            row += chunk.count
        }
        for (i, chunk) in chunks.enumerated() {
            if let bad = chunk.first(where: { $0 < 0 || $0 >= c.vocabSize }) {
                throw WeightError(file: source.label, tensor: "-", message: "token id \(bad) in chunk \(i) is outside the vocabulary (\(c.vocabSize))")
            }
        }
        let residual = Matrix(rows: row, columns: hidden)  // [N, hidden]: the batch's residual stream
        let normed = Matrix(rows: row, columns: hidden)
        let delta = Matrix(rows: row, columns: hidden)

        let firstLayer: Int
        if let start {
            precondition(start.residual.rows == row && start.residual.columns == hidden && (0...c.numHiddenLayers).contains(start.layer), "saved residual stream of another batch")
            residual.pointer.update(from: start.residual.pointer, count: residual.count)
            firstLayer = start.layer
        } else {
            // Embedding: only the rows of the batch's tokens are decoded.
            let embedding = CheckpointName.embedding
            loader.prefetch([embedding])
            let flat = chunks.flatMap { $0 }
            for (r, token) in flat.enumerated() { try loader.decodeRows(embedding, rows: token..<(token + 1), into: residual.row(r)) }
            firstLayer = 0
        }
        func save(_ layer: Int) {
            guard saving.contains(layer) else { return }
            let copy = Matrix(rows: row, columns: hidden)
            copy.pointer.update(from: residual.pointer, count: residual.count)
            saved[layer] = copy
        }

        let longest = chunks.map(\.count).max() ?? 0
        let batch = DecoderLayer.Batch(residual: residual, normed: normed, delta: delta, chunks: ranges, rotary: attention.rope.table(positions: longest))
        let eps = Float(c.rmsNormEps)
        let steps = c.numHiddenLayers + 1
        for layer in firstLayer..<c.numHiddenLayers {
            save(layer)
            let decoder = DecoderLayer(layer: layer, config: c)
            // Read ahead the next layer's non-expert weights while this one computes (routed experts
            // are read ahead one at a time inside the MoE, so a tight memory cap is not flooded).
            loader.prefetch(layer + 1 < c.numHiddenLayers ? DecoderLayer(layer: layer + 1, config: c).names : headNames)
            let weights = try decoder.load(from: loader)
            try decoder.forward(batch, weights: weights, attention: attention, loader: loader, threads: threads, observer: observer)
            // Experts released themselves as they finished.
            loader.release(decoder.names)
            progress?(layer + 1, steps)
        }

        save(c.numHiddenLayers)
        if firstLayer == c.numHiddenLayers { loader.prefetch(headNames) }
        // Final norm and LM head, for the requested positions only.
        let finalNorm = try loader.vector(CheckpointName.finalNorm)
        var selected: [(chunk: Int, rows: Range<Int>)] = []
        for (i, range) in ranges.enumerated() {
            let first = Swift.min(range.lowerBound + positions.lowerBound, range.upperBound)
            let last = Swift.min(range.lowerBound + positions.upperBound, range.upperBound)
            selected.append((i, first..<last))
        }
        if let observer, observer.observesOutput {
            // llama-imatrix --process-output: the head's input at every position of every chunk.
            Kernels.rmsNorm(residual.view, weight: finalNorm, epsilon: eps, into: normed.view)
            for range in ranges {
                observer.observe(RowsView(normed.row(range.lowerBound), rows: range.count, columns: hidden), tensor: DeepSeek2Name.output, slot: .whole)
            }
        } else {
            for (_, rows) in selected where !rows.isEmpty {
                Kernels.rmsNorm(residual.rows(rows), weight: finalNorm, epsilon: eps, into: normed.rows(rows))
            }
        }
        // The head for a group of chunks at a time: every chunk's products are the same calls in
        // any grouping. Kept outputs get their own matrices; otherwise a group's buffers are reused.
        let perChunk = Swift.max(1, (positions.count * c.vocabSize * MemoryLayout<Float>.size))
        let group = keeping ? selected.count : Swift.max(1, budget / perChunk)
        var buffers: [Matrix] = []
        for start in stride(from: 0, to: selected.count, by: Swift.max(1, group)) {
            let members = Array(selected[start..<Swift.min(start + group, selected.count)])
            var outputs: [Matrix] = []
            for (j, member) in members.enumerated() {
                if !keeping, j < buffers.count, buffers[j].rows == member.rows.count {
                    outputs.append(buffers[j])
                } else {
                    outputs.append(Matrix(rows: member.rows.count, columns: c.vocabSize))
                }
            }
            if !keeping { buffers = outputs }
            try head(normed: normed, selected: members.enumerated().map { ($0.offset, $0.element.rows) }, outputs: outputs)
            for (j, member) in members.enumerated() { try body(member.chunk, outputs[j]) }
        }
        loader.release(headNames)
        progress?(steps, steps)
    }

    var headNames: [String] { [CheckpointName.finalNorm, headWeightName] }
    var headWeightName: String { CheckpointName.head(tiedToEmbedding: config.tieWordEmbeddings) }

    /// The LM head in fixed tiles of vocabulary rows: each tile is decoded once and multiplied with
    /// every chunk's selected rows. The whole `[vocab, hidden]` head is never in memory at once.
    func head(normed: Matrix, selected: [(chunk: Int, rows: Range<Int>)], outputs: [Matrix]) throws {
        let c = config, hidden = c.hiddenSize, vocab = c.vocabSize
        let tile = 2048
        let tiles = (vocab + tile - 1) / tile
        let failure = FirstError()
        let loader = self.loader, name = headWeightName
        // BF16 mode: every chunk's selected rows rounded once, each decoded tile packed once.
        let roundedInputs = precision == .bf16 ? selected.map { BF16Rows(normed.rows($0.rows), threads: threads) } : nil
        parallelFor(tiles, threads: threads) { range in
            for t in range {
                let start = t * tile, count = Swift.min(tile, vocab - start)
                let weights = Matrix(rows: count, columns: hidden)
                do throws(WeightError) { try loader.decodeRows(name, rows: start..<(start + count), into: weights.pointer) } catch {
                    failure.record(error, order: t)
                    continue
                }
                if let roundedInputs {
                    let panels = BF16Panels(packing: weights, threads: 1)
                    for (i, (chunk, rows)) in selected.enumerated() where !rows.isEmpty {
                        panels.multiply(roundedInputs[i], rows: 0, count: count, into: outputs[chunk].view.columns(start..<(start + count)))
                    }
                } else {
                    for (chunk, rows) in selected where !rows.isEmpty {
                        BLAS.multiplyTransposed(
                            m: rows.count, n: count, k: hidden, a: normed.row(rows.lowerBound), lda: hidden, b: weights.pointer, ldb: hidden,
                            c: outputs[chunk].pointer + start, ldc: vocab)
                    }
                }
            }
        }
        if let error = failure.error { throw error }
    }
}
