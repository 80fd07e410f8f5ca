"""Build hook for the ``ossmodelconnector`` wheel.

The package is pure Python over libossmc (cffi, ABI mode). Building it means:

1. ``cargo build --release`` of the ``ossmc`` crate in the repository this folder belongs to;
2. copying the resulting ``libossmc.so`` and the generated C header ``include/ossmc.h`` into
   the package, where ``ossmodelconnector._native`` finds them at import;
3. checking, at build time, that the header parses as a cffi cdef and that the library has
   the header's ABI version, so a mismatch fails the build instead of the first import.

The cdef is never written by hand: it is the header cbindgen generated, read through the
same function (``ossmodelconnector/_cdef.py``) at build time and at import.

The version has one source, the ``ossmc`` crate's ``Cargo.toml``: it becomes the
distribution's version and ``ossmodelconnector/_version.py`` (generated here), and the build
fails unless the library's ``ossmc_version()`` says the same.

Environment:
  ``OSSMC_SOURCE_DIR``     the repository root (default: the parent of this folder)
  ``OSSMC_CARGO_PROFILE``  the cargo profile to build (default: ``release``)
  ``CARGO``                the cargo binary (default: ``cargo`` on PATH, else ~/.cargo/bin/cargo)
  ``CARGO_TARGET_DIR``     honoured by cargo as usual
  ``OSSMC_PREBUILT_LIBRARY``  ship this ``libossmc.so`` instead of running cargo (tools/wheel.sh
                           passes the glibc 2.17 build); it is checked like a built one
  ``OSSMC_WHEEL_PLATFORM``  the wheel's platform tag (default: this machine's, e.g.
                           ``linux_x86_64``); tools/wheel.sh passes
                           ``manylinux_2_17_x86_64.manylinux2014_x86_64``
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:  # setuptools >= 70.1 ships bdist_wheel itself
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # older setuptools: the wheel package provides it
    from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "ossmodelconnector"
LIBRARY_NAME = "libossmc.so"
HEADER_NAME = "ossmc.h"


def _source_dir():
    root = os.environ.get("OSSMC_SOURCE_DIR") or os.path.dirname(HERE)
    if not os.path.isfile(os.path.join(root, "Cargo.toml")) or not os.path.isfile(
        os.path.join(root, "include", HEADER_NAME)
    ):
        sys.exit(
            f"ossmodelconnector: the Rust sources were not found at {root} (expected Cargo.toml "
            f"and include/{HEADER_NAME}). Install from a clone of the repository with "
            "`pip install ./python` (pip >= 21.3 builds in place), or set OSSMC_SOURCE_DIR."
        )
    return root


def _cargo_version(root):
    """The ``version`` of the ``[package]`` table of the repository's Cargo.toml (a plain
    reading: Python 3.8 has no TOML parser, and the file is ours)."""
    section = None
    with open(os.path.join(root, "Cargo.toml"), encoding="utf-8") as f:
        for line in f:
            stripped = line.split("#", 1)[0].strip()
            header = re.match(r"^\[([^\]]+)\]$", stripped)
            if header:
                section = header.group(1).strip()
                continue
            m = re.match(r'^version\s*=\s*"([^"]+)"$', stripped)
            if m and section == "package":
                return m.group(1)
    sys.exit(f"ossmodelconnector: no [package] version in {os.path.join(root, 'Cargo.toml')}")


def _cargo():
    explicit = os.environ.get("CARGO")
    if explicit:
        return explicit
    found = shutil.which("cargo")
    if found:
        return found
    fallback = os.path.expanduser("~/.cargo/bin/cargo")
    if os.path.isfile(fallback):
        return fallback
    sys.exit("ossmodelconnector: cargo was not found; install Rust (https://rustup.rs) and retry")


def _build_library(root):
    """Runs cargo and returns the path of the cdylib it produced (or the prebuilt one)."""
    prebuilt = os.environ.get("OSSMC_PREBUILT_LIBRARY")
    if prebuilt:
        if not os.path.isfile(prebuilt):
            sys.exit(f"ossmodelconnector: OSSMC_PREBUILT_LIBRARY names {prebuilt}, which is not a file")
        print(f"ossmodelconnector: shipping the prebuilt {prebuilt}", file=sys.stderr)
        return prebuilt
    profile = os.environ.get("OSSMC_CARGO_PROFILE", "release")
    cmd = [
        _cargo(),
        "build",
        "--lib",
        "-p",
        "ossmc",
        "--profile",
        profile,
        "--manifest-path",
        os.path.join(root, "Cargo.toml"),
        "--message-format=json-render-diagnostics",
    ]
    print("ossmodelconnector: running " + " ".join(cmd), file=sys.stderr)
    # Diagnostics go to stderr as cargo renders them; stdout carries one JSON message a line,
    # from which the artifact's real path is taken (it depends on CARGO_TARGET_DIR and the profile).
    proc = subprocess.run(cmd, cwd=root, stdout=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        sys.exit(f"ossmodelconnector: cargo build failed with exit status {proc.returncode}")
    library = None
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") != "compiler-artifact" or msg.get("target", {}).get("name") != "ossmc":
            continue
        for path in msg.get("filenames", []):
            if os.path.basename(path) == LIBRARY_NAME:
                library = path
    if library is None or not os.path.isfile(library):
        sys.exit(f"ossmodelconnector: cargo build succeeded but produced no {LIBRARY_NAME}")
    return library


def _header_ffi(header_path):
    """Parses the header the way the package does at import, so a bad header fails here."""
    spec = importlib.util.spec_from_file_location("_ossmc_cdef", os.path.join(HERE, PACKAGE, "_cdef.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import cffi

    ffi = cffi.FFI()
    with open(header_path, encoding="utf-8") as f:
        ffi.cdef(module.header_to_cdef(f.read()))
    return ffi


def _check_library(ffi, library, version):
    """Loads the built library with the header's declarations and compares ABI versions and
    the library version, so a library that does not match its header or the package fails
    the build rather than the first import."""
    lib = ffi.dlopen(library)
    try:
        built = lib.ossmc_abi_version()
    except AttributeError:
        sys.exit(f"ossmodelconnector: {library} does not export ossmc_abi_version; is the C ABI compiled in?")
    if built != lib.OSSMC_ABI_VERSION:
        sys.exit(
            f"ossmodelconnector: {library} has ABI version {built} but include/{HEADER_NAME} declares "
            f"{lib.OSSMC_ABI_VERSION}; regenerate the header"
        )
    library_version = ffi.string(lib.ossmc_version()).decode("ascii")
    if library_version != version:
        sys.exit(
            f"ossmodelconnector: {library} is libossmc {library_version} but Cargo.toml says {version}; "
            "rebuild the library"
        )


class BuildPyWithLibrary(build_py):
    """build_py that also builds libossmc and puts it and its header into the package."""

    def run(self):
        super().run()
        root = _source_dir()
        header = os.path.join(root, "include", HEADER_NAME)
        ffi = _header_ffi(header)
        library = _build_library(root)
        version = _cargo_version(root)
        _check_library(ffi, library, version)
        # An editable install (pip install -e) imports the package from its sources: the
        # library and header go there (ignored by git, see python/.gitignore).
        in_place = getattr(self, "editable_mode", False)
        dest = os.path.join(HERE, PACKAGE) if in_place else os.path.join(self.build_lib, PACKAGE)
        os.makedirs(dest, exist_ok=True)
        shutil.copyfile(library, os.path.join(dest, LIBRARY_NAME))
        os.chmod(os.path.join(dest, LIBRARY_NAME), 0o755)
        shutil.copyfile(header, os.path.join(dest, HEADER_NAME))
        with open(os.path.join(dest, "_version.py"), "w", encoding="utf-8") as f:
            f.write(
                "# Generated by setup.py from the ossmc crate's Cargo.toml: do not edit.\n"
                f"VERSION = {version!r}\n"
            )


class BinaryDistribution(Distribution):
    """The wheel carries a native library: it is platform-specific."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    """Tags the wheel ``py3-none-<platform>``: any CPython 3 on this platform can load the
    library through cffi, since no Python C-API extension is involved."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        platform = os.environ.get("OSSMC_WHEEL_PLATFORM") or sysconfig.get_platform().replace("-", "_").replace(".", "_")
        return "py3", "none", platform


setup(
    version=_cargo_version(_source_dir()),
    license="Apache-2.0",
    cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel},
    distclass=BinaryDistribution,
)
