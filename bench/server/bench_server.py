#!/usr/bin/env python3
"""oss-local against nginx: how fast each streams the same synthetic model to curl, and how
long oss-local takes to serve one ListObjectsV2 page.

Both servers run on 127.0.0.1 in the same run and serve byte-identical shards: oss-local
generates them (``--model``, ``--no-auth``), nginx sends files written to tmpfs
(``/dev/shm``) with the Python twin of the synthetic byte function. Each repetition fetches
the whole model as equal ranged GETs with one curl process (``--parallel``), with 1 or N
connections at once; contenders alternate within each repetition so drift hits both alike.
The aggregate rate is total bytes / wall time. Server CPU time (user+system from /proc) per
GB is recorded too, as a hint of where a difference comes from.

Results go to stdout and, with ``--write-results``, to the "oss-local vs nginx" section of
bench/RESULTS.md, between ``<!-- server:begin -->`` and ``<!-- server:end -->`` (the rest of
the file is kept).

Usage: python3 bench/server/bench_server.py [--shards 4 --shard-mib 512 --reps 5
       --streams 1,64 --write-results]. Needs nginx (apt-get install -y nginx), curl, numpy
       and a release build (cargo build --release -p oss-local, or OSS_LOCAL_BIN).
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "testkit" / "python"))
# The nginx launcher, the shard writer and the oss-local lookup are the loader benchmark's
# (bench/harness, run by bench/run): both benchmarks start nginx the same way.
sys.path.insert(0, str(REPO / "bench" / "harness"))

from ossmc_testkit import OssLocal, synthetic as syn  # noqa: E402
from servers import NginxServer, find_oss_local, write_shards  # noqa: E402
from workload import BUCKET  # noqa: E402  ("bench")

MODEL = "m"
SECTION = "## oss-local vs nginx"
BEGIN, END = "<!-- server:begin -->", "<!-- server:end -->"


# ---- helpers ------------------------------------------------------------------------------


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of the given processes so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


# ---- measurements -------------------------------------------------------------------------


def ranges(keys: List[str], size: int, parts: int) -> List[Tuple[str, int, int]]:
    """The model cut into ``parts`` equal ranges (key, first, last), in order."""
    per_key = parts // len(keys)
    step = size // per_key
    return [(k, i * step, (i + 1) * step - 1) for k in keys for i in range(per_key)]


def curl_config(endpoint: str, work: List[Tuple[str, int, int]], path: Path) -> None:
    lines = []
    for n, (key, first, last) in enumerate(work):
        if n:
            lines.append("next")
        lines += [
            f'url = "{endpoint}/{BUCKET}/{key}"',
            f'range = "{first}-{last}"',
            'output = "/dev/null"',
            'write-out = "%{http_code} %{size_download}\\n"',
        ]
    path.write_text("\n".join(lines) + "\n")


def stream_once(config: Path, streams: int, expect: List[int], pids: List[int]) -> Tuple[float, float]:
    """Runs one repetition; returns (seconds, server CPU seconds)."""
    cmd = ["curl", "-sS", "--no-progress-meter", "-K", str(config)]
    if streams > 1:
        cmd += ["--parallel", "--parallel-immediate", "--parallel-max", str(streams)]
    cpu0 = cpu_seconds(pids)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    dt = time.perf_counter() - t0
    cpu = cpu_seconds(pids) - cpu0
    got = out.stdout.split()
    codes, sizes = got[0::2], [int(x) for x in got[1::2]]
    if out.returncode != 0 or set(codes) != {"206"} or sorted(sizes) != sorted(expect):
        raise RuntimeError(f"curl failed (exit {out.returncode}): codes {set(codes)}, stderr {out.stderr[-500:]!r}")
    return dt, cpu


def list_page_ms(endpoint_port: int, prefix: str, requests: int) -> List[float]:
    """Times ``requests`` ListObjectsV2 pages of 1000 keys on one keep-alive connection,
    walking the listing with continuation tokens."""
    conn = http.client.HTTPConnection("127.0.0.1", endpoint_port, timeout=60)
    times = []
    token = None
    try:
        for _ in range(requests):
            q = f"list-type=2&max-keys=1000&prefix={prefix}"
            if token:
                q += f"&continuation-token={token}"
            t0 = time.perf_counter()
            conn.request("GET", f"/{BUCKET}/?{q}")
            r = conn.getresponse()
            body = r.read()
            times.append((time.perf_counter() - t0) * 1000)
            if r.status != 200:
                raise RuntimeError(f"list answered {r.status}: {body[:300]!r}")
            root = ET.fromstring(body)
            if len(root.findall("Contents")) != 1000:
                raise RuntimeError("a list page did not hold 1000 keys")
            token = root.findtext("NextContinuationToken")
    finally:
        conn.close()
    return times


# ---- report -------------------------------------------------------------------------------


def machine() -> str:
    mem = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    nginx_v = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    curl_v = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split("\n")[0].split(" (")[0]
    return (
        f"{os.cpu_count()} CPUs ({cpu.group(1).strip() if cpu else 'unknown'}), "
        f"{int(mem.group(1)) / 2**20:.1f} GiB memory, Linux {platform.release()}, {nginx_v}, {curl_v}"
    )


def write_results(body: str) -> None:
    """Puts ``body`` between this script's markers in bench/RESULTS.md, under its own
    heading; the rest of the file (other benchmarks' sections) is left as it is."""
    path = REPO / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    block = f"{BEGIN}\n{body.strip()}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n"
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--shard-mib", type=int, default=512)
    ap.add_argument("--ranges", type=int, default=128, help="ranged GETs per repetition (whole model)")
    ap.add_argument("--streams", default="1,64", help="comma-separated concurrent connections")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--list-keys", type=int, default=1_000_000)
    ap.add_argument("--list-requests", type=int, default=200)
    ap.add_argument("--nginx-workers", default="auto")
    ap.add_argument("--write-results", action="store_true")
    args = ap.parse_args()
    streams_list = [int(s) for s in args.streams.split(",")]
    size = args.shard_mib << 20
    keys = [syn.shard_key(MODEL, i, args.shards) for i in range(1, args.shards + 1)]
    work = ranges(keys, size, args.ranges)
    expect = [last - first + 1 for _, first, last in work]
    total = sum(expect)
    binary = find_oss_local()

    shm = Path(tempfile.mkdtemp(prefix="ossmc-bench-", dir="/dev/shm"))
    tmp = Path(tempfile.mkdtemp(prefix="ossmc-bench-"))
    nginx = oss = None
    try:
        print(f"writing {args.shards} x {args.shard_mib} MiB to {shm} ...", flush=True)
        write_shards(shm, keys, size)
        # Plain nginx: no access log (it would cost time) and no virtual hosts (curl uses path style).
        nginx = NginxServer(shm, tmp, args.nginx_workers, count_requests=False, virtual_hosts=False)
        oss = OssLocal(["--no-auth", "--model", f"{BUCKET}/{MODEL}:{args.shards}:{args.shard_mib}"], bin_path=binary)
        contenders = {"nginx": (nginx.endpoint, nginx.pids), "oss-local": (oss.endpoint, lambda: [oss.pid])}
        configs = {}
        for name, (endpoint, _) in contenders.items():
            configs[name] = tmp / f"{name}.curl"
            curl_config(endpoint, work, configs[name])
        # Warm-up: both serve everything once (page cache, allocator, CPU frequency).
        for name, (_, pids) in contenders.items():
            stream_once(configs[name], max(streams_list), expect, pids())

        rates: Dict[Tuple[str, int], List[float]] = {}
        cpu_per_gb: Dict[Tuple[str, int], List[float]] = {}
        for rep in range(args.reps):
            for streams in streams_list:
                order = list(contenders) if rep % 2 == 0 else list(reversed(contenders))
                for name in order:
                    dt, cpu = stream_once(configs[name], streams, expect, contenders[name][1]())
                    rates.setdefault((name, streams), []).append(total / dt / 1e9)
                    cpu_per_gb.setdefault((name, streams), []).append(cpu / (total / 1e9))
            print(f"repetition {rep + 1}/{args.reps} done", flush=True)
        oss.close()

        print(f"starting oss-local with {args.list_keys} keys ...", flush=True)
        with OssLocal(["--no-auth", "--keys", f"{BUCKET}/p/:{args.list_keys}"], bin_path=binary) as lister:
            list_page_ms(lister.port, "p%2F", 10)  # warm-up
            cpu0 = cpu_seconds([lister.pid])
            page_ms = list_page_ms(lister.port, "p%2F", args.list_requests)
            page_cpu_ms = (cpu_seconds([lister.pid]) - cpu0) * 1000 / args.list_requests
    finally:
        for c in (oss, nginx):
            if c is not None:
                c.close()
        shutil.rmtree(shm, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)

    cmd = "python3 " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0]).resolve().relative_to(REPO)), *sys.argv[1:]])
    rows = []
    for streams in streams_list:
        ref = statistics.median(rates[("nginx", streams)])
        for name in contenders:
            r = rates[(name, streams)]
            med = statistics.median(r)
            rows.append(
                f"| {name} | {streams} | {med:.2f} | {min(r):.2f} | {max(r):.2f} | {med / ref:.2f} "
                f"| {statistics.median(cpu_per_gb[(name, streams)]):.2f} |"
            )
    section = "\n".join(
        [
            f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
            f"Load average at the end: {os.getloadavg()[0]:.1f}.",
            "",
            f"Command: `{cmd}` (oss-local: `{binary.relative_to(REPO) if binary.is_relative_to(REPO) else binary}`, "
            "release build, `--no-auth`).",
            "",
            f"Workload: a {args.shards} x {args.shard_mib} MiB model fetched whole as {args.ranges} ranged GETs "
            f"({total / args.ranges / 2**20:.0f} MiB each) by one `curl --parallel` process to /dev/null; "
            f"{args.reps} repetitions, contenders alternating. nginx {args.nginx_workers} workers, "
            "sendfile from tmpfs; oss-local generates the bytes. GB = 10^9 bytes; CPU = server user+system "
            "seconds per GB sent (all processes of the server).",
            "",
            "| contender | streams | GB/s median | GB/s min | GB/s max | ratio to nginx (median) | server CPU s/GB |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"ListObjectsV2, 1000 keys per page from a {args.list_keys}-key set (`--keys {BUCKET}/p/:{args.list_keys}`), "
            f"{args.list_requests} pages walked with continuation tokens on one keep-alive connection "
            "(Python http.client; time from sending the request to the end of the body): "
            f"median {statistics.median(page_ms):.2f} ms, min {min(page_ms):.2f} ms, "
            f"p90 {sorted(page_ms)[int(len(page_ms) * 0.9)]:.2f} ms; server CPU {page_cpu_ms:.2f} ms per page.",
            "",
        ]
    )
    print()
    print(SECTION)
    print()
    print(section)
    if args.write_results:
        write_results(section)
        print("written to bench/RESULTS.md")


if __name__ == "__main__":
    main()
