#!/usr/bin/env bash
# Installs everything ossmc's build, demo and tests need, from the package registries only
# (Debian, PyPI, crates.io). Idempotent: a second run only checks.
#
#   tools/setup.sh          everything (tests, conformance peers, header and ABI tools)
#   tools/setup.sh --demo   only what the demo needs
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-all}
CBINDGEN_VERSION=0.29.4

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------
apt_pkgs=()
if [ "$mode" != "--demo" ]; then
    command -v abidiff >/dev/null || apt_pkgs+=(abigail-tools)
    command -v valgrind >/dev/null || apt_pkgs+=(valgrind)
    command -v nm >/dev/null || apt_pkgs+=(binutils)
    command -v g++ >/dev/null || apt_pkgs+=(g++)
    command -v pkg-config >/dev/null || apt_pkgs+=(pkg-config)
    command -v make >/dev/null || apt_pkgs+=(make)
    # The forward proxy the proxy tests (tests/proxy.rs, python/tests/test_proxy.py) load
    # through; they run it themselves on a free loopback port.
    [ -x /usr/bin/tinyproxy ] || command -v tinyproxy >/dev/null || apt_pkgs+=(tinyproxy)
fi
command -v curl >/dev/null || apt_pkgs+=(curl)
if [ ${#apt_pkgs[@]} -gt 0 ]; then
    say "apt-get install ${apt_pkgs[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_pkgs[@]}" >/dev/null
fi

# --- Python packages ---------------------------------------------------------------
PY=${PYTHON:-python3}
say "pip install (demo requirements)"
$PY -m pip install -q --disable-pip-version-check -r python/requirements-demo.txt
if [ "$mode" != "--demo" ]; then
    say "pip install (test requirements)"
    $PY -m pip install -q --disable-pip-version-check -r python/requirements-test.txt
    $PY -m pip install -q --disable-pip-version-check -r tests/conformance/requirements.txt
    $PY -m pip install -q --disable-pip-version-check -r bench/requirements.txt
    # osstorchconnector's declared dependency on torch pulls several GB of CUDA wheels;
    # its native reader, which the conformance tests drive, needs none of it.
    $PY -m pip install -q --disable-pip-version-check --no-deps -r tests/conformance/requirements-nodeps.txt
    # The same for the benchmark's peers (osstorchconnector, Run:ai's model streamer), whose
    # drivers the harness tests exercise.
    $PY -m pip install -q --disable-pip-version-check --no-deps -r bench/requirements-nodeps.txt
fi

# --- Rust tools -------------------------------------------------------------------
if [ "$mode" != "--demo" ]; then
    if ! cbindgen --version 2>/dev/null | grep -q " $CBINDGEN_VERSION\$"; then
        say "cargo install cbindgen $CBINDGEN_VERSION"
        cargo install -q cbindgen --version "$CBINDGEN_VERSION" --locked
    fi
fi
