import Foundation
import TensorFiles

/// A `deepseek2.*` key a GGUF lacks or holds an unusable value in: one line naming the file and the key.
package struct DeepSeek2KeyError: Error, CustomStringConvertible, Sendable {
    package var file: String
    package var message: String
    package var description: String { "\(file): \(message)" }
}

extension DeepSeekV3Config {
    /// The config of a `deepseek2` GGUF (moepack's or llama.cpp's), from the keys of `DeepSeek2Key`
    /// (`src/models/deepseek2.cpp`; see formats/gguf.md), validated like a `config.json`.
    ///
    /// Counts may be stored as any number that is whole; an f32 value is taken as the decimal a
    /// `config.json` holds, its 7 significant digits (`%.7g`: 1e-6 stays 1e-6, not the f32's
    /// 9.99999997e-7). Fields llama.cpp has no key for take DeepSeek-V3's values (sigmoid scoring,
    /// `noaux_tc`, SiLU, one MoE layer frequency, as many KV heads as heads).
    ///
    /// - Throws: `DeepSeek2KeyError` for a key that is wrong in itself (missing, not a number, not
    ///   whole, not finite, softmax gating); `ConfigError` (file "`path` (deepseek2 metadata)") for
    ///   values `validate` rejects.
    package init(deepseek2 file: GGUFFile) throws {
        let path = file.path
        func fail(_ message: String) -> DeepSeek2KeyError { DeepSeek2KeyError(file: path, message: message) }
        guard case .string(let architecture)? = file.value(GGUFKey.architecture), architecture == DeepSeek2Key.architecture else {
            throw fail("\(GGUFKey.architecture) is not \(DeepSeek2Key.architecture)")
        }
        func stored(_ key: DeepSeek2Key) -> Double? { file.value(key.name)?.number }
        /// A count or size: a whole number that fits in `Int` (`validate` then bounds it).
        func whole(_ value: Double, _ name: String) throws(DeepSeek2KeyError) -> Int {
            guard let integer = Int(exactly: value) else { throw fail("metadata key \(name) is \(value), not a whole number in range") }
            return integer
        }
        /// The stored number, or the table's fallback when the key is absent.
        func number(_ key: DeepSeek2Key) throws(DeepSeek2KeyError) -> Double {
            if let value = stored(key) { return value }
            guard case .fallback(let value) = key.absent else { throw fail("metadata key \(key.name) is missing or not a number") }
            return value
        }
        func int(_ key: DeepSeek2Key) throws(DeepSeek2KeyError) -> Int { try whole(try number(key), key.name) }
        /// f32 keys hold decimal config values: read back at f32 precision, finite only (the config
        /// then checks the range).
        func decimal(_ key: DeepSeek2Key) throws(DeepSeek2KeyError) -> Double {
            let x = try number(key)
            guard x.isFinite else { throw fail("metadata key \(key.name) is \(x), not a finite number") }
            return Self.configDecimal(x)
        }

        let gating = try number(DeepSeek2Key.expertGatingFunction)
        guard gating == 2 else {
            let name = DeepSeek2Key.expertGatingFunction.name
            throw fail("\(name) is \(gating == 1 ? "1 (softmax, also llama.cpp's default when absent)" : "\(gating) (unknown)"); DeepSeek-V3/R1 files must say 2 (sigmoid)")
        }
        let rope = try int(DeepSeek2Key.ropeDimensionCount)
        let mtp = try int(DeepSeek2Key.nextNPredictLayers)
        let tokenCount = file.value(GGUFKey.tokens).map { if case .array(let a) = $0 { a.count } else { 0 } } ?? 0
        let (layers, layersOverflow) = try int(DeepSeek2Key.blockCount).subtractingReportingOverflow(mtp)
        let (nope, nopeOverflow) = try int(DeepSeek2Key.keyLengthMLA).subtractingReportingOverflow(rope)
        guard !layersOverflow, !nopeOverflow else {
            throw fail("metadata keys \(DeepSeek2Key.blockCount)/nextn_predict_layers or key_length_mla/rope.dimension_count overflow")
        }
        // Read in the order the errors are reported.
        let vocabulary = try stored(DeepSeek2Key.vocabSize).map { (x) throws(DeepSeek2KeyError) in try whole(x, DeepSeek2Key.vocabSize.name) } ?? tokenCount
        let hidden = try int(DeepSeek2Key.embeddingLength)
        let intermediate = try int(DeepSeek2Key.feedForwardLength)
        let moeIntermediate = try int(DeepSeek2Key.expertFeedForwardLength)
        let heads = try int(DeepSeek2Key.headCount)
        let shared = try int(DeepSeek2Key.expertSharedCount)
        let routed = try int(DeepSeek2Key.expertCount)
        let perToken = try int(DeepSeek2Key.expertUsedCount)
        let scaling = try decimal(DeepSeek2Key.expertWeightsScale)
        let kvLora = try int(DeepSeek2Key.kvLoraRank)
        let qLora = try int(DeepSeek2Key.qLoraRank)
        let valueHead = try int(DeepSeek2Key.valueLengthMLA)
        let groups = try int(DeepSeek2Key.expertGroupCount)
        let topkGroup = try int(DeepSeek2Key.expertGroupUsedCount)
        let dense = try int(DeepSeek2Key.leadingDenseBlockCount)
        let normalize = try number(DeepSeek2Key.expertWeightsNorm) != 0
        let context = try int(DeepSeek2Key.contextLength)
        let epsilon = try decimal(DeepSeek2Key.rmsEpsilon)
        let theta = try decimal(DeepSeek2Key.ropeFreqBase)
        var ropeScaling: RopeScaling?
        if case .string("yarn")? = file.value(DeepSeek2Key.ropeScalingType.name) {
            // yarn_log_multiplier = 0.1 · mscale_all_dim (llama.cpp's loader divides by 0.1 again).
            let multiplier = try number(DeepSeek2Key.yarnLogMultiplier)
            guard multiplier.isFinite else {
                throw fail("metadata key \(DeepSeek2Key.yarnLogMultiplier) is \(multiplier), not a finite number")
            }
            let mscale = Self.configDecimal(multiplier / 0.1)
            ropeScaling = RopeScaling(
                type: "yarn", factor: try decimal(DeepSeek2Key.ropeScalingFactor),
                originalMaxPositionEmbeddings: try int(DeepSeek2Key.ropeScalingOriginalContext),
                betaFast: try decimal(DeepSeek2Key.yarnBetaFast), betaSlow: try decimal(DeepSeek2Key.yarnBetaSlow),
                mscale: mscale, mscaleAllDim: mscale)
        }
        var ids: [Int?] = []
        for key in [GGUFKey.bosTokenID, GGUFKey.eosTokenID] {
            ids.append(try file.value(key)?.number.map { (x) throws(DeepSeek2KeyError) in try whole(x, key) })
        }

        self.init(
            architectures: [], modelType: "deepseek_v3", vocabSize: vocabulary, hiddenSize: hidden,
            intermediateSize: intermediate, moeIntermediateSize: moeIntermediate, numHiddenLayers: layers,
            numNextNPredictLayers: mtp, numAttentionHeads: heads, numKeyValueHeads: heads, nSharedExperts: shared,
            nRoutedExperts: routed, numExpertsPerToken: perToken, routedScalingFactor: scaling, kvLoraRank: kvLora,
            qLoraRank: qLora, qkRopeHeadDim: rope, qkNopeHeadDim: nope, vHeadDim: valueHead, topkMethod: "noaux_tc",
            nGroup: groups, topkGroup: topkGroup, moeLayerFrequency: 1, firstKDenseReplace: dense, normTopkProb: normalize,
            scoringFunction: "sigmoid", hiddenAct: "silu", maxPositionEmbeddings: context, rmsNormEps: epsilon,
            ropeTheta: theta, ropeScaling: ropeScaling, tieWordEmbeddings: false, attentionBias: false,
            bosTokenId: ids[0], eosTokenId: ids[1], quantization: nil)
        try validate(file: path + " (deepseek2 metadata)")
    }

    /// The decimal a `config.json` held for an f32 value: its 7 significant digits (`%.7g`).
    static func configDecimal(_ x: Double) -> Double {
        Double(String(format: "%.7g", x))!
    }
}
