#!/usr/bin/env bash
# Builds and runs one libFuzzer target over moepack's parsers (Tests/Fuzz/Fuzz<Target>.swift):
#   bash Tests/fuzz.sh TARGET SECONDS [RUNS]   e.g. bash Tests/fuzz.sh GGUF 60
# With RUNS the run is reproducible: libFuzzer's seed is fixed (1) and it stops after RUNS inputs
# (or SECONDS, whichever comes first); Tests/run.sh runs every target that way.
# TARGET: Safetensors, Config, Tokenizer, GGUF, BaseFile, Results, Imatrix (or "all").
# The package's modules are built once with `-sanitize=fuzzer,address` into .build-fuzz (coverage
# and AddressSanitizer everywhere), then each target's entry file is compiled against them with
# swiftc and linked with the modules' object files; no manifest change is needed. The corpus starts
# from the seeds in Tests/Fuzz/Seeds/TARGET and grows in .build-fuzz/corpus/TARGET; crashes, timeouts
# (> 1 s) and out-of-memory inputs (> 2 GB) land in .build-fuzz/artifacts/ and the script exits
# non-zero (MOEPACK_FUZZ_TIMEOUT sets the timeout in seconds). Needs the open-source Swift
# toolchain for Linux (it ships libFuzzer).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: Tests/fuzz.sh TARGET SECONDS [RUNS]}
seconds=${2:-30}
runs_limit=${3:-}
scratch=$PWD/.build-fuzz
modules=(AVX512Kernels QuantKernels QuantKernelsAVX2 Quants TensorFiles DeepSeekV3 Inference)

if [ "$target" = all ]; then
    status=0
    for t in Safetensors Config Tokenizer GGUF BaseFile Results Imatrix; do bash "$0" "$t" "$seconds" $runs_limit || status=1; done
    exit $status
fi
[ -f "Tests/Fuzz/Fuzz$target.swift" ] || { echo "Tests/fuzz.sh: no Tests/Fuzz/Fuzz$target.swift" >&2; exit 64; }

swift build -c release --scratch-path "$scratch" --target Inference -Xswiftc -sanitize=fuzzer,address >&2
objects=()
for m in "${modules[@]}"; do
    [ -d "$scratch/release/$m.build" ] || continue
    for o in "$scratch/release/$m.build"/*.o; do
        # A source file deleted or moved since an earlier build leaves its object behind: skip it.
        name=$(basename "$o" .o)
        case "$name" in *.swift) find "Sources/$m" -name "$name" | grep -q . || continue ;; esac
        objects+=("$o")
    done
done
binary=$scratch/fuzz-$target
# The modules' API is `package` access: the fuzz entry joins the package SwiftPM compiled them in.
package_name=$(grep -o 'package-name","[^"]\+' "$scratch/release.yaml" | grep -v swift_argument_parser | head -1 | sed 's/.*","//')
swiftc -O -parse-as-library -sanitize=fuzzer,address -module-name "Fuzz$target" -package-name "$package_name" \
    -I "$scratch/release/Modules" -I Sources/CZstd -I Sources/CXXHash \
    -Xcc -fmodule-map-file="$scratch/release/AVX512Kernels.build/module.modulemap" \
    "Tests/Fuzz/Fuzz$target.swift" Tests/Fuzz/FuzzSupport.swift "${objects[@]}" \
    $(pkg-config --libs libzstd libxxhash) -o "$binary" 2> >(grep -v "Cannot export local symbol" >&2)

mkdir -p "$scratch/corpus/$target" "$scratch/artifacts"
log=$scratch/fuzz-$target.log
set +e
ASAN_OPTIONS=detect_leaks=0 "$binary" "$scratch/corpus/$target" "Tests/Fuzz/Seeds/$target" \
    -max_total_time="$seconds" ${runs_limit:+-runs=$runs_limit -seed=1} -timeout="${MOEPACK_FUZZ_TIMEOUT:-1}" -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$scratch/artifacts/$target-" -print_final_stats=1 > "$log" 2>&1
status=$?
set -e
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
peak=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
slowest=$(grep -o 'stat::slowest_unit_time_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
crashes=$(find "$scratch/artifacts" -name "$target-*" | wc -l)
echo "fuzz $target: ${seconds}s, $runs executions, exit $status, artifacts $crashes, slowest unit ${slowest}s, peak RSS ${peak} MB (log $log)"
exit $status
