/// The tensors a `DeepseekV3ForCausalLM` checkpoint holds, derived from its config alone: names,
/// shapes and storage kinds, in the order DeepSeek's release lists them. One definition serves the
/// synthetic-checkpoint generator, checkpoint validation and parameter counting.
///
/// For DeepSeek-V3/R1 (61 layers + 1 MTP layer) this yields the 91,991 tensors and 688,574,839,360
/// bytes of the released FP8 checkpoint.
public struct CheckpointLayout: Sendable {
    /// How a tensor is stored in the released FP8 checkpoint.
    public enum Storage: Sendable, Equatable {
        /// A linear weight in FP8 E4M3 with a `<name>_scale_inv` F32 companion.
        case fp8Linear
        /// The companion scale grid of an `fp8Linear` weight.
        case scaleInverse
        /// BF16: embeddings, LM head, norms, router, MTP projection.
        case bf16
        /// F32: the router's `e_score_correction_bias`.
        case f32
    }

    /// Which part of the network a tensor belongs to; drives parameter accounting.
    public enum Role: Sendable, Equatable {
        case embedding, outputHead, attention, norm, denseFFN, router, routedExpert, sharedExpert, mtpProjection
    }

    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        public var storage: Storage
        public var role: Role
        /// Trunk or MTP layer index; nil for global tensors.
        public var layer: Int?
        public var isMTP: Bool

        public var elementCount: Int { shape.reduce(1, *) }
        public var storedBytes: Int {
            switch storage {
            case .fp8Linear: elementCount
            case .bf16: elementCount * 2
            case .f32, .scaleInverse: elementCount * 4
            }
        }
    }

    public let config: DeepSeekV3Config
    public let tensors: [Tensor]
    public let blockSize: Int

    public init(config: DeepSeekV3Config) {
        self.config = config
        blockSize = config.weightBlockSize?.rows ?? 128
        var list: [Tensor] = []
        let c = config
        let h = c.hiddenSize
        let blockSize = blockSize

        func add(_ name: String, _ shape: [Int], _ storage: Storage, _ role: Role, layer: Int? = nil, mtp: Bool = false) {
            list.append(Tensor(name: name, shape: shape, storage: storage, role: role, layer: layer, isMTP: mtp))
            if storage == .fp8Linear {
                let grid = [(shape[0] + blockSize - 1) / blockSize, (shape[1] + blockSize - 1) / blockSize]
                list.append(Tensor(name: name + "_scale_inv", shape: grid, storage: .scaleInverse, role: role, layer: layer, isMTP: mtp))
            }
        }

        add("model.embed_tokens.weight", [c.vocabSize, h], .bf16, .embedding)
        for layer in 0..<(c.numHiddenLayers + c.numNextNPredictLayers) {
            let mtp = layer >= c.numHiddenLayers
            let p = "model.layers.\(layer)."
            func layerTensor(_ suffix: String, _ shape: [Int], _ storage: Storage, _ role: Role) {
                add(p + suffix, shape, storage, role, layer: layer, mtp: mtp)
            }
            layerTensor("self_attn.q_a_proj.weight", [c.qLoraRank, h], .fp8Linear, .attention)
            layerTensor("self_attn.q_a_layernorm.weight", [c.qLoraRank], .bf16, .norm)
            layerTensor("self_attn.q_b_proj.weight", [c.numAttentionHeads * c.qkHeadDim, c.qLoraRank], .fp8Linear, .attention)
            layerTensor("self_attn.kv_a_proj_with_mqa.weight", [c.kvLoraRank + c.qkRopeHeadDim, h], .fp8Linear, .attention)
            layerTensor("self_attn.kv_a_layernorm.weight", [c.kvLoraRank], .bf16, .norm)
            layerTensor("self_attn.kv_b_proj.weight", [c.numAttentionHeads * (c.qkNopeHeadDim + c.vHeadDim), c.kvLoraRank], .fp8Linear, .attention)
            layerTensor("self_attn.o_proj.weight", [h, c.numAttentionHeads * c.vHeadDim], .fp8Linear, .attention)
            if c.isMoELayer(layer) {
                let f = c.moeIntermediateSize
                layerTensor("mlp.gate.weight", [c.nRoutedExperts, h], .bf16, .router)
                layerTensor("mlp.gate.e_score_correction_bias", [c.nRoutedExperts], .f32, .router)
                for expert in 0..<c.nRoutedExperts {
                    layerTensor("mlp.experts.\(expert).gate_proj.weight", [f, h], .fp8Linear, .routedExpert)
                    layerTensor("mlp.experts.\(expert).up_proj.weight", [f, h], .fp8Linear, .routedExpert)
                    layerTensor("mlp.experts.\(expert).down_proj.weight", [h, f], .fp8Linear, .routedExpert)
                }
                if c.nSharedExperts > 0 {
                    let shared = f * c.nSharedExperts
                    layerTensor("mlp.shared_experts.gate_proj.weight", [shared, h], .fp8Linear, .sharedExpert)
                    layerTensor("mlp.shared_experts.up_proj.weight", [shared, h], .fp8Linear, .sharedExpert)
                    layerTensor("mlp.shared_experts.down_proj.weight", [h, shared], .fp8Linear, .sharedExpert)
                }
            } else {
                layerTensor("mlp.gate_proj.weight", [c.intermediateSize, h], .fp8Linear, .denseFFN)
                layerTensor("mlp.up_proj.weight", [c.intermediateSize, h], .fp8Linear, .denseFFN)
                layerTensor("mlp.down_proj.weight", [h, c.intermediateSize], .fp8Linear, .denseFFN)
            }
            layerTensor("input_layernorm.weight", [h], .bf16, .norm)
            layerTensor("post_attention_layernorm.weight", [h], .bf16, .norm)
            if mtp {
                layerTensor("embed_tokens.weight", [c.vocabSize, h], .bf16, .embedding)
                layerTensor("enorm.weight", [h], .bf16, .norm)
                layerTensor("hnorm.weight", [h], .bf16, .norm)
                layerTensor("eh_proj.weight", [h, 2 * h], .bf16, .mtpProjection)
                layerTensor("shared_head.norm.weight", [h], .bf16, .norm)
                layerTensor("shared_head.head.weight", [c.vocabSize, h], .bf16, .outputHead)
            }
        }
        add("model.norm.weight", [h], .bf16, .norm)
        if !c.tieWordEmbeddings { add("lm_head.weight", [c.vocabSize, h], .bf16, .outputHead) }
        tensors = list
    }

    public var storedBytes: Int { tensors.reduce(0) { $0 + $1.storedBytes } }

    // MARK: - Parameter accounting

    /// Parameter counts as DeepSeek reports them (`README_WEIGHTS.md`): scale grids are not
    /// parameters; "activated" counts what one token's forward pass multiplies with: everything
    /// but the embedding lookup and the routed experts, plus `num_experts_per_tok` of the
    /// routed experts of each MoE layer.
    public struct ParameterCounts: Sendable, Equatable {
        public var total: Int
        public var mainModel: Int
        public var mtpLayers: Int
        public var activatedPerToken: Int
        public var routedExperts: Int
    }

    public var parameterCounts: ParameterCounts {
        var counts = ParameterCounts(total: 0, mainModel: 0, mtpLayers: 0, activatedPerToken: 0, routedExperts: 0)
        for tensor in tensors where tensor.storage != .scaleInverse {
            let n = tensor.elementCount
            counts.total += n
            if tensor.isMTP {
                counts.mtpLayers += n
                continue
            }
            counts.mainModel += n
            switch tensor.role {
            case .embedding: break
            case .routedExpert: counts.routedExperts += n
            default: counts.activatedPerToken += n
            }
        }
        if config.nRoutedExperts > 0 {
            counts.activatedPerToken += counts.routedExperts / config.nRoutedExperts * config.numExpertsPerToken
        }
        return counts
    }
}
