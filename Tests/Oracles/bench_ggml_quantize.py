"""Peer for `moepack bench quants`: times llama.cpp's ggml_quantize_chunk on the same matrix.

usage: bench_ggml_quantize.py MATRIX.f32 ROWS COLS THREADS TYPE_ID [TYPE_ID ...]
Prints JSON {type_id: [seconds_1_thread, seconds_N_threads]} (best of 3 each). Threads split rows
into contiguous chunks as llama-quantize does; ctypes releases the GIL during the C call.
IQ2_XXS, IQ2_XS and IQ1_S (ids 16, 17, 19) cannot be quantized without importance weights: they get
all-ones weights, which is what moepack substitutes.
"""
import ctypes
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import llama_cpp
import numpy as np

path, rows, cols, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
types = [int(t) for t in sys.argv[5:]]
lib = ctypes.CDLL(os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so"))
lib.ggml_quantize_chunk.restype = ctypes.c_size_t
lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                    ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
lib.ggml_row_size.restype = ctypes.c_size_t
lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
x = np.fromfile(path, dtype=np.float32)
assert x.size == rows * cols
ones = np.ones(cols, dtype=np.float32)
NEEDS_WEIGHTS = {16, 17, 19}


def run(type_id, n_threads):
    dst = ctypes.create_string_buffer(lib.ggml_row_size(type_id, cols) * rows)
    chunks = [(rows * i // n_threads, rows * (i + 1) // n_threads) for i in range(n_threads)]

    def work(chunk):
        start, end = chunk
        weights = ones.ctypes.data if type_id in NEEDS_WEIGHTS else None
        lib.ggml_quantize_chunk(type_id, x.ctypes.data, dst, start * cols, end - start, cols, weights)

    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        if n_threads == 1:
            work(chunks[0])
        else:
            with ThreadPoolExecutor(n_threads) as pool:
                list(pool.map(work, chunks))
        best = min(best, time.perf_counter() - t0)
    return best


print(json.dumps({t: [run(t, 1), run(t, threads)] for t in types}))
