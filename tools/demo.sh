#!/usr/bin/env bash
# The main job in one command: build ossmc and oss-local, install the Python package, start a
# local OSS server with a generated 8 x 256 MiB sharded model and fresh credentials, load the
# model through the Python API as the documented example does, verify every byte, print GB/s.
#
#   tools/demo.sh [--shards N] [--mib M]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

tools/setup.sh --demo
say "cargo build --release (libossmc, oss-local)"
cargo build --release -q -p ossmc -p oss-local
say "pip install ./python"
python3 -m pip install -q --disable-pip-version-check ./python
say "load the model"
exec python3 python/demo.py "$@"
