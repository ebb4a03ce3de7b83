"""GGUF oracle: reads a file with gguf-py's GGUFReader (llama.cpp's own Python reader).

usage: gguf_read.py FILE -> JSON {"fields": {key: {"type": TYPE_NAME, "value": ...}},
                                  "tensors": [{"name", "shape" (ggml order), "type", "offset", "sha256"}],
                                  "alignment", "data_offset"}
"""
import hashlib
import json
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType

reader = GGUFReader(sys.argv[1])
fields = {}
for name, field in reader.fields.items():
    if name.startswith("GGUF."):
        continue
    types = [t.name for t in field.types]
    if field.types[0] == GGUFValueType.ARRAY:
        if field.types[-1] == GGUFValueType.STRING:
            value = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
        else:
            value = [field.parts[i].tolist()[0] for i in field.data]
    elif field.types[0] == GGUFValueType.STRING:
        value = bytes(field.parts[field.data[0]]).decode("utf-8")
    else:
        value = field.parts[field.data[0]].tolist()[0]
    fields[name] = {"type": "/".join(types), "value": value}
tensors = [{
    "name": t.name, "shape": [int(x) for x in t.shape], "type": t.tensor_type.name,
    "offset": int(t.data_offset), "sha256": hashlib.sha256(np.ascontiguousarray(t.data).tobytes()).hexdigest(),
} for t in reader.tensors]
print(json.dumps({"fields": fields, "tensors": tensors, "alignment": int(reader.alignment), "data_offset": int(reader.data_offset)}))
