"""Reads a safetensors file with the real library; prints names, dtypes, shapes, metadata and an
XXH-free content digest (sha256 of each tensor's bytes) as JSON. Exits non-zero if the library rejects it."""
import hashlib
import json
import sys

import safetensors

data = open(sys.argv[1], "rb").read()
tensors = {}
for name, entry in safetensors.deserialize(data):
    tensors[name] = {"dtype": entry["dtype"], "shape": entry["shape"], "sha256": hashlib.sha256(bytes(entry["data"])).hexdigest()}
with safetensors.safe_open(sys.argv[1], framework="np") as handle:
    metadata = handle.metadata()
print(json.dumps({"tensors": tensors, "metadata": metadata}, sort_keys=True))
