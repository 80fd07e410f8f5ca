"""Checks of the benchmark's own machinery (no server, no network): the C byte check agrees
with the test kit's synthetic content, the checksum twin of load_model is right, the random
plan is deterministic and in bounds, the RESULTS.md writer touches only its own block, and
(with an oss-local binary built) the drivers accept the server's bytes and reject corrupted ones.

Run: ``python3 -m pytest bench/harness``.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import driver  # noqa: E402
import report  # noqa: E402
import run as orchestrator  # noqa: E402
import servers  # noqa: E402
from ossmc_testkit import OssLocal, OssLocalError  # noqa: E402
from ossmc_testkit import binary as OssLocalBinary  # noqa: E402
from workload import MIB, Model, random_reads  # noqa: E402

syn = driver.syn


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return driver.Synth(driver.synthcheck_library(tmp_path_factory.mktemp("build")))


@pytest.mark.parametrize("offset", [0, 1, 7, 8, 4095, (1 << 33) + 3])
@pytest.mark.parametrize("length", [1, 9, 100_003])
def test_check_accepts_the_synthetic_bytes_and_finds_the_first_wrong_one(synth, offset, length):
    seed = syn.seed("model/model-00001-of-00004.safetensors")
    data = bytearray(syn.fill(seed, offset, length))
    assert synth.first_mismatch(seed, offset, data) == -1
    assert synth.first_mismatch(seed, offset, bytes(data)) == -1
    for bad in sorted({0, length // 2, length - 1}):
        data[bad] ^= 0x40
        assert synth.first_mismatch(seed, offset, data) == bad
        data[bad] ^= 0x40
    # Only the first n bytes count.
    data[-1] ^= 1
    assert synth.first_mismatch(seed, offset, data, length - 1) == -1


def test_check_rejects_the_right_bytes_at_the_wrong_offset(synth):
    seed = syn.seed("k")
    data = syn.fill(seed, 8 * MIB, MIB)
    assert synth.first_mismatch(seed, 8 * MIB, data) == -1
    assert synth.first_mismatch(seed, 4 * MIB, data) == 0
    assert synth.first_mismatch(syn.seed("other"), 8 * MIB, data) == 0


@pytest.mark.parametrize("size", [0, 5, 8, 1000, 1 << 16])
def test_load_model_checksum_twin(synth, size):
    seed = syn.seed("model/model-00002-of-00004.safetensors")
    data = syn.fill(seed, 0, size) + b"\0" * ((-size) % 8)
    words = np.frombuffer(data, dtype="<u8")
    with np.errstate(over="ignore"):
        weights = np.arange(len(words), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        expected = int(np.sum(words * weights, dtype=np.uint64)) if len(words) else 0
    assert synth.load_model_sum(seed, size) == expected


def test_random_plan_is_deterministic_and_in_bounds():
    model = Model(4, 64 * MIB)
    reads = random_reads(model, 256 * MIB)
    assert reads == random_reads(model, 256 * MIB)
    assert sum(r[2] for r in reads) >= 256 * MIB
    assert len({r[0] for r in reads}) > 1
    for shard, offset, length in reads:
        assert 0 <= shard < 4
        assert MIB <= length <= 16 * MIB
        assert 0 <= offset and offset + length <= 64 * MIB


def test_results_md_writer_keeps_other_sections(tmp_path, monkeypatch):
    path = tmp_path / "RESULTS.md"
    monkeypatch.setattr(report, "RESULTS_MD", path)
    path.write_text("# Benchmark results\n\n## Other\n\n<!-- other:begin -->\nkeep me\n<!-- other:end -->\n")
    report.update_results_md("first")
    report.update_results_md("second")
    text = path.read_text()
    assert "keep me" in text
    assert "second" in text and "first" not in text
    assert text.count(report.HEADING) == 1


def test_ratios_use_verified_runs_only():
    runs = [
        {"server": "s", "condition": "unthrottled", "pattern": "seq", "contender": "curl-n", "label": "curl",
         "kind": "limit", "bytes": 2e9, "seconds": 1.0, "verified": True},
        {"server": "s", "condition": "unthrottled", "pattern": "seq", "contender": "oss2", "label": "oss2",
         "kind": "peer", "bytes": 2e9, "seconds": 0.5, "verified": False, "problems": ["wrong byte"]},
        {"server": "s", "condition": "unthrottled", "pattern": "seq", "contender": "boto3", "label": "boto3",
         "kind": "peer", "bytes": 1e9, "seconds": 1.0, "verified": True},
    ]
    groups = report.scenarios({"runs": runs})
    limit, peer = report.reference(groups, ("s", "unthrottled", "seq"))
    assert limit["contender"] == "curl-n"
    assert peer["contender"] == "boto3"  # the faster oss2 run was not verified
    assert report.gbps(runs[1]) is None


# ---- end to end against oss-local (skipped when no oss-local binary is built) -------------


@pytest.fixture(scope="module")
def oss_local_bin():
    try:
        return servers.find_oss_local()
    except SystemExit:
        pass
    try:
        return OssLocalBinary()
    except OssLocalError:
        pytest.skip("no oss-local binary (cargo build -p oss-local)")


def run_one(tmp_path, endpoint, model, script, pattern, options=None):
    params = {
        "endpoint": endpoint, "vhost_endpoint": endpoint, "bucket": "bench", "region": "cn-hangzhou",
        "access_key_id": "id", "access_key_secret": "secret", "objects": model.objects(), "pattern": pattern,
        "reads": random_reads(model, 4 * MIB) if pattern == "random" else None,
        "buffer": MIB, "part": MIB, "streams": 4, "max_seconds": 60, "options": options or {},
        "workdir": str(tmp_path), "synthcheck": str(driver.synthcheck_library(tmp_path / "build")),
        "tmpfs": str(tmp_path), "curlload": str(driver.curlload_binary(tmp_path / "build") or "") or None,
    }
    contender = orchestrator.Contender(script, script, "peer", script)
    return orchestrator.run_driver(contender, params, tmp_path, timeout=120)


@pytest.mark.parametrize("script", ["curl.py", "oss2_pool.py", "boto3_pool.py"])
@pytest.mark.parametrize("pattern", ["seq", "random"])
def test_drivers_accept_good_bytes_and_reject_corrupted_ones(tmp_path, oss_local_bin, script, pattern):
    model = Model(2, 4 * MIB)
    with OssLocal(["--no-auth", "--model", model.oss_local_arg()], bin_path=oss_local_bin) as good:
        r = run_one(tmp_path, good.endpoint, model, script, pattern)
    assert "error" not in r, r
    assert r["verified"], r
    assert r["bytes"] == r["expected_bytes"]

    # Every GET gets one flipped byte: the run must report its bytes as wrong.
    corrupting = ["--no-auth", "--model", model.oss_local_arg(), "--corrupt-rate", "1"]
    with OssLocal(corrupting, bin_path=oss_local_bin) as bad:
        r = run_one(tmp_path, bad.endpoint, model, script, pattern)
    assert "error" in r or not r["verified"], r


def test_c_api_driver_checks_every_byte(tmp_path, oss_local_bin):
    lib = orchestrator.release_artifact("libossmc.so")
    if lib is None:
        pytest.skip("no release libossmc.so (cargo build --release -p ossmc)")
    exe = driver.ossmcload_binary(lib, tmp_path / "build")
    assert exe is not None
    model = Model(2, 4 * MIB)
    with OssLocal(["--no-auth", "--model", model.oss_local_arg()], bin_path=oss_local_bin) as good:
        r = run_one(tmp_path, good.endpoint, model, "ossmc_c.py", "seq", {"binary": str(exe)})
    assert "error" not in r, r
    assert r["verified"] and r["bytes"] == r["expected_bytes"], r
    # ossmc itself rejects what fails the object's CRC-64; either way no number may survive.
    with OssLocal(["--no-auth", "--model", model.oss_local_arg(), "--corrupt-rate", "1"], bin_path=oss_local_bin) as bad:
        r = run_one(tmp_path, bad.endpoint, model, "ossmc_c.py", "seq", {"binary": str(exe)})
    assert "error" in r or not r["verified"], r
