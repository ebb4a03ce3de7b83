import DeepSeekV3
import Foundation
import TensorFiles
import TestSupport
import Testing

/// The `deepseek2.*` table: what the writer stores and what the reader rebuilds from it.
@Suite struct DeepSeek2KeyTests {
    static let r1 = try! DeepSeekV3Config.load(path: ConfigAndLayoutTests.r1Path)

    @Test func everyKeyIsWrittenOnceWithItsTableType() {
        let names = DeepSeek2Key.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(names.allSatisfy { $0.hasPrefix("deepseek2.") })
        let written = DeepSeek2Key.metadata(config: Self.r1, mtpLayers: 1)
        // R1 with its MTP layer and YaRN: every key of the table, in table order.
        #expect(written.map(\.key) == names)
        for (key, entry) in zip(DeepSeek2Key.all, written) { #expect(entry.value.kind == key.type, "\(key)") }
        #expect(written.first { $0.key == "deepseek2.attention.key_length" }?.value == .uint32(576))
        #expect(written.first { $0.key == "deepseek2.rope.scaling.yarn_log_multiplier" }?.value == .float32(0.1))
        // Without MTP layers or RoPE scaling those keys are not written.
        var plain = Self.r1
        plain.ropeScaling = nil
        let keys = DeepSeek2Key.metadata(config: plain, mtpLayers: 0).map(\.key)
        #expect(!keys.contains("deepseek2.nextn_predict_layers") && !keys.contains { $0.hasPrefix("deepseek2.rope.scaling.") })
    }

    /// Writes the keys of `config` (and a two-token vocabulary) to a GGUF and reads the config back.
    func roundTrip(_ config: DeepSeekV3Config, mtpLayers: Int, name: String) throws -> DeepSeekV3Config {
        let path = TestSupport.scratchDirectory("deepseek2-keys") + "/\(name).gguf"
        let metadata: [(key: String, value: GGUFValue)] =
            [(GGUFKey.architecture, .string("deepseek2"))] + DeepSeek2Key.metadata(config: config, mtpLayers: mtpLayers)
            + [(GGUFKey.bosTokenID, .uint32(0)), (GGUFKey.eosTokenID, .uint32(1))]
        try GGUFWriter.write(try GGUFLayout(metadata: metadata, tensors: []), to: path, data: [])
        return try DeepSeekV3Config(deepseek2: try GGUFFile(path: path))
    }

    /// The config read from a GGUF is the `config.json` one, minus what llama.cpp has no key for
    /// (architectures, the FP8 block size) and with the MTP layers the file holds.
    @Test(arguments: [0, 1]) func theReaderRebuildsTheConfig(mtpLayers: Int) throws {
        var expected = Self.r1
        expected.architectures = []
        expected.quantization = nil
        expected.numNextNPredictLayers = mtpLayers
        expected.bosTokenId = 0
        expected.eosTokenId = 1
        #expect(try roundTrip(Self.r1, mtpLayers: mtpLayers, name: "r1-\(mtpLayers)") == expected)
        // f32 values come back as the config's decimals (1e-6, not the f32's 9.99999997e-7).
        var odd = Self.r1
        odd.rmsNormEps = 3e-7
        odd.ropeTheta = 12345.67
        odd.ropeScaling?.mscaleAllDim = 0.707
        odd.ropeScaling?.mscale = 0.707
        let back = try roundTrip(odd, mtpLayers: 0, name: "odd")
        #expect(back.rmsNormEps == 3e-7 && back.ropeTheta == 12345.67 && back.ropeScaling?.mscaleAllDim == 0.707)
    }

    @Test func absentKeysTakeTheTableFallbacks() throws {
        let path = TestSupport.scratchDirectory("deepseek2-keys") + "/fallbacks.gguf"
        let optional: Set<String> = Set(
            DeepSeek2Key.all.filter { if case .fallback = $0.absent { true } else { false } }.map(\.name)
        ).subtracting([DeepSeek2Key.expertGatingFunction.name])
        var config = Self.r1
        config.ropeScaling = nil
        let metadata = DeepSeek2Key.metadata(config: config, mtpLayers: 0).filter { !optional.contains($0.key) }
        try GGUFWriter.write(
            try GGUFLayout(metadata: [(GGUFKey.architecture, .string("deepseek2"))] + metadata, tensors: []), to: path, data: [])
        let back = try DeepSeekV3Config(deepseek2: try GGUFFile(path: path))
        #expect(back.ropeTheta == 10000 && back.routedScalingFactor == 1 && !back.normTopkProb)
        #expect(back.nGroup == 1 && back.topkGroup == 1 && back.firstKDenseReplace == 0 && back.numNextNPredictLayers == 0)
    }
}
