#!/usr/bin/env bash
# Faults during long jobs: kill -9 at random points of `dequant`, `quantize`, `imatrix` and the
# `quantize --target-size` measurement (its costs file is the output compared), and a
# full disk (a file-size limit, `ulimit -f`, so the write fails with EFBIG like ENOSPC) at random
# points of `dequant` and `quantize`. After each fault the same command is rerun to completion and
# its output must be byte-identical to an uninterrupted run's; after a full disk the failed run
# must have printed one `moepack: error:` line and left nothing at the final path.
#
# usage: bash Tests/faults.sh [KILLS_PER_JOB (20)] [DISK_FAULTS_PER_JOB (5)] [SEED]
# Builds the release binary if needed; works in a temporary directory; prints one summary table.
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-20}
disks=${2:-5}
RANDOM=${3:-12345}
swift build -c release --product moepack >/dev/null
moepack="$PWD/.build/release/moepack"
work=$(mktemp -d /tmp/moepack-faults-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$moepack" synth --preset small --out "$work/ckpt" --seed 7 >/dev/null
head -c 200000 README.md > "$work/text.txt"

# name | command writing $OUT (a file or directory) | how to list the output's bytes
jobs=(
    "dequant|dequant $work/ckpt \$OUT --dtype bf16 --quiet --threads 2"
    "quantize|quantize $work/ckpt \$OUT --recipe Q4_K_M --quiet --threads 2 --force"
    "imatrix|imatrix $work/ckpt --text $work/text.txt --ctx 128 --chunks 24 --batch 2 --save-every 2 --quiet --threads 2 -o \$OUT"
    "fit|quantize $work/ckpt $work/fit-plan.gguf --target-bpw 5 --calibration $work/text.txt --probe-chunks 1 --costs \$OUT --dry-run --quiet --threads 2"
)

digest() {  # a file's or a directory's bytes, as one hash
    if [ -d "$1" ]; then (cd "$1" && find . -type f ! -name '.*' -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
    else sha256sum "$1" | cut -d' ' -f1; fi
}

# The command line for output $2 (paths here have no spaces, so word splitting is safe).
line() { echo "$moepack ${1//\$OUT/$2}"; }
run() { $(line "$1" "$2"); }

printf "| job | uninterrupted run | kills | killed mid-run | reruns identical | disk faults | one-line error, nothing at the final path | reruns identical |\n|---|---|---|---|---|---|---|---|\n"
failures=0
for entry in "${jobs[@]}"; do
    name=${entry%%|*}
    command=${entry#*|}
    reference="$work/$name-reference"
    start=$(date +%s.%N)
    run "$command" "$reference" >/dev/null 2>&1
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    expected=$(digest "$reference")
    killed=0 identical=0
    for ((i = 0; i < kills; i++)); do
        out="$work/$name-kill-$i"
        # A random kill point within the uninterrupted run's duration.
        delay=$(echo "scale=3; $seconds * ($RANDOM % 1000) / 1000" | bc)
        $(line "$command" "$out") >/dev/null 2>&1 &  # moepack itself is the background job
        pid=$!
        sleep "$delay"
        if kill -9 $pid 2>/dev/null; then killed=$((killed + 1)); fi
        wait $pid 2>/dev/null || true
        run "$command" "$out" >/dev/null 2>&1 || true
        if [ -e "$out" ] && [ "$(digest "$out")" = "$expected" ]; then identical=$((identical + 1)); else failures=$((failures + 1)); fi
        rm -rf "$out" "$work/.$name-kill-$i"*
    done
    disk="–" diskOK="–" diskSame="–"
    if [ "$name" != imatrix ] && [ "$name" != fit ]; then  # (fit also writes a recipe after its costs)
        # ulimit -f limits each file: take the largest file the job writes.
        size=$(find "$reference" -type f -printf '%s\n' | sort -n | tail -1)
        size=$((size / 1024))
        faults=0 clean=0 same=0
        for ((i = 0; i < disks; i++)); do
            out="$work/$name-disk-$i"
            limit=$(( (RANDOM % 90 + 5) * size / 100 ))  # KiB: 5-95% of the largest output file
            set +e
            message=$( (ulimit -f "$limit"; run "$command" "$out") 2>&1 >/dev/null)
            status=$?
            set -e
            faults=$((faults + 1))
            lines=$(printf "%s" "$message" | grep -c . || true)
            # Nothing half-written at a final path: no output file, or (dequant, a directory of
            # shards) only shards equal to the reference's.
            partial=0
            if [ -d "$out" ]; then
                for f in "$out"/*; do [ -e "$f" ] || continue; cmp -s "$f" "$reference/$(basename "$f")" || partial=1; done
            elif [ -e "$out" ]; then partial=1; fi
            if [ $status -ne 0 ] && [ "$lines" = 1 ] && [[ "$message" == "moepack: error: "* ]] && [ $partial = 0 ]; then clean=$((clean + 1)); else failures=$((failures + 1)); echo "disk fault $name $i: status $status, message: $message" >&2; fi
            run "$command" "$out" >/dev/null 2>&1 || true
            if [ -e "$out" ] && [ "$(digest "$out")" = "$expected" ]; then same=$((same + 1)); else failures=$((failures + 1)); fi
            rm -rf "$out" "$work/.$name-disk-$i"*
        done
        disk=$faults diskOK=$clean diskSame=$same
    fi
    printf "| %s | %.1f s | %d | %d | %d | %s | %s | %s |\n" "$name" "$seconds" "$kills" "$killed" "$identical" "$disk" "$diskOK" "$diskSame"
done
echo "$((kills * ${#jobs[@]} + disks * 2)) faults, $failures failures"  # disk faults: dequant and quantize
[ $failures -eq 0 ]
