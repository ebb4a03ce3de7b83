"""llama.cpp oracle for the forward pass (optional job): evaluates token chunks of a GGUF with
llama-cpp-python, each chunk from an empty KV cache (F32 cache, so the cache adds no rounding), and
saves the logits of positions FIRST..LAST-1 of every chunk as float32 [chunks, LAST-FIRST, vocab].

usage: llama_logits.py MODEL.gguf CHUNKS_JSON FIRST LAST OUT.npy THREADS
With THREADS > 0 it also times a llama-perplexity-style pass over the chunks and prints tokens/s.
"""
import json
import sys
import time

import llama_cpp
import numpy as np

model, chunks_path, first, last, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
chunks = json.load(open(chunks_path))
n_ctx = max(len(c) for c in chunks)
llm = llama_cpp.Llama(model_path=model, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, n_threads=threads, n_threads_batch=threads,
                      logits_all=True, verbose=False, type_k=0, type_v=0)
logits = []
start = time.perf_counter()
for chunk in chunks:
    llm.reset()
    llm._ctx.kv_cache_clear() if hasattr(llm._ctx, "kv_cache_clear") else None
    llm.eval(chunk)
    logits.append(np.array(llm.scores[first:last], dtype=np.float32))
seconds = time.perf_counter() - start
np.save(out, np.stack(logits))
print(json.dumps({"ok": True, "chunks": len(chunks), "tokens": sum(len(c) for c in chunks), "seconds": seconds,
                  "tokens_per_second": sum(len(c) for c in chunks) / seconds, "n_vocab": llm.n_vocab()}))
