"""The package itself: the cdef comes from the header, the ABI version is checked."""

from __future__ import annotations

import pytest
from conftest import REPO

import ossmodelconnector
from ossmodelconnector import _native
from ossmodelconnector._cdef import header_to_cdef


def test_abi_version_is_checked():
    _native.check_abi_version(_native.EXPECTED_ABI_VERSION, _native.EXPECTED_ABI_VERSION, "lib")
    with pytest.raises(ImportError, match="ABI version mismatch.*ABI version 7"):
        _native.check_abi_version(7, 7, "/x/libossmc.so")
    assert _native.lib.ossmc_abi_version() == _native.EXPECTED_ABI_VERSION


def test_import_refuses_a_library_of_another_abi_version(tmp_path):
    import os
    import subprocess
    import sys

    header = (REPO / "include" / "ossmc.h").read_text()
    assert "#define OSSMC_ABI_VERSION 0" in header
    other = tmp_path / "ossmc.h"
    other.write_text(header.replace("#define OSSMC_ABI_VERSION 0", "#define OSSMC_ABI_VERSION 7"))
    env = dict(os.environ, OSSMC_HEADER=str(other))
    if "OSSMC_LIBRARY" not in env:
        env["OSSMC_LIBRARY"] = _native.library_path
    package_parent = os.path.dirname(os.path.dirname(ossmodelconnector.__file__))
    code = f"import sys; sys.path.insert(0, {package_parent!r}); import ossmodelconnector"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode != 0
    assert "ImportError: ossmodelconnector: ABI version mismatch" in p.stderr
    assert "declares 7" in p.stderr


def test_versions_come_from_cargo_toml_and_agree():
    import re

    cargo = re.search(r'^\[package\]\s*$.*?^version\s*=\s*"([^"]+)"', (REPO / "Cargo.toml").read_text(), re.M | re.S)
    assert ossmodelconnector.__version__ == cargo.group(1)
    assert ossmodelconnector.library_version == ossmodelconnector.__version__
    assert _native.VERSION == ossmodelconnector.__version__


def test_import_refuses_a_library_of_another_version():
    _native.check_library_version(_native.VERSION, "lib")
    with pytest.raises(ImportError, match=r"version mismatch: this package is version .* is libossmc 9\.9\.9"):
        _native.check_library_version("9.9.9", "/x/libossmc.so")


def test_cdef_keeps_c_declarations_and_integer_defines():
    header = """
#ifndef X_H
#define X_H
#include <stdint.h>
#define A 1
#define B (-2)
#define C 0x10u
#define F(x) ((x) + 1)
#if 0
int hidden(void);
#endif
#ifdef __cplusplus
extern "C" {
#endif
/* a comment with #define D 4 inside */
int32_t f(int32_t a); // trailing
#ifdef __cplusplus
}
#endif
#endif
"""
    cdef = header_to_cdef(header)
    assert "#define A 1" in cdef and "#define B -2" in cdef and "#define C 0x10" in cdef
    assert "F(" not in cdef and "hidden" not in cdef and 'extern "C"' not in cdef and "D 4" not in cdef
    assert "int32_t f(int32_t a);" in cdef


def test_the_shipped_header_is_the_generated_one():
    import os

    packaged = os.path.join(os.path.dirname(ossmodelconnector.__file__), "ossmc.h")
    if not os.path.isfile(packaged):
        pytest.skip("running from the source tree: the header is include/ossmc.h itself")
    with open(packaged) as a, open(REPO / "include" / "ossmc.h") as b:
        assert a.read() == b.read(), "the installed package is stale: reinstall with pip install ./python"


def test_public_api_has_docstrings():
    for name in ossmodelconnector.__all__:
        obj = getattr(ossmodelconnector, name)
        if isinstance(obj, str):
            continue
        assert obj.__doc__, name
    for cls in (ossmodelconnector.OssModelConnector, ossmodelconnector.OssObject):
        for attr, value in vars(cls).items():
            if not attr.startswith("_") and callable(value):
                assert value.__doc__, f"{cls.__name__}.{attr}"
