"""Generates the golden block-format fixtures in Tests/QuantsTests/Fixtures from llama.cpp itself.

Needs a Python environment with llama-cpp-python==0.3.36 (which builds ggml from source; its
libggml-base exports ggml_quantize_chunk). Run once, commit the outputs:

    python3 -m venv /tmp/llama && /tmp/llama/bin/pip install llama-cpp-python==0.3.36 numpy
    /tmp/llama/bin/python Tests/Oracles/make_block_goldens.py Tests/QuantsTests/Fixtures

Writes inputs.f32 (ROWS x COLS little-endian float32), importance.f32 (COLS float32), and per type
<TYPE>.bin (ggml_quantize_chunk without an importance matrix) and <TYPE>.imatrix.bin (with it).
"""
import ctypes
import os
import sys

import llama_cpp
import numpy as np

out = sys.argv[1]
COLS = 512
lib = ctypes.CDLL(os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so"))
lib.ggml_quantize_chunk.restype = ctypes.c_size_t
lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                    ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
lib.ggml_row_size.restype = ctypes.c_size_t
lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]

rng = np.random.default_rng(20261129)
i = np.arange(COLS, dtype=np.float32)
rows = [
    0.1 + 2 * np.cos(i + 0.0),                      # ggml's test-quantize-fns generator, offset 0
    0.1 + 2 * np.cos(i + 1.5),                      # ... offset 1.5
    rng.standard_normal(COLS),                      # Gaussian
    rng.standard_t(3, COLS) * 0.02,                 # heavy-tailed Student-t, weight-sized
    np.where(np.arange(COLS) % 97 == 5, 40.0, rng.standard_normal(COLS) * 0.05),  # outlier columns
    np.zeros(COLS),                                 # all zeros
    np.full(COLS, 0.75),                            # constant
    np.where(np.arange(COLS) == 300, -3.0, 0.0),    # a single spike
    rng.standard_normal(COLS) * 1e-6,               # tiny values (F16 subnormal range scales)
    np.where(np.arange(COLS) % 2 == 0, 1.0, -1.0) * (1 + np.arange(COLS) / COLS),  # alternating signs
    -np.abs(rng.standard_normal(COLS)),             # negative only
    np.abs(rng.standard_normal(COLS)) * 300,        # large positive
]
x = np.ascontiguousarray(np.stack(rows).astype(np.float32))
importance = np.ascontiguousarray((rng.random(COLS) * 2 + 0.05).astype(np.float32))
x.tofile(os.path.join(out, "inputs.f32"))
importance.tofile(os.path.join(out, "importance.f32"))

TYPES = {"Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8, "Q2_K": 10, "Q3_K": 11, "Q4_K": 12,
         "Q5_K": 13, "Q6_K": 14, "IQ4_NL": 20, "IQ4_XS": 23, "F16": 1, "BF16": 30}
for name, type_id in TYPES.items():
    row = lib.ggml_row_size(type_id, COLS)
    for suffix, weights in (("", None), (".imatrix", importance)):
        dst = ctypes.create_string_buffer(row * x.shape[0])
        size = lib.ggml_quantize_chunk(type_id, x.ctypes.data, dst, 0, x.shape[0], COLS,
                                       None if weights is None else weights.ctypes.data)
        assert size == row * x.shape[0], (name, size)
        with open(os.path.join(out, f"{name}{suffix}.bin"), "wb") as f:
            f.write(dst.raw)
print("wrote", len(TYPES) * 2, "golden files for", x.shape, "inputs")
