"""llama.cpp oracle (optional job): loads a GGUF with llama-cpp-python, tokenizes TEXT with BOS and
evaluates it. Prints JSON {"tokens": [...], "finite": bool, "n_vocab": int, "logit_std": float}.

usage: llama_load.py MODEL.gguf TEXT
Needs a Python with llama-cpp-python (it builds llama.cpp from source: 15-25 minutes on 2 cores):
    python3 -m venv /tmp/llama && /tmp/llama/bin/pip install llama-cpp-python==0.3.36 numpy
"""
import json
import sys

import llama_cpp
import numpy as np

llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=128, n_threads=2, logits_all=True, verbose=False)
tokens = llm.tokenize(sys.argv[2].encode("utf-8"), add_bos=True, special=True)
llm.eval(tokens)
scores = np.array(llm.scores[: len(tokens)], dtype=np.float64)
print(json.dumps({"tokens": tokens, "finite": bool(np.isfinite(scores).all()), "n_vocab": llm.n_vocab(),
                  "logit_std": float(scores.std())}))
