"""The release artifacts of ``tools/wheel.sh`` in ``dist/``, checked the way users get them.

* the wheel: its name, tags and metadata; its ``libossmc.so`` linked against glibc <= 2.17
  and nothing outside glibc; ``auditwheel show`` puts it under manylinux_2_17 (manylinux2014);
* the wheel installed with ``pip install --no-deps`` plus cffi into a fresh virtual
  environment whose ``PATH`` has no cargo and no rustc, run from outside the repository:
  import, versions, list / open / read of a model from oss-local byte-exact, and the README's
  example;
* the C tarball: its layout and soname links, and ``examples-c/cat.c`` compiled through
  ``pkg-config`` against it, reading an object from oss-local byte-exact.

Run ``tools/wheel.sh`` first (tools/test.sh does).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import tomllib
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
sys.path.insert(0, str(REPO / "tools" / "testkit" / "python"))

from ossmc_testkit import (  # noqa: E402
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    OssLocal,
    fill,
    key_name,
    key_size,
    seed,
    shard_key,
)

VERSION = tomllib.loads((REPO / "Cargo.toml").read_text())["package"]["version"]
ABI = int(re.search(r"^#define OSSMC_ABI_VERSION (\d+)$", (REPO / "include" / "ossmc.h").read_text(), re.M).group(1))
PLATFORM_TAGS = ("manylinux_2_17_x86_64", "manylinux2014_x86_64")
WHEEL = DIST / f"ossmodelconnector-{VERSION}-py3-none-{'.'.join(PLATFORM_TAGS)}.whl"
TARBALL_DIR = f"libossmc-{VERSION}-linux-x86_64"
TARBALL = DIST / f"{TARBALL_DIR}.tar.gz"
MAX_GLIBC = (2, 17)
#: The libraries of glibc itself, which the manylinux2014 policy lets a wheel need.
GLIBC_LIBRARIES = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libutil.so.1",
                   "ld-linux-x86-64.so.2"}

MODEL_BUCKET, MODEL_NAME, MODEL_SHARDS, MODEL_MIB = "models", "qwen", 3, 4
KEYS_BUCKET, KEYS_PREFIX, KEYS_COUNT = "data", "set/", 120


def run(argv, env=None, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    p = subprocess.run([str(a) for a in argv], env=env, cwd=cwd, capture_output=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(
            f"{' '.join(str(a) for a in argv)} exited {p.returncode}\n--- stdout\n"
            f"{p.stdout.decode(errors='replace')[-6000:]}\n--- stderr\n{p.stderr.decode(errors='replace')[-6000:]}"
        )
    return p


@pytest.fixture(scope="module", autouse=True)
def artifacts() -> None:
    missing = [p.name for p in (WHEEL, TARBALL) if not p.is_file()]
    if missing:
        pytest.fail(f"dist/ lacks {', '.join(missing)}: run tools/wheel.sh first (version {VERSION} from Cargo.toml)")


# ------------------------------------------------------------------------ the wheel's contents


def _wheel_text(name: str) -> str:
    with zipfile.ZipFile(WHEEL) as z:
        return z.read(name).decode()


def test_wheel_tags_and_metadata():
    wheel = _wheel_text(f"ossmodelconnector-{VERSION}.dist-info/WHEEL")
    tags = sorted(line.split(": ", 1)[1] for line in wheel.splitlines() if line.startswith("Tag: "))
    assert tags == sorted(f"py3-none-{p}" for p in PLATFORM_TAGS)
    assert "Root-Is-Purelib: false" in wheel
    meta = _wheel_text(f"ossmodelconnector-{VERSION}.dist-info/METADATA")
    assert f"\nVersion: {VERSION}\n" in meta
    assert "\nRequires-Python: >=3.8\n" in meta
    runtime = [line for line in meta.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert runtime == ["Requires-Dist: cffi>=1.15"]


def test_wheel_ships_the_library_the_header_and_the_version():
    with zipfile.ZipFile(WHEEL) as z:
        names = set(z.namelist())
        assert {"ossmodelconnector/libossmc.so", "ossmodelconnector/ossmc.h", "ossmodelconnector/_version.py"} <= names
        assert z.read("ossmodelconnector/ossmc.h") == (REPO / "include" / "ossmc.h").read_bytes()
        assert f"VERSION = {VERSION!r}" in z.read("ossmodelconnector/_version.py").decode()
        licenses = [n for n in names if n.startswith(f"ossmodelconnector-{VERSION}.dist-info/") and n.endswith("/LICENSE")]
        assert licenses and z.read(licenses[0]) == (REPO / "LICENSE").read_bytes()
    assert not any(n.endswith((".pyc", ".egg-info")) or "__pycache__" in n for n in names)


def _library_from_wheel(tmp_path: Path) -> Path:
    with zipfile.ZipFile(WHEEL) as z:
        z.extract("ossmodelconnector/libossmc.so", tmp_path)
    return tmp_path / "ossmodelconnector" / "libossmc.so"


def _library_from_tarball(tmp_path: Path) -> Path:
    with tarfile.open(TARBALL) as t:
        t.extractall(tmp_path, filter="tar")
    return tmp_path / TARBALL_DIR / "lib" / f"libossmc.so.{VERSION}"


def _newest_glibc(lib: Path):
    """The highest GLIBC_ symbol version of ``lib``'s dynamic symbols, and those symbols."""
    dynsyms = run(["objdump", "-T", lib]).stdout.decode()
    versions = {tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_([0-9.]+)\b", dynsyms)}
    assert versions, f"objdump -T shows no GLIBC_ symbol version in {lib}"
    newest = max(versions)
    tag = "GLIBC_" + ".".join(map(str, newest))
    return newest, sorted({line.split()[-1] for line in dynsyms.splitlines() if re.search(rf"\b{tag}\b", line)})


def _needed(lib: Path):
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", run(["readelf", "-d", lib]).stdout.decode()))


@pytest.mark.parametrize("source", ["wheel", "tarball"])
def test_library_needs_glibc_2_17_and_nothing_else(source, tmp_path):
    lib = _library_from_wheel(tmp_path) if source == "wheel" else _library_from_tarball(tmp_path)
    newest, symbols = _newest_glibc(lib)
    assert newest <= MAX_GLIBC, f"{source}: libossmc.so needs GLIBC_{'.'.join(map(str, newest))}, above 2.17: {symbols}"
    needed = _needed(lib)
    assert not any(n.startswith(("libstdc++", "libgcc_s")) for n in needed), needed
    assert needed <= GLIBC_LIBRARIES, f"libraries outside glibc: {needed - GLIBC_LIBRARIES}"
    # soname, ABI and version agree: libossmc.so.ABI, with ABI the version's major.
    dynamic = run(["readelf", "-d", lib]).stdout.decode()
    assert re.search(r"Library soname: \[libossmc\.so\.(\d+)\]", dynamic).group(1) == str(ABI)
    assert int(VERSION.split(".")[0]) == ABI
    exported = sorted(line.split()[2] for line in run(["nm", "-D", "--defined-only", lib]).stdout.decode().splitlines())
    assert exported == (REPO / "abi" / "symbols.txt").read_text().split()


def test_the_glibc_check_rejects_a_library_built_on_this_machine():
    """The same checks, on cargo's own build against this machine's glibc (2.36 here): it
    needs newer symbol versions, which is what the glibc 2.17 build is for."""
    builds = [TARGET_DIR / p / "libossmc.so" for p in ("debug", "release")]
    builds = [b for b in builds if b.is_file()]
    if not builds:
        pytest.skip("no cargo build of libossmc.so in the target directory")
    glibc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    if tuple(int(x) for x in glibc.split()[-1].split(".")) <= MAX_GLIBC:
        pytest.skip(f"this machine's {glibc} is not newer than 2.17")
    newest, symbols = _newest_glibc(builds[0])
    assert newest > MAX_GLIBC, f"{builds[0]} needs only GLIBC_{newest}: the check could not tell the builds apart"


def test_auditwheel_says_manylinux_2_17():
    auditwheel = TARGET_DIR / "wheel-tools" / "bin" / "auditwheel"
    assert auditwheel.is_file(), f"{auditwheel} is missing: tools/wheel.sh installs it"
    out = " ".join(run([auditwheel, "show", WHEEL]).stdout.decode().split())
    assert 'is consistent with the following platform tag: "manylinux_2_17_x86_64"' in out, out


# ------------------------------------------------------------ installed in a venv without Rust


def _path_without_rust() -> str:
    """PATH less every folder holding cargo or rustc (rustup's ~/.cargo/bin among them)."""
    keep = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not any(os.path.exists(os.path.join(d, tool)) for tool in ("cargo", "rustc"))]
    return os.pathsep.join(keep)


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Dict[str, object]:
    """A fresh virtual environment with the wheel (--no-deps) and cffi installed, and the
    environment its programs run in: no cargo or rustc on PATH, no OSSMC_* overrides, no
    PYTHONPATH, the test credentials."""
    root = tmp_path_factory.mktemp("venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSSMC_", "PYTHON", "CARGO", "RUSTUP", "VIRTUAL_ENV"))}
    env["PATH"] = _path_without_rust()
    assert shutil.which("cargo", path=env["PATH"]) is None and shutil.which("rustc", path=env["PATH"]) is None
    # The venv's base interpreter is this one (CPython 3.11 on these machines).
    run([sys.executable, "-m", "venv", root / "env"], env=env)
    python = root / "env" / "bin" / "python"
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, "--no-deps", WHEEL], env=env, cwd=root)
    run([*pip, "--only-binary=:all:", "cffi>=1.15"], env=env, cwd=root)
    env.update(OSS_ACCESS_KEY_ID=TEST_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET=TEST_ACCESS_KEY_SECRET)
    env.pop("OSS_SESSION_TOKEN", None)
    return {"root": root, "python": python, "env": env}


def _run_in_venv(venv, code: str, *args) -> str:
    script = venv["root"] / "script.py"
    script.write_text(textwrap.dedent(code))
    # From the venv's folder, outside the repository: nothing but the installed package is importable.
    return run([venv["python"], script, *args], env=venv["env"], cwd=venv["root"]).stdout.decode()


def test_installed_package_imports_with_its_own_library(venv):
    out = _run_in_venv(venv, """
        import json, sysconfig
        import ossmodelconnector
        from ossmodelconnector import _native
        print(json.dumps({
            "version": ossmodelconnector.__version__,
            "library_version": ossmodelconnector.library_version,
            "abi": int(_native.lib.ossmc_abi_version()),
            "library_path": _native.library_path,
            "purelib": sysconfig.get_paths()["purelib"],
        }))
    """)
    info = json.loads(out)
    assert info["version"] == info["library_version"] == VERSION
    assert info["abi"] == ABI
    assert info["library_path"] == os.path.join(info["purelib"], "ossmodelconnector", "libossmc.so")


@pytest.fixture(scope="module")
def server():
    with OssLocal(["--model", f"{MODEL_BUCKET}/{MODEL_NAME}:{MODEL_SHARDS}:{MODEL_MIB}",
                   "--keys", f"{KEYS_BUCKET}/{KEYS_PREFIX}:{KEYS_COUNT}"]) as s:
        yield s


def _config(tmp_path: Path) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"logPath": str(tmp_path / "connector.log"), "auditPath": str(tmp_path / "audit.log")}))
    return str(path)


def _model_keys() -> List[str]:
    return [shard_key(MODEL_NAME, i, MODEL_SHARDS) for i in range(1, MODEL_SHARDS + 1)]


def test_installed_package_lists_opens_and_reads_exactly(venv, server, tmp_path):
    out = _run_in_venv(venv, """
        import hashlib, json, sys
        from ossmodelconnector import OssModelConnector

        endpoint, config, bucket, prefix = sys.argv[1:5]
        connector = OssModelConnector(endpoint=endpoint, config_path=config)
        listed = sorted((o.key, o.size) for o in connector.list(bucket, prefix))
        objs = [connector.open(f"oss://{bucket}/{key}") for key, _ in listed]
        read = {}
        buf = bytearray(1 << 20)
        for obj, (key, _) in zip(objs, listed):
            h, n = hashlib.sha256(), 0
            with obj:
                while True:
                    got = obj.readinto(buf)
                    if not got:
                        break
                    h.update(memoryview(buf)[:got])
                    n += got
            read[key] = [n, h.hexdigest()]
        print(json.dumps({"listed": listed, "read": read}))
    """, server.endpoint, _config(tmp_path), MODEL_BUCKET, f"{MODEL_NAME}/")
    result = json.loads(out)
    size = MODEL_MIB << 20
    assert result["listed"] == [[k, size] for k in _model_keys()]
    for key in _model_keys():
        expected = hashlib.sha256(fill(seed(key), 0, size)).hexdigest()
        assert result["read"][key] == [size, expected], f"{key}: not the bytes oss-local serves"


def _readme_example() -> str:
    """The README's first Python example, with the test server's names for the document's."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"^## Python\n.*?^```python\n(.*?)^```", readme, re.M | re.S).group(1)
    replacements = [
        ('"https://oss-cn-hangzhou-internal.aliyuncs.com"', "ENDPOINT"),
        ('"/etc/oss-connector/config.json"', "CONFIG_PATH"),
        ('f"oss://ai-testset/qwen/model-{i:05d}-of-00038.safetensors"',
         f'f"oss://{MODEL_BUCKET}/{MODEL_NAME}/model-{{i:05d}}-of-{MODEL_SHARDS:05d}.safetensors"'),
        ("range(1, 39)", f"range(1, {MODEL_SHARDS + 1})"),
        ('"ai-testset", "geonet/images/"', f'"{KEYS_BUCKET}", "{KEYS_PREFIX}"'),
        # The loop body: count what was read, checked below.
        ("        ...\n", "        read_bytes[id(obj)] = obj.tell()\n"),
    ]
    for old, new in replacements:
        assert block.count(old) == 1, f"the README's example changed: {old!r} not found once"
        block = block.replace(old, new)
    return block


def test_readme_example_runs_from_the_wheel(venv, server, tmp_path):
    # The example takes its credentials provider from oss2, as the document does.
    run([venv["python"], "-m", "pip", "install", "-q", "--disable-pip-version-check", "oss2==2.19.1"],
        env=venv["env"], cwd=venv["root"])
    out = _run_in_venv(venv, "import sys\nENDPOINT, CONFIG_PATH = sys.argv[1:3]\nread_bytes = {}\n"
                       + _readme_example()
                       + "print('READ', sorted(read_bytes.values()))\n",
                       server.endpoint, _config(tmp_path))
    lines = out.splitlines()
    size = MODEL_MIB << 20
    assert lines[-1] == f"READ {[size] * MODEL_SHARDS}"
    listed = sorted(lines[:-1])
    assert listed == sorted(f"{key_name(KEYS_PREFIX, i)} {key_size(i)}" for i in range(KEYS_COUNT))


# ------------------------------------------------------------------------------ the C tarball


def test_tarball_layout(tmp_path):
    with tarfile.open(TARBALL) as t:
        members = {m.name: m for m in t.getmembers()}
    lib = f"{TARBALL_DIR}/lib"
    assert members[f"{lib}/libossmc.so"].issym() and members[f"{lib}/libossmc.so"].linkname == f"libossmc.so.{ABI}"
    assert members[f"{lib}/libossmc.so.{ABI}"].issym() and members[f"{lib}/libossmc.so.{ABI}"].linkname == f"libossmc.so.{VERSION}"
    assert members[f"{lib}/libossmc.so.{VERSION}"].isfile()
    for name in ("include/ossmc.h", "lib/pkgconfig/ossmc.pc", "LICENSE"):
        assert members[f"{TARBALL_DIR}/{name}"].isfile(), name
    assert all(m.uid == 0 and m.gid == 0 for m in members.values())


def test_c_example_builds_with_pkg_config_against_the_tarball(tmp_path, server):
    lib = _library_from_tarball(tmp_path)
    prefix = lib.parent.parent
    pc_env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    assert run(["pkg-config", "--modversion", "ossmc"], pc_env).stdout.decode().strip() == VERSION
    flags = run(["pkg-config", "--cflags", "--libs", "ossmc"], pc_env).stdout.decode().split()
    libdir = run(["pkg-config", "--variable=libdir", "ossmc"], pc_env).stdout.decode().strip()
    assert Path(libdir).resolve() == (prefix / "lib").resolve()
    examples = REPO / "examples-c"
    exe = tmp_path / "cat"
    run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{examples}", "-o", exe,
         examples / "cat.c", *flags, f"-Wl,-rpath,{libdir}"], pc_env)
    assert "[libossmc.so.0]" in run(["readelf", "-d", exe]).stdout.decode()
    loaded = run(["ldd", exe]).stdout.decode()
    assert re.search(r"libossmc\.so\.0 => (\S+)", loaded).group(1) == os.path.join(libdir, "libossmc.so.0"), loaded
    key = key_name(KEYS_PREFIX, 7)
    env = dict(os.environ, OSS_ACCESS_KEY_ID=TEST_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET=TEST_ACCESS_KEY_SECRET)
    env.pop("LD_LIBRARY_PATH", None)
    out = run([exe, "-f", _config(tmp_path), server.endpoint, f"oss://{KEYS_BUCKET}/{key}"], env).stdout
    assert out == fill(seed(key), 0, key_size(7))
