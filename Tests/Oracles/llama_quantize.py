"""llama.cpp's quantizer as a peer/oracle: llama_model_quantize (what llama-quantize runs).

usage: llama_quantize.py IN.gguf OUT.gguf MIX THREADS
MIX is a llama.cpp ftype name (Q8_0, Q4_K_M, Q2_K, IQ4_XS, ...). Prints JSON {"seconds", "types": {tensor: type}}.
"""
import json
import sys
import time

import llama_cpp
from gguf import GGUFReader

src, dst, mix, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
params = llama_cpp.llama_model_quantize_default_params()
params.ftype = getattr(llama_cpp, "LLAMA_FTYPE_MOSTLY_" + mix)
params.nthread = threads
start = time.perf_counter()
status = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), params)
seconds = time.perf_counter() - start
if status != 0:
    sys.exit(f"llama_model_quantize failed with {status}")
types = {t.name: t.tensor_type.name for t in GGUFReader(dst).tensors}
print(json.dumps({"seconds": seconds, "types": types}))
