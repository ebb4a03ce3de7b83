"""Block-format oracle: the `gguf` package (gguf-py, llama.cpp's own Python library).

  gguf_blocks.py dequantize TYPE IN OUT   raw blocks in IN -> float32 values in OUT
  gguf_blocks.py quantize TYPE IN OUT     float32 values in IN -> raw blocks in OUT (types gguf-py can quantize)
"""
import sys

import numpy as np
from gguf import GGMLQuantizationType
from gguf.quants import dequantize, quantize

mode, name, src, dst = sys.argv[1:5]
qtype = GGMLQuantizationType[name]
if mode == "dequantize":
    data = np.fromfile(src, dtype=np.uint8)
    values = dequantize(data, qtype).astype(np.float32)
    values.tofile(dst)
else:
    values = np.fromfile(src, dtype=np.float32).reshape(-1, 512)
    quantize(values, qtype).tofile(dst)
