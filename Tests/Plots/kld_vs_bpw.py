"""KLD against the FP8 original vs bits per weight: the README's plot of `quantize --target-size`.

Reads `moepack verify --results FILE.json` files and plots each model's mean KLD (± its standard
error) against its bits per weight (file bytes × 8 / the checkpoint's weights). A model's series
comes from its file name's prefix:

  mix-NAME.gguf      llama.cpp mix (`quantize --recipe NAME`)
  dyn-NAME.gguf      dynamic R1 recipe (`--recipe-file formats/recipes/NAME.txt`)
  fit-NAME.gguf      fitted, free (`--target-size` of that size)
  fitpin-NAME.gguf   fitted, `token_embd`/`output` pinned to the mix's types

Other files are skipped. Usage (matplotlib is not a test dependency; Tests/Plots/requirements.txt):

  python3 -m venv .venv-plot && .venv-plot/bin/pip install -r Tests/Plots/requirements.txt
  .venv-plot/bin/python Tests/Plots/kld_vs_bpw.py --weights 78560000 --out plot.png results*.json
"""
import argparse
import json
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SERIES = [
    ("mix", "llama.cpp mixes (same imatrix)", "o", "tab:blue", True),
    ("dyn", "dynamic R1 recipes", "s", "tab:orange", True),
    ("fitpin", "fitted, token_embd/output pinned to the mix's types", "^", "tab:green", False),
    ("fit", "fitted (--target-size), free", "D", "tab:red", False),
]


def models(paths):
    """(kind, label, bytes, mean KLD, standard error) of every model in the results files."""
    seen = {}
    for path in paths:
        with open(path) as f:
            results = json.load(f)
        for run in results["runs"]:
            # "GGUF mix-Q2_K.gguf (file type 10), 47943680 bytes"
            m = re.match(r"GGUF (\S+) \(.*\), (\d+) bytes", run["model"])
            if not m:
                continue
            name = os.path.basename(m.group(1))
            kld = run["report"].get("meanKLD")
            if kld is None:
                continue
            for prefix, *_ in SERIES:
                if name.startswith(prefix + "-"):
                    label = name[len(prefix) + 1:].removesuffix(".gguf")
                    seen[(prefix, label)] = (int(m.group(2)), kld["value"], kld["uncertainty"])
                    break
    return seen


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="+", help="moepack verify --results files")
    parser.add_argument("--weights", type=int, required=True, help="the checkpoint's weight count (quantize --dry-run: 'weights')")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--title", default="Trained dev checkpoint: mean KLD against the FP8 original")
    args = parser.parse_args()
    data = models(args.results)
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    for prefix, legend, marker, color, annotate in SERIES:
        points = sorted((b * 8 / args.weights, k, e, label) for (p, label), (b, k, e) in data.items() if p == prefix)
        if prefix == "dyn":
            points = [(x, k, e, label.replace("bit", "")) for x, k, e, label in points]
        if not points:
            continue
        xs, ys, es, labels = zip(*points)
        ax.errorbar(xs, ys, yerr=es, marker=marker, color=color, label=legend, linestyle="-" if prefix != "mix" else "none",
                    markersize=5, capsize=2, linewidth=1)
        if annotate:
            # Neighbouring points alternate above and below their marker, so close labels stay apart.
            for i, (x, y, label) in enumerate(zip(xs, ys, labels)):
                offset = (4, 4) if i % 2 == 0 else (4, -10)
                ax.annotate(label.replace("r1-dynamic-", ""), (x, y), textcoords="offset points", xytext=offset, fontsize=7, color=color)
    ax.set_yscale("log")
    ax.set_xlabel("bits per weight (file bytes × 8 / weights)")
    ax.set_ylabel("mean KLD vs FP8 original (log)")
    ax.set_title(args.title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out}: {len(data)} models")


if __name__ == "__main__":
    main()
