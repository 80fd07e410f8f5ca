#!/usr/bin/env bash
# Runs every test of ossmc: Rust (library, oss-local, FastList), C (ABI, header, examples),
# Python (package, benchmark harness, and the official clients' conformance against oss-local).
# Installs what it needs first (tools/setup.sh). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

say() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

tools/setup.sh

say "format and lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings

say "build (debug): library, oss-local, tests"
cargo build --workspace --all-targets -q

say "Rust tests"
cargo test --workspace -q

say "C API: header in sync, soname, symbols, ABI baseline"
tools/gen-header.sh --check
tools/abi-check.sh

say "C API: examples and C tests against oss-local (valgrind, sanitizers)"
python3 -m pytest -q examples-c/tests

say "Python package: install and test"
python3 -m pip install -q --disable-pip-version-check ./python
python3 -m pytest -q python/tests

say "Benchmark harness: byte checks, drivers rejecting corrupted bytes, report writer"
python3 -m pytest -q bench/harness

say "Conformance: Alibaba's clients against oss-local"
bash tests/conformance/setup_hosts.sh
python3 -m pytest -q tests/conformance tools/testkit/python/tests
