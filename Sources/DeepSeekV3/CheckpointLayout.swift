/// The tensors a `DeepseekV3ForCausalLM` checkpoint holds, derived from its config alone: names,
/// shapes and storage kinds, in the order DeepSeek's release lists them. One definition serves the
/// synthetic-checkpoint generator, checkpoint validation and parameter counting.
///
/// For DeepSeek-V3/R1 (61 layers + 1 MTP layer) this yields the 91,991 tensors and 688,574,839,360
/// bytes of the released FP8 checkpoint.
package struct CheckpointLayout: Sendable {
    /// How a tensor is stored in the released FP8 checkpoint.
    package enum Storage: Sendable, Equatable {
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
    package enum NetworkPart: Sendable, Equatable {
        case embedding, outputHead, attention, norm, denseFFN, router, routedExpert, sharedExpert, mtpProjection
    }

    package struct Tensor: Sendable, Equatable {
        package var name: String
        package var shape: [Int]
        package var storage: Storage
        package var role: NetworkPart
        /// Trunk or MTP layer index; nil for global tensors.
        package var layer: Int?
        package var isMTP: Bool

        package var elementCount: Int { shape.reduce(1, *) }
        package var storedBytes: Int {
            switch storage {
            case .fp8Linear: elementCount
            case .bf16: elementCount * 2
            case .f32, .scaleInverse: elementCount * 4
            }
        }
    }

    package let config: DeepSeekV3Config
    package let tensors: [Tensor]
    package let blockSize: Int

    package init(config: DeepSeekV3Config) {
        self.config = config
        blockSize = config.weightBlockSize?.rows ?? 128
        var list: [Tensor] = []
        let c = config
        let h = c.hiddenSize
        let blockSize = blockSize

        func add(_ name: String, _ shape: [Int], _ storage: Storage, _ role: NetworkPart, layer: Int? = nil, mtp: Bool = false) {
            list.append(Tensor(name: name, shape: shape, storage: storage, role: role, layer: layer, isMTP: mtp))
            if storage == .fp8Linear {
                let grid = [(shape[0] + blockSize - 1) / blockSize, (shape[1] + blockSize - 1) / blockSize]
                list.append(Tensor(name: name + "_scale_inv", shape: grid, storage: .scaleInverse, role: role, layer: layer, isMTP: mtp))
            }
        }

        add(CheckpointName.embedding, [c.vocabSize, h], .bf16, .embedding)
        for layer in 0..<(c.numHiddenLayers + c.numNextNPredictLayers) {
            let mtp = layer >= c.numHiddenLayers
            func layerTensor(_ tensor: CheckpointName.Layer, _ shape: [Int], _ storage: Storage, _ role: NetworkPart) {
                add(tensor.name(layer: layer), shape, storage, role, layer: layer, mtp: mtp)
            }
            func mlpTensor(_ mlp: CheckpointName.MLP, _ projection: CheckpointName.Projection, _ shape: [Int], _ role: NetworkPart) {
                add(CheckpointName.mlp(mlp, projection, layer: layer), shape, .fp8Linear, role, layer: layer, mtp: mtp)
            }
            layerTensor(.qA, [c.qLoraRank, h], .fp8Linear, .attention)
            layerTensor(.qANorm, [c.qLoraRank], .bf16, .norm)
            layerTensor(.qB, [c.numAttentionHeads * c.qkHeadDim, c.qLoraRank], .fp8Linear, .attention)
            layerTensor(.kvA, [c.kvLoraRank + c.qkRopeHeadDim, h], .fp8Linear, .attention)
            layerTensor(.kvANorm, [c.kvLoraRank], .bf16, .norm)
            layerTensor(.kvB, [c.numAttentionHeads * (c.qkNopeHeadDim + c.vHeadDim), c.kvLoraRank], .fp8Linear, .attention)
            layerTensor(.attentionOutput, [h, c.numAttentionHeads * c.vHeadDim], .fp8Linear, .attention)
            if c.isMoELayer(layer) {
                let f = c.moeIntermediateSize
                layerTensor(.router, [c.nRoutedExperts, h], .bf16, .router)
                layerTensor(.routerBias, [c.nRoutedExperts], .f32, .router)
                for expert in 0..<c.nRoutedExperts {
                    mlpTensor(.expert(expert), .gate, [f, h], .routedExpert)
                    mlpTensor(.expert(expert), .up, [f, h], .routedExpert)
                    mlpTensor(.expert(expert), .down, [h, f], .routedExpert)
                }
                if c.nSharedExperts > 0 {
                    let shared = f * c.nSharedExperts
                    mlpTensor(.shared, .gate, [shared, h], .sharedExpert)
                    mlpTensor(.shared, .up, [shared, h], .sharedExpert)
                    mlpTensor(.shared, .down, [h, shared], .sharedExpert)
                }
            } else {
                mlpTensor(.dense, .gate, [c.intermediateSize, h], .denseFFN)
                mlpTensor(.dense, .up, [c.intermediateSize, h], .denseFFN)
                mlpTensor(.dense, .down, [h, c.intermediateSize], .denseFFN)
            }
            layerTensor(.inputNorm, [h], .bf16, .norm)
            layerTensor(.postAttentionNorm, [h], .bf16, .norm)
            if mtp {
                layerTensor(.mtpEmbedding, [c.vocabSize, h], .bf16, .embedding)
                layerTensor(.mtpEmbeddingNorm, [h], .bf16, .norm)
                layerTensor(.mtpHiddenNorm, [h], .bf16, .norm)
                layerTensor(.mtpProjection, [h, 2 * h], .bf16, .mtpProjection)
                layerTensor(.mtpHeadNorm, [h], .bf16, .norm)
                layerTensor(.mtpHead, [c.vocabSize, h], .bf16, .outputHead)
            }
        }
        add(CheckpointName.finalNorm, [h], .bf16, .norm)
        if !c.tieWordEmbeddings { add(CheckpointName.lmHead, [c.vocabSize, h], .bf16, .outputHead) }
        tensors = list
    }

    package var storedBytes: Int { tensors.reduce(0) { $0 + $1.storedBytes } }

    // MARK: - Parameter accounting

    /// Parameter counts as DeepSeek reports them (`README_WEIGHTS.md`): scale grids are not
    /// parameters; "activated" counts what one token's forward pass multiplies with: everything
    /// but the embedding lookup and the routed experts, plus `num_experts_per_tok` of the
    /// routed experts of each MoE layer.
    package struct ParameterCounts: Sendable, Equatable {
        package var total: Int
        package var mainModel: Int
        package var mtpLayers: Int
        package var activatedPerToken: Int
        package var routedExperts: Int
    }

    package var parameterCounts: ParameterCounts {
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
