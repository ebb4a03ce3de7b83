"""llama.cpp's ggml_quantize_chunk on float32 rows, for differential tests (needs llama-cpp-python).

usage: ggml_quantize_rows.py TYPE_ID COLUMNS IN.f32 IMPORTANCE.f32|- OUT.bin
Quantizes IN (rows of COLUMNS float32) as ggml type TYPE_ID, with IMPORTANCE (COLUMNS float32) as the
importance matrix or none for '-', and writes the blocks to OUT.
"""
import ctypes
import os
import sys

import llama_cpp
import numpy as np

type_id, cols, src, imp, dst = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
lib = ctypes.CDLL(os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so"))
lib.ggml_quantize_chunk.restype = ctypes.c_size_t
lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                    ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
lib.ggml_row_size.restype = ctypes.c_size_t
lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
x = np.ascontiguousarray(np.fromfile(src, dtype=np.float32).reshape(-1, cols))
w = None if imp == "-" else np.ascontiguousarray(np.fromfile(imp, dtype=np.float32))
out = ctypes.create_string_buffer(lib.ggml_row_size(type_id, cols) * x.shape[0])
size = lib.ggml_quantize_chunk(type_id, x.ctypes.data, out, 0, x.shape[0], cols, None if w is None else w.ctypes.data)
with open(dst, "wb") as f:
    f.write(out.raw[:size])
