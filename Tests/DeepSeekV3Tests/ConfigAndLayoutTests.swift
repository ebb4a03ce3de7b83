import DeepSeekV3
import Foundation
import Testing

@Suite struct ConfigAndLayoutTests {
    static let r1Path = Bundle.module.path(forResource: "Fixtures/deepseek-r1-config", ofType: "json")!

    @Test func parsesTheR1Config() throws {
        let config = try DeepSeekV3Config.load(path: Self.r1Path)
        #expect(config.hiddenSize == 7168 && config.numHiddenLayers == 61 && config.numNextNPredictLayers == 1)
        #expect(config.nRoutedExperts == 256 && config.numExpertsPerToken == 8 && config.nGroup == 8 && config.topkGroup == 4)
        #expect(config.qLoraRank == 1536 && config.kvLoraRank == 512 && config.qkHeadDim == 192 && config.vHeadDim == 128)
        let rope = try #require(config.ropeScaling)
        #expect(rope.type == "yarn" && rope.factor == 40 && rope.originalMaxPositionEmbeddings == 4096)
        #expect(rope.betaFast == 32 && rope.betaSlow == 1 && rope.mscale == 1 && rope.mscaleAllDim == 1)
        #expect(config.quantization?.weightBlockSize == [128, 128] && config.quantization?.format == "e4m3")
        #expect(config.routedScalingFactor == 2.5 && config.rmsNormEps == 1e-6 && config.normTopkProb)
        #expect(config.isMoELayer(3) && !config.isMoELayer(2) && config.isMoELayer(61))
    }

    /// The layout derived from config alone must reproduce the released checkpoint's figures.
    @Test func r1LayoutMatchesTheRelease() throws {
        let layout = CheckpointLayout(config: try DeepSeekV3Config.load(path: Self.r1Path))
        #expect(layout.tensors.count == 91_991)
        #expect(layout.storedBytes == 688_574_839_360)
        let kvA = layout.tensors.first { $0.name == "model.layers.0.self_attn.kv_a_proj_with_mqa.weight_scale_inv" }
        #expect(kvA?.shape == [5, 56])  // 576 rows: a partial last block
        let counts = layout.parameterCounts
        #expect(abs(Double(counts.mainModel) / 1e9 - 671.0) < 0.5)
        #expect(abs(Double(counts.activatedPerToken) / 1e9 - 36.6) < 0.1)
        // MTP: 11.5B unique plus the stored copies of embedding and head (0.93B each).
        #expect(abs(Double(counts.mtpLayers) / 1e9 - (11.5 + 2 * 0.927)) < 0.2)
    }

    func parse(_ mutate: (inout [String: Any]) -> Void) throws -> DeepSeekV3Config {
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.r1Path))) as! [String: Any]
        mutate(&object)
        return try DeepSeekV3Config.parse(JSONSerialization.data(withJSONObject: object), file: "cfg.json")
    }

    @Test func rejectsBadConfigsWithTheKeyNamed() throws {
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("cfg.json: missing key 'hidden_size'", { $0.removeValue(forKey: "hidden_size") }),
            ("cfg.json: key 'num_hidden_layers' should be an integer, got 61.5", { $0["num_hidden_layers"] = 61.5 }),
            ("cfg.json: key 'norm_topk_prob' should be true or false, got 1", { $0["norm_topk_prob"] = 1 }),
            ("cfg.json: topk_method 'greedy' is not supported (only noaux_tc, as in V3/R1)", { $0["topk_method"] = "greedy" }),
            ("cfg.json: scoring_func 'softmax' is not supported (only sigmoid, as in V3/R1)", { $0["scoring_func"] = "softmax" }),
            ("cfg.json: n_group 7 must divide n_routed_experts 256", { $0["n_group"] = 7 }),
            ("cfg.json: q_lora_rank is null: DeepSeek-V2-Lite style models (a plain q_proj) are not supported", { $0["q_lora_rank"] = NSNull() }),
            ("cfg.json: missing key 'rope_scaling.factor'", { var s = $0["rope_scaling"] as! [String: Any]; s.removeValue(forKey: "factor"); $0["rope_scaling"] = s }),
        ]
        for (message, mutate) in cases {
            #expect { try parse(mutate) } throws: { "\($0)" == message }
        }
        // An integer 1 is an integer, not a boolean (Foundation on Linux answers `is Bool` for both).
        #expect(try parse { $0["num_nextn_predict_layers"] = 1 }.numNextNPredictLayers == 1)
    }

    /// Regression (issue 16): huge or negative sizes trapped on overflow in the layout code, values
    /// above 2³² in the GGUF writer's u32 conversions, a zero `beta_fast` or a non-positive
    /// `rope_theta` reached `Int(floor(NaN))` in YaRN, and 65,535 layers hung `inspect`. Each is
    /// now one line from `validate` naming the field.
    @Test func rejectsHostileValuesWithTheFieldNamed() throws {
        func scaling(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
            { var s = $0["rope_scaling"] as! [String: Any]; s[key] = value; $0["rope_scaling"] = s }
        }
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("cfg.json: hidden_size must be positive, got -7168", { $0["hidden_size"] = -7168 }),
            ("cfg.json: hidden_size 4294967296 outside 1...2147483647", { $0["hidden_size"] = 1 << 32 }),
            ("cfg.json: num_attention_heads 1099511627776 outside 1...2147483647", { $0["num_attention_heads"] = 1 << 40 }),
            ("cfg.json: kv_lora_rank must be positive, got -1", { $0["kv_lora_rank"] = -1 }),
            ("cfg.json: moe_intermediate_size -2048 outside 0...2147483647", { $0["moe_intermediate_size"] = -2048 }),
            ("cfg.json: num_nextn_predict_layers -1 outside 0...16", { $0["num_nextn_predict_layers"] = -1 }),
            ("cfg.json: num_hidden_layers 65535 outside 1...1024", { $0["num_hidden_layers"] = 65535 }),
            ("cfg.json: vocab_size 2147483648 outside 1...16777216", { $0["vocab_size"] = 1 << 31 }),
            ("cfg.json: max_position_embeddings 4294967296 outside 1...2147483647", { $0["max_position_embeddings"] = 1 << 32 }),
            ("cfg.json: eos_token_id 129280 outside the vocabulary 0..<129280", { $0["eos_token_id"] = 129280 }),
            ("cfg.json: rope_theta -10000.0 must be finite (in f32) and > 1", { $0["rope_theta"] = -10000 }),
            ("cfg.json: rope_theta 1.0 must be finite (in f32) and > 1", { $0["rope_theta"] = 1 }),
            ("cfg.json: rms_norm_eps 0.0 must be finite (in f32) and > 0", { $0["rms_norm_eps"] = 0 }),
            ("cfg.json: routed_scaling_factor 1e+39 must be finite (in f32) and > 0", { $0["routed_scaling_factor"] = 1e39 }),
            ("cfg.json: rope_scaling.beta_fast 0.0 must be finite (in f32) and > 0", scaling("beta_fast", 0)),
            ("cfg.json: rope_scaling.beta_slow -1.0 must be finite (in f32) and > 0", scaling("beta_slow", -1)),
            ("cfg.json: rope_scaling.factor 0.0 must be finite (in f32) and > 0", scaling("factor", 0)),
            ("cfg.json: rope_scaling.mscale_all_dim -1.0 must be finite (in f32) and ≥ 0", scaling("mscale_all_dim", -1)),
            ("cfg.json: rope_scaling.original_max_position_embeddings 0 outside 1...2147483647", scaling("original_max_position_embeddings", 0)),
            ("cfg.json: num_hidden_layers 61 + num_nextn_predict_layers 1 with n_routed_experts 4096 give up to 1525327 tensors, more than 1048576",
             { $0["n_routed_experts"] = 4096; $0["n_group"] = 8 }),
        ]
        for (message, mutate) in cases {
            #expect { try parse(mutate) } throws: { "\($0)" == message }
        }
        // Every size in range, but their products overflow: refused, not trapped.
        #expect { try parse { $0["hidden_size"] = Int(Int32.max); $0["moe_intermediate_size"] = Int(Int32.max) } } throws: {
            "\($0)".hasPrefix("cfg.json: the model's dimensions overflow: its tensors would not fit in 2^63 bytes")
        }
        // The largest real configs stay accepted.
        #expect(try parse { _ in }.numHiddenLayers == 61)
    }
}
