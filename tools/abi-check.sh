#!/bin/sh
# Checks the shared library's ABI against the committed baseline in abi/.
#
#   tools/abi-check.sh [PATH/TO/libossmc.so]            check (exit 1 on any difference)
#   tools/abi-check.sh --update [PATH/TO/libossmc.so]   rewrite abi/symbols.txt and abi/libossmc.abi
#
# The library defaults to $CARGO_TARGET_DIR (or target)/debug/libossmc.so: the baseline is
# taken from a debug build, whose debug info describes the exported functions' types.
# Checks, in order:
#   1. the soname is libossmc.so.N where N = OSSMC_ABI_VERSION in include/ossmc.h;
#   2. the exported dynamic symbols (nm -D --defined-only) are exactly abi/symbols.txt;
#   3. abidiff (abigail-tools) finds no change against abi/libossmc.abi. An incompatible
#      change needs OSSMC_ABI_VERSION and the soname (build.rs) bumped; any change needs the
#      baseline refreshed with --update, deliberately, in the same commit.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
update=0
if [ "${1:-}" = "--update" ]; then update=1; shift; fi
lib="${1:-${CARGO_TARGET_DIR:-$root/target}/debug/libossmc.so}"
[ -f "$lib" ] || { echo "abi-check: $lib not found; run cargo build -p ossmc" >&2; exit 2; }

abi_version="$(sed -n 's/^#define OSSMC_ABI_VERSION \([0-9]*\)$/\1/p' "$root/include/ossmc.h")"
soname="$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
if [ "$soname" != "libossmc.so.$abi_version" ]; then
    echo "abi-check: soname is '$soname' but OSSMC_ABI_VERSION is $abi_version (want libossmc.so.$abi_version)" >&2
    exit 1
fi

symbols="$(nm -D --defined-only "$lib" | awk '{print $3}' | LC_ALL=C sort)"
# The baseline is the XML of abidw, with the build machine's paths removed so that it does
# not change from one checkout to another (abidiff compares types and symbols, not paths).
dump() {
    abidw --no-show-locs --no-corpus-path --no-comp-dir-path "$lib" |
        sed -E "s#path='[^']*/([^/']+)'#path='\\1'#g"
}

if [ "$update" = 1 ]; then
    mkdir -p "$root/abi"
    printf '%s\n' "$symbols" > "$root/abi/symbols.txt"
    dump > "$root/abi/libossmc.abi"
    echo "abi-check: wrote abi/symbols.txt ($(printf '%s\n' "$symbols" | wc -l) symbols) and abi/libossmc.abi"
    exit 0
fi

if ! printf '%s\n' "$symbols" | diff -u "$root/abi/symbols.txt" -; then
    echo "abi-check: the exported symbols differ from abi/symbols.txt (only ossmc_* may be exported;" >&2
    echo "  a new function needs the list updated with tools/abi-check.sh --update)" >&2
    exit 1
fi
echo "abi-check: $(printf '%s\n' "$symbols" | wc -l) exported symbols match abi/symbols.txt"

if ! command -v abidiff > /dev/null; then
    echo "abi-check: abidiff not found; install abigail-tools (apt-get install abigail-tools)" >&2
    exit 2
fi
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
dump > "$tmp"
set +e
abidiff --no-show-locs "$root/abi/libossmc.abi" "$tmp"
rc=$?
set -e
# abidiff's status is a bit field: 1 error, 2 usage, 4 ABI change, 8 incompatible change.
if [ $((rc & 8)) -ne 0 ]; then
    echo "abi-check: INCOMPATIBLE ABI change: bump OSSMC_ABI_VERSION (src/ffi/version.rs) and the soname" >&2
    echo "  (build.rs), then refresh the baseline with tools/abi-check.sh --update" >&2
    exit 1
elif [ $((rc & 4)) -ne 0 ]; then
    echo "abi-check: the ABI changed (above). If existing callers could break (a changed or removed" >&2
    echo "  function, a changed type), bump OSSMC_ABI_VERSION and the soname first; then refresh the" >&2
    echo "  baseline with tools/abi-check.sh --update" >&2
    exit 1
elif [ "$rc" -ne 0 ]; then
    echo "abi-check: abidiff failed (status $rc)" >&2
    exit 1
fi
echo "abi-check: no ABI change against abi/libossmc.abi"
