import Conversion
import DeepSeekV3
import Foundation
import Inference
import SyntheticModels
import TestSupport
import Testing

/// The GGUF weight source against the checkpoint it was made from.
@Suite struct GGUFSourceTests {
    static let f32: String = {
        let path = TestSupport.scratchDirectory("gguf-source") + "/f32.gguf"
        var options = GGUFConverter.Options()
        options.rules = [try! QuantRecipe.Rule(parsing: ".*=F32")]
        options.progress = .quiet
        _ = try! GGUFConverter(input: Fixtures.tiny, output: path, options: options).run()
        return path
    }()

    @Test func configFromMetadataEqualsTheCheckpointsConfig() throws {
        let gguf = try GGUFWeights(path: Self.f32).config
        let original = Fixtures.tinyWeights.config
        #expect(gguf.hiddenSize == original.hiddenSize && gguf.vocabSize == original.vocabSize)
        #expect(gguf.numHiddenLayers == original.numHiddenLayers && gguf.firstKDenseReplace == original.firstKDenseReplace)
        #expect(gguf.qkNopeHeadDim == original.qkNopeHeadDim && gguf.qkRopeHeadDim == original.qkRopeHeadDim && gguf.vHeadDim == original.vHeadDim)
        #expect(gguf.nGroup == original.nGroup && gguf.topkGroup == original.topkGroup && gguf.numExpertsPerToken == original.numExpertsPerToken)
        #expect(gguf.routedScalingFactor == original.routedScalingFactor && gguf.normTopkProb == original.normTopkProb)
        #expect(gguf.ropeScaling == original.ropeScaling)
        #expect(Float(gguf.rmsNormEps) == Float(original.rmsNormEps))
    }

    /// F32 GGUF values are the FP8 products exactly, kv_b is rebuilt from attn_k_b/attn_v_b and
    /// experts are sliced from the stacks: the logits must be identical to the bit.
    @Test func f32GGUFGivesTheCheckpointsLogitsExactly() throws {
        let chunks = Fixtures.chunks(count: 2, length: 32, vocabulary: 1024, seed: 11)
        let fromCheckpoint = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 2).logits(chunks: chunks, positions: 0..<32)
        let fromGGUF = try DeepSeekV3Model(source: try GGUFWeights(path: Self.f32), threads: 2).logits(chunks: chunks, positions: 0..<32)
        #expect(fromCheckpoint.map { $0.values.map(\.bitPattern) } == fromGGUF.map { $0.values.map(\.bitPattern) })
    }

    @Test func embeddedTokenizerEncodesLikeTokenizerJSON() throws {
        let fromGGUF = try GGUFWeights(path: Self.f32).tokenizer()
        let original = try BPETokenizer(path: Fixtures.tiny)
        let text = SyntheticCorpus.text + " <｜begin▁of▁sentence｜>x<think>y</think> 混合专家"
        #expect(fromGGUF.encode(text) == original.encode(text))
        #expect(fromGGUF.bosTokenId == original.bosTokenId && fromGGUF.addBOS == original.addBOS)
    }

    @Test func missingTensorIsNamed() throws {
        let gguf = try GGUFWeights(path: Self.f32)
        #expect(throws: WeightError.self) { try gguf.shape(of: "model.layers.0.self_attn.nonexistent.weight") }
    }
}
