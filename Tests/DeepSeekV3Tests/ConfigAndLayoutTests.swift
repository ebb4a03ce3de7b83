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
}
