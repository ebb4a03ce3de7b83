/// `config.json` texts of the DeepseekV3ForCausalLM family written from their dimensions: every
/// other field as DeepSeek-V3/R1's release has it (YaRN rope scaling, sigmoid noaux_tc routing,
/// FP8 block quantization). The synthetic presets and full-size planning use them.
extension DeepSeekV3Config {
    /// A `config.json` with DeepSeek-R1's dimensions (the release's `config.json`, committed as
    /// Tests/DeepSeekV3Tests/Fixtures/deepseek-r1-config.json), for planning and
    /// predictions at full size without the real files.
    package static var deepSeekR1JSON: String {
        jsonText(
            vocab: 129280, hidden: 7168, intermediate: 18432, moeIntermediate: 2048, layers: 61, dense: 3, heads: 128,
            qLora: 1536, kvLora: 512, nope: 128, rope: 64, v: 128, experts: 256, perToken: 8, groups: 8, topkGroup: 4)
    }

    /// A complete `config.json` with these dimensions.
    package static func jsonText(
        vocab: Int, hidden: Int, intermediate: Int, moeIntermediate: Int, layers: Int, dense: Int, heads: Int,
        qLora: Int, kvLora: Int, nope: Int, rope: Int, v: Int, experts: Int, perToken: Int, groups: Int,
        topkGroup: Int
    ) -> String {
        let entries: [(String, String)] = [
            ("architectures", "[\"DeepseekV3ForCausalLM\"]"),
            ("attention_bias", "false"),
            ("attention_dropout", "0.0"),
            ("auto_map", "{\"AutoConfig\": \"configuration_deepseek.DeepseekV3Config\", \"AutoModel\": \"modeling_deepseek.DeepseekV3Model\", \"AutoModelForCausalLM\": \"modeling_deepseek.DeepseekV3ForCausalLM\"}"),
            ("aux_loss_alpha", "0.001"),
            ("bos_token_id", "0"),
            ("eos_token_id", "1"),
            ("ep_size", "1"),
            ("first_k_dense_replace", "\(dense)"),
            ("hidden_act", "\"silu\""),
            ("hidden_size", "\(hidden)"),
            ("initializer_range", "0.02"),
            ("intermediate_size", "\(intermediate)"),
            ("kv_lora_rank", "\(kvLora)"),
            ("max_position_embeddings", "163840"),
            ("model_type", "\"deepseek_v3\""),
            ("moe_intermediate_size", "\(moeIntermediate)"),
            ("moe_layer_freq", "1"),
            ("n_group", "\(groups)"),
            ("n_routed_experts", "\(experts)"),
            ("n_shared_experts", "1"),
            ("norm_topk_prob", "true"),
            ("num_attention_heads", "\(heads)"),
            ("num_experts_per_tok", "\(perToken)"),
            ("num_hidden_layers", "\(layers)"),
            ("num_key_value_heads", "\(heads)"),
            ("num_nextn_predict_layers", "1"),
            ("pretraining_tp", "1"),
            ("q_lora_rank", "\(qLora)"),
            ("qk_nope_head_dim", "\(nope)"),
            ("qk_rope_head_dim", "\(rope)"),
            ("quantization_config", "{\"activation_scheme\": \"dynamic\", \"fmt\": \"e4m3\", \"quant_method\": \"fp8\", \"weight_block_size\": [128, 128]}"),
            ("rms_norm_eps", "1e-06"),
            ("rope_scaling", "{\"beta_fast\": 32, \"beta_slow\": 1, \"factor\": 40, \"mscale\": 1.0, \"mscale_all_dim\": 1.0, \"original_max_position_embeddings\": 4096, \"type\": \"yarn\"}"),
            ("rope_theta", "10000"),
            ("routed_scaling_factor", "2.5"),
            ("scoring_func", "\"sigmoid\""),
            ("seq_aux", "true"),
            ("tie_word_embeddings", "false"),
            ("topk_group", "\(topkGroup)"),
            ("topk_method", "\"noaux_tc\""),
            ("torch_dtype", "\"bfloat16\""),
            ("transformers_version", "\"4.46.3\""),
            ("use_cache", "true"),
            ("v_head_dim", "\(v)"),
            ("vocab_size", "\(vocab)"),
        ]
        return "{\n" + entries.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }
}
