/// The Hugging Face tensor names of a `DeepseekV3ForCausalLM` checkpoint, written once (the
/// module paths of `modeling_deepseek.py`). The checkpoint layout, the GGUF plan and the engine
/// all name checkpoint tensors through this table; `DeepSeek2Name` is llama.cpp's side.
package enum CheckpointName {
    package static let embedding = "model.embed_tokens.weight"
    package static let finalNorm = "model.norm.weight"
    package static let lmHead = "lm_head.weight"

    /// `model.layers.{n}.`: every tensor of decoder layer `n` starts so.
    package static func layerPrefix(_ layer: Int) -> String { "model.layers.\(layer)." }

    /// The LM head's weight: `lm_head`, or the embedding when the config ties them.
    package static func head(tiedToEmbedding: Bool) -> String { tiedToEmbedding ? embedding : lmHead }

    /// A tensor of decoder layer `n`, `model.layers.{n}.{rawValue}`.
    package enum Layer: String, CaseIterable, Sendable {
        case inputNorm = "input_layernorm.weight"
        case qA = "self_attn.q_a_proj.weight"
        case qANorm = "self_attn.q_a_layernorm.weight"
        case qB = "self_attn.q_b_proj.weight"
        case kvA = "self_attn.kv_a_proj_with_mqa.weight"
        case kvANorm = "self_attn.kv_a_layernorm.weight"
        case kvB = "self_attn.kv_b_proj.weight"
        case attentionOutput = "self_attn.o_proj.weight"
        case postAttentionNorm = "post_attention_layernorm.weight"
        case router = "mlp.gate.weight"
        case routerBias = "mlp.gate.e_score_correction_bias"
        // Multi-token-prediction layers only (after the trunk's `num_hidden_layers`).
        case mtpEmbedding = "embed_tokens.weight"
        case mtpEmbeddingNorm = "enorm.weight"
        case mtpHiddenNorm = "hnorm.weight"
        case mtpProjection = "eh_proj.weight"
        case mtpHeadNorm = "shared_head.norm.weight"
        case mtpHead = "shared_head.head.weight"

        package func name(layer: Int) -> String { layerPrefix(layer) + rawValue }
    }

    /// A SwiGLU MLP of a layer: the dense one (first `first_k_dense_replace` layers), the shared
    /// experts, or routed expert `e`.
    package enum MLP: Sendable, Equatable {
        case dense
        case shared
        case expert(Int)

        var path: String {
            switch self {
            case .dense: "mlp."
            case .shared: "mlp.shared_experts."
            case .expert(let e): "mlp.experts.\(e)."
            }
        }
    }

    /// Its three projections, in the order gate, up, down.
    package enum Projection: String, CaseIterable, Sendable {
        case gate = "gate_proj"
        case up = "up_proj"
        case down = "down_proj"
    }

    /// `model.layers.{n}.mlp[.shared_experts|.experts.{e}].{gate|up|down}_proj.weight`.
    package static func mlp(_ mlp: MLP, _ projection: Projection, layer: Int) -> String {
        layerPrefix(layer) + mlp.path + projection.rawValue + ".weight"
    }

    /// The gate, up and down weights of one MLP.
    package static func mlp(_ mlp: MLP, layer: Int) -> [String] {
        Projection.allCases.map { Self.mlp(mlp, $0, layer: layer) }
    }
}
