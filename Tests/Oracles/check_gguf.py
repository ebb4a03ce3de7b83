"""Independent check of `moepack quantize` with gguf-py and numpy/ml_dtypes.

usage: check_gguf.py MODEL.gguf FP8_CHECKPOINT_DIR
Rebuilds every deepseek2 tensor from the FP8 checkpoint (block dequantization, expert stacking, the
kv_b_proj split into attn_k_b (transposed) and attn_v_b) following llama.cpp's convert_hf_to_gguf.py,
dequantizes the GGUF tensor with gguf-py, and reports the relative RMSE per tensor, plus the metadata
keys with their types. Prints JSON.
"""
import json
import os
import sys

import ml_dtypes
import numpy as np
import safetensors
from gguf import GGUFReader, GGUFValueType
from gguf.quants import dequantize

gguf_path, src = sys.argv[1], sys.argv[2]
config = json.load(open(os.path.join(src, "config.json")))
index = json.load(open(os.path.join(src, "model.safetensors.index.json")))
raw = {"F8_E4M3": ml_dtypes.float8_e4m3fn, "BF16": ml_dtypes.bfloat16, "F32": np.float32}
hf = {}
for shard in sorted(set(index["weight_map"].values())):
    for name, entry in safetensors.deserialize(open(os.path.join(src, shard), "rb").read()):
        hf[name] = (entry["dtype"], np.frombuffer(bytes(entry["data"]), dtype=raw[entry["dtype"]]).reshape(entry["shape"]))


def weight(name):
    dtype, array = hf[name]
    if dtype == "F8_E4M3":
        scale = hf[name + "_scale_inv"][1]
        rows, cols = array.shape
        grid = np.repeat(np.repeat(scale, 128, axis=0), 128, axis=1)[:rows, :cols]
        return array.astype(np.float32) * grid
    return array.astype(np.float32)


heads, nope, v, kvl = config["num_attention_heads"], config["qk_nope_head_dim"], config["v_head_dim"], config["kv_lora_rank"]


def expected(name):
    parts = name.split(".")
    if name == "token_embd.weight": return weight("model.embed_tokens.weight")
    if name == "output_norm.weight": return weight("model.norm.weight")
    if name == "output.weight": return weight("lm_head.weight")
    i, kind = int(parts[1]), parts[2]
    p = f"model.layers.{i}."
    simple = {"attn_norm": "input_layernorm", "attn_q_a": "self_attn.q_a_proj", "attn_q_a_norm": "self_attn.q_a_layernorm",
              "attn_q_b": "self_attn.q_b_proj", "attn_kv_a_mqa": "self_attn.kv_a_proj_with_mqa",
              "attn_kv_a_norm": "self_attn.kv_a_layernorm", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
              "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj", "ffn_gate_inp": "mlp.gate",
              "ffn_gate_shexp": "mlp.shared_experts.gate_proj", "ffn_up_shexp": "mlp.shared_experts.up_proj",
              "ffn_down_shexp": "mlp.shared_experts.down_proj"}
    if kind == "exp_probs_b": return weight(p + "mlp.gate.e_score_correction_bias")
    if kind in simple: return weight(p + simple[kind] + ".weight")
    if kind.endswith("_exps"):
        proj = kind.replace("ffn_", "").replace("_exps", "") + "_proj"
        return np.stack([weight(p + f"mlp.experts.{e}.{proj}.weight") for e in range(config["n_routed_experts"])])
    kvb = weight(p + "self_attn.kv_b_proj.weight").reshape(heads, nope + v, kvl)
    if kind == "attn_k_b": return np.ascontiguousarray(kvb[:, :nope, :].transpose(0, 2, 1))
    if kind == "attn_v_b": return np.ascontiguousarray(kvb[:, nope:, :])
    raise KeyError(name)


reader = GGUFReader(gguf_path)
fields = {}
for key, field in reader.fields.items():
    if not key.startswith("GGUF."):
        fields[key] = "/".join(t.name for t in field.types)
tensors = {}
for t in reader.tensors:
    ours = dequantize(t.data, t.tensor_type).reshape([int(x) for x in reversed(t.shape)]).astype(np.float64)
    want = expected(t.name).astype(np.float64)
    shape_ok = list(ours.shape) == list(want.shape)
    err = float(np.sqrt(np.mean((ours - want) ** 2)) / max(np.sqrt(np.mean(want ** 2)), 1e-30)) if shape_ok else None
    tensors[t.name] = {"type": t.tensor_type.name, "shape": [int(x) for x in t.shape], "shape_ok": shape_ok, "relative_rmse": err}
print(json.dumps({"fields": fields, "tensors": tensors}))
