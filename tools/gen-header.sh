#!/bin/sh
# Regenerates include/ossmc.h from src/ffi/ with the pinned cbindgen.
#   tools/gen-header.sh          write include/ossmc.h
#   tools/gen-header.sh --check  fail (exit 1, with a diff) if the committed header is stale
# Install the pinned version with: cargo install cbindgen --version 0.29.4 --locked
set -eu
cd "$(dirname "$0")/.."
want="0.29.4"
have="$(cbindgen --version 2>/dev/null | awk '{print $2}')" || have=""
if [ "$have" != "$want" ]; then
    echo "gen-header: cbindgen $want is required (found '${have:-none}'):" >&2
    echo "  cargo install cbindgen --version $want --locked" >&2
    exit 2
fi
if [ "${1:-}" = "--check" ]; then
    tmp="$(mktemp)"
    trap 'rm -f "$tmp"' EXIT
    cbindgen --quiet --config cbindgen.toml --output "$tmp" src/ffi/mod.rs
    if ! diff -u include/ossmc.h "$tmp"; then
        echo "gen-header: include/ossmc.h is out of date; run tools/gen-header.sh and commit it" >&2
        exit 1
    fi
    echo "gen-header: include/ossmc.h is up to date"
else
    cbindgen --quiet --config cbindgen.toml --output include/ossmc.h src/ffi/mod.rs
    echo "gen-header: wrote include/ossmc.h"
fi
