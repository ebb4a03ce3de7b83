import Foundation
import Quants
import TensorFiles

/// `config.json` of a `DeepseekV3ForCausalLM` checkpoint (DeepSeek-V3, V3-0324, R1, R1-0528, ...).
///
/// Every key that shapes the weights or the forward pass is required: a config that lacks one is
/// rejected with the key's name instead of being filled with a guess. Keys that only matter for
/// training (`aux_loss_alpha`, `seq_aux`, ...) are ignored.
package struct DeepSeekV3Config: Sendable, Equatable {
    package var architectures: [String]
    package var modelType: String
    package var vocabSize: Int
    package var hiddenSize: Int
    /// Width of the dense FFN in the first `firstKDenseReplace` layers.
    package var intermediateSize: Int
    /// Width of one routed (and one shared) expert.
    package var moeIntermediateSize: Int
    package var numHiddenLayers: Int
    /// Multi-token-prediction layers stored after the trunk as `model.layers.{numHiddenLayers + k}`.
    package var numNextNPredictLayers: Int
    package var numAttentionHeads: Int
    package var numKeyValueHeads: Int
    package var nSharedExperts: Int
    package var nRoutedExperts: Int
    package var numExpertsPerToken: Int
    package var routedScalingFactor: Double
    package var kvLoraRank: Int
    package var qLoraRank: Int
    package var qkRopeHeadDim: Int
    package var qkNopeHeadDim: Int
    package var vHeadDim: Int
    package var topkMethod: String
    package var nGroup: Int
    package var topkGroup: Int
    package var moeLayerFrequency: Int
    package var firstKDenseReplace: Int
    package var normTopkProb: Bool
    package var scoringFunction: String
    package var hiddenAct: String
    package var maxPositionEmbeddings: Int
    package var rmsNormEps: Double
    package var ropeTheta: Double
    package var ropeScaling: RopeScaling?
    package var tieWordEmbeddings: Bool
    package var attentionBias: Bool
    package var bosTokenId: Int?
    package var eosTokenId: Int?
    package var quantization: QuantizationConfig?

    package struct RopeScaling: Sendable, Equatable {
        package var type: String
        package var factor: Double
        package var originalMaxPositionEmbeddings: Int
        package var betaFast: Double
        package var betaSlow: Double
        package var mscale: Double
        package var mscaleAllDim: Double
    }

    /// `quantization_config` of an FP8 checkpoint.
    package struct QuantizationConfig: Sendable, Equatable {
        package var quantMethod: String
        package var format: String
        package var activationScheme: String
        package var weightBlockSize: [Int]
        /// `ue8m0` in V3.1: power-of-two *activation* scales; weight dequantization is unchanged.
        package var scaleFormat: String?
    }

    /// Per-head query/key width: the part without RoPE plus the rotary part (192 for V3).
    package var qkHeadDim: Int { qkNopeHeadDim + qkRopeHeadDim }

    /// Whether layer `index` (trunk or MTP) uses the routed-expert FFN.
    package func isMoELayer(_ index: Int) -> Bool {
        nRoutedExperts > 0 && index >= firstKDenseReplace && index % moeLayerFrequency == 0
    }

    /// The FP8 block edge, 128 for every released checkpoint.
    package var weightBlockSize: (rows: Int, columns: Int)? {
        guard let sizes = quantization?.weightBlockSize, sizes.count == 2 else { return nil }
        return (sizes[0], sizes[1])
    }
}

/// A config problem, rendered as one line naming the file.
package struct ConfigError: Error, CustomStringConvertible, Sendable {
    package var file: String
    package var message: String
    package init(file: String, message: String) {
        self.file = file
        self.message = message
    }
    package var description: String { "\(file): \(message)" }
}

extension DeepSeekV3Config {
    /// Reads and validates `config.json`.
    package static func load(path: String) throws(ConfigError) -> DeepSeekV3Config {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigError(file: path, message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(data, file: path)
    }

    package static func parse(_ data: Data, file: String = "config.json") throws(ConfigError) -> DeepSeekV3Config {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ConfigError(file: file, message: "not a JSON object")
        }
        let reader = ConfigReader(object: object, file: file)
        let config = try DeepSeekV3Config(reader)
        try config.validate(file: file)
        return config
    }

    init(_ r: ConfigReader) throws(ConfigError) {
        architectures = try r.optional("architectures", as: [String].self) ?? []
        modelType = try r.optional("model_type", as: String.self) ?? ""
        vocabSize = try r.int("vocab_size")
        hiddenSize = try r.int("hidden_size")
        intermediateSize = try r.int("intermediate_size")
        moeIntermediateSize = try r.int("moe_intermediate_size")
        numHiddenLayers = try r.int("num_hidden_layers")
        numNextNPredictLayers = try r.optionalInt("num_nextn_predict_layers") ?? 0
        numAttentionHeads = try r.int("num_attention_heads")
        numKeyValueHeads = try r.optionalInt("num_key_value_heads") ?? numAttentionHeads
        nSharedExperts = try r.int("n_shared_experts")
        nRoutedExperts = try r.int("n_routed_experts")
        numExpertsPerToken = try r.int("num_experts_per_tok")
        routedScalingFactor = try r.double("routed_scaling_factor")
        kvLoraRank = try r.int("kv_lora_rank")
        guard let qLora = try r.optionalInt("q_lora_rank") else {
            throw ConfigError(
                file: r.file,
                message: "q_lora_rank is null: DeepSeek-V2-Lite style models (a plain q_proj) are not supported")
        }
        qLoraRank = qLora
        qkRopeHeadDim = try r.int("qk_rope_head_dim")
        qkNopeHeadDim = try r.int("qk_nope_head_dim")
        vHeadDim = try r.int("v_head_dim")
        topkMethod = try r.string("topk_method")
        nGroup = try r.int("n_group")
        topkGroup = try r.int("topk_group")
        moeLayerFrequency = try r.optionalInt("moe_layer_freq") ?? 1
        firstKDenseReplace = try r.int("first_k_dense_replace")
        normTopkProb = try r.bool("norm_topk_prob")
        scoringFunction = try r.string("scoring_func")
        hiddenAct = try r.optional("hidden_act", as: String.self) ?? "silu"
        maxPositionEmbeddings = try r.int("max_position_embeddings")
        rmsNormEps = try r.double("rms_norm_eps")
        ropeTheta = try r.double("rope_theta")
        tieWordEmbeddings = try r.optionalBool("tie_word_embeddings") ?? false
        attentionBias = try r.optionalBool("attention_bias") ?? false
        bosTokenId = try r.optionalInt("bos_token_id")
        eosTokenId = try r.optionalInt("eos_token_id")
        if let scaling = try r.optional("rope_scaling", as: [String: Any].self) {
            let s = ConfigReader(object: scaling, file: r.file, prefix: "rope_scaling.")
            let typeKey = try s.optional("type", as: String.self)
            let ropeTypeKey = try s.optional("rope_type", as: String.self)
            guard let type = typeKey ?? ropeTypeKey else { throw ConfigError(file: r.file, message: "rope_scaling has neither 'type' nor 'rope_type'") }
            ropeScaling = RopeScaling(
                type: type, factor: try s.double("factor"),
                originalMaxPositionEmbeddings: try s.int("original_max_position_embeddings"),
                betaFast: try s.optionalDouble("beta_fast") ?? 32, betaSlow: try s.optionalDouble("beta_slow") ?? 1,
                mscale: try s.optionalDouble("mscale") ?? 1, mscaleAllDim: try s.optionalDouble("mscale_all_dim") ?? 0)
        } else {
            ropeScaling = nil
        }
        if let quantization = try r.optional("quantization_config", as: [String: Any].self) {
            let q = ConfigReader(object: quantization, file: r.file, prefix: "quantization_config.")
            self.quantization = QuantizationConfig(
                quantMethod: try q.string("quant_method"),
                format: try q.optional("fmt", as: String.self) ?? "e4m3",
                activationScheme: try q.optional("activation_scheme", as: String.self) ?? "dynamic",
                weightBlockSize: try q.intArray("weight_block_size"),
                scaleFormat: try q.optional("scale_fmt", as: String.self))
        } else {
            self.quantization = nil
        }
    }

    /// Largest value of any size, count or id field: GGUF stores them as u32 and token ids are
    /// u32 in base files, so 2³¹−1 keeps every conversion exact.
    package static let maximumSize = Int(Int32.max)
    /// Largest `vocab_size` (R1: 129,280), the tokenizer's id bound too: the GGUF vocabulary and
    /// the engine's per-token tables are allocated from it.
    package static let maximumVocabulary = 1 << 24
    /// Largest `num_hidden_layers` (R1: 61).
    package static let maximumLayers = 1024
    /// Largest `num_nextn_predict_layers` (R1: 1).
    package static let maximumMTPLayers = 16
    /// Largest `n_routed_experts` and `n_shared_experts` (R1: 256 and 1).
    package static let maximumExperts = 1 << 16
    /// Largest number of tensors the layout may have (counted with every layer as a MoE layer;
    /// R1: 91,991 tensors, bound 96,847).
    package static let maximumTensors = 1 << 20

    /// Rejects configs this tool cannot represent faithfully, and every value that would make the
    /// layout, the engine or the GGUF writer overflow, divide by zero or allocate without bound.
    /// The one place config values are checked; the ranges:
    ///
    /// - `vocab_size`: 1...2²⁴;
    /// - `hidden_size`, `num_attention_heads`, `num_key_value_heads`, `q_lora_rank`,
    ///   `kv_lora_rank`, `qk_rope_head_dim` (even), `qk_nope_head_dim`, `v_head_dim`,
    ///   `max_position_embeddings`, `rope_scaling.original_max_position_embeddings`: 1...2³¹−1;
    /// - `intermediate_size`, `moe_intermediate_size`: 0...2³¹−1, positive when dense layers /
    ///   routed experts exist; `moe_layer_freq` 1...2³¹−1;
    /// - `num_hidden_layers` 1...1024, `num_nextn_predict_layers` 0...16, `first_k_dense_replace`
    ///   0...num_hidden_layers;
    /// - `n_routed_experts`, `n_shared_experts` 0...65536; with experts `num_experts_per_tok` in
    ///   1...n_routed_experts, `n_group` dividing n_routed_experts, `topk_group` in 1...n_group;
    /// - `bos_token_id`, `eos_token_id`: absent or 0..<vocab_size;
    /// - `routed_scaling_factor`, `rms_norm_eps`: finite f32, > 0; `rope_theta`: finite f32, > 1
    ///   (YaRN divides by ln θ); `rope_scaling.factor`, `beta_fast`, `beta_slow`: finite f32, > 0
    ///   (YaRN divides by them and takes ln factor); `mscale`, `mscale_all_dim`: finite f32, ≥ 0;
    /// - `quantization_config.weight_block_size`: two sizes in 1...65536;
    /// - the layout: at most 2²⁰ tensors, and all tensors at 8 bytes per element (F32 weights plus,
    ///   at worst, one F32 scale per weight) fit in 2⁶³ bytes, computed with checked arithmetic.
    package func validate(file: String) throws(ConfigError) {
        func fail(_ message: String) throws(ConfigError) { throw ConfigError(file: file, message: message) }
        if !architectures.isEmpty && !architectures.contains("DeepseekV3ForCausalLM") {
            try fail("architectures \(architectures) does not include DeepseekV3ForCausalLM")
        }
        let sizes: [(String, Int, ClosedRange<Int>)] = [
            ("vocab_size", vocabSize, 1...Self.maximumVocabulary), ("hidden_size", hiddenSize, 1...Self.maximumSize),
            ("num_hidden_layers", numHiddenLayers, 1...Self.maximumLayers),
            ("num_nextn_predict_layers", numNextNPredictLayers, 0...Self.maximumMTPLayers),
            ("num_attention_heads", numAttentionHeads, 1...Self.maximumSize), ("num_key_value_heads", numKeyValueHeads, 1...Self.maximumSize),
            ("kv_lora_rank", kvLoraRank, 1...Self.maximumSize), ("q_lora_rank", qLoraRank, 1...Self.maximumSize),
            ("qk_rope_head_dim", qkRopeHeadDim, 1...Self.maximumSize), ("qk_nope_head_dim", qkNopeHeadDim, 1...Self.maximumSize),
            ("v_head_dim", vHeadDim, 1...Self.maximumSize), ("moe_layer_freq", moeLayerFrequency, 1...Self.maximumSize),
            ("intermediate_size", intermediateSize, 0...Self.maximumSize), ("moe_intermediate_size", moeIntermediateSize, 0...Self.maximumSize),
            ("n_routed_experts", nRoutedExperts, 0...Self.maximumExperts), ("n_shared_experts", nSharedExperts, 0...Self.maximumExperts),
            ("num_experts_per_tok", numExpertsPerToken, 0...Self.maximumExperts), ("n_group", nGroup, 0...Self.maximumExperts),
            ("topk_group", topkGroup, 0...Self.maximumExperts), ("max_position_embeddings", maxPositionEmbeddings, 1...Self.maximumSize),
        ]
        for (key, value, range) in sizes where !range.contains(value) {
            if range.lowerBound == 1 && value <= 0 { try fail("\(key) must be positive, got \(value)") }
            try fail("\(key) \(value) outside \(range.lowerBound)...\(range.upperBound)")
        }
        if firstKDenseReplace < 0 || firstKDenseReplace > numHiddenLayers {
            try fail("first_k_dense_replace \(firstKDenseReplace) outside 0...\(numHiddenLayers)")
        }
        if firstKDenseReplace > 0 && intermediateSize <= 0 { try fail("intermediate_size must be positive") }
        if nRoutedExperts > 0 {
            if moeIntermediateSize <= 0 { try fail("moe_intermediate_size must be positive") }
            if numExpertsPerToken <= 0 || numExpertsPerToken > nRoutedExperts {
                try fail("num_experts_per_tok \(numExpertsPerToken) must be in 1...n_routed_experts (\(nRoutedExperts))")
            }
            if nGroup <= 0 || nRoutedExperts % nGroup != 0 {
                try fail("n_group \(nGroup) must divide n_routed_experts \(nRoutedExperts)")
            }
            if topkGroup <= 0 || topkGroup > nGroup { try fail("topk_group \(topkGroup) must be in 1...n_group (\(nGroup))") }
            if numExpertsPerToken > topkGroup * (nRoutedExperts / nGroup) {
                try fail("num_experts_per_tok \(numExpertsPerToken) exceeds the experts in topk_group groups")
            }
        }
        for (key, id) in [("bos_token_id", bosTokenId), ("eos_token_id", eosTokenId)] {
            if let id, id < 0 || id >= vocabSize { try fail("\(key) \(id) outside the vocabulary 0..<\(vocabSize)") }
        }
        if topkMethod != "noaux_tc" { try fail("topk_method '\(topkMethod)' is not supported (only noaux_tc, as in V3/R1)") }
        if scoringFunction != "sigmoid" { try fail("scoring_func '\(scoringFunction)' is not supported (only sigmoid, as in V3/R1)") }
        if hiddenAct != "silu" { try fail("hidden_act '\(hiddenAct)' is not supported (only silu)") }
        if qkRopeHeadDim % 2 != 0 { try fail("qk_rope_head_dim \(qkRopeHeadDim) must be even") }

        // Floats: finite in f32 (GGUF stores them so), positive where the math divides by them.
        func real(_ key: String, _ value: Double, above minimum: Double, orEqual: Bool = false) throws(ConfigError) {
            let inRange = orEqual ? value >= minimum : value > minimum
            guard value.isFinite, Float(value).isFinite, inRange else {
                try fail("\(key) \(value) must be finite (in f32) and \(orEqual ? "≥" : ">") \(Int(minimum))")
                return
            }
        }
        try real("routed_scaling_factor", routedScalingFactor, above: 0)
        try real("rms_norm_eps", rmsNormEps, above: 0)
        try real("rope_theta", ropeTheta, above: 1)
        if let scaling = ropeScaling {
            if scaling.type != "yarn" { try fail("rope_scaling type '\(scaling.type)' is not supported (only yarn)") }
            try real("rope_scaling.factor", scaling.factor, above: 0)
            try real("rope_scaling.beta_fast", scaling.betaFast, above: 0)
            try real("rope_scaling.beta_slow", scaling.betaSlow, above: 0)
            try real("rope_scaling.mscale", scaling.mscale, above: 0, orEqual: true)
            try real("rope_scaling.mscale_all_dim", scaling.mscaleAllDim, above: 0, orEqual: true)
            if !(1...Self.maximumSize).contains(scaling.originalMaxPositionEmbeddings) {
                try fail("rope_scaling.original_max_position_embeddings \(scaling.originalMaxPositionEmbeddings) outside 1...\(Self.maximumSize)")
            }
        }
        if let quantization {
            if quantization.quantMethod != "fp8" {
                try fail("quantization_config.quant_method '\(quantization.quantMethod)' is not supported (only fp8)")
            }
            if quantization.format != "e4m3" {
                try fail("quantization_config.fmt '\(quantization.format)' is not supported (only e4m3)")
            }
            if quantization.weightBlockSize.count != 2 || quantization.weightBlockSize.contains(where: { !(1...65536).contains($0) }) {
                try fail("quantization_config.weight_block_size \(quantization.weightBlockSize) must be two sizes in 1...65536")
            }
        }

        // The layout's size, in checked arithmetic (every operand is at most 2³¹−1 here).
        let layers = numHiddenLayers + numNextNPredictLayers
        let tensorBound = 3 + layers * (26 + 6 * nRoutedExperts)
        if tensorBound > Self.maximumTensors {
            try fail("num_hidden_layers \(numHiddenLayers) + num_nextn_predict_layers \(numNextNPredictLayers) with n_routed_experts \(nRoutedExperts) give up to \(tensorBound) tensors, more than \(Self.maximumTensors)")
        }
        if Self.checkedBytes(self) == nil {
            try fail("the model's dimensions overflow: its tensors would not fit in 2^63 bytes (hidden_size \(hiddenSize), vocab_size \(vocabSize), n_routed_experts \(nRoutedExperts), moe_intermediate_size \(moeIntermediateSize), …)")
        }
    }

    /// An upper bound of the stored bytes of every tensor (8 bytes per element, every layer both
    /// dense and MoE, every layer with the MTP extras), or nil when it exceeds `Int.max`.
    static func checkedBytes(_ c: DeepSeekV3Config) -> Int? {
        let product = CheckedArithmetic.product, sum = CheckedArithmetic.sum
        let h = c.hiddenSize, heads = c.numAttentionHeads
        let perLayer = sum(
            product(c.qLoraRank, h), c.qLoraRank, product(heads, c.qkNopeHeadDim + c.qkRopeHeadDim, c.qLoraRank),
            product(c.kvLoraRank + c.qkRopeHeadDim, h), c.kvLoraRank, product(heads, c.qkNopeHeadDim + c.vHeadDim, c.kvLoraRank),
            product(h, heads, c.vHeadDim),
            product(c.nRoutedExperts, h), c.nRoutedExperts, product(3, c.nRoutedExperts, c.moeIntermediateSize, h),
            product(3, c.nSharedExperts, c.moeIntermediateSize, h), product(3, c.intermediateSize, h),
            product(7, h), product(2, c.vocabSize, h), product(2, h, h))
        let layers = c.numHiddenLayers + c.numNextNPredictLayers
        guard let perLayer, let all = sum(product(layers, perLayer), product(2, c.vocabSize, h), h) else { return nil }
        return product(8, all)
    }
}

/// Typed access to a JSON object with errors that name the key.
struct ConfigReader {
    let object: [String: Any]
    let file: String
    var prefix = ""

    func missing(_ key: String) -> ConfigError { ConfigError(file: file, message: "missing key '\(prefix)\(key)'") }
    func wrongType(_ key: String, _ expected: String) -> ConfigError {
        ConfigError(file: file, message: "key '\(prefix)\(key)' should be \(expected), got \(object[key].map { "\($0)" } ?? "null")")
    }

    func optional<T>(_ key: String, as type: T.Type) throws(ConfigError) -> T? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let typed = value as? T else { throw wrongType(key, "\(T.self)") }
        return typed
    }
    func optionalInt(_ key: String) throws(ConfigError) -> Int? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let number = JSONNumbers.integer(value) else { throw wrongType(key, "an integer") }
        return number
    }
    func optionalDouble(_ key: String) throws(ConfigError) -> Double? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let number = JSONNumbers.double(value) else { throw wrongType(key, "a number") }
        return number
    }
    func optionalBool(_ key: String) throws(ConfigError) -> Bool? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let flag = JSONNumbers.boolean(value) else { throw wrongType(key, "true or false") }
        return flag
    }
    func int(_ key: String) throws(ConfigError) -> Int {
        guard let value = try optionalInt(key) else { throw missing(key) }
        return value
    }
    func double(_ key: String) throws(ConfigError) -> Double {
        guard let value = try optionalDouble(key) else { throw missing(key) }
        return value
    }
    func string(_ key: String) throws(ConfigError) -> String {
        guard let value = try optional(key, as: String.self) else { throw missing(key) }
        return value
    }
    func bool(_ key: String) throws(ConfigError) -> Bool {
        guard let value = object[key], !(value is NSNull) else { throw missing(key) }
        guard let flag = JSONNumbers.boolean(value) else { throw wrongType(key, "true or false") }
        return flag
    }
    func intArray(_ key: String) throws(ConfigError) -> [Int] {
        guard let values = try optional(key, as: [Any].self) else { throw missing(key) }
        return try values.map { (value) throws(ConfigError) -> Int in
            guard let number = JSONNumbers.integer(value) else { throw wrongType(key, "a list of integers") }
            return number
        }
    }
}
