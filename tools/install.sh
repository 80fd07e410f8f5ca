#!/bin/sh
# Installs the C library, its header and its pkg-config file.
#
#   tools/install.sh PREFIX [PATH/TO/libossmc.so]
#
# Lays out, under PREFIX (DESTDIR is honoured, as packagers expect):
#   lib/libossmc.so.VERSION        the library (soname libossmc.so.0)
#   lib/libossmc.so.0 -> libossmc.so.VERSION    what programs load
#   lib/libossmc.so   -> libossmc.so.0          what the linker finds for -lossmc
#   include/ossmc.h
#   lib/pkgconfig/ossmc.pc         so `pkg-config --cflags --libs ossmc` works
# The library defaults to target/release/libossmc.so (cargo build -p ossmc --release).
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${1:?usage: tools/install.sh PREFIX [PATH/TO/libossmc.so]}"
lib="${2:-$root/target/release/libossmc.so}"
destdir="${DESTDIR:-}"
if [ ! -f "$lib" ]; then
    echo "install: $lib not found; build it with: cargo build -p ossmc --release" >&2
    exit 1
fi
version="$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)"
soname="$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
if [ "$soname" != "libossmc.so.0" ]; then
    echo "install: $lib has soname '$soname', expected libossmc.so.0" >&2
    exit 1
fi
libdir="$prefix/lib"
includedir="$prefix/include"
mkdir -p "$destdir$libdir/pkgconfig" "$destdir$includedir"
install -m 0755 "$lib" "$destdir$libdir/libossmc.so.$version"
ln -sf "libossmc.so.$version" "$destdir$libdir/$soname"
ln -sf "$soname" "$destdir$libdir/libossmc.so"
install -m 0644 "$root/include/ossmc.h" "$destdir$includedir/ossmc.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$libdir|" -e "s|@INCLUDEDIR@|$includedir|" \
    -e "s|@VERSION@|$version|" "$root/tools/ossmc.pc.in" > "$destdir$libdir/pkgconfig/ossmc.pc"
echo "installed libossmc $version into $destdir$prefix"
