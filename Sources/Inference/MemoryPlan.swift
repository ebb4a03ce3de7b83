import DeepSeekV3

/// How many chunks fit in one layer-major batch under a memory budget. Everything the engine
/// allocates is either per batch token (residual stream, normed copy, layer output, shared-expert
/// output, router logits and choices), per scored position (logits, base
/// log-probs), or fixed (one layer's decoded attention/dense weights, one decoded expert,
/// one chunk's attention intermediates, LM-head tiles; in BF16 mode the weights' BF16 panels
/// and packed input rows too); the budget minus the fixed part, divided
/// by the per-chunk part, gives the batch.
package struct MemoryPlan: Sendable, Equatable {
    package var fixedBytes: Int
    package var bytesPerChunk: Int

    package init(config c: DeepSeekV3Config, context t: Int, scoredPositions: Int, threads: Int, comparedModels: Int, precision: Precision) {
        let h = c.hiddenSize, f = c.moeIntermediateSize, e = c.nRoutedExperts, k = c.numExpertsPerToken
        let heads = c.numAttentionHeads, qk = c.qkHeadDim, latent = c.kvLoraRank, v = c.vHeadDim
        let perToken = 4 * (h * 5 + e + 2 * k)
        let perPosition = 4 * c.vocabSize * (1 + (comparedModels > 0 ? 2 : 0))
        bytesPerChunk = t * perToken + scoredPositions * perPosition
        // Bytes per weight a product holds: its f32 copy, and in BF16 mode the BF16 panels beside
        // it (the router and kv_b stay f32 only). BF16 mode also packs a product's input rows.
        let w = precision == .bf16 ? 6 : 4
        let attention = w * (h * c.qLoraRank + c.qLoraRank * heads * qk + h * (latent + c.qkRopeHeadDim) + heads * v * h)
            + 4 * heads * (c.qkNopeHeadDim + v) * latent
        let dense = w * 3 * h * Swift.max(c.firstKDenseReplace > 0 ? c.intermediateSize : 0, f * c.nSharedExperts)
        let experts = w * 3 * f * h + 4 * 2 * t * (h + f)
        // BF16 attention: the latent as panels of c and cᵀ, and each thread's rounded q_c or P.
        let packedRows = precision == .bf16
            ? 2 * t * Swift.max(h, heads * v, c.qLoraRank, c.intermediateSize, f * c.nSharedExperts) + 4 * t * latent + threads * 2 * t * Swift.max(t, latent)
            : 0
        let transient = 4 * t * (c.qLoraRank + heads * qk + 2 * (latent + c.qkRopeHeadDim) + heads * v)
            + threads * 4 * (t * t + 2 * t * Swift.max(latent, qk)) + packedRows
        let router = 4 * e * h
        let head = threads * w * 2048 * h
        // Dense layers and MoE layers never hold their weights at the same time; the head comes last.
        fixedBytes = Swift.max(attention + Swift.max(dense, experts + router), head) + transient
    }

    /// Chunks per batch for `budget` bytes (at least 1, at most `limit`).
    package func chunks(budget: Int, limit: Int) -> Int {
        Swift.max(1, Swift.min(limit, (budget - fixedBytes) / Swift.max(1, bytesPerChunk)))
    }
}
