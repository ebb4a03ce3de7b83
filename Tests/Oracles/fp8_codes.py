"""FP8 oracle: ml_dtypes' float8_e4m3fn / float8_e5m2 (the dtypes JAX and PyTorch interop use).

  fp8_codes.py decode            -> JSON {"e4m3fn": [f32 bits x256], "e5m2": [...]}
  fp8_codes.py encode FILE       -> hex of float8_e4m3fn codes for the little-endian f32s in FILE
"""
import json
import sys

import ml_dtypes
import numpy as np

if sys.argv[1] == "decode":
    codes = np.arange(256, dtype=np.uint8)
    out = {}
    for name, dtype in (("e4m3fn", ml_dtypes.float8_e4m3fn), ("e5m2", ml_dtypes.float8_e5m2)):
        values = codes.view(dtype).astype(np.float32)
        out[name] = [int(v) for v in values.view(np.uint32)]
    print(json.dumps(out))
elif sys.argv[1] == "encode":
    values = np.fromfile(sys.argv[2], dtype="<f4")
    print(values.astype(ml_dtypes.float8_e4m3fn).view(np.uint8).tobytes().hex())
