import DeepSeekV3
import Quants
import TensorFiles

/// The `deepseek2` metadata llama.cpp's loader needs for DeepSeek-V3/R1, with the types it checks
/// (`llama_model_loader::get_key`: counts u32, floats f32, flags bool), as listed in
/// formats/gguf.md "What moepack quantize writes" (llama.cpp `src/llama-arch.cpp`, `LLM_KV_*`).
public enum DeepSeek2Metadata {
    /// A config count as u32. `DeepSeekV3Config.validate` bounds every field by 2³¹−1 (and the
    /// tokenizer its ids by 2²⁴), so a value out of range here is a programmer error: a config
    /// that did not come through `DeepSeekV3Config.parse`.
    static func u32(_ value: Int) -> UInt32 {
        guard let exact = UInt32(exactly: value) else { preconditionFailure("\(value) does not fit a u32: config not validated") }
        return exact
    }

    public static func make(
        config c: DeepSeekV3Config, vocabulary: GGUFVocabulary?, name: String, fileType: UInt32, alignment: UInt32,
        mtpLayers: Int = 0
    ) -> [(key: String, value: GGUFValue)] {
        let a = "deepseek2."
        var m: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string("deepseek2")),
            ("general.type", .string("model")),
            ("general.name", .string(name)),
            ("general.file_type", .uint32(fileType)),
            ("general.quantization_version", .uint32(2)),
            ("general.alignment", .uint32(alignment)),
            (a + "block_count", .uint32(u32(c.numHiddenLayers + mtpLayers))),
            (a + "context_length", .uint32(u32(c.maxPositionEmbeddings))),
            (a + "embedding_length", .uint32(u32(c.hiddenSize))),
            (a + "feed_forward_length", .uint32(u32(c.intermediateSize))),
            (a + "attention.head_count", .uint32(u32(c.numAttentionHeads))),
            (a + "attention.head_count_kv", .uint32(1)),
            (a + "rope.freq_base", .float32(Float(c.ropeTheta))),
            (a + "attention.layer_norm_rms_epsilon", .float32(Float(c.rmsNormEps))),
            (a + "expert_used_count", .uint32(u32(c.numExpertsPerToken))),
            (a + "expert_group_count", .uint32(u32(c.nGroup))),
            (a + "expert_group_used_count", .uint32(u32(c.topkGroup))),
            (a + "leading_dense_block_count", .uint32(u32(c.firstKDenseReplace))),
            (a + "vocab_size", .uint32(u32(c.vocabSize))),
            (a + "attention.q_lora_rank", .uint32(u32(c.qLoraRank))),
            (a + "attention.kv_lora_rank", .uint32(u32(c.kvLoraRank))),
            (a + "attention.key_length", .uint32(u32(c.kvLoraRank + c.qkRopeHeadDim))),
            (a + "attention.value_length", .uint32(u32(c.kvLoraRank))),
            (a + "attention.key_length_mla", .uint32(u32(c.qkHeadDim))),
            (a + "attention.value_length_mla", .uint32(u32(c.vHeadDim))),
            (a + "expert_feed_forward_length", .uint32(u32(c.moeIntermediateSize))),
            (a + "expert_count", .uint32(u32(c.nRoutedExperts))),
            (a + "expert_shared_count", .uint32(u32(c.nSharedExperts))),
            (a + "expert_weights_scale", .float32(Float(c.routedScalingFactor))),
            (a + "expert_weights_norm", .bool(c.normTopkProb)),
            (a + "expert_gating_func", .uint32(2)),  // sigmoid; absent, llama.cpp falls back to softmax
            (a + "rope.dimension_count", .uint32(u32(c.qkRopeHeadDim))),
        ]
        if mtpLayers > 0 { m.append((a + "nextn_predict_layers", .uint32(u32(mtpLayers)))) }
        if let s = c.ropeScaling {
            m += [
                (a + "rope.scaling.type", .string("yarn")),
                (a + "rope.scaling.factor", .float32(Float(s.factor))),
                (a + "rope.scaling.original_context_length", .uint32(u32(s.originalMaxPositionEmbeddings))),
                (a + "rope.scaling.yarn_beta_fast", .float32(Float(s.betaFast))),
                (a + "rope.scaling.yarn_beta_slow", .float32(Float(s.betaSlow))),
                // 0.1 · mscale_all_dim: llama.cpp divides by 0.1 again when loading.
                (a + "rope.scaling.yarn_log_multiplier", .float32(Float(0.1 * s.mscaleAllDim))),
            ]
        }
        if let v = vocabulary {
            m += [
                ("tokenizer.ggml.model", .string(v.model)),
                ("tokenizer.ggml.pre", .string(v.preTokenizer)),
                ("tokenizer.ggml.tokens", .array(.string(v.tokens))),
                ("tokenizer.ggml.token_type", .array(.int32(v.tokenTypes.map(\.rawValue)))),
                ("tokenizer.ggml.merges", .array(.string(v.merges))),
            ]
            if let bos = v.bosTokenId { m.append(("tokenizer.ggml.bos_token_id", .uint32(u32(bos)))) }
            if let eos = v.eosTokenId {
                m.append(("tokenizer.ggml.eos_token_id", .uint32(u32(eos))))
                m.append(("tokenizer.ggml.padding_token_id", .uint32(u32(eos))))
            }
            m.append(("tokenizer.ggml.add_bos_token", .bool(v.addBOS)))
            m.append(("tokenizer.ggml.add_eos_token", .bool(v.addEOS)))
            if let template = v.chatTemplate { m.append(("tokenizer.chat_template", .string(template))) }
        }
        return m
    }
}
