import TensorFiles

/// llama.cpp's `deepseek2.*` metadata keys, each written once with the GGUF type moepack writes,
/// the `config.json` field it carries and what a reader assumes when a file lacks it (gguf-py
/// `constants.py` `Keys.LLM`, `Keys.Attention`, `Keys.Rope`; llama.cpp `src/llama-arch.cpp`
/// `LLM_KV_*`, read by `src/models/deepseek2.cpp`). The types are the ones llama.cpp's loader checks
/// (`llama_model_loader::get_key`: counts u32, floats f32, flags bool).
///
/// `DeepSeek2Metadata.make` writes `all` in order (with `value(config:mtpLayers:)`);
/// `DeepSeekV3Config(deepseek2:)` reads them back. See formats/gguf.md.
package struct DeepSeek2Key: Sendable, Equatable, CustomStringConvertible {
    /// What a reader takes when a file lacks the key.
    package enum Absent: Sendable, Equatable {
        /// The file must hold the key (the YaRN ones: when `rope.scaling.type` is `yarn`).
        case required
        /// This value (llama.cpp's default).
        case fallback(Double)
        /// The number of `tokenizer.ggml.tokens` (0 without a vocabulary).
        case tokenCount
        /// The setting is off: no RoPE scaling.
        case off
        /// Not read: implied by other keys (written for llama.cpp).
        case notRead
    }

    /// The full key, `deepseek2.` and the suffix gguf-py writes after `{arch}.`.
    package let name: String
    /// The type moepack writes. Readers accept any number for a count or a float.
    package let type: GGUFValue.Kind
    /// The `config.json` field the value comes from (or how it is computed).
    package let field: String
    package let absent: Absent
    let write: @Sendable (DeepSeekV3Config, Int) -> Written?

    /// A value before it is stored in the key's `type`.
    enum Written {
        case count(Int), real(Double), flag(Bool), text(String)
    }

    init(
        _ suffix: String, _ type: GGUFValue.Kind, field: String, absent: Absent,
        write: @escaping @Sendable (DeepSeekV3Config, _ mtpLayers: Int) -> Written?
    ) {
        name = DeepSeek2Key.architecture + "." + suffix
        self.type = type
        self.field = field
        self.absent = absent
        self.write = write
    }

    package var description: String { name }

    package static func == (a: DeepSeek2Key, b: DeepSeek2Key) -> Bool { a.name == b.name }

    /// `general.architecture` of every DeepSeek-V3/R1 GGUF.
    package static let architecture = "deepseek2"

    /// The key's value for a config, or nil when the key is not written (no MTP layers, no RoPE
    /// scaling). `mtpLayers` are the multi-token-prediction layers the file holds (`block_count`
    /// counts them).
    package func value(config: DeepSeekV3Config, mtpLayers: Int) -> GGUFValue? {
        guard let written = write(config, mtpLayers) else { return nil }
        switch (type, written) {
        case (.uint32, .count(let x)): return .uint32(Self.u32(x))
        case (.float32, .real(let x)): return .float32(Float(x))
        case (.bool, .flag(let x)): return .bool(x)
        case (.string, .text(let x)): return .string(x)
        default: preconditionFailure("\(name): a \(written) value for a \(type) key")
        }
    }

    /// A config count as u32. `DeepSeekV3Config.validate` bounds every field by 2³¹−1 (and the
    /// tokenizer its ids by 2²⁴), so a value out of range here is a programmer error: a config
    /// that did not come through `DeepSeekV3Config.parse`.
    package static func u32(_ value: Int) -> UInt32 {
        guard let exact = UInt32(exactly: value) else { preconditionFailure("\(value) does not fit a u32: config not validated") }
        return exact
    }

    // MARK: - The table, in the order they are written

    package static let blockCount = DeepSeek2Key(
        "block_count", .uint32, field: "num_hidden_layers + the MTP layers written", absent: .required
    ) { c, mtp in .count(c.numHiddenLayers + mtp) }
    package static let contextLength = DeepSeek2Key(
        "context_length", .uint32, field: "max_position_embeddings", absent: .required
    ) { c, _ in .count(c.maxPositionEmbeddings) }
    package static let embeddingLength = DeepSeek2Key(
        "embedding_length", .uint32, field: "hidden_size", absent: .required
    ) { c, _ in .count(c.hiddenSize) }
    package static let feedForwardLength = DeepSeek2Key(
        "feed_forward_length", .uint32, field: "intermediate_size", absent: .required
    ) { c, _ in .count(c.intermediateSize) }
    package static let headCount = DeepSeek2Key(
        "attention.head_count", .uint32, field: "num_attention_heads", absent: .required
    ) { c, _ in .count(c.numAttentionHeads) }
    package static let headCountKV = DeepSeek2Key(
        "attention.head_count_kv", .uint32, field: "1 (absorbed MLA: one latent KV head)", absent: .notRead
    ) { _, _ in .count(1) }
    package static let ropeFreqBase = DeepSeek2Key(
        "rope.freq_base", .float32, field: "rope_theta", absent: .fallback(10000)
    ) { c, _ in .real(c.ropeTheta) }
    package static let rmsEpsilon = DeepSeek2Key(
        "attention.layer_norm_rms_epsilon", .float32, field: "rms_norm_eps", absent: .required
    ) { c, _ in .real(c.rmsNormEps) }
    package static let expertUsedCount = DeepSeek2Key(
        "expert_used_count", .uint32, field: "num_experts_per_tok", absent: .required
    ) { c, _ in .count(c.numExpertsPerToken) }
    package static let expertGroupCount = DeepSeek2Key(
        "expert_group_count", .uint32, field: "n_group", absent: .fallback(1)
    ) { c, _ in .count(c.nGroup) }
    package static let expertGroupUsedCount = DeepSeek2Key(
        "expert_group_used_count", .uint32, field: "topk_group", absent: .fallback(1)
    ) { c, _ in .count(c.topkGroup) }
    package static let leadingDenseBlockCount = DeepSeek2Key(
        "leading_dense_block_count", .uint32, field: "first_k_dense_replace", absent: .fallback(0)
    ) { c, _ in .count(c.firstKDenseReplace) }
    package static let vocabSize = DeepSeek2Key(
        "vocab_size", .uint32, field: "vocab_size", absent: .tokenCount
    ) { c, _ in .count(c.vocabSize) }
    package static let qLoraRank = DeepSeek2Key(
        "attention.q_lora_rank", .uint32, field: "q_lora_rank", absent: .required
    ) { c, _ in .count(c.qLoraRank) }
    package static let kvLoraRank = DeepSeek2Key(
        "attention.kv_lora_rank", .uint32, field: "kv_lora_rank", absent: .required
    ) { c, _ in .count(c.kvLoraRank) }
    package static let keyLength = DeepSeek2Key(
        "attention.key_length", .uint32, field: "kv_lora_rank + qk_rope_head_dim (absorbed MLA's key)", absent: .notRead
    ) { c, _ in .count(c.kvLoraRank + c.qkRopeHeadDim) }
    package static let valueLength = DeepSeek2Key(
        "attention.value_length", .uint32, field: "kv_lora_rank (absorbed MLA's value)", absent: .notRead
    ) { c, _ in .count(c.kvLoraRank) }
    package static let keyLengthMLA = DeepSeek2Key(
        "attention.key_length_mla", .uint32, field: "qk_nope_head_dim + qk_rope_head_dim", absent: .required
    ) { c, _ in .count(c.qkHeadDim) }
    package static let valueLengthMLA = DeepSeek2Key(
        "attention.value_length_mla", .uint32, field: "v_head_dim", absent: .required
    ) { c, _ in .count(c.vHeadDim) }
    package static let expertFeedForwardLength = DeepSeek2Key(
        "expert_feed_forward_length", .uint32, field: "moe_intermediate_size", absent: .required
    ) { c, _ in .count(c.moeIntermediateSize) }
    package static let expertCount = DeepSeek2Key(
        "expert_count", .uint32, field: "n_routed_experts", absent: .required
    ) { c, _ in .count(c.nRoutedExperts) }
    package static let expertSharedCount = DeepSeek2Key(
        "expert_shared_count", .uint32, field: "n_shared_experts", absent: .required
    ) { c, _ in .count(c.nSharedExperts) }
    package static let expertWeightsScale = DeepSeek2Key(
        "expert_weights_scale", .float32, field: "routed_scaling_factor", absent: .fallback(1)
    ) { c, _ in .real(c.routedScalingFactor) }
    package static let expertWeightsNorm = DeepSeek2Key(
        "expert_weights_norm", .bool, field: "norm_topk_prob", absent: .fallback(0)
    ) { c, _ in .flag(c.normTopkProb) }
    /// 2 = sigmoid, the only scoring moepack runs; absent, llama.cpp falls back to 1 (softmax), so
    /// a reader refuses a file without it.
    package static let expertGatingFunction = DeepSeek2Key(
        "expert_gating_func", .uint32, field: "scoring_func (2: sigmoid)", absent: .fallback(1)
    ) { _, _ in .count(2) }
    package static let ropeDimensionCount = DeepSeek2Key(
        "rope.dimension_count", .uint32, field: "qk_rope_head_dim", absent: .required
    ) { c, _ in .count(c.qkRopeHeadDim) }
    package static let nextNPredictLayers = DeepSeek2Key(
        "nextn_predict_layers", .uint32, field: "num_nextn_predict_layers (written with the MTP layers)", absent: .fallback(0)
    ) { _, mtp in mtp > 0 ? .count(mtp) : nil }
    package static let ropeScalingType = DeepSeek2Key(
        "rope.scaling.type", .string, field: "rope_scaling.type (yarn)", absent: .off
    ) { c, _ in c.ropeScaling.map { _ in .text("yarn") } }
    package static let ropeScalingFactor = DeepSeek2Key(
        "rope.scaling.factor", .float32, field: "rope_scaling.factor", absent: .required
    ) { c, _ in c.ropeScaling.map { .real($0.factor) } }
    package static let ropeScalingOriginalContext = DeepSeek2Key(
        "rope.scaling.original_context_length", .uint32, field: "rope_scaling.original_max_position_embeddings", absent: .required
    ) { c, _ in c.ropeScaling.map { .count($0.originalMaxPositionEmbeddings) } }
    package static let yarnBetaFast = DeepSeek2Key(
        "rope.scaling.yarn_beta_fast", .float32, field: "rope_scaling.beta_fast", absent: .fallback(32)
    ) { c, _ in c.ropeScaling.map { .real($0.betaFast) } }
    package static let yarnBetaSlow = DeepSeek2Key(
        "rope.scaling.yarn_beta_slow", .float32, field: "rope_scaling.beta_slow", absent: .fallback(1)
    ) { c, _ in c.ropeScaling.map { .real($0.betaSlow) } }
    /// 0.1 · mscale_all_dim: llama.cpp divides by 0.1 again when loading.
    package static let yarnLogMultiplier = DeepSeek2Key(
        "rope.scaling.yarn_log_multiplier", .float32, field: "0.1 · rope_scaling.mscale_all_dim (also mscale)", absent: .fallback(0.1)
    ) { c, _ in c.ropeScaling.map { .real(0.1 * $0.mscaleAllDim) } }

    /// Every key, in the order `DeepSeek2Metadata.make` writes them.
    package static let all: [DeepSeek2Key] = [
        blockCount, contextLength, embeddingLength, feedForwardLength, headCount, headCountKV, ropeFreqBase, rmsEpsilon,
        expertUsedCount, expertGroupCount, expertGroupUsedCount, leadingDenseBlockCount, vocabSize, qLoraRank, kvLoraRank,
        keyLength, valueLength, keyLengthMLA, valueLengthMLA, expertFeedForwardLength, expertCount, expertSharedCount,
        expertWeightsScale, expertWeightsNorm, expertGatingFunction, ropeDimensionCount, nextNPredictLayers,
        ropeScalingType, ropeScalingFactor, ropeScalingOriginalContext, yarnBetaFast, yarnBetaSlow, yarnLogMultiplier,
    ]

    /// The keys a config gives, in order: what a `deepseek2` GGUF holds after `general.*`.
    package static func metadata(config: DeepSeekV3Config, mtpLayers: Int) -> [(key: String, value: GGUFValue)] {
        all.compactMap { key in key.value(config: config, mtpLayers: mtpLayers).map { (key.name, $0) } }
    }
}
