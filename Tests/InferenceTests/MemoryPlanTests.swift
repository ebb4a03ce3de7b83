import DeepSeekV3
import Foundation
import Inference
import TestSupport
import Testing

/// The memory plan counts what BF16 mode holds besides f32: the BF16 panels of every weight a
/// product multiplies (not the router's or kv_b's, which stay f32) and the packed input rows.
@Suite struct MemoryPlanTests {
    @Test func bf16PlansTheWeightsBF16Panels() throws {
        let r1 = try DeepSeekV3Config.parse(Data(DeepSeekV3Config.deepSeekR1JSON.utf8), file: "R1 dimensions")
        let f32 = MemoryPlan(config: r1, context: 512, scoredPositions: 255, threads: 2, comparedModels: 1, precision: .f32)
        let bf16 = MemoryPlan(config: r1, context: 512, scoredPositions: 255, threads: 2, comparedModels: 1, precision: .bf16)
        #expect(bf16.bytesPerChunk == f32.bytesPerChunk)
        // At least 2 bytes more per weight of one layer's attention products (q_a, q_b, kv_a, o) and
        // of one routed expert, which a MoE layer holds at once,
        let h = r1.hiddenSize, heads = r1.numAttentionHeads
        let attention = h * r1.qLoraRank + r1.qLoraRank * heads * r1.qkHeadDim + h * (r1.kvLoraRank + r1.qkRopeHeadDim) + heads * r1.vHeadDim * h
        let expert = 3 * r1.moeIntermediateSize * h
        // and the BF16 attention's latent panels (c and cᵀ) and each thread's rounded q_c or P.
        let latentPanels = 4 * 512 * r1.kvLoraRank, threadRows = 2 * 2 * 512 * Swift.max(512, r1.kvLoraRank)
        #expect(bf16.fixedBytes - f32.fixedBytes >= 2 * (attention + expert) + latentPanels + threadRows)
        // So a budget that held a batch in f32 holds fewer chunks in bf16, never more.
        let budget = f32.fixedBytes + 8 * f32.bytesPerChunk
        #expect(f32.chunks(budget: budget, limit: 100) == 8)
        #expect(bf16.chunks(budget: budget, limit: 100) < 8)
    }
}
