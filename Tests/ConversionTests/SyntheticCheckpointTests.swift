import Conversion
import DeepSeekV3
import Foundation
import SyntheticModels
import TensorFiles
import TestSupport
import Testing

@Suite struct SyntheticCheckpointTests {
    @Test func isDeterministicAcrossRunsAndThreadCounts() throws {
        let a = TestSupport.scratchDirectory("synthA"), b = TestSupport.scratchDirectory("synthB")
        try SyntheticCheckpoint(preset: .tiny, seed: 42, threads: 1).write(to: a, progress: .quiet)
        try SyntheticCheckpoint(preset: .tiny, seed: 42, threads: 3).write(to: b, progress: .quiet)
        let filesA = try Fixtures.files(in: a), filesB = try Fixtures.files(in: b)
        #expect(filesA.keys.sorted() == filesB.keys.sorted())
        for (name, data) in filesA { #expect(filesB[name] == data, "\(name) differs") }
        let c = TestSupport.scratchDirectory("synthC")
        try SyntheticCheckpoint(preset: .tiny, seed: 43).write(to: c, progress: .quiet)
        #expect(try Fixtures.files(in: c)["model-00002-of-000003.safetensors"] != filesA["model-00002-of-000003.safetensors"])
    }

    @Test func hasTheReleaseLayout() throws {
        let report = try CheckpointReport(directory: Fixtures.tiny)
        #expect(report.check.problems.isEmpty && report.check.isFP8)
        #expect(report.checkpoint.shards.count == 3)
        #expect(report.checkpoint.tensorCount == report.layout.tensors.count)
        // A partial last 128-row block, as in R1's 576-row kv_a_proj_with_mqa.
        let kvA = try #require(report.checkpoint.info("model.layers.0.self_attn.kv_a_proj_with_mqa.weight"))
        #expect(kvA.shape[0] % 128 != 0 && kvA.dtype == .f8E4M3)
        #expect(report.checkpoint.info("model.layers.0.self_attn.kv_a_proj_with_mqa.weight_scale_inv")?.shape == [3, 2])
        // MTP layer present with its own embedding and head copies.
        #expect(report.checkpoint.contains("model.layers.3.eh_proj.weight"))
        #expect(report.checkpoint.info("model.layers.1.mlp.gate.e_score_correction_bias")?.dtype == .f32)
    }

    /// Block scales are computed as DeepSeek's are: the block's largest |code| decodes to 448 (or
    /// rounds next to it), so every block uses the top of the FP8 range.
    @Test func blockScalesUseTheFullFP8Range() throws {
        let checkpoint = try Checkpoint(directory: Fixtures.tiny)
        let name = "model.layers.1.mlp.experts.3.down_proj.weight"
        let info = try #require(checkpoint.info(name))
        let codes = try checkpoint.bytes(of: name)
        var maxCode: UInt8 = 0
        for row in 0..<min(128, info.shape[0]) {
            for column in 0..<min(128, info.shape[1]) { maxCode = max(maxCode, codes[row * info.shape[1] + column] & 0x7F) }
        }
        #expect(maxCode == 0x7E)
        // Heavy tails: the block amax is far above the typical magnitude.
        let scales = try checkpoint.bytes(of: name + "_scale_inv").bindMemory(to: Float.self)
        #expect(scales.allSatisfy { $0 > 0 && $0.isFinite })
    }

    @Test(.enabled(if: TestSupport.oraclesAvailable))
    func tokenizerLoadsInHuggingFaceTokenizersWithDeepSeeksPipeline() throws {
        let output = try TestSupport.oracle("check_tokenizer.py", [Fixtures.tiny + "/tokenizer.json"])
        let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as! [String: Any]
        #expect(json["pipeline_equal"] as? [String: Bool] == ["normalizer": true, "pre_tokenizer": true, "post_processor": true, "decoder": true])
        #expect(json["model_keys_equal"] as? Bool == true)
        #expect(json["special_ids"] as? [Int] == [0, 1, 2])
        #expect(json["roundtrip_ok"] as? Bool == true)
        let config = try DeepSeekV3Config.load(path: Fixtures.tiny + "/config.json")
        #expect((json["vocab_size"] as! Int) <= config.vocabSize)
    }
}
