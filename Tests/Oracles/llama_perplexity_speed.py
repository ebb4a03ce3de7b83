"""Peer of `moepack bench perplexity`: times llama.cpp evaluating token chunks the way
llama-perplexity does (each chunk from an empty KV cache in one batch, logits requested only for
the scored positions FIRST.. of each chunk), and, for comparison, with every position's logits
(llama-cpp-python's logits_all, what llama_logits.py does).

usage: llama_perplexity_speed.py MODEL.gguf CHUNKS_JSON FIRST THREADS
Only llama_decode is timed (moepack's rate includes its scoring). Prints JSON
{"tokens_per_second": scored-only rate, "all_logits_tokens_per_second": ..., "nll": ...}
(nll: the mean negative log-likelihood of the scored tokens, a check that both sides scored the same text).
"""
import ctypes
import json
import sys
import time

import llama_cpp
import numpy as np

model, chunks_path, first, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
chunks = json.load(open(chunks_path))
n_ctx = max(len(c) for c in chunks)
tokens = sum(len(c) for c in chunks)


def scored_only():
    llm = llama_cpp.Llama(model_path=model, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, n_threads=threads,
                          n_threads_batch=threads, logits_all=False, verbose=False, type_k=0, type_v=0)
    ctx = llm._ctx.ctx
    n_vocab = llm.n_vocab()
    batch = llama_cpp.llama_batch_init(n_ctx, 0, 1)
    nll, count, seconds = 0.0, 0, 0.0
    for chunk in chunks:
        start = time.perf_counter()
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
        batch.n_tokens = len(chunk)
        for i, token in enumerate(chunk):
            batch.token[i] = token
            batch.pos[i] = i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = 1 if i >= first else 0
        if llama_cpp.llama_decode(ctx, batch) != 0:
            sys.exit("llama_decode failed")
        llama_cpp.llama_synchronize(ctx)
        seconds += time.perf_counter() - start  # the scoring below is not timed
        for i in range(first, len(chunk) - 1):
            row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, i), shape=(n_vocab,)).astype(np.float64)
            m = row.max()
            nll += m + np.log(np.exp(row - m).sum()) - row[chunk[i + 1]]
            count += 1
    llama_cpp.llama_batch_free(batch)
    return seconds, nll / max(count, 1)


def all_logits():
    llm = llama_cpp.Llama(model_path=model, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, n_threads=threads,
                          n_threads_batch=threads, logits_all=True, verbose=False, type_k=0, type_v=0)
    start = time.perf_counter()
    for chunk in chunks:
        llm.reset()
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm._ctx.ctx), True)
        llm.eval(chunk)
    return time.perf_counter() - start


scored_seconds, nll = scored_only()
all_seconds = all_logits()
print(json.dumps({"ok": True, "tokens": tokens, "tokens_per_second": tokens / scored_seconds,
                  "all_logits_tokens_per_second": tokens / all_seconds, "nll": nll}))
