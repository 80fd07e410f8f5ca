#!/usr/bin/env bash
# Builds the release artifacts of ossmc into dist/, for Linux x86-64 with glibc >= 2.17:
#
#   dist/ossmodelconnector-VERSION-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
#       the Python package with libossmc.so inside: one wheel for every CPython 3.8+, since the
#       package uses cffi in ABI mode (no Python C-API extension). pip install needs no Rust.
#   dist/libossmc-VERSION-linux-x86_64.tar.gz
#       for C and C++: lib/libossmc.so.VERSION with its soname link libossmc.so.ABI and the
#       link libossmc.so, include/ossmc.h, lib/pkgconfig/ossmc.pc (relocatable), LICENSE.
#
#   tools/wheel.sh
#
# The library is linked against glibc 2.17 by `cargo zigbuild --target
# x86_64-unknown-linux-gnu.2.17`: zig ships the headers and symbol-versioned stubs of every
# glibc, so no old distribution or container image is needed. cargo-zigbuild and zig come
# pinned from PyPI (tools/requirements-wheel.txt) into target/wheel-tools, which later runs
# reuse. VERSION is the one in Cargo.toml; ABI is OSSMC_ABI_VERSION (include/ossmc.h).
#
# Before anything is written to dist/, the library is checked and the script fails, saying
# why, unless: its highest GLIBC_ symbol version is <= 2.17; it needs only glibc's own
# libraries (no libstdc++, no libgcc_s); its soname is libossmc.so.ABI with ABI the
# version's major; it exports exactly abi/symbols.txt; and `auditwheel show` puts the wheel
# under manylinux_2_17_x86_64 (manylinux2014).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

TRIPLE=x86_64-unknown-linux-gnu
GLIBC=2.17
PLATFORM=manylinux_2_17_x86_64.manylinux2014_x86_64
# What the manylinux2014 policy lets a wheel's library need that are part of glibc itself.
ALLOWED_NEEDED="libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libutil.so.1 ld-linux-x86-64.so.2"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
fail() { printf 'wheel: FAILED: %s\n' "$*" >&2; exit 1; }

target_dir="${CARGO_TARGET_DIR:-$root/target}"
tools="$target_dir/wheel-tools"
PY=${PYTHON:-python3}

# --- tools: cargo-zigbuild, zig, auditwheel, setuptools (pinned, cached) ------------------------
req="$root/tools/requirements-wheel.txt"
stamp="$tools/requirements.sha256"
if [ ! -x "$tools/bin/python" ] || ! sha256sum --status -c "$stamp" 2>/dev/null; then
    say "installing the wheel tools into $tools (tools/requirements-wheel.txt)"
    rm -rf "$tools"
    "$PY" -m venv "$tools"
    "$tools/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
    sha256sum "$req" > "$stamp"
fi
# cargo-zigbuild runs `zig` from PATH, else `python3 -m ziglang`: the venv's python3 has it.
export PATH="$tools/bin:$PATH"
# zig's caches and cargo-zigbuild's wrapper scripts go under target/ too.
export ZIG_GLOBAL_CACHE_DIR="$tools/zig-cache" XDG_CACHE_HOME="$tools/cache"

version="$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)"
abi="$(sed -n 's/^#define OSSMC_ABI_VERSION \([0-9]*\)$/\1/p' include/ossmc.h)"
[ -n "$version" ] && [ -n "$abi" ] || fail "cannot read the version (Cargo.toml) or OSSMC_ABI_VERSION (include/ossmc.h)"

# --- the library, against glibc 2.17 ------------------------------------------------------------
say "cargo zigbuild --release --target $TRIPLE.$GLIBC (libossmc $version)"
cargo zigbuild --release --locked --lib -p ossmc --target "$TRIPLE.$GLIBC"
built="$target_dir/$TRIPLE/release/libossmc.so"
[ -f "$built" ] || fail "cargo zigbuild made no $built"

stage="$target_dir/wheel-stage"
rm -rf "$stage"
mkdir -p "$stage"
lib="$stage/libossmc.so"
# The shipped copy keeps its symbols but not the debug info (35 MB of it).
strip --strip-debug -o "$lib" "$built"

say "checking the library: glibc <= $GLIBC, needed libraries, soname, exported symbols"
max_glibc="$(objdump -T "$lib" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -n 1)"
[ -n "$max_glibc" ] || fail "objdump -T shows no GLIBC_ symbol version in $lib"
if [ "$(printf '%s\n%s\n' "$max_glibc" "$GLIBC" | sort -V | tail -n 1)" != "$GLIBC" ]; then
    echo "symbols that need a newer glibc:" >&2
    objdump -T "$lib" | grep -F "GLIBC_$max_glibc" >&2 || true
    fail "libossmc.so needs GLIBC_$max_glibc, above $GLIBC"
fi
echo "highest glibc symbol version: GLIBC_$max_glibc (<= $GLIBC)"
needed="$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p')"
for n in $needed; do
    case " $ALLOWED_NEEDED " in
        *" $n "*) ;;
        *) fail "libossmc.so needs $n; only glibc's own libraries are allowed ($ALLOWED_NEEDED)" ;;
    esac
done
echo "needed libraries: $(echo $needed)"
soname="$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
[ "$soname" = "libossmc.so.$abi" ] || fail "soname is '$soname', expected libossmc.so.$abi (OSSMC_ABI_VERSION)"
[ "${version%%.*}" = "$abi" ] || fail "version $version (Cargo.toml) and OSSMC_ABI_VERSION $abi disagree: the ABI version is the version's major"
echo "soname: $soname (version $version, ABI $abi)"
if ! nm -D --defined-only "$lib" | awk '{print $3}' | LC_ALL=C sort | diff -u abi/symbols.txt - >&2; then
    fail "the exported symbols differ from abi/symbols.txt (above)"
fi
echo "exported symbols: the $(wc -l < abi/symbols.txt) of abi/symbols.txt"

# --- the wheel -----------------------------------------------------------------------------------
say "building the wheel ($PLATFORM)"
# A copy of the package's sources, so that no build/ or in-place library of a developer's
# `pip install ./python` ends up in the wheel.
mkdir -p "$stage/python"
(cd python && tar --exclude=./build --exclude=./dist --exclude='*.egg-info' --exclude=__pycache__ \
    --exclude=./ossmodelconnector/libossmc.so --exclude=./ossmodelconnector/ossmc.h \
    --exclude=./ossmodelconnector/_version.py -cf - .) | tar -xf - -C "$stage/python"
cp LICENSE "$stage/python/LICENSE"   # setuptools puts it into the wheel's .dist-info
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH
OSSMC_SOURCE_DIR="$root" OSSMC_PREBUILT_LIBRARY="$lib" OSSMC_WHEEL_PLATFORM="$PLATFORM" \
    "$tools/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation \
    -w "$stage/dist" "$stage/python"
wheel_name="ossmodelconnector-$version-py3-none-$PLATFORM.whl"
[ -f "$stage/dist/$wheel_name" ] || fail "pip wheel made $(ls "$stage/dist"), not $wheel_name"

say "auditwheel show"
audit="$("$tools/bin/auditwheel" show "$stage/dist/$wheel_name" 2>&1)" || { echo "$audit" >&2; fail "auditwheel show failed"; }
echo "$audit"
echo "$audit" | tr -s ' \n' ' ' | grep -q 'consistent with the following platform tag: "manylinux_2_17_x86_64"' ||
    fail "auditwheel does not put the wheel under manylinux_2_17_x86_64 (manylinux2014)"

# --- the C tarball -------------------------------------------------------------------------------
say "building the C tarball"
name="libossmc-$version-linux-x86_64"
pkg="$stage/$name"
mkdir -p "$pkg/lib/pkgconfig" "$pkg/include"
install -m 0755 "$lib" "$pkg/lib/libossmc.so.$version"
ln -s "libossmc.so.$version" "$pkg/lib/$soname"
ln -s "$soname" "$pkg/lib/libossmc.so"
install -m 0644 include/ossmc.h "$pkg/include/ossmc.h"
install -m 0644 LICENSE "$pkg/LICENSE"
# pkg-config resolves ${pcfiledir} to the .pc file's folder: the tarball unpacks anywhere.
sed -e 's|@PREFIX@|${pcfiledir}/../..|' -e 's|@LIBDIR@|${prefix}/lib|' \
    -e 's|@INCLUDEDIR@|${prefix}/include|' -e "s|@VERSION@|$version|" \
    tools/ossmc.pc.in > "$pkg/lib/pkgconfig/ossmc.pc"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    -C "$stage" -czf "$stage/dist/$name.tar.gz" "$name"

mkdir -p dist
rm -f dist/ossmodelconnector-*.whl dist/libossmc-*-linux-x86_64.tar.gz
mv "$stage/dist/$wheel_name" "$stage/dist/$name.tar.gz" dist/
say "built"
ls -l "dist/$wheel_name" "dist/$name.tar.gz"
