"""An independent DeepSeek-V3 forward pass in numpy (float64), written from DeepSeek's reference
`inference/model.py` (Transformer / Block / MLA with attn_impl="naive" / Gate / MoE / MLP /
precompute_freqs_cis / apply_rotary_emb) and HF `modeling_deepseek.py`, sharing no code with moepack.

usage: reference_forward.py CHECKPOINT_DIR CHUNKS_JSON FIRST LAST OUT.npy
(reference_imatrix.py imports it: `observe`, when set, sees every weight's input.)

CHUNKS_JSON is a JSON list of token-id lists; for each chunk the logits at positions FIRST..LAST-1
are computed (fresh positions per chunk, causal attention) and all are saved stacked as float64
[chunks, LAST-FIRST, vocab] with numpy.save. Weights are read with the real `safetensors` library;
FP8 E4M3 weights are dequantized with ml_dtypes (fp8 -> f32, times the 128x128 block scale).
"""
import json
import math
import os
import sys

import ml_dtypes
import numpy as np
import safetensors

DTYPES = {"F8_E4M3": ml_dtypes.float8_e4m3fn, "BF16": ml_dtypes.bfloat16, "F32": np.float32, "F16": np.float16}
cfg = {}
tensors = {}
# observe(name, x, matrix=None): x [rows, columns] is the input of GGUF weight `name` (matrix: expert
# index for routed experts). None: plain forward pass.
observe = None


def load(ckpt):
    cfg.update(json.load(open(os.path.join(ckpt, "config.json"))))
    index = json.load(open(os.path.join(ckpt, "model.safetensors.index.json")))["weight_map"]
    # The safetensors parser gives raw bytes (numpy has no bfloat16/float8); ml_dtypes gives them meaning.
    for shard in sorted(set(index.values())):
        for name, entry in safetensors.deserialize(open(os.path.join(ckpt, shard), "rb").read()):
            tensors[name] = np.frombuffer(bytes(entry["data"]), dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])


def seen(name, x, matrix=None):
    if observe is not None:
        observe(name, x, matrix)


def raw(name):
    return tensors[name]


def weight(name):
    w = raw(name)
    if w.dtype == ml_dtypes.float8_e4m3fn:
        s = raw(name + "_scale_inv").astype(np.float64)
        b = cfg["quantization_config"]["weight_block_size"][0]
        full = np.repeat(np.repeat(s, b, axis=0), b, axis=1)[: w.shape[0], : w.shape[1]]
        return (w.astype(np.float32).astype(np.float64)) * full
    return w.astype(np.float64)


def rms_norm(x, w):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + cfg["rms_norm_eps"]) * w


def silu(x):
    return x / (1 + np.exp(-x))


def mlp(x, prefix, names=None, matrix=None):
    """names: the GGUF names of (gate, up, down), for `observe`."""
    if names:
        seen(names[0], x, matrix)
        seen(names[1], x, matrix)
    h = silu(x @ weight(prefix + "gate_proj.weight").T) * (x @ weight(prefix + "up_proj.weight").T)
    if names:
        seen(names[2], h, matrix)
    return h @ weight(prefix + "down_proj.weight").T


def freqs(seqlen):
    dim, base = cfg["qk_rope_head_dim"], cfg["rope_theta"]
    rs = cfg.get("rope_scaling") or {}
    f = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    if rs.get("type") == "yarn":
        factor, orig = rs["factor"], rs["original_max_position_embeddings"]

        def corr_dim(rot):
            return dim * math.log(orig / (rot * 2 * math.pi)) / (2 * math.log(base))

        low = max(math.floor(corr_dim(rs["beta_fast"])), 0)
        high = min(math.ceil(corr_dim(rs["beta_slow"])), dim - 1)
        if low == high:
            high += 0.001
        ramp = np.clip((np.arange(dim // 2, dtype=np.float64) - low) / (high - low), 0, 1)
        smooth = 1 - ramp
        f = f / factor * (1 - smooth) + f * smooth
    angles = np.outer(np.arange(seqlen, dtype=np.float64), f)
    return np.cos(angles), np.sin(angles)


def rope(x, cos, sin):
    # Adjacent pairs (x[2i], x[2i+1]) as complex numbers, as view_as_complex in the reference.
    a, b = x[..., 0::2], x[..., 1::2]
    y = np.empty_like(x)
    y[..., 0::2] = a * cos - b * sin
    y[..., 1::2] = a * sin + b * cos
    return y


def softmax_scale():
    scale = (cfg["qk_nope_head_dim"] + cfg["qk_rope_head_dim"]) ** -0.5
    rs = cfg.get("rope_scaling") or {}
    if rs.get("type") == "yarn" and rs.get("mscale_all_dim"):
        m = 0.1 * rs["mscale_all_dim"] * math.log(rs["factor"]) + 1.0
        scale *= m * m
    return scale


def attention(x, i, cos, sin):
    p = f"model.layers.{i}.self_attn."
    H, n, r, v, L = cfg["num_attention_heads"], cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"], cfg["kv_lora_rank"]
    T = x.shape[0]
    blk = f"blk.{i}."
    seen(blk + "attn_q_a.weight", x)
    seen(blk + "attn_kv_a_mqa.weight", x)
    qa = rms_norm(x @ weight(p + "q_a_proj.weight").T, weight(p + "q_a_layernorm.weight"))
    seen(blk + "attn_q_b.weight", qa)
    q = qa @ weight(p + "q_b_proj.weight").T
    q = q.reshape(T, H, n + r)
    q_nope, q_pe = q[..., :n], rope(q[..., n:], cos[:, None, :], sin[:, None, :])
    kv = x @ weight(p + "kv_a_proj_with_mqa.weight").T
    c, k_pe = kv[:, :L], rope(kv[:, L:], cos, sin)
    kvb = (rms_norm(c, weight(p + "kv_a_layernorm.weight")) @ weight(p + "kv_b_proj.weight").T).reshape(T, H, n + v)
    k_nope, values = kvb[..., :n], kvb[..., n:]
    scores = (np.einsum("thd,shd->ths", q_nope, k_nope) + np.einsum("thd,sd->ths", q_pe, k_pe)) * softmax_scale()
    mask = np.triu(np.ones((T, T), dtype=bool), 1)
    scores = np.where(mask[:, None, :], -np.inf, scores)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    scores /= scores.sum(axis=-1, keepdims=True)
    o = np.einsum("ths,shd->thd", scores, values).reshape(T, H * v)
    if observe is not None:
        # llama.cpp's MLA graph multiplies attn_k_b by each head's q_nope and attn_v_b by each
        # head's attention output in the latent space (softmax · normalised latent): one matrix per
        # head, inputs laid out head-major.
        latent = np.einsum("ths,sl->thl", scores, rms_norm(c, weight(p + "kv_a_layernorm.weight")))
        seen(blk + "attn_k_b.weight", q_nope.transpose(1, 0, 2))
        seen(blk + "attn_v_b.weight", latent.transpose(1, 0, 2))
    seen(blk + "attn_output.weight", o)
    return o @ weight(p + "o_proj.weight").T


def moe(x, i):
    p = f"model.layers.{i}.mlp."
    E, G, KG, K = cfg["n_routed_experts"], cfg["n_group"], cfg["topk_group"], cfg["num_experts_per_tok"]
    blk = f"blk.{i}."
    seen(blk + "ffn_gate_inp.weight", x)
    s = 1 / (1 + np.exp(-(x @ weight(p + "gate.weight").T)))  # [T, E], sigmoid
    biased = s + weight(p + "gate.e_score_correction_bias")
    if G > 1:
        g = biased.reshape(-1, G, E // G)
        group_scores = np.sort(g, axis=-1)[..., -2:].sum(axis=-1)
        keep = np.argsort(-group_scores, axis=-1, kind="stable")[:, :KG]
        mask = np.ones_like(group_scores, dtype=bool)
        np.put_along_axis(mask, keep, False, axis=-1)
        biased = np.where(np.repeat(mask, E // G, axis=-1), -np.inf, biased)
    idx = np.argsort(-biased, axis=-1, kind="stable")[:, :K]
    w = np.take_along_axis(s, idx, axis=-1)
    if cfg.get("norm_topk_prob", True):
        w = w / w.sum(axis=-1, keepdims=True)
    w = w * cfg["routed_scaling_factor"]
    y = np.zeros_like(x)
    for e in range(E):
        rows, slots = np.nonzero(idx == e)
        if len(rows):
            names = [blk + "ffn_gate_exps.weight", blk + "ffn_up_exps.weight", blk + "ffn_down_exps.weight"]
            y[rows] += mlp(x[rows], p + f"experts.{e}.", names, e) * w[rows, slots][:, None]
    return y + mlp(x, p + "shared_experts.", [blk + "ffn_gate_shexp.weight", blk + "ffn_up_shexp.weight", blk + "ffn_down_shexp.weight"])


def forward(tokens, first=0, last=None):
    T = len(tokens)
    cos, sin = freqs(T)
    x = weight("model.embed_tokens.weight")[tokens]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = x + attention(rms_norm(x, weight(p + "input_layernorm.weight")), i, cos, sin)
        h = rms_norm(x, weight(p + "post_attention_layernorm.weight"))
        dense = [f"blk.{i}.ffn_gate.weight", f"blk.{i}.ffn_up.weight", f"blk.{i}.ffn_down.weight"]
        x = x + (mlp(h, p + "mlp.", dense) if i < cfg["first_k_dense_replace"] else moe(h, i))
    x = rms_norm(x, weight("model.norm.weight"))
    seen("output.weight", x)
    return x[first:last] @ weight("lm_head.weight").T


if __name__ == "__main__":
    ckpt, chunks_path, first, last, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    load(ckpt)
    chunks = json.load(open(chunks_path))
    np.save(out, np.stack([forward(c, first, last) for c in chunks]))
    print(json.dumps({"ok": True, "chunks": len(chunks), "positions": last - first, "vocab": cfg["vocab_size"]}))
