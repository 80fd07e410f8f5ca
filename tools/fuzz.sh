#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 60), or for N executions each
# with --runs N, one after another, at the lowest CPU priority. Needs a nightly toolchain
# and cargo-fuzz (`cargo install cargo-fuzz`).
#
#   tools/fuzz.sh [SECONDS] [TARGET...]
#   tools/fuzz.sh --runs N [TARGET...]
#
# Each target starts from its committed seeds in fuzz/corpus/<target>/ and writes what it
# finds to fuzz/work/<target>/ (not committed); a crash input lands in fuzz/artifacts/<target>/
# and stops the script with a non-zero status. The last lines of each run (executions,
# coverage) are printed after it.
set -euo pipefail

if [ "${1:-}" = "--runs" ]; then
    limit=(-runs="$2")
    what="$2 executions"
    shift 2
else
    limit=(-max_total_time="${1:-60}")
    what="${1:-60} s"
    shift || true
fi
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
nice -n 19 cargo +nightly fuzz build -O
for t in "${targets[@]}"; do
    mkdir -p "work/$t" "corpus/$t"
    echo "== $t ($what)"
    status=0
    nice -n 19 cargo +nightly fuzz run -O "$t" "work/$t" "corpus/$t" -- \
        "${limit[@]}" -print_final_stats=1 >"work/$t.log" 2>&1 || status=$?
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|peak_rss_mb)|^SUMMARY' \
        "work/$t.log" || true
    if [ "$status" -ne 0 ]; then
        echo "$t failed; see fuzz/work/$t.log and fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
