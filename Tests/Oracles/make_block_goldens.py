"""Generates the golden block-format fixtures in Tests/QuantsTests/Fixtures from llama.cpp itself.

Needs a Python environment with llama-cpp-python==0.3.36 (which builds ggml from source; its
libggml-base exports ggml_quantize_chunk). Run once, commit the outputs:

    python3 -m venv /tmp/llama && /tmp/llama/bin/pip install llama-cpp-python==0.3.36 numpy
    /tmp/llama/bin/python Tests/Oracles/make_block_goldens.py Tests/QuantsTests/Fixtures

Writes inputs.f32 (ROWS x COLS little-endian float32), importance.f32 (COLS float32), per type
<TYPE>.bin (ggml_quantize_chunk without an importance matrix) and <TYPE>.imatrix.bin (with it), and
rmse-reference.json: llama.cpp's RMSE per type and row class (bytes dequantized with gguf-py).

IQ2_XXS, IQ2_XS and IQ1_S have no unweighted path in llama.cpp (quantize_row_*_impl asserts
quant_weights); their <TYPE>.bin is made with an all-ones importance matrix, which is what moepack
substitutes when it is given none. IQ2_S, IQ3_XXS, IQ3_S and IQ1_M have an unweighted path.
"""
import ctypes
import os
import sys

import json

import llama_cpp
import ml_dtypes
import numpy as np
from gguf import GGMLQuantizationType
from gguf.quants import dequantize

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
def fp8_dequantized_row():
    """A row as a DeepSeek FP8 checkpoint stores it: heavy-tailed values, E4M3-rounded per 128 block."""
    v = rng.standard_t(4, COLS).astype(np.float32) * 0.03
    out = np.empty_like(v)
    for b in range(0, COLS, 128):
        scale = np.float32(np.abs(v[b:b + 128]).max() / 448)
        out[b:b + 128] = (v[b:b + 128] / scale).astype(ml_dtypes.float8_e4m3fn).astype(np.float32) * scale
    return out


rows += [fp8_dequantized_row() for _ in range(4)]
CLASSES = {"cos": [0, 1], "gaussian": [2], "student_t": [3], "outlier_columns": [4], "edge_cases": [5, 6, 7, 8, 9, 10, 11],
           "fp8_dequantized": [12, 13, 14, 15]}
x = np.ascontiguousarray(np.stack(rows).astype(np.float32))
importance = np.ascontiguousarray((rng.random(COLS) * 2 + 0.05).astype(np.float32))
x.tofile(os.path.join(out, "inputs.f32"))
importance.tofile(os.path.join(out, "importance.f32"))

TYPES = {"Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8, "Q2_K": 10, "Q3_K": 11, "Q4_K": 12,
         "Q5_K": 13, "Q6_K": 14, "IQ4_NL": 20, "IQ4_XS": 23, "F16": 1, "BF16": 30,
         "IQ2_XXS": 16, "IQ2_XS": 17, "IQ3_XXS": 18, "IQ1_S": 19, "IQ3_S": 21, "IQ2_S": 22, "IQ1_M": 29}
NEEDS_WEIGHTS = {"IQ2_XXS", "IQ2_XS", "IQ1_S"}
ones = np.ones(COLS, dtype=np.float32)
rmse = {}
for name, type_id in TYPES.items():
    row = lib.ggml_row_size(type_id, COLS)
    for suffix, weights in (("", ones if name in NEEDS_WEIGHTS else None), (".imatrix", importance)):
        dst = ctypes.create_string_buffer(row * x.shape[0])
        size = lib.ggml_quantize_chunk(type_id, x.ctypes.data, dst, 0, x.shape[0], COLS,
                                       None if weights is None else weights.ctypes.data)
        assert size == row * x.shape[0], (name, size)
        with open(os.path.join(out, f"{name}{suffix}.bin"), "wb") as f:
            f.write(dst.raw)
        back = dequantize(np.frombuffer(dst.raw, dtype=np.uint8), GGMLQuantizationType[name]).reshape(x.shape)
        for cls, idx in CLASSES.items():
            err = (back[idx].astype(np.float64) - x[idx].astype(np.float64))
            rmse.setdefault(name + suffix, {})[cls] = float(np.sqrt(np.mean(err * err)))
with open(os.path.join(out, "rmse-reference.json"), "w") as f:
    json.dump({"classes": CLASSES, "rmse": rmse}, f, indent=1, sort_keys=True)
print("wrote", len(TYPES) * 2, "golden files for", x.shape, "inputs")
