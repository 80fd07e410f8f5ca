"""Loads libossmc through cffi (ABI mode) and checks it is the version this package speaks.

The cdef is the generated header ``ossmc.h`` (see ``_cdef.py``), never a hand-written copy.
Where things are looked up, first match wins:

* library: ``$OSSMC_LIBRARY``, then ``libossmc.so`` shipped inside the package;
* header: ``$OSSMC_HEADER``, then ``ossmc.h`` shipped inside the package, then the
  repository's ``include/ossmc.h`` (running from a source checkout).

``OSSMC_LIBRARY`` lets developers and tests use a freshly built ``target/*/libossmc.so``
without reinstalling the package.

Import fails unless the library, its header and this package agree on the ABI version
(``ossmc_abi_version()``, ``OSSMC_ABI_VERSION``) and the library's ``ossmc_version()`` is
this package's version. That version has one source, the ``ossmc`` crate's ``Cargo.toml``:
the build writes it into ``_version.py``; a source checkout without one reads Cargo.toml.
"""

from __future__ import annotations

import os
import re
from typing import Any, Tuple

import cffi

from ._cdef import header_to_cdef

__all__ = [
    "ffi",
    "lib",
    "EXPECTED_ABI_VERSION",
    "VERSION",
    "library_path",
    "check_abi_version",
    "check_library_version",
]

#: The C ABI version this Python code is written against (``OSSMC_ABI_VERSION``).
EXPECTED_ABI_VERSION = 0

_HERE = os.path.dirname(os.path.abspath(__file__))


def _package_version() -> str:
    """This package's version: ``_version.py`` as the build wrote it from Cargo.toml, else (a
    source checkout) the ``[package]`` version of the repository's Cargo.toml."""
    try:
        from ._version import VERSION as built  # type: ignore[import-not-found]

        return str(built)
    except ImportError:
        pass
    cargo_toml = os.path.join(os.path.dirname(os.path.dirname(_HERE)), "Cargo.toml")
    try:
        with open(cargo_toml, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        raise ImportError(
            "ossmodelconnector: the package has no _version.py and no Cargo.toml is beside it; "
            "reinstall it (pip install ./python)"
        ) from None
    package = re.search(r'^\[package\]\s*$(.*?)(?=^\[|\Z)', text, re.M | re.S)
    version = package and re.search(r'^version\s*=\s*"([^"]+)"', package.group(1), re.M)
    if not version:
        raise ImportError(f"ossmodelconnector: no [package] version in {cargo_toml}")
    return version.group(1)


#: This package's version, the ``ossmc`` crate's (Cargo.toml).
VERSION = _package_version()


def _find_header() -> str:
    candidates = [
        os.environ.get("OSSMC_HEADER"),
        os.path.join(_HERE, "ossmc.h"),
        os.path.join(os.path.dirname(os.path.dirname(_HERE)), "include", "ossmc.h"),
    ]
    for path in candidates:
        if path and os.path.isfile(path):
            return path
    raise ImportError(
        "ossmodelconnector: the C header ossmc.h was not found; reinstall the package "
        "(pip install ./python) or set OSSMC_HEADER to include/ossmc.h"
    )


def _find_library() -> str:
    explicit = os.environ.get("OSSMC_LIBRARY")
    if explicit:
        if not os.path.isfile(explicit):
            raise ImportError(f"ossmodelconnector: OSSMC_LIBRARY names {explicit}, which is not a file")
        return explicit
    packaged = os.path.join(_HERE, "libossmc.so")
    if os.path.isfile(packaged):
        return packaged
    hint = ""
    if os.path.isfile(os.path.join(os.path.dirname(_HERE), "setup.py")):
        hint = f" (this is the source folder {_HERE}: run from another directory to import the installed package)"
    raise ImportError(
        "ossmodelconnector: libossmc.so was not found in the package" + hint + "; install it with "
        "`pip install ./python` from the repository, or set OSSMC_LIBRARY to a built "
        "libossmc.so (cargo build --release -p ossmc)"
    )


def check_abi_version(library_abi: int, header_abi: int, path: str) -> None:
    """Raises ImportError unless the library, its header and this package agree on the ABI."""
    if library_abi == header_abi == EXPECTED_ABI_VERSION:
        return
    raise ImportError(
        f"ossmodelconnector: ABI version mismatch: this package needs libossmc ABI version "
        f"{EXPECTED_ABI_VERSION}, but {path} has ABI version {library_abi} and its header "
        f"declares {header_abi}; reinstall the package from one checkout "
        "(pip install --force-reinstall ./python)"
    )


def check_library_version(library_version: str, path: str) -> None:
    """Raises ImportError unless the library is this package's version."""
    if library_version == VERSION:
        return
    raise ImportError(
        f"ossmodelconnector: version mismatch: this package is version {VERSION}, but {path} is "
        f"libossmc {library_version}; reinstall the package from one checkout or one wheel "
        "(pip install --force-reinstall ./python)"
    )


def _load() -> Tuple[Any, Any, str]:
    header_path = _find_header()
    with open(header_path, encoding="utf-8") as f:
        cdef = header_to_cdef(f.read())
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    path = _find_library()
    try:
        lib = ffi.dlopen(path)
    except OSError as e:
        raise ImportError(f"ossmodelconnector: cannot load {path}: {e}") from e
    try:
        library_abi = int(lib.ossmc_abi_version())
    except AttributeError as e:
        raise ImportError(f"ossmodelconnector: {path} is not libossmc (no ossmc_abi_version symbol)") from e
    check_abi_version(library_abi, int(lib.OSSMC_ABI_VERSION), path)
    check_library_version(ffi.string(lib.ossmc_version()).decode("ascii", "replace"), path)
    return ffi, lib, path


ffi, lib, library_path = _load()
