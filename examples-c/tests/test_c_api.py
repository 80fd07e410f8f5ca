"""The C API as a product: header, shared object, examples and C tests, end to end.

Run from the repository root after building the library and the server:

    cargo build -p ossmc -p oss-local
    python3 -m pytest examples-c/tests -q

Environment: ``CARGO_TARGET_DIR`` (default ``target``), ``OSSMC_PROFILE`` (``debug`` or
``release``, default ``debug``), ``OSSMC_VALGRIND=0`` to skip the valgrind runs. Every test
builds against ``$CARGO_TARGET_DIR/$OSSMC_PROFILE/libossmc.so`` and runs against an oss-local on
127.0.0.1 with a free port, started once for the session and stopped at its end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples-c"
HEADER = ROOT / "include" / "ossmc.h"
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
if not TARGET_DIR.is_absolute():
    TARGET_DIR = ROOT / TARGET_DIR
PROFILE = os.environ.get("OSSMC_PROFILE", "debug")
LIB = TARGET_DIR / PROFILE / "libossmc.so"

sys.path.insert(0, str(ROOT / "tools" / "testkit" / "python"))
from ossmc_testkit import synthetic  # noqa: E402
from ossmc_testkit.oss_local import (  # noqa: E402
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    OssLocal,
)

BUCKET = "models"
MODEL = "m"  # 4 shards of 8 MiB
MODEL_SHARDS = 4
THREAD_MODEL = "t"  # 8 shards of 3 MiB, one per thread
KEYS_PREFIX = "k/"
KEYS_COUNT = 250
SERVER_ARGS = [
    "--model", f"{BUCKET}/{MODEL}:{MODEL_SHARDS}:8",
    "--model", f"{BUCKET}/{THREAD_MODEL}:8:3",
    "--keys", f"{BUCKET}/{KEYS_PREFIX}:{KEYS_COUNT}",
]


def shard_keys(name: str, shards: int) -> list:
    return [synthetic.shard_key(name, i, shards) for i in range(1, shards + 1)]


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory) -> Path:
    """The examples and C tests, built with -Wall -Wextra -Werror against LIB."""
    if not LIB.is_file():
        pytest.fail(f"{LIB} is missing: run `cargo build -p ossmc` first")
    build = tmp_path_factory.mktemp("c-build")
    subprocess.run(
        ["make", "-C", str(EXAMPLES), f"BUILD={build}", f"TARGET_DIR={TARGET_DIR}", f"PROFILE={PROFILE}", "all"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return build


@pytest.fixture(scope="session")
def server():
    with OssLocal(SERVER_ARGS) as s:
        yield s


@pytest.fixture(scope="session")
def config_path(tmp_path_factory) -> Path:
    """A configuration that keeps logs in a temporary directory."""
    d = tmp_path_factory.mktemp("ossmc-config")
    path = d / "config.json"
    path.write_text(json.dumps({
        "region": "cn-hangzhou",
        "logPath": str(d / "connector.log"),
        "auditPath": str(d / "audit.log"),
    }))
    return path


@pytest.fixture(scope="session")
def env() -> dict:
    e = dict(os.environ)
    e.update({
        "OSS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
        "OSS_ACCESS_KEY_SECRET": TEST_ACCESS_KEY_SECRET,
        "RUST_BACKTRACE": "0",
    })
    e.pop("OSS_SESSION_TOKEN", None)
    return e


def run(argv, env, *, stdin=None, check=True, timeout=300) -> subprocess.CompletedProcess:
    p = subprocess.run([str(a) for a in argv], env=env, stdin=stdin, capture_output=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(
            f"{argv[0]} exited {p.returncode}\n--- stdout\n{p.stdout.decode(errors='replace')[-4000:]}"
            f"\n--- stderr\n{p.stderr.decode(errors='replace')[-4000:]}"
        )
    return p


def synth_sum(build_dir: Path, key: str, size: int) -> str:
    return run([build_dir / "synth", "sum", key, size], None).stdout.decode().strip()


# ---------------------------------------------------------------------------- header


def test_header_is_generated_from_the_rust_source():
    if shutil.which("cbindgen") is None:
        pytest.fail("cbindgen is missing: cargo install cbindgen --version 0.29.4 --locked")
    run([ROOT / "tools" / "gen-header.sh", "--check"], None)


def test_header_compiles_as_strict_c99_and_cxx17(build_dir):
    run(["make", "-C", EXAMPLES, f"BUILD={build_dir}", f"TARGET_DIR={TARGET_DIR}", f"PROFILE={PROFILE}",
         "header-check"], None)


def header_to_cdef(text: str) -> str:
    """The header as cffi's cdef takes it: `#ifdef __cplusplus` blocks dropped, integer
    `#define`s kept, every other preprocessor line removed."""
    out, skipping = [], 0
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#ifdef __cplusplus"):
            skipping += 1
            continue
        if skipping:
            if s.startswith("#endif"):
                skipping -= 1
            continue
        m = re.match(r"#define (OSSMC_\w+) (\d+)$", s)
        if m:
            out.append(f"#define {m.group(1)} {m.group(2)}")
        elif not s.startswith("#"):
            out.append(line)
    return "\n".join(out)


def test_header_is_accepted_by_cffi_and_agrees_with_the_library():
    cffi = pytest.importorskip("cffi")
    ffi = cffi.FFI()
    ffi.cdef(header_to_cdef(HEADER.read_text()))
    lib = ffi.dlopen(str(LIB))
    assert lib.ossmc_abi_version() == lib.OSSMC_ABI_VERSION
    # Every status constant of the header is known to the library under its own name.
    statuses = re.findall(r"^#define (OSSMC_\w+) (\d+)$", HEADER.read_text(), re.M)
    statuses = [(n, int(v)) for n, v in statuses if not n.startswith(("OSSMC_SEEK_", "OSSMC_ABI_", "OSSMC_PREPARE_"))]
    assert len(statuses) >= 20
    for name, value in statuses:
        assert ffi.string(lib.ossmc_status_name(value)).decode() == name
    # The families the documentation promises.
    assert lib.OSSMC_OK == 0 and lib.OSSMC_AGAIN == 1
    assert lib.OSSMC_NULL_POINTER // 100 == 1 and lib.OSSMC_NO_SUCH_KEY // 100 == 3
    assert lib.OSSMC_ACCESS_DENIED // 100 == 4 and lib.OSSMC_PANIC // 100 == 9


# ---------------------------------------------------------------------------- shared object


def test_soname_exported_symbols_and_abi_baseline():
    if PROFILE != "debug":
        pytest.skip("the ABI baseline is taken from the debug build")
    if shutil.which("abidiff") is None:
        pytest.fail("abidiff is missing: apt-get install abigail-tools")
    run([ROOT / "tools" / "abi-check.sh", LIB], None)


def test_install_layout_and_pkg_config(tmp_path, build_dir, server, config_path, env):
    prefix = tmp_path / "prefix"
    run([ROOT / "tools" / "install.sh", prefix, LIB], None)
    lib = prefix / "lib"
    assert (lib / "libossmc.so").resolve() == (lib / "libossmc.so.0").resolve()
    assert (prefix / "include" / "ossmc.h").read_text() == HEADER.read_text()
    pc_env = dict(env, PKG_CONFIG_PATH=str(lib / "pkgconfig"))
    flags = run(["pkg-config", "--cflags", "--libs", "ossmc"], pc_env).stdout.decode().split()
    assert f"-I{prefix}/include" in flags and "-lossmc" in flags
    exe = tmp_path / "cat"
    run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{EXAMPLES}", "-o", exe,
         EXAMPLES / "cat.c", *flags], pc_env)
    needed = run(["readelf", "-d", exe], None).stdout.decode()
    assert "[libossmc.so.0]" in needed
    key = synthetic.key_name(KEYS_PREFIX, 3)
    out = run([exe, "-f", config_path, server.endpoint, f"oss://{BUCKET}/{key}"],
              dict(env, LD_LIBRARY_PATH=str(lib))).stdout
    assert out == synthetic.fill(synthetic.seed(key), 0, synthetic.key_size(3))


# ---------------------------------------------------------------------------- examples


def test_load_model_reads_every_shard_exactly(build_dir, server, config_path, env):
    keys = shard_keys(MODEL, MODEL_SHARDS)
    uris = [f"oss://{BUCKET}/{k}" for k in keys]
    out = run([build_dir / "load_model", "-s", "-f", config_path, server.endpoint, *uris], env).stdout.decode()
    lines = out.splitlines()
    size = 8 << 20
    for uri, key, line in zip(uris, keys, lines):
        assert line == f"{uri} {size} bytes sum {synth_sum(build_dir, key, size)}"
    assert re.fullmatch(rf"total {size * MODEL_SHARDS} bytes in [0-9.]+ s: [0-9.]+ GB/s", lines[-1])


def test_synth_sum_agrees_with_the_python_twin(build_dir):
    # The C oracle must itself be right: compare it with a checksum over Python's bytes.
    key, size = synthetic.key_name(KEYS_PREFIX, 9), 1237
    data = synthetic.fill(synthetic.seed(key), 0, size) + b"\0" * 3
    words = [int.from_bytes(data[i:i + 8], "little") for i in range(0, size, 8)]
    want = sum(w * (2 * i + 1) for i, w in enumerate(words)) % (1 << 64)
    assert synth_sum(build_dir, key, size) == f"{want:016x}"


def expected_keys() -> list:
    return sorted(
        (synthetic.key_name(KEYS_PREFIX, i), synthetic.key_size(i)) for i in range(KEYS_COUNT)
    )


def parse_listing(out: bytes) -> list:
    rows = []
    for line in out.decode().splitlines():
        key, size = line.rsplit("\t", 1)
        rows.append((key, int(size)))
    return rows


def test_list_prints_every_key_with_its_size(build_dir, server, config_path, env):
    want = expected_keys()
    normal = parse_listing(run([build_dir / "list", "-f", config_path, server.endpoint, BUCKET, KEYS_PREFIX], env).stdout)
    # Byte order of the UTF-8 keys, as OSS lists them.
    assert normal == sorted(want, key=lambda r: r[0].encode())
    fast = parse_listing(run([build_dir / "list", "-F", "-f", config_path, server.endpoint, BUCKET, KEYS_PREFIX], env).stdout)
    assert sorted(fast) == want
    empty = run([build_dir / "list", "-f", config_path, server.endpoint, BUCKET, "no-such-prefix/"], env).stdout
    assert empty == b""


def test_cat_streams_the_exact_bytes(build_dir, server, config_path, env):
    key = shard_keys(MODEL, MODEL_SHARDS)[1]
    out = run([build_dir / "cat", "-f", config_path, server.endpoint, f"oss://{BUCKET}/{key}"], env).stdout
    assert len(out) == 8 << 20
    assert synthetic.first_mismatch(synthetic.seed(key), 0, out) is None
    out = run([build_dir / "cat", "-o", "1000001", "-f", config_path, server.endpoint, f"oss://{BUCKET}/{key}"], env).stdout
    assert len(out) == (8 << 20) - 1000001
    assert synthetic.first_mismatch(synthetic.seed(key), 1000001, out) is None


def test_cat_reports_a_missing_key(build_dir, server, config_path, env):
    p = run([build_dir / "cat", "-f", config_path, server.endpoint, f"oss://{BUCKET}/nope"], env, check=False)
    assert p.returncode == 1 and p.stdout == b""
    assert "OSSMC_NO_SUCH_KEY (301)" in p.stderr.decode()
    assert "[NoSuchKey, HTTP 404, request id " in p.stderr.decode()


def test_cpp_raii_example_matches_the_synthetic_model(build_dir, server, config_path, env):
    out = run([build_dir / "load_prefix", server.endpoint, BUCKET, f"{MODEL}/", config_path], env).stdout.decode()
    size = 8 << 20
    want = [f"{k} {size} sum {synth_sum(build_dir, k, size)}" for k in shard_keys(MODEL, MODEL_SHARDS)]
    assert out.splitlines() == want
    p = run([build_dir / "load_prefix", server.endpoint, "no-such-bucket-x", "", config_path], env, check=False)
    assert p.returncode == 1 and "OSSMC_NO_SUCH_BUCKET" in p.stderr.decode()


# ---------------------------------------------------------------------------- C tests


def test_error_paths(build_dir, server, config_path, env):
    key = shard_keys(MODEL, MODEL_SHARDS)[0]
    out = run([build_dir / "errors", "-f", config_path, server.endpoint, BUCKET, key], env).stdout.decode()
    assert "all checks passed" in out


def test_eight_threads_share_one_connector(build_dir, server, config_path, env):
    keys = shard_keys(THREAD_MODEL, 8)
    out = run([build_dir / "threads", "-f", config_path, server.endpoint, BUCKET, *keys], env).stdout.decode()
    assert f"read {8 * (3 << 20)} bytes, all correct" in out


def test_interrupt_ends_blocked_list_and_open(build_dir, config_path, env):
    # Every request fails, so each call sits in its retry backoff until interrupted.
    with OssLocal(["--keys", f"{BUCKET}/{KEYS_PREFIX}:20", "--fail-rate", "1"]) as failing:
        key = synthetic.key_name(KEYS_PREFIX, 0)
        out = run([build_dir / "interrupt", "-f", config_path, failing.endpoint, BUCKET, key], env).stdout.decode()
    assert "all checks passed" in out


def test_error_paths_and_threads_under_address_sanitizer(tmp_path, server, config_path, env):
    # The C side instrumented with ASan, UBSan and LeakSanitizer (at exit); the library is not.
    build = tmp_path / "asan"
    run(["make", "-C", EXAMPLES, f"BUILD={build}", f"TARGET_DIR={TARGET_DIR}", f"PROFILE={PROFILE}", "SAN=address",
         build / "errors", build / "threads"], None)
    asan_env = dict(env, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="halt_on_error=1")
    run([build / "errors", "-f", config_path, server.endpoint, BUCKET, shard_keys(MODEL, MODEL_SHARDS)[0]], asan_env)
    run([build / "threads", "-f", config_path, server.endpoint, BUCKET, *shard_keys(THREAD_MODEL, 8)], asan_env)


def test_cat_from_the_whole_object_in_memory(build_dir, server, config_path, env):
    key = shard_keys(MODEL, MODEL_SHARDS)[3]
    out = run([build_dir / "cat", "-m", "-f", config_path, server.endpoint, f"oss://{BUCKET}/{key}"], env).stdout
    assert len(out) == 8 << 20
    assert synthetic.first_mismatch(synthetic.seed(key), 0, out) is None


def test_prepare_dir_makes_the_directory_and_then_keeps_it(tmp_path, build_dir, server, config_path, env):
    dst = tmp_path / "model"
    argv = [build_dir / "prepare_dir", "-q", "-f", config_path, server.endpoint, f"oss://{BUCKET}/{MODEL}/", dst]
    size = 8 << 20
    total = size * MODEL_SHARDS
    first = run(argv, env).stdout.decode().strip()
    assert first == f"files {MODEL_SHARDS} fetched {MODEL_SHARDS} kept 0 removed 0 bytes_fetched {total} bytes_total {total}"
    names = sorted(p.name for p in dst.iterdir())
    assert names == sorted([".ossmc-manifest.json"] + [k.split("/", 1)[1] for k in shard_keys(MODEL, MODEL_SHARDS)])
    for key in shard_keys(MODEL, MODEL_SHARDS):
        data = (dst / key.split("/", 1)[1]).read_bytes()
        assert len(data) == size and synthetic.first_mismatch(synthetic.seed(key), 0, data) is None, key
    gets = server.stats()["requests"]["GetObject"]
    again = run(argv, env).stdout.decode().strip()
    assert again == f"files {MODEL_SHARDS} fetched 0 kept {MODEL_SHARDS} removed 0 bytes_fetched 0 bytes_total {total}"
    assert server.stats()["requests"]["GetObject"] == gets
    bad = run([build_dir / "prepare_dir", "-q", "-f", config_path, server.endpoint, "oss://Bad/x", dst], env, check=False)
    assert bad.returncode == 1 and b"OSSMC_INVALID_ARGUMENT" in bad.stderr


@pytest.mark.parametrize("under", ["plain", "valgrind"])
def test_close_and_free_return_promptly_while_the_server_is_silent(under, tmp_path, build_dir, env):
    # Every GetObject is left unanswered: prefetching sits in requests until the read timeout.
    argv = [build_dir / "silent"]
    if under == "valgrind":
        if os.environ.get("OSSMC_VALGRIND") == "0":
            pytest.skip("OSSMC_VALGRIND=0")
        if shutil.which("valgrind") is None:
            pytest.fail("valgrind is missing: apt-get install valgrind")
        argv = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect", "--show-leak-kinds=definite,indirect",
                f"--suppressions={EXAMPLES / 'tests' / 'valgrind.supp'}", *argv]
    read_ms = 3000
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "logPath": str(tmp_path / "connector.log"),
        "auditPath": str(tmp_path / "audit.log"),
        "timeouts": {"readMs": read_ms},
    }))
    keys = shard_keys(MODEL, 2)
    with OssLocal(["--model", f"{BUCKET}/{MODEL}:2:8", "--stall-get-rate", "1"]) as silent:
        # The program waits past the read timeout after freeing, so the fetchers left behind
        # end their requests while it runs.
        p = subprocess.Popen(
            [str(a) for a in argv] + ["-f", str(config), silent.endpoint, BUCKET, *keys],
            env=dict(env, SILENT_WAIT_SECS=str(read_ms // 1000 + 2)),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            assert p.stdout.readline() == b"opened\n", p.stderr.read().decode(errors="replace")
            # Both objects' prefetching is in flight, unanswered.
            deadline = time.monotonic() + 60
            while silent.stats()["faults"]["stall"] < 2:
                assert time.monotonic() < deadline, "no GetObject reached the server"
                time.sleep(0.01)
            p.stdin.write(b"go\n")
            p.stdin.flush()
            out, err = p.communicate(timeout=300)
        finally:
            if p.poll() is None:
                p.kill()
    assert p.returncode == 0, (out + err).decode(errors="replace")[-6000:]
    assert b"silent: all checks passed" in out


# ---------------------------------------------------------------------------- valgrind

VALGRIND_RUNS = {
    "errors": lambda s, c: ["errors", "-f", c, s.endpoint, BUCKET, shard_keys(MODEL, MODEL_SHARDS)[0]],
    "threads": lambda s, c: ["threads", "-f", c, s.endpoint, BUCKET, *shard_keys(THREAD_MODEL, 8)],
    "load_model": lambda s, c: ["load_model", "-s", "-f", c, s.endpoint,
                                *[f"oss://{BUCKET}/{k}" for k in shard_keys(MODEL, MODEL_SHARDS)]],
    "list": lambda s, c: ["list", "-F", "-f", c, s.endpoint, BUCKET, KEYS_PREFIX],
    "cat": lambda s, c: ["cat", "-f", c, s.endpoint, f"oss://{BUCKET}/{synthetic.key_name(KEYS_PREFIX, 7)}"],
    "cat_mmap": lambda s, c: ["cat", "-m", "-f", c, s.endpoint, f"oss://{BUCKET}/{shard_keys(MODEL, MODEL_SHARDS)[2]}"],
    "prepare_dir": lambda s, c: ["prepare_dir", "-q", "-f", c, s.endpoint, f"oss://{BUCKET}/{MODEL}",
                                 str(Path(c).parent / "valgrind-prepared")],
}


@pytest.mark.parametrize("name", sorted(VALGRIND_RUNS))
def test_no_leak_or_invalid_access_under_valgrind(name, build_dir, server, config_path, env):
    if os.environ.get("OSSMC_VALGRIND") == "0":
        pytest.skip("OSSMC_VALGRIND=0")
    if shutil.which("valgrind") is None:
        pytest.fail("valgrind is missing: apt-get install valgrind")
    argv = VALGRIND_RUNS[name](server, config_path)
    argv[0] = build_dir / argv[0]
    p = run([
        "valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect", "--show-leak-kinds=definite,indirect",
        f"--suppressions={EXAMPLES / 'tests' / 'valgrind.supp'}", *argv,
    ], env, check=False, timeout=900)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-6000:]
