"""Checks of the benchmark's own machinery (no server, no network): the C byte check agrees
with the test kit's synthetic content, the checksum twin of load_model is right, the random
plan is deterministic and in bounds, the plan and pattern names, nginx's access-log counters,
the medians over reps, the report's targets, the stream readers' read and open patterns, the
RESULTS.md writer touches only its own block, the directory check of the ``dir`` pattern
(missing, short, corrupted, extra and temporary files), nginx's static listing, and (with an
oss-local binary built) the drivers accept the server's bytes and reject corrupted ones (Run:ai's
and osstorchconnector's when their packages are installed; ossmc's with a release libossmc.so),
directories included.

Run: ``python3 -m pytest bench/harness``.
"""

import importlib.util
import json
import shutil
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
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
from workload import MIB, PATTERNS, SEQ_PATTERNS, Model, expand_patterns, random_reads  # noqa: E402

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


# ---- patterns, plan, server counters --------------------------------------------------


def test_pattern_names_expand():
    assert expand_patterns("seq") == SEQ_PATTERNS
    assert expand_patterns("shard,random") == ["shard-all", "shard-one", "random"]
    assert expand_patterns("one,chunk-one") == ["chunk-one", "shard-one"]
    assert set(PATTERNS) == {*SEQ_PATTERNS, "random", "dir"}
    assert expand_patterns("dir") == ["dir"]
    with pytest.raises(ValueError):
        expand_patterns("sequential")


def plan(*argv):
    args = orchestrator.parse_args(list(argv))
    return [s.id for s in orchestrator.scenarios(args)]


@pytest.fixture
def with_nginx(monkeypatch):
    real = orchestrator.shutil.which
    monkeypatch.setattr(orchestrator.shutil, "which", lambda name: "/usr/sbin/nginx" if name == "nginx" else real(name))


def test_default_plan_leads_with_nginx_and_filters_narrow_it(with_nginx):
    ids = plan()
    assert ids[0] == "nginx/unthrottled/chunk-all"
    assert {f"nginx/unthrottled/{p}" for p in SEQ_PATTERNS} <= set(ids)
    assert {"nginx/throttled/chunk-all", "nginx/throttled/shard-all"} <= set(ids)
    assert "nginx/unthrottled/random" in ids
    assert "nginx/unthrottled/dir" in ids and not any(i.endswith("/dir") for i in ids if "/unthrottled/" not in i)
    assert all(i.split("/")[2] != "random" for i in ids if "/memlimit/" in i)
    # --patterns replaces the plan's patterns: every sequential one, throttled too.
    assert plan("--servers", "nginx", "--patterns", "seq") == [
        f"nginx/{c}/{p}" for c in ("unthrottled", "throttled") for p in SEQ_PATTERNS]
    # A server and condition outside the default plan, named: every pattern.
    assert plan("--servers", "oss-local", "--conditions", "unthrottled") == [
        f"oss-local/unthrottled/{p}" for p in PATTERNS]
    assert plan("--conditions", "memlimit", "--patterns", "chunk-all,random") == [
        "oss-local/memlimit/chunk-all", "nginx/memlimit/chunk-all"]
    assert len(plan("--full")) == len(set(plan("--full"))) == 2 * (2 * 6 + 4)
    assert plan("--servers", "nginx", "--conditions", "unthrottled", "--patterns", "dir") == ["nginx/unthrottled/dir"]


def test_contenders_run_only_their_patterns():
    args = orchestrator.parse_args([])
    roster = {c.name: c for c in orchestrator.contenders(args, None, None)}
    S = orchestrator.Scenario
    assert not orchestrator.runs_in(roster["runai"], S("nginx", "unthrottled", "chunk-all"))
    assert orchestrator.runs_in(roster["runai"], S("nginx", "throttled", "shard-all"))
    assert not orchestrator.runs_in(roster["boto3"], S("nginx", "unthrottled", "shard-all"))
    assert orchestrator.runs_in(roster["ossmc-python"], S("nginx", "unthrottled", "shard-one"))
    assert orchestrator.runs_in(roster["ossmc-c"], S("oss-local", "memlimit", "shard-all"))
    assert not orchestrator.runs_in(roster["osstorch-dataset"], S("oss-local", "memlimit", "chunk-all"))
    assert orchestrator.runs_in(roster["osstorch-dataset"], S("nginx", "unthrottled", "shard-all"))
    assert not orchestrator.runs_in(roster["osstorch-dataset"], S("nginx", "throttled", "shard-all"))
    assert orchestrator.runs_in(roster["osstorch-dataset"], S("nginx", "throttled", "chunk-all"))
    assert not orchestrator.runs_in(roster["ossmc-python-small"], S("oss-local", "memlimit", "chunk-all"))
    assert not roster["ossmc-python-small"].target
    # The S3 row: ossmc over the S3 API where boto3 and Run:ai run, on the same servers.
    assert roster["ossmc-s3"].options["config"] == {"protocol": "s3"}
    assert orchestrator.runs_in(roster["ossmc-s3"], S("nginx", "unthrottled", "shard-all"))
    assert orchestrator.runs_in(roster["ossmc-s3"], S("nginx", "throttled", "shard-one"))
    # To a directory: prepare_directory, the in-memory reference beside it, and the peers that apply.
    in_dir = {name for name, c in roster.items() if orchestrator.runs_in(c, S("nginx", "unthrottled", "dir"))}
    assert in_dir == {"ossmc-prepare", "ossmc-in-memory", "oss2-sequential", "runai", "runai-matched",
                      "osstorch-dataset"}
    assert roster["ossmc-in-memory"].as_pattern == "shard-all" and not roster["ossmc-in-memory"].target
    assert roster["ossmc-prepare"].target
    assert not any(orchestrator.runs_in(c, S("nginx", "unthrottled", "chunk-all"))
                   for name, c in roster.items() if name in ("ossmc-prepare", "ossmc-in-memory", "oss2-sequential"))


def test_nginx_access_log_counters():
    lines = [
        b"206 100 10.000 0.000 1",  # under a millisecond
        b"206 200 10.100 0.100 2",  # 10.000-10.100
        b"206 300 10.150 0.100 3",  # 10.050-10.150: overlaps the previous one
        b"206 400 10.200 0.050 2",  # 10.150-10.200 on connection 2: starts as the previous ends
        b"garbage",
    ]
    c = servers.access_log_counters(lines)
    assert c["requests"] == 4 and c["server_bytes"] == 1000 and c["connections"] == 3
    assert c["peak_in_flight"] == 2 and c["peak_connections"] == 2
    assert servers.access_log_counters([b"206 5 1.000 0.000 1"])["peak_in_flight"] == 1
    assert servers.access_log_counters([])["peak_in_flight"] == 0


def test_aggregate_takes_medians_and_refuses_a_bad_rep():
    def rep(seconds, verified=True, cpu=1.0, lib=100 * MIB, served=None):
        return {"bytes": 2e9, "expected_bytes": 2e9, "seconds": seconds, "verified": verified, "cpu_s": cpu,
                "peak_rss": 300 * MIB, "lib_bytes": lib, "server_bytes": served, "problems": []}

    r = orchestrator.aggregate([rep(1.0, cpu=2.0), rep(4.0, cpu=4.0, lib=200 * MIB), rep(2.0, cpu=3.0),
                                {"error": "did not finish"}])
    assert r["verified"] and r["seconds"] == 2.0
    assert r["gbps_median"] == pytest.approx(1.0) and r["gbps_min"] == pytest.approx(0.5)
    assert r["gbps_max"] == pytest.approx(2.0)
    assert r["cpu_per_gb"] == pytest.approx(1.5)  # median of 1.0, 2.0, 1.5 s/GB
    assert r["lib_bytes_max"] == 200 * MIB and r["n_reps"] == 3 and r["failed_reps"] == 1
    assert r["served_ratio"] is None
    assert orchestrator.aggregate([rep(1.0, served=2.02e9)])["served_ratio"] == pytest.approx(1.01)
    # One rep with wrong bytes: no numbers for the contender at all.
    bad = orchestrator.aggregate([rep(1.0), rep(0.5, verified=False), rep(1.0)])
    assert not bad["verified"] and report.gbps(bad) is None
    assert "error" in orchestrator.aggregate([{"error": "x"}])


def test_results_record_paths_without_the_machines_layout(monkeypatch, tmp_path):
    assert orchestrator.shown_path(orchestrator.REPO / "target" / "release" / "oss-local") == "target/release/oss-local"
    monkeypatch.setenv("CARGO_TARGET_DIR", str(tmp_path))
    assert orchestrator.shown_path(tmp_path / "release" / "libossmc.so") == "$CARGO_TARGET_DIR/release/libossmc.so"
    assert orchestrator.shown_path(None) is None


def test_matched_concurrency_follows_ossmc_in_the_same_scenario():
    s = orchestrator.Scenario("nginx", "unthrottled", "shard-all")
    ok_run = {"bytes": 1, "seconds": 1, "verified": True}
    attempts = {(s.id, "ossmc-python"): [{**ok_run, "peak_in_flight": 40}, {**ok_run, "peak_in_flight": 64},
                                         {"error": "x"}]}
    assert orchestrator.matched_concurrency(attempts, s, 16)[0] == 52
    other = orchestrator.Scenario("nginx", "throttled", "shard-all")
    assert orchestrator.matched_concurrency(attempts, other, 16)[0] == 16


# ---- the report's targets -----------------------------------------------------------------


def result(contender, kind, pattern, gbps, cpu=1.0, condition="unthrottled", server="nginx", lib=100, served=None,
           target=True):
    return {"server": server, "condition": condition, "pattern": pattern, "contender": contender,
            "label": contender, "kind": kind, "target": target, "bytes": 2e9, "expected_bytes": 2e9,
            "seconds": 2 / gbps, "verified": True, "gbps_median": gbps, "cpu_per_gb": cpu, "peak_rss": 0,
            "lib_bytes_max": lib * MIB, "served_ratio": served}


def target_rows(runs, memory_limit_mib=256):
    results = {"params": {"memory_limit_mib": memory_limit_mib, "default_memory_limit_mib": 2048}, "runs": runs}
    rows = report.targets(results, report.scenarios(results))
    return {(r.split(" | ")[0].lstrip("| "), r.split(" | ")[1]): r.rsplit(" | ", 1)[1].rstrip(" |")
            for r in rows[2:]}


def find(rows, contender, *words):
    hits = [v for (what, who), v in rows.items() if who.startswith(contender) and all(w in what for w in words)]
    assert len(hits) == 1, (contender, words, rows)
    return hits[0]


def test_targets_unthrottled_speed_cpu_and_open_patterns():
    rows = target_rows([
        result("curl-n", "limit", "chunk-all", 9.0),
        result("peer", "peer", "chunk-all", 1.0, cpu=1.0),
        result("ossmc", "ossmc", "chunk-all", 1.2, cpu=0.7),  # 1.2x, 0.7x the CPU
        result("ref", "ossmc", "chunk-all", 0.1, target=False),
        result("peer", "peer", "chunk-one", 1.0, cpu=1.0),
        result("ossmc", "ossmc", "chunk-one", 1.1, cpu=0.9),  # 1.1x < 1.15x; 0.9x > 0.8x
        result("peer", "peer", "shard-all", 1.0),
        result("ossmc", "ossmc", "shard-all", 1.0),  # slower than its shard-one
        result("peer", "peer", "shard-one", 0.5),
        result("ossmc", "ossmc", "shard-one", 1.5),
    ])
    assert find(rows, "ossmc", "chunk-all", "1.15x the best peer") == "yes"
    assert find(rows, "ossmc", "chunk-all", "CPU per GB") == "yes"
    assert find(rows, "ossmc", "chunk-all", "open-all >= one-by-one") == "yes"
    assert find(rows, "ossmc", "chunk-one", "1.15x the best peer") == "**no**"
    assert find(rows, "ossmc", "chunk-one", "CPU per GB") == "**no**"
    assert find(rows, "ossmc", "shard-all", "open-all >= one-by-one") == "**no**"
    assert find(rows, "ossmc", "shard-one", "1.15x the best peer") == "yes"
    assert not any(who == "ref" or who.startswith("curl") for _, who in rows)  # references are not held to targets
    # The unthrottled speed targets are nginx's only.
    local = target_rows([result("peer", "peer", "chunk-all", 1.0, server="oss-local"),
                         result("ossmc", "ossmc", "chunk-all", 0.5, server="oss-local")])
    assert not any("best peer" in what for what, _ in local)


def test_targets_throttled_random_and_memory():
    rows = target_rows([
        result("peer", "peer", "shard-all", 0.4, condition="throttled"),
        result("ossmc", "ossmc", "shard-all", 0.9, condition="throttled", served=1.005, lib=250),
        result("peer", "peer", "chunk-all", 0.5, condition="throttled", server="oss-local"),
        result("ossmc", "ossmc", "chunk-all", 0.9, condition="throttled", server="oss-local", served=1.2),
        result("peer", "peer", "random", 0.8),
        result("ossmc", "ossmc", "random", 0.7, lib=400),
        result("ossmc", "ossmc", "chunk-all", 0.7, condition="memlimit", server="oss-local", lib=380),
    ])
    assert find(rows, "ossmc", "nginx throttled shard-all", "2x the best peer") == "yes"
    assert find(rows, "ossmc", "nginx throttled shard-all", "served") == "yes"
    assert find(rows, "ossmc", "oss-local throttled chunk-all", "2x the best peer") == "**no**"
    assert find(rows, "ossmc", "oss-local throttled chunk-all", "served") == "**no**"
    assert find(rows, "ossmc", "random", ">= the best peer") == "**no**"
    assert find(rows, "ossmc", "nginx unthrottled: library memory <= 300") == "**no**"  # 400 MiB
    assert find(rows, "ossmc", "nginx unthrottled: library memory <= memoryLimit (2048") == "yes"
    assert find(rows, "ossmc", "nginx throttled: library memory <= 300") == "yes"
    assert find(rows, "ossmc", "oss-local memory-limited: library memory <= memoryLimit (256") == "**no**"  # 380
    assert not any("memory-limited: library memory <= 300" in what for what, _ in rows)


def test_dir_target_is_against_ossmcs_in_memory_load_in_the_same_scenario():
    def dir_run(contender, kind, gbps, **kw):
        r = result(contender, kind, "dir", gbps, **kw)
        r.update(peak_rss_max=0, peak_shmem=512 * MIB, verify_after_s=0.2)
        return r

    ref = dir_run("ossmc-in-memory", "ossmc", 2.0, target=False)
    ref["as_pattern"] = "shard-all"
    runs = [dir_run("ossmc-prepare", "ossmc", 1.9), ref, dir_run("oss2-sequential", "peer", 0.5)]
    rows = target_rows(runs)
    assert find(rows, "ossmc-prepare", ">= 90% of ossmc's in-memory load") == "yes"  # 0.95x
    assert not any("best peer" in what for what, _ in rows)  # no peer targets for a directory
    assert not any(who.startswith("ossmc-in-memory") for _, who in rows)  # the reference is not a target
    runs[0] = dir_run("ossmc-prepare", "ossmc", 1.7)  # 0.85x
    assert find(target_rows(runs), "ossmc-prepare", ">= 90%") == "**no**"
    table = report.table({}, report.scenarios({"runs": runs}), ("nginx", "unthrottled", "dir"))
    assert table[0].startswith("| contender | s to a loadable directory |")
    prep = next(line for line in table if line.startswith("| ossmc-prepare |"))
    # 2 GB at 1.7 GB/s; 0.85x the in-memory load; 3.4x the best peer; 512 MiB mapped.
    assert "| 1.18 | 1.70 |" in prep and "| 0.85 | 3.40 |" in prep and "| 512 |" in prep
    assert "files checked after its time" in prep


def test_a_directory_run_writes_its_own_section_and_leaves_the_loaders_tables(tmp_path, monkeypatch):
    path = tmp_path / "RESULTS.md"
    monkeypatch.setattr(report, "RESULTS_MD", path)
    path.write_text(f"# Benchmark results\n\n{report.HEADING}\n\n{report.BEGIN}\nold peers\n{report.END}\n\n"
                    "## Other\n\nkeep me\n")
    ref = result("ossmc-in-memory", "ossmc", "dir", 2.0, target=False)
    ref["as_pattern"] = "shard-all"
    runs = [result("ossmc-prepare", "ossmc", "dir", 1.0), ref]
    results = {
        "date": "d", "command": "bench/run --patterns dir", "elapsed_s": 1.0, "load_average_start": [0.1],
        "load_average_end": [0.2],
        "machine": {k: "x" for k in ("cpus", "cpu_model", "memory_gib", "kernel", "python", "curl", "nginx", "oss2",
                                     "boto3", "osstorchconnector", "runai_model_streamer")},
        "params": {"shards": 4, "shard_mib": 512, "reps": 3, "memory_limit_mib": 256}, "runs": runs,
    }
    report.write(results, tmp_path / "r.json")
    report.write(results, tmp_path / "r.json")
    text = path.read_text()
    assert "old peers" in text and "keep me" in text
    assert text.count(report.DIR_HEADING) == 1 and text.index(report.END) < text.index(report.DIR_BEGIN)
    assert text.index(report.DIR_END) < text.index("## Other")
    assert "| ossmc-prepare | 2.00 | 1.00 |" in text and ">= 90% of ossmc's in-memory load" in text
    assert not (tmp_path / "r-throughput.png").exists()


def test_report_section_renders(tmp_path):
    runs = [result("peer", "peer", p, 1.0) for p in SEQ_PATTERNS] + [
        result("ossmc", "ossmc", p, 1.2) for p in SEQ_PATTERNS]
    runs.append({"server": "nginx", "condition": "unthrottled", "pattern": "shard-all", "contender": "runai",
                 "label": "Run:ai", "kind": "peer", "skipped": "not installed"})
    results = {
        "date": "d", "command": "bench/run", "elapsed_s": 1.0, "load_average_start": [0.1], "load_average_end": [0.2],
        "machine": {k: "x" for k in ("cpus", "cpu_model", "memory_gib", "kernel", "python", "curl", "nginx", "oss2",
                                     "boto3", "osstorchconnector", "runai_model_streamer")},
        "params": {"shards": 4, "shard_mib": 512, "buffer_mib": 4, "part_mib": 8, "streams": 16,
                   "throttled_streams": 64, "random_reads": 1, "random_mib": 512, "rate_mbps": 50, "latency_ms": 10,
                   "memory_limit_mib": 256, "max_seconds": 30.0, "throttled_max_seconds": 10.0, "reps": 3,
                   "curl_tool": "libcurl (curlload)"},
        "runs": runs,
    }
    text = report.section(results, tmp_path / "r.json", [])
    assert "sequential patterns at a glance" in text
    assert "| ossmc | 1.20 (1.00) | 1.20 (1.00) | 1.20 (1.00) | 1.20 (1.00) |" in text
    assert "not available: not installed" in text
    assert "Targets for ossmc" in text


# ---- the stream readers' loop (no server) -------------------------------------------------


FAKE_DRIVER = """
import json, sys
sys.path.insert(0, {harness!r})
import driver

class Obj:
    def __init__(self, run, i, log):
        self.run, self.i, self.pos, self.log = run, i, 0, log
        log.append(("open", i))
    def readinto(self, view):
        # A stream reader that hands out at most 3 MiB at a time and never more than asked.
        n = min(len(view), 3 << 20, self.run.sizes[self.i] - self.pos)
        view[:n] = driver.syn.fill(self.run.seeds[self.i], self.pos, n)
        self.pos += n
        return n

def body(run):
    log = []
    buf = run.read_buffer()
    run.start()
    run.load_sequential(buf, lambda i: Obj(run, i, log), lambda o, v: o.readinto(v),
                        lambda o: log.append(("close", o.i)))
    run.finish(log=log)

driver.main(body)
"""


@pytest.mark.parametrize("pattern", SEQ_PATTERNS)
def test_sequential_patterns_read_and_open_as_named(tmp_path, pattern):
    _, read, open_ = PATTERNS[pattern]
    script = tmp_path / "fake.py"
    script.write_text(FAKE_DRIVER.format(harness=str(Path(__file__).resolve().parent)))
    model = Model(2, 5 * MIB)
    params = {"objects": model.objects(), "pattern": "seq", "read": read, "open": open_, "buffer": 2 * MIB,
              "max_seconds": 60, "options": {}, "synthcheck": str(driver.synthcheck_library(tmp_path / "build"))}
    (tmp_path / "p.json").write_text(json.dumps(params))
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "p.json")], capture_output=True, text=True,
                         timeout=60)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["verified"] and r["bytes"] == 10 * MIB, r
    opens = [tuple(e) for e in r["log"]]
    if open_ == "all":
        assert opens == [("open", 0), ("open", 1), ("close", 0), ("close", 1)]
    else:
        assert opens == [("open", 0), ("close", 0), ("open", 1), ("close", 1)]
    assert r["caller_buffer_bytes"] == (2 * MIB if read == "chunk" else 5 * MIB)
    assert r["lib_bytes"] == r["peak_rss"] - r["rss_base"] - r["caller_buffer_bytes"]


# ---- the directory check (no server) -------------------------------------------------------


FAKE_DIR_DRIVER = """
import sys, time
sys.path.insert(0, {harness!r})
import driver

def body(run):
    damage = run.p["options"].get("damage")
    target = run.target_dir()
    run.start()
    for i in range(len(run.keys)):
        data = bytearray(driver.syn.fill(run.seeds[i], 0, run.sizes[i]))
        if damage == "flip" and i == 1:
            data[12345] ^= 0x01
        if damage == "short" and i == 1:
            data = data[:-1]
        if damage == "missing" and i == 1:
            continue
        run.file_path(target, i).write_bytes(data)
    if damage == "extra":
        (target / "stray.bin").write_bytes(b"x")
    if damage == "part":
        (target / "sub" / ".model-00002-of-00002.safetensors.ossmc-part").write_bytes(b"x")
    (target / ".loader-manifest.json").write_text("{{}}")
    time.sleep(0.2)
    run.finish_directory(target, allowed=(".loader-manifest.json",), target=str(target))

driver.main(body)
"""


@pytest.mark.parametrize("damage", [None, "flip", "short", "missing", "extra", "part"])
def test_directory_check_accepts_exact_files_and_rejects_the_rest(tmp_path, damage):
    script = tmp_path / "fake_dir.py"
    script.write_text(FAKE_DIR_DRIVER.format(harness=str(Path(__file__).resolve().parent)))
    objects = [{"key": f"model/sub/model-0000{i}-of-00002.safetensors", "size": 3 * MIB + i} for i in (1, 2)]
    params = {"objects": objects, "pattern": "dir", "prefix": "model/", "dir_root": str(tmp_path / "dirs"),
              "max_seconds": 60, "options": {"damage": damage},
              "synthcheck": str(driver.synthcheck_library(tmp_path / "build"))}
    (tmp_path / "p.json").write_text(json.dumps(params))
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "p.json")], capture_output=True, text=True,
                         timeout=60)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert not Path(r["target"]).exists(), "the directory is removed once checked"
    assert r["seconds"] >= 0.2 and r["verify_after_s"] is not None and r["ttfb"] is None
    if damage is None:
        assert r["verified"] and r["bytes"] == r["expected_bytes"] == 6 * MIB + 3, r
        return
    assert not r["verified"], r
    want = {"flip": "wrong byte at offset 12345", "short": "bytes, the object has", "missing": "missing",
            "extra": "stray.bin: a file that is not the model's", "part": "ossmc-part: a file that is not the model's"}
    assert any(want[damage] in problem for problem in r["problems"]), r["problems"]


def test_nginx_static_listing_is_what_oss_would_send(tmp_path):
    model = Model(2, MIB)
    servers.write_model(tmp_path, model)
    (tmp_path / "bench" / "other").mkdir(parents=True)
    (tmp_path / "bench" / "other" / "x").write_bytes(b"x")
    xml = servers.listing_xml(tmp_path, model.keys + ["other/x"], model.prefix)
    root = ET.fromstring(xml)
    assert root.tag == "ListBucketResult" and root.findtext("IsTruncated") == "false"
    contents = root.findall("Contents")
    assert [c.findtext("Key") for c in contents] == sorted(model.keys)  # only the prefix's keys
    assert all(c.findtext("Size") == str(MIB) for c in contents)
    assert contents[0].findtext("ETag") == servers.nginx_etag(tmp_path / "bench" / model.keys[0])
    if importlib.util.find_spec("oss2") is not None:
        from types import SimpleNamespace

        from oss2 import xml_utils

        parsed = xml_utils.parse_list_objects_v2(SimpleNamespace(object_list=[], prefix_list=[]), xml.encode())
        assert [o.key for o in parsed.object_list] == sorted(model.keys) and not parsed.is_truncated
    if shutil.which("nginx") is None:
        return
    srv = servers.NginxServer(tmp_path, tmp_path / "work", listing=xml)
    try:
        got = urllib.request.urlopen(f"{srv.endpoint}/bench/?list-type=2&prefix=model%2F&max-keys=1000").read()
        assert got.decode() == xml
        head = urllib.request.urlopen(urllib.request.Request(f"{srv.endpoint}/bench/{model.keys[0]}", method="HEAD"))
        assert head.headers["ETag"] == servers.nginx_etag(tmp_path / "bench" / model.keys[0])
        vhost = urllib.request.Request(f"{srv.endpoint}/?list-type=2", headers={"Host": "bench.localhost"})
        assert urllib.request.urlopen(vhost).read().decode() == xml
    finally:
        srv.close()


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


def run_one(tmp_path, endpoint, model, script, pattern, options=None, env=None):
    kind, read, open_ = PATTERNS.get(pattern, (pattern, "chunk", "all"))
    params = {
        # osstorchconnector addresses BUCKET.<host>: bench.localhost (bench/run maps it in /etc/hosts).
        "endpoint": endpoint, "vhost_endpoint": endpoint.replace("127.0.0.1", "localhost"), "bucket": "bench",
        "region": "cn-hangzhou",
        "access_key_id": "id", "access_key_secret": "secret", "objects": model.objects(), "pattern": kind,
        "read": read, "open": open_,
        "reads": random_reads(model, 4 * MIB) if kind == "random" else None,
        "buffer": MIB, "part": MIB, "streams": 4, "max_seconds": 60, "options": options or {},
        "workdir": str(tmp_path), "synthcheck": str(driver.synthcheck_library(tmp_path / "build")),
        "tmpfs": str(tmp_path), "curlload": str(driver.curlload_binary(tmp_path / "build") or "") or None,
        "prefix": model.prefix, "dir_root": str(tmp_path / "dirs"),
    }
    contender = orchestrator.Contender(script, script, "peer", script, env=env or {})
    return orchestrator.run_driver(contender, params, tmp_path, timeout=120)


def good_then_corrupted(tmp_path, oss_local_bin, script, pattern, options=None, env=None):
    """The driver accepts oss-local's bytes, then reports them as wrong when every GET has a
    flipped byte. A ``dir`` run that finished leaves no directory behind."""
    model = Model(2, 4 * MIB)
    with OssLocal(["--no-auth", "--model", model.oss_local_arg()], bin_path=oss_local_bin) as good:
        r = run_one(tmp_path, good.endpoint, model, script, pattern, options, env)
    assert "error" not in r, r
    assert r["verified"], r
    assert r["bytes"] == r["expected_bytes"]
    if pattern == "dir":
        assert not list((tmp_path / "dirs").iterdir())
    corrupting = ["--no-auth", "--model", model.oss_local_arg(), "--corrupt-rate", "1"]
    with OssLocal(corrupting, bin_path=oss_local_bin) as bad:
        r = run_one(tmp_path, bad.endpoint, model, script, pattern, options, env)
    assert "error" in r or not r["verified"], r
    if pattern == "dir":
        assert not list((tmp_path / "dirs").iterdir()), "a failed run removes its directory too"
    return r


@pytest.mark.parametrize("script", ["curl.py", "oss2_pool.py", "boto3_pool.py"])
@pytest.mark.parametrize("pattern", ["seq", "random"])
def test_drivers_accept_good_bytes_and_reject_corrupted_ones(tmp_path, oss_local_bin, script, pattern):
    good_then_corrupted(tmp_path, oss_local_bin, script, pattern)


def test_oss2_sequential_download_to_a_directory(tmp_path, oss_local_bin):
    r = good_then_corrupted(tmp_path, oss_local_bin, "oss2_pool.py", "dir", {"crc": False})
    # crc off: oss2 writes the flipped bytes, and the check of the files finds them.
    assert "error" not in r and any("wrong byte" in x for x in r["problems"]), r


@pytest.fixture(scope="module")
def ossmc_env():
    lib = orchestrator.release_artifact("libossmc.so")
    if lib is None:
        pytest.skip("no release libossmc.so (cargo build --release -p ossmc)")
    env, problem = orchestrator.ossmc_python_env(lib)
    if problem:
        pytest.skip(problem)
    return env


def test_ossmc_prepare_directory_driver(tmp_path, oss_local_bin, ossmc_env):
    r = good_then_corrupted(tmp_path, oss_local_bin, "ossmc_python.py", "dir", env=ossmc_env)
    # ossmc checks each object's CRC-64 before renaming its file into place: it fails.
    assert "error" in r, r
    model = Model(2, 4 * MIB)
    with OssLocal(["--no-auth", "--model", model.oss_local_arg()], bin_path=oss_local_bin) as good:
        ok_run = run_one(tmp_path, good.endpoint, model, "ossmc_python.py", "dir", env=ossmc_env)
    assert ok_run["verified"] and ok_run["prepare"]["fetched"] == 2, ok_run
    assert ok_run["prepare"]["bytes_fetched"] == 8 * MIB
    # Memory less the tmpfs pages it maps (the files; sampled, so tiny files may be missed).
    assert ok_run["peak_shmem"] is not None
    assert ok_run["lib_bytes"] == ok_run["peak_rss_unshared"] - ok_run["rss_base"]


@pytest.fixture(scope="module")
def osstorch_installed():
    if importlib.util.find_spec("osstorchconnector") is None:
        pytest.skip("osstorchconnector is not installed")
    if "bench.localhost" not in Path("/etc/hosts").read_text():
        pytest.skip("bench.localhost is not in /etc/hosts (bench/run adds it)")


def test_osstorch_driver_writes_a_directory(tmp_path, oss_local_bin, osstorch_installed):
    good_then_corrupted(tmp_path, oss_local_bin, "osstorch.py", "dir", {"reader_type": 0})


def test_boto3_whole_shard_reads_one_at_a_time(tmp_path, oss_local_bin):
    good_then_corrupted(tmp_path, oss_local_bin, "boto3_pool.py", "shard-one")


@pytest.fixture(scope="module")
def runai_installed():
    problem = orchestrator.runai_problem()
    if problem:
        pytest.skip(problem)


@pytest.mark.parametrize("pattern", ["shard-one", "shard-all", "random", "dir"])
def test_runai_driver_checks_every_byte(tmp_path, oss_local_bin, runai_installed, pattern):
    r = good_then_corrupted(tmp_path, oss_local_bin, "runai.py", pattern, {"concurrency": 2})
    if "error" not in r:
        assert r["concurrency"] == 2


def test_runai_driver_has_no_chunk_pattern(tmp_path, runai_installed):
    model = Model(1, MIB)
    r = run_one(tmp_path, "http://127.0.0.1:9", model, "runai.py", "chunk-all")
    assert "chunk patterns are not run" in r.get("error", ""), r


@pytest.mark.parametrize("pattern", ["chunk-all", "shard-one"])
def test_c_api_driver_checks_every_byte(tmp_path, oss_local_bin, pattern):
    lib = orchestrator.release_artifact("libossmc.so")
    if lib is None:
        pytest.skip("no release libossmc.so (cargo build --release -p ossmc)")
    exe = driver.ossmcload_binary(lib, tmp_path / "build")
    assert exe is not None
    # ossmc itself rejects what fails the object's CRC-64; either way no number may survive.
    good_then_corrupted(tmp_path, oss_local_bin, "ossmc_c.py", pattern, {"binary": str(exe)})
