#!/usr/bin/env python3
"""The C API against the Rust API: `examples-c/load_model` and `core-load --child` load the
same synthetic model from the same oss-local, alternately, in one run.

Both open every shard first and then read each to the end into a 4 MiB buffer, with the same
configuration (16 ranged GETs in flight, 8 MiB chunks, 2 GiB memory limit, warnings-only log,
no audit), and both time from the first open to the last byte. The C program links the release
`libossmc.so`; `core-load` links the same crate statically. A first, verified pass checks the
bytes (load_model's checksums against the synthetic content, core-load `--verify`); the timed
rounds then run without checking, alternating which goes first, and the section
"C API (load_model) against the Rust API" of bench/RESULTS.md gets the medians and their ratio.

    cargo build --release -p ossmc -p oss-local -p ossmc-bench-core
    make -C examples-c PROFILE=release BUILD=target/bench-examples-c target/bench-examples-c/load_model
    python3 bench/c_load_model.py [--shards 4] [--mib 256] [--rounds 5] [--results bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "testkit" / "python"))
from ossmc_testkit import synthetic  # noqa: E402
from ossmc_testkit.oss_local import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, OssLocal  # noqa: E402

BUCKET, MODEL = "bench", "model"  # what core-load --child reads
BEGIN, END = "<!-- c-abi:begin -->", "<!-- c-abi:end -->"


def parse_args():
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--mib", type=int, default=256, help="MiB per shard")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--in-flight", type=int, default=16)
    ap.add_argument("--oss-local", default=str(target / "release" / "oss-local"))
    ap.add_argument("--core-load", default=str(target / "release" / "core-load"))
    ap.add_argument("--load-model", default=str(target / "bench-examples-c" / "load_model"))
    ap.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"))
    return ap.parse_args()


def run_c(a, endpoint, work: Path, verify: bool) -> dict:
    uris = [f"oss://{BUCKET}/{synthetic.shard_key(MODEL, i, a.shards)}" for i in range(1, a.shards + 1)]
    cmd = [a.load_model, "-c", str(work / "cred.json"), "-f", str(work / "config.json")]
    if verify:
        cmd.append("-s")
    p = subprocess.run([*cmd, endpoint, *uris], capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise SystemExit(f"load_model failed ({p.returncode}): {p.stderr[-800:]}")
    total = re.search(r"^total (\d+) bytes in ([0-9.]+) s", p.stdout, re.M)
    if total is None:
        raise SystemExit(f"load_model printed no total: {p.stdout[-400:]}")
    if verify:
        size = a.mib << 20
        for i, uri in enumerate(uris, 1):
            key = synthetic.shard_key(MODEL, i, a.shards)
            m = re.search(rf"^{re.escape(uri)} (\d+) bytes sum ([0-9a-f]{{16}})$", p.stdout, re.M)
            if m is None or int(m.group(1)) != size or int(m.group(2), 16) != checksum(key, size):
                raise SystemExit(f"load_model read wrong bytes for {uri}: {m.group(0) if m else 'no line'}")
    return {"bytes": int(total.group(1)), "secs": float(total.group(2))}


def run_rust(a, endpoint, verify: bool) -> dict:
    cmd = [a.core_load, "--child", "--endpoint", endpoint, "--shards", str(a.shards),
           "--in-flight", str(a.in_flight), "--chunk-mib", "8", "--memory-limit-mib", "2048"]
    if verify:
        cmd.append("--verify")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise SystemExit(f"core-load failed ({p.returncode}): {p.stderr[-800:]}")
    r = json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1])
    return {"bytes": int(r["bytes"]), "secs": float(r["secs"])}


def checksum(key: str, size: int) -> int:
    """load_model's checksum of the synthetic object (see examples-c/load_model.c)."""
    import numpy as np

    seed = synthetic.seed(key)
    total = 0
    step = 8 << 20
    for off in range(0, size, step):
        n = min(step, size - off)
        data = synthetic.fill(seed, off, n)
        data += b"\0" * (-len(data) % 8)
        words = np.frombuffer(data, dtype="<u8")
        weights = np.arange(off // 8, off // 8 + len(words), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        with np.errstate(over="ignore"):
            total = (total + int((words * weights).sum(dtype=np.uint64))) % (1 << 64)
    return total


def gbps(r: dict) -> float:
    return r["bytes"] / r["secs"] / 1e9


def main() -> None:
    a = parse_args()
    for path in (a.oss_local, a.core_load, a.load_model):
        if not Path(path).is_file():
            raise SystemExit(f"{path} is missing; see the build commands at the top of {__file__}")
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, OssLocal(
        ["--model", f"{BUCKET}/{MODEL}:{a.shards}:{a.mib}"], bin_path=a.oss_local, stderr=subprocess.DEVNULL
    ) as server:
        work = Path(tmp)
        (work / "cred.json").write_text(json.dumps(
            {"AccessKeyId": TEST_ACCESS_KEY_ID, "AccessKeySecret": TEST_ACCESS_KEY_SECRET}))
        (work / "config.json").write_text(json.dumps({
            "logLevel": 2, "logPath": str(work / "c.log"), "auditPath": "/dev/null",
            "prefetch": {"vcpus": 1, "workers": a.in_flight, "chunkSize": 8 << 20, "memoryLimit": 2 << 30},
        }))
        run_c(a, server.endpoint, work, verify=True)
        run_rust(a, server.endpoint, verify=True)
        c, rust = [], []
        for i in range(a.rounds):
            order = [("c", c), ("rust", rust)] if i % 2 == 0 else [("rust", rust), ("c", c)]
            for name, out in order:
                r = run_c(a, server.endpoint, work, False) if name == "c" else run_rust(a, server.endpoint, False)
                out.append(gbps(r))
            print(f"round {i + 1}: C {c[-1]:.3f} GB/s, Rust {rust[-1]:.3f} GB/s", file=sys.stderr)
    load1 = os.getloadavg()[0]
    mc, mr = statistics.median(c), statistics.median(rust)
    ratio = mc / mr
    # The target: the C API costs nothing measurable, i.e. C reaches at least 95% of the Rust rate.
    verdict = ("target met: C reaches the Rust API's rate (at least 0.95 of it)" if ratio >= 0.95
               else f"target missed: C is {(1 - ratio) * 100:.1f}% slower than the Rust API")
    section = "\n".join([
        BEGIN,
        "## C API (load_model) against the Rust API",
        "",
        f"Generated by `python3 bench/c_load_model.py --shards {a.shards} --mib {a.mib} --rounds {a.rounds}` "
        f"on {started}. Machine: {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; "
        f"load average {load0:.1f} at the start, {load1:.1f} at the end (other work was running when it is "
        "above the CPU count).",
        "",
        f"Workload: {a.shards} x {a.mib} MiB synthetic shards from one release oss-local on 127.0.0.1, "
        f"read by `examples-c/load_model` (C, release libossmc.so) and `core-load --child` (Rust API), "
        "alternately: open every shard, then read each to the end into a 4 MiB buffer; "
        f"{a.in_flight} GETs in flight, 8 MiB chunks, 2 GiB memory limit; time from the first open to the "
        "last byte. A first verified pass of each checked every byte (not timed). One difference in the "
        "loops: load_model closes each shard as soon as it has read it (as the example recommends), "
        "core-load drops its readers after the timed window.",
        "",
        "| contender | median GB/s | best GB/s | rounds (GB/s) |",
        "|---|---:|---:|---|",
        f"| ossmc C load_model | {mc:.3f} | {max(c):.3f} | {', '.join(f'{x:.3f}' for x in c)} |",
        f"| ossmc Rust API (core-load) | {mr:.3f} | {max(rust):.3f} | {', '.join(f'{x:.3f}' for x in rust)} |",
        "",
        f"C / Rust (medians): **{ratio:.3f}** ({verdict}).",
        END,
    ])
    results = Path(a.results)
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    results.write_text(text)
    print(section)


if __name__ == "__main__":
    main()
