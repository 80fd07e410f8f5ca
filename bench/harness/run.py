"""The loader benchmark: ossmc against the tools users would otherwise pick, on the same server
and the same bytes, with curl as a reference. Entry point: ``bench/run``.

For every scenario (server x condition x access pattern) each contender runs in a process of
its own (``drivers/*.py``, see ``driver.py`` for what is measured and how the bytes are
verified), with the server's counters reset before each run. ``--reps`` runs (default 3) are
interleaved: the whole plan once, then again, so a slow minute of a shared machine hurts every
contender alike; the report gives the median (and min-max) of each. A progress line is printed
per run. Results go to ``bench/results/<date>.json`` (with the machine and its load), the tables
in ``bench/RESULTS.md`` and two PNG plots (``report.py``).

Scenarios:

* servers: nginx (the primary one: a server no contender wrote, sending the shards from tmpfs)
  and oss-local (generates the same bytes; shaping with latency, memory limits);
* conditions: ``unthrottled``; ``throttled`` (every connection capped at ``--rate-mbps``
  MB/s, 50 by default, like a real OSS connection, so speed comes from many connections: nginx
  ``limit_rate`` with ``sendfile_max_chunk 256k``; oss-local ``--rate-mbps`` plus
  ``--latency-ms`` before each response); ``memlimit`` (ossmc only, ``prefetch.memoryLimit``
  well below the model size);
* patterns (``workload.PATTERNS``): ``chunk-all``, ``chunk-one``, ``shard-all``, ``shard-one``
  (read into a reused 4 MiB buffer or a shard-sized one; every shard opened first or one at a
  time) and ``random`` (1-16 MiB reads at scattered offsets, like lazily fetched tensors).
  Each contender runs the patterns its API has (``Contender.patterns``).
* ``dir``, a destination rather than a read pattern: the model made into a directory on tmpfs
  (``/dev/shm``) that a framework can load, timed to the last file in place, every file checked
  byte for byte afterwards. ossmc's ``prepare_directory`` lists the prefix and writes each object
  straight into its file; oss2 lists and then calls ``get_object_to_file`` one object
  after another (what ``ossutil cp -r`` does, sequentially); the loaders that load into memory
  (Run:ai, osstorchconnector's dataset reader) load whole shards and write each to its file. In
  the same scenario ossmc's own in-memory load of the same shards (``readinto`` whole shards,
  every shard opened first: ``Contender.as_pattern``) runs as the reference for the target
  ``prepare_directory`` >= 90% of it. nginx has no ListObjectsV2, so the harness's nginx
  answers listings of the bucket with a static page (``servers.listing_xml``).

The default plan (``DEFAULT_PLAN``) leads with nginx and keeps a few oss-local scenarios;
``--full`` runs every server x condition x pattern; ``--servers``, ``--conditions``,
``--patterns`` and ``--only`` narrow either (``--list`` prints the plan). Every run is bounded:
a driver stops at ``--max-seconds`` (throttled: ``--throttled-max-seconds``; a few peers whose
rate is flat and low there have a shorter bound, ``Contender.cap_s``) and is then marked
partial, its rate being bytes received / seconds.

Run:ai's model streamer runs twice: with its default concurrency, and with
``RUNAI_STREAMER_CONCURRENCY`` set to the requests ossmc had in flight at its peak in the same
scenario, as the server counted them (:func:`matched_concurrency`; ``--runai-concurrency``,
default 16, when no ossmc run of the scenario measured it). ossmc's ceiling is 256 (16 vcpus x
16 workers) but it starts at 16 and doubles only while that pays, so its peak, not its ceiling,
is what it actually used.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import driver  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402
from workload import (  # noqa: E402
    BUCKET, LOAD_PATTERNS, MIB, PATTERNS, SEQ_PATTERNS, Model, expand_patterns, random_reads)

REPO = driver.REPO


# ---- contenders ---------------------------------------------------------------------------


ALL = tuple(PATTERNS)
SEQ = tuple(SEQ_PATTERNS)
LOADS = tuple(LOAD_PATTERNS)  # every pattern but dir


@dataclass
class Contender:
    """One way of loading the model. ``kind`` is ``limit`` (curl, a reference), ``ossmc`` or
    ``peer``; ``target``: whether the targets table holds it to the targets (an ossmc
    configuration shown for reference is not). ``patterns``: what its API can do;
    ``conditions``: where it runs (None: everywhere); ``in_default``: whether a plain run has
    it (the rest run with ``--full`` or when ``--only`` matches them); ``cap_s`` and
    ``throttled_cap_s``: a shorter bound for a peer whose rate is known to be flat and low
    there (a one-connection reader at 50 MB/s, oss2's CPU-bound pool), so the plan's time goes to
    the runs that need it; such a run is partial, its rate bytes / seconds. ``throttled_patterns``:
    the patterns it runs throttled, for a reader whose throttled rate is the connection's cap
    whatever the pattern (a whole-shard read could not stop at the bound anyway: one read of a
    512 MiB shard at 50 MB/s takes 11 s). ``as_pattern``: in every scenario it runs in, it
    loads in this pattern instead of the scenario's (the in-memory reference of the ``dir``
    scenario)."""

    name: str
    label: str
    kind: str
    script: str
    options: Dict[str, Any] = field(default_factory=dict)
    patterns: tuple = LOADS
    env: Dict[str, str] = field(default_factory=dict)
    unavailable: Optional[str] = None  # why it cannot run here
    streams: Optional[int] = None  # overrides the scenario's streams
    conditions: Optional[tuple] = None
    target: bool = True
    in_default: bool = True  # False: only with --full, or when --only names it
    cap_s: Optional[float] = None  # a tighter bound on its runs than the scenario's
    throttled_cap_s: Optional[float] = None  # the same, throttled only
    throttled_patterns: Optional[tuple] = None  # throttled, only these of its patterns
    as_pattern: Optional[str] = None  # loads in this pattern wherever it runs


def module_available(name: str) -> Optional[str]:
    return None if importlib.util.find_spec(name) is not None else f"the Python package {name} is not installed"


def version_of(dist: str) -> Optional[str]:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # noqa: BLE001 - not installed
        return None


def ossmc_python_env(lib: Optional[Path]) -> tuple:
    """How the Python contender imports ossmodelconnector: the repository's python/ with a
    freshly built library (OSSMC_LIBRARY) when there is one, else an installed package."""
    env = {}
    if lib is not None:
        env = {"PYTHONPATH": str(REPO / "python"), "OSSMC_LIBRARY": str(lib)}
    probe = subprocess.run(
        [sys.executable, "-c", "import ossmodelconnector as m; print(m.library_version)"],
        capture_output=True, text=True, env={**os.environ, **env}, cwd="/",
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return env, f"ossmodelconnector does not import ({last})"
    return env, None


def runai_problem() -> Optional[str]:
    for mod, dist in (("runai_model_streamer", "runai-model-streamer"),
                      ("runai_model_streamer_s3", "runai-model-streamer-s3")):
        if importlib.util.find_spec(mod) is None:
            return f"{dist} is not installed (pip install --no-deps -r bench/requirements-nodeps.txt)"
    return None


def contenders(args, lib: Optional[Path], hosts_problem: Optional[str]) -> List[Contender]:
    py_env, py_problem = ossmc_python_env(lib)
    c_bin = driver.ossmcload_binary(lib) if lib is not None else None
    c_problem = None if c_bin else ("no release build of libossmc.so (bench/run builds it; or pass --libossmc)"
                                    if lib is None else "bench/harness/ossmcload.c did not compile against it")
    rust_bin = Path(args.rust_bin) if args.rust_bin else None
    osstorch_problem = module_available("osstorchconnector") or hosts_problem
    no_curl = None if shutil.which("curl") else "curl is not installed"
    no_runai = runai_problem()
    plain = ("unthrottled",)
    out = [
        # curl: a reference row (the bytes with no loader library in the way), not a target.
        Contender("curl-1", "curl, 1 stream", "limit", "curl.py", streams=1, unavailable=no_curl,
                  patterns=("chunk-all", "random"), conditions=plain),
        Contender("curl-n", "curl, N streams", "limit", "curl.py", unavailable=no_curl,
                  patterns=("chunk-all", "random")),
        Contender("ossmc-python", "ossmc Python readinto", "ossmc", "ossmc_python.py", env=py_env,
                  unavailable=py_problem, patterns=LOADS),
        # The dir scenario: prepare_directory, and the same API's in-memory load beside it (the
        # reference of the 90% target, so it runs in the same scenario, interleaved).
        Contender("ossmc-prepare", "ossmc Python prepare_directory", "ossmc", "ossmc_python.py", env=py_env,
                  unavailable=py_problem, patterns=("dir",)),
        Contender("ossmc-in-memory", "ossmc Python readinto, whole shards in memory (reference)", "ossmc",
                  "ossmc_python.py", env=py_env, unavailable=py_problem, patterns=("dir",), as_pattern="shard-all",
                  target=False),
        Contender("ossmc-c", "ossmc C API (load_model pattern)", "ossmc", "ossmc_c.py", patterns=SEQ,
                  options={"binary": str(c_bin) if c_bin else ""}, unavailable=c_problem),
        Contender(
            "ossmc-rust", "ossmc Rust API (core-load)", "ossmc", "ossmc_rust.py", patterns=("chunk-all",),
            conditions=plain,
            options={"binary": str(rust_bin) if rust_bin else "", "in_flight": args.rust_in_flight,
                     "memory_limit_mib": 2048},
            unavailable=None if rust_bin and rust_bin.is_file() else
            "no release build of bench/core-load (bench/run builds it; or pass --rust-bin)",
        ),
        # The S3 row: the same package speaking the S3 API (SigV4, s3:// URIs) to the same server
        # and bytes, beside boto3 and Run:ai's streamer, the S3 loaders users would otherwise pick.
        Contender("ossmc-s3", "ossmc Python over the S3 API", "ossmc", "ossmc_python.py", env=py_env,
                  unavailable=py_problem, patterns=LOADS, options={"config": {"protocol": "s3"}}),
        # The same API with settings for a small machine: a reference for the defaults, not a target.
        Contender("ossmc-python-small", "ossmc Python, 16 in flight, 256 MiB", "ossmc", "ossmc_python.py",
                  patterns=("chunk-all", "shard-all"), env=py_env, unavailable=py_problem, conditions=plain,
                  target=False,
                  options={"config": {"prefetch": {"vcpus": 1, "workers": 16, "memoryLimit": 256 * MIB}}}),
        # One connection (two for the prefetching iterator): throttled they run at the cap.
        # dir: whole shards loaded into one buffer, each written to its file.
        Contender("osstorch-dataset", "osstorchconnector dataset reader", "peer", "osstorch.py",
                  options={"reader_type": 0}, unavailable=osstorch_problem, throttled_cap_s=3,
                  patterns=(*LOADS, "dir"), throttled_patterns=("chunk-all", "random")),
        Contender("osstorch-prefetch", "osstorchconnector list_from_uris prefetch", "peer", "osstorch.py",
                  options={"prefetch": True}, patterns=SEQ, unavailable=osstorch_problem, throttled_cap_s=3,
                  throttled_patterns=("chunk-all",)),
        Contender("osstorch-checkpoint", "osstorchconnector checkpoint reader", "peer", "osstorch.py",
                  options={"reader_type": 1}, unavailable=osstorch_problem),
        Contender("boto3", "boto3 / s3transfer", "peer", "boto3_pool.py", unavailable=module_available("boto3"),
                  patterns=("chunk-all", "chunk-one", "shard-one", "random")),
        Contender("runai", "Run:ai streamer, default concurrency", "peer", "runai.py", unavailable=no_runai,
                  patterns=("shard-all", "shard-one", "random", "dir")),
        # Concurrency = the requests ossmc had in flight in the same scenario (see plan_concurrency).
        Contender("runai-matched", "Run:ai streamer, ossmc's concurrency", "peer", "runai.py",
                  unavailable=no_runai, patterns=("shard-all", "shard-one", "dir"), options={"concurrency": "ossmc"}),
        # CPU-bound at 0.1-0.4 GB/s: 5 s measure its rate.
        Contender("oss2", "oss2 ranged GETs, crc off", "peer", "oss2_pool.py", options={"crc": False},
                  patterns=("chunk-all", "random"), conditions=plain, unavailable=module_available("oss2"), cap_s=5),
        # ossutil-style: list, then get_object_to_file one object after another (one connection).
        # CRC off as above: nginx sends no CRC to compare with (ossmc does no CRC work there either).
        Contender("oss2-sequential", "oss2 get_object_to_file, one after another", "peer", "oss2_pool.py",
                  options={"crc": False}, patterns=("dir",), conditions=plain, unavailable=module_available("oss2"),
                  cap_s=20),
        # CRC on costs oss2 another 30-50% of its CPU-bound rate: in the full plan only.
        Contender("oss2-crc", "oss2 ranged GETs, crc on", "peer", "oss2_pool.py", options={"crc": True},
                  patterns=("chunk-all",), conditions=plain, unavailable=module_available("oss2"), in_default=False,
                  cap_s=5),
    ]
    if args.only:
        keep = re.compile(args.only)
        out = [c for c in out if keep.search(c.name)]
    elif not args.full:
        out = [c for c in out if c.in_default]
    return out


# ---- scenarios ----------------------------------------------------------------------------


@dataclass
class Scenario:
    server: str
    condition: str
    pattern: str  # a name in workload.PATTERNS

    @property
    def id(self) -> str:
        return f"{self.server}/{self.condition}/{self.pattern}"


#: What a plain ``bench/run`` measures (about 15 minutes with 3 reps on 2 cores): nginx first,
#: in every pattern unthrottled (``dir`` last) and in three sequential ones throttled
#: (``--patterns`` adds ``chunk-one``), then oss-local for what only it does (latency on top of the rate cap) and the
#: memory limit.
DEFAULT_PLAN = [
    ("nginx", "unthrottled", ALL),
    ("nginx", "throttled", ("chunk-all", "shard-all", "shard-one")),
    ("oss-local", "throttled", ("chunk-all",)),
    ("oss-local", "memlimit", ("chunk-all", "shard-all")),
]
CONDITIONS = {"nginx": ("unthrottled", "throttled", "memlimit"),
              "oss-local": ("unthrottled", "throttled", "memlimit")}


def scenarios(args) -> List[Scenario]:
    """The plan (``DEFAULT_PLAN``, or with ``--full`` every server x condition x pattern),
    narrowed by ``--servers`` and ``--conditions``; a server and condition named by
    ``--conditions`` that the plan lacks is added with every pattern. ``--patterns`` replaces the
    patterns of every server and condition in the plan (memlimit keeps only sequential ones)."""
    servers_wanted = args.servers.split(",") if args.servers else list(CONDITIONS)
    for server in servers_wanted:
        if server not in CONDITIONS:
            raise SystemExit(f"unknown server {server!r} ({', '.join(CONDITIONS)})")
    conditions_wanted = args.conditions.split(",") if args.conditions else None
    try:
        patterns_wanted = expand_patterns(args.patterns) if args.patterns else None
    except ValueError as e:
        raise SystemExit(str(e))
    full = [(server, cond, ALL) for server, conds in CONDITIONS.items() for cond in conds]
    plan = list(full if args.full else DEFAULT_PLAN)
    if conditions_wanted:
        # A server and condition named on the command line but outside the plan: every pattern.
        have = {(server, cond) for server, cond, _ in plan}
        plan += [(server, cond, ALL) for server, cond, _ in full
                 if server in servers_wanted and cond in conditions_wanted and (server, cond) not in have]
    if patterns_wanted is not None:
        plan = [(server, cond, tuple(patterns_wanted)) for server, cond, _ in plan]
    out = []
    warned = False
    for server, condition, patterns in plan:
        if server not in servers_wanted or (conditions_wanted and condition not in conditions_wanted):
            continue
        if server == "nginx" and shutil.which("nginx") is None:
            if not warned:
                print("nginx is not installed (apt-get install -y nginx): its scenarios are left out", flush=True)
                warned = True
            continue
        for pattern in patterns:
            if condition == "memlimit" and PATTERNS[pattern][0] != "seq":
                continue
            out.append(Scenario(server, condition, pattern))
    return out


def runs_in(c: Contender, s: Scenario) -> bool:
    if s.pattern not in c.patterns:
        return False
    if s.condition == "memlimit":
        return c.kind == "ossmc" and c.target  # a reference configuration is memory-limited already
    if s.condition == "throttled" and c.throttled_patterns is not None and s.pattern not in c.throttled_patterns:
        return False
    return c.conditions is None or s.condition in c.conditions


# ---- running one contender ----------------------------------------------------------------


def run_driver(c: Contender, params: Dict[str, Any], workdir: Path, timeout: float) -> Dict[str, Any]:
    params_path = workdir / f"params-{c.name}.json"
    params_path.write_text(json.dumps(params))
    env = {**os.environ, **c.env}
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "drivers" / c.script), str(params_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(workdir),
        start_new_session=True,  # its own process group, so a hung client is stopped whole
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return {"error": f"did not finish within {timeout:.0f} s"}
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if not lines:
        tail = err.strip().splitlines()[-3:]
        return {"error": f"exited with status {proc.returncode} without a result: {' / '.join(tail)[:500]}"}
    return json.loads(lines[-1])


def rate(r: Dict[str, Any]) -> Optional[float]:
    """GB/s of one finished run, None when it has no numbers."""
    if "error" in r or "skipped" in r or not r.get("seconds"):
        return None
    return r["bytes"] / r["seconds"] / 1e9


def aggregate(attempts: List[Dict[str, Any]]) -> Dict[str, Any]:
    """One record from a contender's reps in a scenario: the median run's fields, plus the
    median, min and max rate (``gbps_*``), the median CPU seconds per GB, the largest peak RSS and
    library memory, the median of bytes served per byte delivered, and a summary of every rep.

    A rep whose bytes did not check out makes the whole record unverified (a loader that
    delivers wrong bytes once has no numbers); reps that failed without numbers (a crash, a
    timeout) are left out of the statistics and counted in ``failed_reps``."""
    done = [a for a in attempts if rate(a) is not None]
    if not done:
        return dict(attempts[-1])
    bad = [a for a in done if not a.get("verified")]
    ordered = sorted(done, key=rate)
    rec = dict(bad[0] if bad else ordered[(len(ordered) - 1) // 2])
    rates = [rate(a) for a in done]
    rec["gbps_median"] = statistics.median(rates)
    rec["gbps_min"], rec["gbps_max"] = min(rates), max(rates)
    cpu = [a["cpu_s"] / (a["bytes"] / 1e9) for a in done if a.get("cpu_s") is not None and a["bytes"]]
    rec["cpu_per_gb"] = statistics.median(cpu) if cpu else None
    rec["peak_rss_max"] = max(a["peak_rss"] for a in done)
    libs = [a["lib_bytes"] for a in done if a.get("lib_bytes") is not None]
    rec["lib_bytes_max"] = max(libs) if libs else None
    rec["lib_bytes_median"] = statistics.median(libs) if libs else None
    served = [a["server_bytes"] / a["bytes"] for a in done if a.get("server_bytes") is not None and a["bytes"]]
    rec["served_ratio"] = statistics.median(served) if served else None
    rec["n_reps"] = len(done)
    rec["failed_reps"] = len(attempts) - len(done)
    rec["reps"] = [{k: a.get(k) for k in ("bytes", "seconds", "verified", "partial", "cpu_s", "peak_rss",
                                         "lib_bytes", "server_bytes", "requests", "peak_in_flight", "error",
                                         "concurrency", "wall_s")}
                   for a in attempts]
    return rec


def fmt_progress(i: int, n: int, s: Scenario, c: Contender, r: Dict[str, Any], rep: str = "") -> str:
    head = f"[{i:3d}/{n}]{rep} {s.id:30s} {c.label:42s}"
    if "error" in r:
        return f"{head} FAILED: {r['error'][:160]}"
    if "skipped" in r:
        return f"{head} not available: {r['skipped']}"
    gbps = r["bytes"] / r["seconds"] / 1e9 if r["seconds"] else 0.0
    ttfb = f"{r['ttfb'] * 1000:6.0f} ms" if r.get("ttfb") is not None else "     - ms"
    cpu = r["cpu_s"] / (r["bytes"] / 1e9) if r["bytes"] else 0.0
    reqs = r.get("requests")
    pif = r.get("peak_in_flight")
    lib = r.get("lib_bytes")
    status = "verified" if r["verified"] else "NOT VERIFIED: " + "; ".join(r.get("problems") or [])[:120]
    partial = " (partial)" if r.get("partial") else ""
    conc = f"  concurrency {r['concurrency']}" if r.get("concurrency") else ""
    return (f"{head} {gbps:6.2f} GB/s  ttfb {ttfb}  rss {r['peak_rss'] / MIB:5.0f} MiB  "
            f"lib {lib / MIB if lib is not None else float('nan'):5.0f} MiB  cpu {cpu:5.2f} s/GB  "
            f"req {reqs if reqs is not None else '-':>5}  in flight {pif if pif is not None else '-':>4}  "
            f"{status}{partial}{conc}")


def matched_concurrency(attempts: Dict[tuple, List[Dict[str, Any]]], s: Scenario, fallback: int) -> tuple:
    """The requests ossmc had in flight at its peak in this scenario, for the Run:ai run that
    is given ossmc's concurrency: the median over the ossmc Python runs so far (the server
    counts them: oss-local's /_stats, nginx's access log), else over any ossmc contender's, else
    ``fallback``. In the ``dir`` scenario: ``prepare_directory``'s. Returns (value, where it
    came from)."""
    for names in (("ossmc-python", "ossmc-prepare"), ("ossmc-c", "ossmc-rust", "ossmc-in-memory")):
        peaks = [a["peak_in_flight"] for name in names for a in attempts.get((s.id, name), [])
                 if rate(a) is not None and a.get("peak_in_flight")]
        if peaks:
            return int(statistics.median(peaks)), f"peak in flight of {'/'.join(names)} in this scenario"
    return fallback, "fallback (no ossmc run of this scenario measured its peak in flight)"


# ---- machine ------------------------------------------------------------------------------


def machine() -> Dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text()
    mem = re.search(r"MemTotal:\s+(\d+)", meminfo)
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())

    def first_line(cmd: List[str], stream: str = "stdout") -> Optional[str]:
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            text = getattr(p, stream).strip()
            return text.splitlines()[0] if text else None
        except (OSError, subprocess.SubprocessError):
            return None

    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu.group(1).strip() if cpu else None,
        "memory_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "curl": (first_line(["curl", "--version"]) or "").split(" (")[0] or None,
        "nginx": first_line(["nginx", "-v"], "stderr"),
        "oss2": version_of("oss2"),
        "boto3": version_of("boto3"),
        "osstorchconnector": version_of("osstorchconnector"),
        "runai_model_streamer": version_of("runai-model-streamer"),
    }


def load_average() -> List[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# ---- main ---------------------------------------------------------------------------------


def parse_args(argv: Optional[List[str]] = None):
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", type=int, default=4, help="shards in the model (default 4)")
    ap.add_argument("--mib", type=int, default=512, help="MiB per shard (default 512)")
    ap.add_argument("--random-mib", type=int, default=512, help="MiB read by the random pattern (default 512)")
    ap.add_argument("--buffer-mib", type=int, default=4, help="the reused read buffer (default 4)")
    ap.add_argument("--part-mib", type=int, default=8, help="ranged GET size of curl and the peers (default 8)")
    ap.add_argument("--streams", type=int, default=16,
                    help="connections of curl -N and threads of the peers (default 16)")
    ap.add_argument("--throttled-streams", type=int, default=64,
                    help="connections of curl -N when throttled (default 64)")
    ap.add_argument("--rate-mbps", type=int, default=50, help="throttled: per-connection cap, MB/s (nginx limit_rate, oss-local --rate-mbps; default 50)")
    ap.add_argument("--latency-ms", type=int, default=10, help="throttled, oss-local only: delay before each response (default 10)")
    ap.add_argument("--memory-limit-mib", type=int, default=256,
                    help="memlimit: ossmc prefetch.memoryLimit in MiB (default 256)")
    ap.add_argument("--max-seconds", type=float, default=30, help="per-run bound, unthrottled (default 30)")
    ap.add_argument("--throttled-max-seconds", type=float, default=6,
                    help="per-run bound, throttled (default 6: a one-connection peer gets 0.3 GB, enough for its rate)")
    ap.add_argument("--reps", type=int, default=3,
                    help="runs per contender and scenario, interleaved (all runs once, then again); the report "
                         "gives medians (default 3)")
    ap.add_argument("--servers", help="comma list of nginx, oss-local (default: both)")
    ap.add_argument("--conditions", help="comma list of unthrottled, throttled, memlimit (default: the plan's)")
    ap.add_argument("--patterns", help="comma list of chunk-all, chunk-one, shard-all, shard-one, random, dir (to a "
                                       "directory on tmpfs), or seq (the four sequential ones), chunk, shard, all, one "
                                       "(default: the plan's)")
    ap.add_argument("--full", action="store_true",
                    help="every server x condition x pattern instead of the default plan (much longer)")
    ap.add_argument("--only", help="regular expression: run only contenders whose name matches")
    ap.add_argument("--list", action="store_true", help="print the plan (scenarios and contenders) and exit")
    ap.add_argument("--runai-concurrency", type=int, default=16,
                    help="Run:ai's concurrency in its matched run when no ossmc run of the scenario measured its "
                         "peak in flight (default 16)")
    ap.add_argument("--quick", action="store_true",
                    help="2 x 64 MiB, 64 MiB random, short bounds, one rep: a check that everything runs (results go "
                         "to bench/harness/.build/quick-results, RESULTS.md is left alone)")
    ap.add_argument("--oss-local", help="the oss-local binary (default: release build found via CARGO_TARGET_DIR)")
    ap.add_argument("--libossmc", help="libossmc.so for the Python contender (default: release build)")
    ap.add_argument("--rust-bin", help="the Rust load benchmark binary (default: release build of core-load)")
    ap.add_argument("--rust-in-flight", type=int, default=256,
                    help="requests in flight for the Rust contender (default 256, ossmc's default 16 x 16)")
    ap.add_argument("--results-dir", help="where the JSON and plots go (default bench/results)")
    ap.add_argument("--no-report", action="store_true", help="do not update RESULTS.md and the plots")
    args = ap.parse_args(argv)
    # Drivers run in a scratch directory: make the paths given here absolute.
    for name in ("oss_local", "libossmc", "rust_bin"):
        if getattr(args, name):
            setattr(args, name, str(Path(getattr(args, name)).resolve()))
    reps_given = any(a == "--reps" or a.startswith("--reps=") for a in (argv if argv is not None else sys.argv[1:]))
    if args.quick:
        args.shards, args.mib, args.random_mib = 2, 64, 64
        args.max_seconds, args.throttled_max_seconds = 10, 3
        args.memory_limit_mib = 32
        args.no_report = True
        if not reps_given:
            args.reps = 1
        if args.results_dir is None:
            args.results_dir = str(HERE / ".build" / "quick-results")
    if args.results_dir is None:
        args.results_dir = str(REPO / "bench" / "results")
    if args.reps < 1:
        raise SystemExit("--reps must be at least 1")
    return args


def shown_path(path) -> Optional[str]:
    """A path as the results file records it: relative to the repository or to
    ``$CARGO_TARGET_DIR`` when under them (the machine's own layout stays out of the results)."""
    if path is None:
        return None
    path = Path(path).resolve()
    for base, name in ((str(REPO), None), (os.environ.get("CARGO_TARGET_DIR"), "$CARGO_TARGET_DIR")):
        if base:
            try:
                rel = path.relative_to(Path(base).resolve()).as_posix()
            except ValueError:
                continue
            return f"{name}/{rel}" if name else rel
    return str(path)


def release_artifact(name: str) -> Optional[Path]:
    for d in filter(None, [os.environ.get("CARGO_TARGET_DIR"), str(REPO / "target")]):
        p = Path(d) / "release" / name
        if p.is_file():
            return p
    return None


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    started = time.time()
    model = Model(args.shards, args.mib * MIB)
    reads = random_reads(model, args.random_mib * MIB)
    plan_scenarios = scenarios(args)
    if args.list:
        roster = contenders(args, None, None)
        for s in plan_scenarios:
            print(f"{s.id:32s} {' '.join(c.name for c in roster if runs_in(c, s))}")
        return 0
    synth = driver.synthcheck_library()
    curlload = driver.curlload_binary()
    if curlload is None:
        print("libcurl headers not found (apt-get install -y libcurl4-openssl-dev): the curl reference uses the "
              "curl command writing to tmpfs, a pessimistic one", flush=True)
    oss_local_bin = servers.find_oss_local(args.oss_local)
    lib = Path(args.libossmc) if args.libossmc else release_artifact("libossmc.so")
    if args.rust_bin is None:
        found = release_artifact("core-load")
        args.rust_bin = str(found) if found else None
    hosts_problem = servers.ensure_hosts_entry()
    roster = contenders(args, lib, hosts_problem)
    plan = [(s, c) for s in plan_scenarios for c in roster if runs_in(c, s)]
    mach = machine()
    runnable = sum(1 for _, c in plan if not c.unavailable)
    print(f"machine: {mach['cpus']} CPUs ({mach['cpu_model']}), {mach['memory_gib']} GiB; load average "
          f"{' '.join(map(str, load_average()))}", flush=True)
    print(f"model: {model.shards} x {args.mib} MiB = {model.total_bytes / 1e9:.2f} GB; random: {len(reads)} reads, "
          f"{sum(r[2] for r in reads) / 1e9:.2f} GB; {len(plan_scenarios)} scenarios, {runnable} contender runs "
          f"x {args.reps} reps", flush=True)
    for c in roster:
        if c.unavailable:
            print(f"  {c.label}: not available: {c.unavailable}", flush=True)

    date = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime(started))
    results: Dict[str, Any] = {
        "date": date,
        "command": "bench/run " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "machine": mach,
        "load_average_start": load_average(),
        "params": {
            "shards": args.shards, "shard_mib": args.mib, "random_mib": args.random_mib, "random_reads": len(reads),
            "buffer_mib": args.buffer_mib, "part_mib": args.part_mib, "streams": args.streams,
            "throttled_streams": args.throttled_streams, "rate_mbps": args.rate_mbps, "latency_ms": args.latency_ms,
            "memory_limit_mib": args.memory_limit_mib, "max_seconds": args.max_seconds,
            "throttled_max_seconds": args.throttled_max_seconds, "reps": args.reps,
            "oss_local": shown_path(oss_local_bin),
            "curl_tool": "libcurl (curlload)" if curlload else "curl command to tmpfs",
            "libossmc": shown_path(lib), "rust_bin": shown_path(args.rust_bin), "rust_in_flight": args.rust_in_flight,
            "runai_fallback_concurrency": args.runai_concurrency, "default_memory_limit_mib": 2048,
        },
        "runs": [],
    }
    workdir = Path(tempfile.mkdtemp(prefix="ossmc-bench-"))
    shm = Path(tempfile.mkdtemp(prefix="ossmc-bench-", dir=servers.tmpfs_dir()))
    # Where the dir scenario's directories are made (each removed by its driver once checked).
    dirs = Path(tempfile.mkdtemp(prefix="ossmc-bench-dirs-", dir=servers.tmpfs_dir()))
    live: Dict[str, Any] = {}
    model_written = False

    def server_for(s: Scenario):
        nonlocal model_written
        throttled = s.condition == "throttled"
        key = f"{s.server}/{'throttled' if throttled else 'plain'}"
        if key in live:
            return live[key]
        # Idle servers cost nothing; they stay up until the end, so the interleaved reps do not
        # restart them.
        if s.server == "nginx":
            if not model_written:
                print(f"writing the model to {shm} for nginx ...", flush=True)
                servers.write_model(shm, model)
                model_written = True
            live[key] = servers.NginxServer(shm, workdir, rate_mbps=args.rate_mbps if throttled else 0,
                                            listing=servers.listing_xml(shm, model.keys, model.prefix))
        elif throttled:
            live[key] = servers.OssLocalServer(oss_local_bin, model, args.rate_mbps, args.latency_ms)
        else:
            live[key] = servers.OssLocalServer(oss_local_bin, model)
        return live[key]

    def params_for(s: Scenario, c: Contender, srv) -> Dict[str, Any]:
        throttled = s.condition == "throttled"
        pattern = c.as_pattern or s.pattern
        kind, read, open_ = PATTERNS[pattern]
        streams = c.streams or (args.throttled_streams if throttled and c.kind == "limit" else args.streams)
        options = dict(c.options)
        if c.kind == "ossmc" and s.condition == "memlimit":
            options["config"] = {"prefetch": {"memoryLimit": args.memory_limit_mib * MIB}}
            options["memory_limit_mib"] = args.memory_limit_mib
        if options.get("concurrency") == "ossmc":
            options["concurrency"], options["concurrency_from"] = matched_concurrency(
                attempts, s, args.runai_concurrency)
        bound = args.throttled_max_seconds if throttled else args.max_seconds
        for cap in (c.cap_s, c.throttled_cap_s if throttled else None):
            if cap is not None:
                bound = min(bound, cap)
        return {
            "endpoint": srv.endpoint, "vhost_endpoint": srv.vhost_endpoint, "bucket": BUCKET,
            "region": "cn-hangzhou", "access_key_id": "LTAI5tBenchAccessKeyId",
            "access_key_secret": "BenchAccessKeySecret", "objects": model.objects(), "pattern": kind,
            "read": read, "open": open_, "pattern_name": pattern,
            "reads": reads if kind == "random" else None, "buffer": args.buffer_mib * MIB,
            "part": args.part_mib * MIB, "streams": streams, "max_seconds": bound, "options": options,
            "workdir": str(workdir), "synthcheck": str(synth), "tmpfs": str(servers.tmpfs_dir()),
            "curlload": str(curlload) if curlload else None, "prefix": model.prefix, "dir_root": str(dirs),
        }

    attempts: Dict[tuple, List[Dict[str, Any]]] = {}
    extras: Dict[tuple, Dict[str, Any]] = {}
    total = runnable * args.reps
    done = 0
    try:
        for rep in range(1, args.reps + 1):
            for s, c in plan:
                if c.unavailable:
                    continue
                srv = server_for(s)
                params = params_for(s, c, srv)
                srv.reset()
                t_run = time.monotonic()
                r = run_driver(c, params, workdir, timeout=params["max_seconds"] * 4 + 60)
                r["wall_s"] = round(time.monotonic() - t_run, 2)  # with the process's start: for planning
                if "error" not in r:
                    r.update(srv.counters())
                    if params["options"].get("concurrency_from"):
                        r["concurrency_from"] = params["options"]["concurrency_from"]
                attempts.setdefault((s.id, c.name), []).append(r)
                extras[(s.id, c.name)] = {"streams": params["streams"], "load_average": load_average()[0]}
                done += 1
                print(fmt_progress(done, total, s, c, r, f" rep {rep}/{args.reps}" if args.reps > 1 else ""),
                      flush=True)
    finally:
        for srv in live.values():
            srv.close()
        servers.remove(shm)
        servers.remove(dirs)
        servers.remove(workdir)

    for s, c in plan:
        record = {"server": s.server, "condition": s.condition, "pattern": s.pattern, "contender": c.name,
                  "label": c.label, "kind": c.kind, "target": c.target}
        if c.as_pattern:
            record["as_pattern"] = c.as_pattern
        if c.unavailable:
            record["skipped"] = c.unavailable
        elif (s.id, c.name) in attempts:
            record.update(extras[(s.id, c.name)])
            record.update(aggregate(attempts[(s.id, c.name)]))
        else:
            continue  # interrupted before it ran
        results["runs"].append(record)

    results["load_average_end"] = load_average()
    results["elapsed_s"] = round(time.time() - started, 1)
    out_dir = Path(args.results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{date}.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"results: {out} ({results['elapsed_s']:.0f} s)", flush=True)
    if not args.no_report:
        report.write(results, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
