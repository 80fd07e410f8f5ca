#!/usr/bin/env bash
# tools/soak.sh MINUTES: loads a model again and again through the C API, for MINUTES, with one
# connector that lives for the whole run, against an oss-local that fails, resets and corrupts
# responses (--fail-rate 0.02 --reset-rate 0.01 --corrupt-rate 0.005). Every byte is checked.
# Prints, every minute: loads completed, wrong loads, failed loads, resident memory (KiB), open
# file descriptors and threads of the loading process. Pass: every load exact, and memory,
# descriptors and threads flat after the first minute. Not part of CI (it takes MINUTES).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:?usage: tools/soak.sh MINUTES}"
target="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p ossmc -p oss-local
work="$(mktemp -d)"
trap 'kill "${server_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

# The program, against the release library under its soname.
mkdir -p "$work/lib"
cp "$target/release/libossmc.so" "$work/lib/libossmc.so.0"
ln -sf libossmc.so.0 "$work/lib/libossmc.so"
cc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -Iinclude -Iexamples-c -Iexamples-c/tests \
    -o "$work/soak" tools/soak/soak.c -L"$work/lib" -lossmc -Wl,-rpath,"$work/lib" -lpthread

id=soak-key-id secret=soak-key-secret
"$target/release/oss-local" --host 127.0.0.1 --port 0 --access-key-id "$id" --access-key-secret "$secret" \
    --model models/soak:8:64 --fail-rate 0.02 --reset-rate 0.01 --corrupt-rate 0.005 --seed 7 \
    >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/server.out" && break; sleep 0.1; done
endpoint="$(sed -n 's/^listening on //p' "$work/server.out")"
[ -n "$endpoint" ] || { echo "soak: oss-local did not start" >&2; cat "$work/server.err" >&2; exit 1; }

cat >"$work/config.json" <<JSON
{"logLevel": 2, "logPath": "$work/connector.log", "auditPath": "$work/audit.log"}
JSON
uris=()
for i in $(seq 1 8); do uris+=("oss://models/soak/model-$(printf %05d "$i")-of-00008.safetensors"); done
OSS_ACCESS_KEY_ID="$id" OSS_ACCESS_KEY_SECRET="$secret" "$work/soak" -f "$work/config.json" "$minutes" "$endpoint" "${uris[@]}"
