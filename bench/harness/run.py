"""The loader benchmark: ossmc against the tools users would otherwise pick, on the same server
and the same bytes, next to curl as the machine's limit. Entry point: ``bench/run``.

For every scenario (server x condition x access pattern) each contender runs once in a process
of its own (``drivers/*.py``, see ``driver.py`` for what is measured and how the bytes are
verified), one after another, with the server's request counters reset before each. A progress
line is printed per contender. Results go to ``bench/results/<date>.json`` (with the machine and
its load), the table in ``bench/RESULTS.md`` and two PNG plots (``report.py``).

Scenarios:

* servers: oss-local (generates the bytes) and nginx (sends the same bytes from tmpfs);
* conditions: ``unthrottled``; ``throttled`` (oss-local ``--rate-mbps 50 --latency-ms 10``: each
  connection capped like a real OSS connection, so speed comes from many connections);
  ``memlimit`` (ossmc only, ``prefetch.memoryLimit`` well below the model size);
* patterns: ``seq`` (open every shard, read each into a reused 4 MiB buffer) and ``random``
  (1-16 MiB reads at scattered offsets, like lazily fetched safetensors tensors).

Every run is bounded: a driver stops at ``--max-seconds`` (throttled: ``--throttled-max-seconds``)
and is then marked partial, its rate being bytes received / seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
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
from workload import BUCKET, MIB, Model, random_reads  # noqa: E402

REPO = driver.REPO


# ---- contenders ---------------------------------------------------------------------------


@dataclass
class Contender:
    """One way of loading the model. ``kind`` is ``limit``, ``ossmc`` or ``peer``."""

    name: str
    label: str
    kind: str
    script: str
    options: Dict[str, Any] = field(default_factory=dict)
    patterns: tuple = ("seq", "random")
    env: Dict[str, str] = field(default_factory=dict)
    unavailable: Optional[str] = None  # why it cannot run here
    streams: Optional[int] = None  # overrides the scenario's streams


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


def contenders(args, lib: Optional[Path], hosts_problem: Optional[str]) -> List[Contender]:
    py_env, py_problem = ossmc_python_env(lib)
    c_bin = driver.ossmcload_binary(lib) if lib is not None else None
    c_problem = None if c_bin else ("no release build of libossmc.so (bench/run builds it; or pass --libossmc)"
                                    if lib is None else "bench/harness/ossmcload.c did not compile against it")
    rust_bin = Path(args.rust_bin) if args.rust_bin else None
    osstorch_problem = module_available("osstorchconnector") or hosts_problem
    no_curl = None if shutil.which("curl") else "curl is not installed"
    out = [
        Contender("curl-1", "curl, 1 stream", "limit", "curl.py", streams=1, unavailable=no_curl),
        Contender("curl-n", "curl, N streams", "limit", "curl.py", unavailable=no_curl),
        Contender("ossmc-python", "ossmc Python readinto", "ossmc", "ossmc_python.py", env=py_env, unavailable=py_problem),
        # The same API with settings for a small machine: a reference for the defaults, not a target.
        Contender("ossmc-python-small", "ossmc Python, 16 in flight, 256 MiB", "ossmc", "ossmc_python.py",
                  patterns=("seq",), env=py_env, unavailable=py_problem,
                  options={"config": {"prefetch": {"vcpus": 1, "workers": 16, "memoryLimit": 256 * MIB}}}),
        Contender("ossmc-c", "ossmc C API (load_model pattern)", "ossmc", "ossmc_c.py", patterns=("seq",),
                  options={"binary": str(c_bin) if c_bin else ""}, unavailable=c_problem),
        Contender(
            "ossmc-rust", "ossmc Rust API", "ossmc", "ossmc_rust.py", patterns=("seq",),
            options={"binary": str(rust_bin) if rust_bin else "", "in_flight": args.rust_in_flight,
                     "memory_limit_mib": 2048},
            unavailable=None if rust_bin and rust_bin.is_file() else
            "no release build of bench/core-load (bench/run builds it; or pass --rust-bin)",
        ),
        Contender("oss2", "oss2 ranged GETs, crc off", "peer", "oss2_pool.py", options={"crc": False},
                  unavailable=module_available("oss2")),
        Contender("oss2-crc", "oss2 ranged GETs, crc on", "peer", "oss2_pool.py", options={"crc": True},
                  unavailable=module_available("oss2")),
        Contender("osstorch-dataset", "osstorchconnector dataset reader", "peer", "osstorch.py",
                  options={"reader_type": 0}, unavailable=osstorch_problem),
        Contender("osstorch-checkpoint", "osstorchconnector checkpoint reader", "peer", "osstorch.py",
                  options={"reader_type": 1}, unavailable=osstorch_problem),
        Contender("boto3", "boto3 / s3transfer", "peer", "boto3_pool.py", unavailable=module_available("boto3")),
    ]
    if args.only:
        keep = re.compile(args.only)
        out = [c for c in out if keep.search(c.name)]
    return out


# ---- scenarios ----------------------------------------------------------------------------


@dataclass
class Scenario:
    server: str
    condition: str
    pattern: str

    @property
    def id(self) -> str:
        return f"{self.server}/{self.condition}/{self.pattern}"


def scenarios(args) -> List[Scenario]:
    out = []
    for server in args.servers.split(","):
        if server not in ("oss-local", "nginx"):
            raise SystemExit(f"unknown server {server!r} (oss-local, nginx)")
        if server == "nginx" and shutil.which("nginx") is None:
            print("nginx is not installed (apt-get install -y nginx): its scenarios are left out", flush=True)
            continue
        for condition in args.conditions.split(","):
            if server == "nginx" and condition != "unthrottled":
                continue  # shaping and memory limits are studied on oss-local only
            for pattern in args.patterns.split(","):
                if condition == "memlimit" and pattern != "seq":
                    continue
                out.append(Scenario(server, condition, pattern))
    return out


def runs_in(c: Contender, s: Scenario) -> bool:
    if s.pattern not in c.patterns:
        return False
    if s.condition == "memlimit":
        return c.kind == "ossmc" and c.name != "ossmc-python-small"  # it is memory-limited already
    return True


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


def best_attempt(attempts: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The fastest verified attempt, else the last one (which then says what went wrong)."""
    good = [a for a in attempts if "error" not in a and a.get("verified") and a.get("seconds")]
    if not good:
        return attempts[-1]
    return max(good, key=lambda a: a["bytes"] / a["seconds"])


def fmt_progress(i: int, n: int, s: Scenario, c: Contender, r: Dict[str, Any]) -> str:
    head = f"[{i:2d}/{n}] {s.id:28s} {c.label:38s}"
    if "error" in r:
        return f"{head} FAILED: {r['error'][:160]}"
    if "skipped" in r:
        return f"{head} not available: {r['skipped']}"
    gbps = r["bytes"] / r["seconds"] / 1e9 if r["seconds"] else 0.0
    ttfb = f"{r['ttfb'] * 1000:6.0f} ms" if r.get("ttfb") is not None else "     - ms"
    cpu = r["cpu_s"] / (r["bytes"] / 1e9) if r["bytes"] else 0.0
    reqs = r.get("requests")
    status = "verified" if r["verified"] else "NOT VERIFIED: " + "; ".join(r.get("problems") or [])[:120]
    partial = " (partial)" if r.get("partial") else ""
    return (f"{head} {gbps:6.2f} GB/s  ttfb {ttfb}  rss {r['peak_rss'] / MIB:6.0f} MiB  cpu {cpu:5.2f} s/GB  "
            f"req {reqs if reqs is not None else '-':>5}  {status}{partial}")


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
    ap.add_argument("--rate-mbps", type=int, default=50, help="throttled: per-connection cap, MB/s (default 50)")
    ap.add_argument("--latency-ms", type=int, default=10, help="throttled: delay before each response (default 10)")
    ap.add_argument("--memory-limit-mib", type=int, default=256,
                    help="memlimit: ossmc prefetch.memoryLimit in MiB (default 256)")
    ap.add_argument("--max-seconds", type=float, default=30, help="per-run bound, unthrottled (default 30)")
    ap.add_argument("--throttled-max-seconds", type=float, default=10, help="per-run bound, throttled (default 10)")
    ap.add_argument("--reps", type=int, default=1,
                    help="runs per contender and scenario; the fastest verified one is kept (default 1)")
    ap.add_argument("--servers", default="oss-local,nginx")
    ap.add_argument("--conditions", default="unthrottled,throttled,memlimit")
    ap.add_argument("--patterns", default="seq,random")
    ap.add_argument("--only", help="regular expression: run only contenders whose name matches")
    ap.add_argument("--quick", action="store_true",
                    help="2 x 64 MiB, 64 MiB random, short bounds: a check that everything runs")
    ap.add_argument("--oss-local", help="the oss-local binary (default: release build found via CARGO_TARGET_DIR)")
    ap.add_argument("--libossmc", help="libossmc.so for the Python contender (default: release build)")
    ap.add_argument("--rust-bin", help="the Rust load benchmark binary (default: release build of core-load)")
    ap.add_argument("--rust-in-flight", type=int, default=256,
                    help="requests in flight for the Rust contender (default 256, ossmc's default 16 x 16)")
    ap.add_argument("--results-dir", default=str(REPO / "bench" / "results"))
    ap.add_argument("--no-report", action="store_true", help="do not update RESULTS.md and the plots")
    args = ap.parse_args(argv)
    # Drivers run in a scratch directory: make the paths given here absolute.
    for name in ("oss_local", "libossmc", "rust_bin"):
        if getattr(args, name):
            setattr(args, name, str(Path(getattr(args, name)).resolve()))
    if args.quick:
        args.shards, args.mib, args.random_mib = 2, 64, 64
        args.max_seconds, args.throttled_max_seconds = 10, 3
        args.memory_limit_mib = 32
    return args


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
    synth = driver.synthcheck_library()
    curlload = driver.curlload_binary()
    if curlload is None:
        print("libcurl headers not found (apt-get install -y libcurl4-openssl-dev): the curl limit uses the curl "
              "command writing to tmpfs, a pessimistic limit", flush=True)
    oss_local_bin = servers.find_oss_local(args.oss_local)
    lib = Path(args.libossmc) if args.libossmc else release_artifact("libossmc.so")
    if args.rust_bin is None:
        found = release_artifact("core-load")
        args.rust_bin = str(found) if found else None
    hosts_problem = servers.ensure_hosts_entry()
    roster = contenders(args, lib, hosts_problem)
    plan = [(s, c) for s in scenarios(args) for c in roster if runs_in(c, s)]
    mach = machine()
    print(f"machine: {mach['cpus']} CPUs ({mach['cpu_model']}), {mach['memory_gib']} GiB; load average "
          f"{' '.join(map(str, load_average()))}", flush=True)
    print(f"model: {model.shards} x {args.mib} MiB = {model.total_bytes / 1e9:.2f} GB; random: {len(reads)} reads, "
          f"{sum(r[2] for r in reads) / 1e9:.2f} GB; {len(plan)} runs", flush=True)
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
            "oss_local": str(oss_local_bin), "curl_tool": "libcurl (curlload)" if curlload else "curl command to tmpfs", "libossmc": str(lib) if lib else None, 
            "rust_bin": args.rust_bin, "rust_in_flight": args.rust_in_flight,
        },
        "runs": [],
    }
    workdir = Path(tempfile.mkdtemp(prefix="ossmc-bench-"))
    shm = Path(tempfile.mkdtemp(prefix="ossmc-bench-", dir=servers.tmpfs_dir()))
    live: Dict[str, Any] = {}

    def server_for(s: Scenario):
        key = "nginx" if s.server == "nginx" else f"oss-local/{'throttled' if s.condition == 'throttled' else 'plain'}"
        if key in live:
            return live[key]
        for k in [k for k in live if k != key]:  # one server at a time: they compete for 2 cores
            live.pop(k).close()
        if s.server == "nginx":
            print(f"writing the model to {shm} for nginx ...", flush=True)
            servers.write_model(shm, model)
            live[key] = servers.NginxServer(shm, workdir)
        elif s.condition == "throttled":
            live[key] = servers.OssLocalServer(oss_local_bin, model, args.rate_mbps, args.latency_ms)
        else:
            live[key] = servers.OssLocalServer(oss_local_bin, model)
        return live[key]

    try:
        for i, (s, c) in enumerate(plan, 1):
            record = {"server": s.server, "condition": s.condition, "pattern": s.pattern, "contender": c.name,
                      "label": c.label, "kind": c.kind}
            if c.unavailable:
                record["skipped"] = c.unavailable
                results["runs"].append(record)
                print(fmt_progress(i, len(plan), s, c, record), flush=True)
                continue
            srv = server_for(s)
            throttled = s.condition == "throttled"
            streams = c.streams or (args.throttled_streams if throttled and c.kind == "limit" else args.streams)
            options = dict(c.options)
            if c.kind == "ossmc" and s.condition == "memlimit":
                options["config"] = {"prefetch": {"memoryLimit": args.memory_limit_mib * MIB}}
                options["memory_limit_mib"] = args.memory_limit_mib
            bound = args.throttled_max_seconds if throttled else args.max_seconds
            params = {
                "endpoint": srv.endpoint, "vhost_endpoint": srv.vhost_endpoint, "bucket": BUCKET,
                "region": "cn-hangzhou", "access_key_id": "LTAI5tBenchAccessKeyId",
                "access_key_secret": "BenchAccessKeySecret", "objects": model.objects(), "pattern": s.pattern,
                "reads": reads if s.pattern == "random" else None, "buffer": args.buffer_mib * MIB,
                "part": args.part_mib * MIB, "streams": streams, "max_seconds": bound, "options": options,
                "workdir": str(workdir), "synthcheck": str(synth), "tmpfs": str(servers.tmpfs_dir()),
                "curlload": str(curlload) if curlload else None,
            }
            record.update({"streams": streams, "load_average": load_average()[0]})
            attempts = []
            for _ in range(args.reps):
                srv.reset()
                r = run_driver(c, params, workdir, timeout=bound * 4 + 60)
                if "error" not in r:
                    r.update(srv.counters())
                attempts.append(r)
            record.update(best_attempt(attempts))
            if args.reps > 1:
                record["reps"] = [{k: a.get(k) for k in ("bytes", "seconds", "verified", "error")} for a in attempts]
            results["runs"].append(record)
            print(fmt_progress(i, len(plan), s, c, record), flush=True)
    finally:
        for srv in live.values():
            srv.close()
        servers.remove(shm)
        servers.remove(workdir)

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
