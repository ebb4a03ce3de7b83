/// llama.cpp's `deepseek2` tensor names, written once (gguf-py `constants.py` `TENSOR_NAMES` for
/// `MODEL_ARCH.DEEPSEEK2`). The GGUF plan, the importance-matrix collector and the quantizer's
/// importance lookup all name tensors through this table, so a file computed from the FP8
/// checkpoint applies to the GGUF made from it.
package enum DeepSeek2Name: String, CaseIterable, Sendable {
    case attnNorm = "attn_norm"
    case attnQA = "attn_q_a"
    case attnQANorm = "attn_q_a_norm"
    case attnQB = "attn_q_b"
    case attnKVAMQA = "attn_kv_a_mqa"
    case attnKVANorm = "attn_kv_a_norm"
    case attnKB = "attn_k_b"
    case attnVB = "attn_v_b"
    case attnOutput = "attn_output"
    case ffnNorm = "ffn_norm"
    case ffnGateInp = "ffn_gate_inp"
    case expProbsB = "exp_probs_b"
    case ffnGateExps = "ffn_gate_exps"
    case ffnUpExps = "ffn_up_exps"
    case ffnDownExps = "ffn_down_exps"
    case ffnGateShexp = "ffn_gate_shexp"
    case ffnUpShexp = "ffn_up_shexp"
    case ffnDownShexp = "ffn_down_shexp"
    case ffnGate = "ffn_gate"
    case ffnUp = "ffn_up"
    case ffnDown = "ffn_down"

    /// `blk.{layer}.{name}.weight` (`.bias` for the router's correction bias, as llama.cpp names it).
    package func name(layer: Int) -> String {
        "blk.\(layer).\(rawValue)" + (self == .expProbsB ? ".bias" : ".weight")
    }

    package static let tokenEmbedding = "token_embd.weight"
    package static let outputNorm = "output_norm.weight"
    package static let output = "output.weight"
}
