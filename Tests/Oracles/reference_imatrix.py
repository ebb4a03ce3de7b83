"""An independent importance matrix: llama-imatrix's statistics (Σx² per input column of every
weight, row counts; routed experts per expert over the tokens routed to them; attn_k_b/attn_v_b
per head in llama.cpp's MLA form) computed on the float64 numpy forward pass of
reference_forward.py, which shares no code with moepack.

usage: reference_imatrix.py CHECKPOINT_DIR CHUNKS_JSON OUT.json [--process-output]

OUT.json: {name: {"sums": [...], "counts": [...]}} with sums group-major (an expert's columns
together; for attn_k_b/attn_v_b head after head) and one count per expert for the routed-expert
stacks, else a single count (tokens seen), as llama-imatrix keeps them.
"""
import json
import sys

import numpy as np

import reference_forward as ref

ckpt, chunks_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
process_output = "--process-output" in sys.argv[4:]
ref.load(ckpt)
E = ref.cfg["n_routed_experts"]
stats = {}


def observe(name, x, matrix):
    if name == "output.weight" and not process_output:
        return
    if x.ndim == 3:  # [heads, tokens, columns]: one block of columns per head, one count
        sums, count = (x * x).sum(axis=1).reshape(-1), x.shape[1]
        groups, group = 1, 0
    else:
        sums, count = (x * x).sum(axis=0), x.shape[0]
        groups, group = (E, matrix) if matrix is not None else (1, 0)
    entry = stats.setdefault(name, {"sums": np.zeros(groups * sums.size), "counts": np.zeros(groups)})
    entry["sums"][group * sums.size:(group + 1) * sums.size] += sums
    entry["counts"][group] += count


ref.observe = observe
for chunk in json.load(open(chunks_path)):
    ref.forward(chunk)
json.dump({k: {"sums": v["sums"].tolist(), "counts": v["counts"].tolist()} for k, v in stats.items()}, open(out, "w"))
print(json.dumps({"ok": True, "entries": len(stats)}))
