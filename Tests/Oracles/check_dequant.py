"""Independent check of `moepack dequant`, with the real `safetensors` library and ml_dtypes.

usage: check_dequant.py FP8_DIR OUT_DIR DTYPE

For every tensor of the FP8 checkpoint, recomputes what DeepSeek's weight_dequant defines
(fp8 -> float32, times the 128x128 block scale, one cast to the output dtype, round-to-nearest-even)
with numpy, and compares it bit for bit with the tensor the safetensors library loads from OUT_DIR.
Also checks the index (total_size, weight_map), that *_scale_inv tensors are gone, and config.json.
Prints a JSON summary; exits 1 on the first mismatch.
"""
import json
import os
import sys

import ml_dtypes
import numpy as np
import safetensors
from safetensors import safe_open
from safetensors.numpy import load_file

src, out, dtype_name = sys.argv[1], sys.argv[2], sys.argv[3]
target = {"bf16": ml_dtypes.bfloat16, "f16": np.float16, "f32": np.float32}[dtype_name]
raw_dtypes = {"F8_E4M3": ml_dtypes.float8_e4m3fn, "BF16": ml_dtypes.bfloat16, "F32": np.float32, "F16": np.float16}


def fail(message):
    print(json.dumps({"ok": False, "error": message}))
    sys.exit(1)


src_index = json.load(open(os.path.join(src, "model.safetensors.index.json")))
out_index = json.load(open(os.path.join(out, "model.safetensors.index.json")))

# The FP8 source read with the safetensors parser (raw bytes; numpy has no float8 dtype itself).
source = {}
for shard in sorted(set(src_index["weight_map"].values())):
    for name, entry in safetensors.deserialize(open(os.path.join(src, shard), "rb").read()):
        array = np.frombuffer(bytes(entry["data"]), dtype=raw_dtypes[entry["dtype"]]).reshape(entry["shape"])
        source[name] = (entry["dtype"], array)

expected_names = {n for n in source if not (n.endswith("_scale_inv") and source[n[: -len("_scale_inv")]][0] == "F8_E4M3")}
if set(out_index["weight_map"]) != expected_names:
    fail(f"weight_map names differ: {sorted(set(out_index['weight_map']) ^ expected_names)[:5]}")

checked = dequantized = total_bytes = 0
for shard in sorted(set(out_index["weight_map"].values())):
    path = os.path.join(out, shard)
    with safe_open(path, framework="np") as handle:
        metadata = handle.metadata()
        if metadata.get("format") != "pt":
            fail(f"{shard}: metadata format is {metadata.get('format')}")
    loaded = load_file(path)
    for name, array in loaded.items():
        if out_index["weight_map"][name] != shard:
            fail(f"{name} is in {shard} but weight_map says {out_index['weight_map'][name]}")
        kind, original = source[name]
        if kind == "F8_E4M3":
            scale = source[name + "_scale_inv"][1]
            rows, cols = original.shape
            grid = np.repeat(np.repeat(scale, 128, axis=0), 128, axis=1)[:rows, :cols]
            expected = (original.astype(np.float32) * grid).astype(target)
            dequantized += 1
        else:
            expected = original
        if array.dtype != expected.dtype or array.shape != expected.shape:
            fail(f"{name}: got {array.dtype}{array.shape}, expected {expected.dtype}{expected.shape}")
        if array.tobytes() != expected.tobytes():
            diff = np.flatnonzero(array.view(np.uint8) != expected.view(np.uint8))
            fail(f"{name}: bytes differ (first at byte {diff[0]})")
        checked += 1
        total_bytes += array.nbytes

if out_index["metadata"]["total_size"] != total_bytes:
    fail(f"total_size {out_index['metadata']['total_size']} != {total_bytes}")
config = json.load(open(os.path.join(out, "config.json")))
if "quantization_config" in config:
    fail("config.json still has quantization_config")
print(json.dumps({"ok": True, "tensors": checked, "dequantized": dequantized, "bytes": total_bytes}))
