#!/usr/bin/env python3
"""The Python API against the C API: ``OssModelConnector`` with ``readinto`` and
``examples-c/load_model`` load the same synthetic model from the same oss-local, alternately,
in one run.

Both run the same loop with the same library build and configuration: open every shard
first, then read each to the end into one reused 4 MiB buffer (Python: ``bytearray`` +
``readinto``), closing each shard once read; 16 ranged GETs in flight, 8 MiB chunks, 2 GiB
memory limit, warnings-only log, no audit; time from the first open to the last byte. Each
runs in a fresh process. A first, verified pass of each checks every byte (Python against
the synthetic content, load_model through its checksum); the timed rounds then run without
checking, alternating which goes first. The section "Python API (readinto) against the C API"
of bench/RESULTS.md gets the medians and their ratio (target: Python >= 0.95 x C).

    cargo build --release -p ossmc -p oss-local
    make -C examples-c PROFILE=release BUILD=target/bench-examples-c target/bench-examples-c/load_model
    python3 bench/python_vs_c.py [--shards 4] [--mib 256] [--rounds 5] [--results bench/RESULTS.md]

The Python side loads ``target/release/libossmc.so`` (``--library``) through the package's
source tree, so both sides use the very same library build.
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
sys.path.insert(0, str(ROOT / "bench"))
from ossmc_testkit import synthetic  # noqa: E402
from ossmc_testkit.oss_local import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, OssLocal  # noqa: E402

BUCKET, MODEL = "bench", "model"
BEGIN, END = "<!-- python-vs-c:begin -->", "<!-- python-vs-c:end -->"
MiB = 1 << 20

# The Python contender, run in its own process: the document's loop, timed like load_model.
CHILD = r"""
import json, sys, time
sys.path.insert(0, {package!r})
from ossmodelconnector import OssModelConnector
endpoint, cred, config, uris, verify = {endpoint!r}, {cred!r}, {config!r}, {uris!r}, {verify!r}
if verify:
    sys.path.insert(0, {testkit!r})
    from ossmc_testkit import synthetic
connector = OssModelConnector(endpoint=endpoint, cred_path=cred, config_path=config)
buf = bytearray(4 * 1024 * 1024)
start = time.perf_counter()
objs = [connector.open(uri) for uri in uris]
total = 0
for uri, obj in zip(uris, objs):
    key = uri.split("/", 3)[3]
    offset = 0
    while True:
        n = obj.readinto(buf)
        if n == 0:
            break
        if verify:
            bad = synthetic.first_mismatch(synthetic.seed(key), offset, memoryview(buf)[:n])
            if bad is not None:
                sys.exit(f"{{uri}}: byte {{offset + bad}} differs from the synthetic content")
        offset += n
    total += offset
    obj.close()
secs = time.perf_counter() - start
print(json.dumps({{"bytes": total, "secs": secs}}))
"""


def parse_args():
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--mib", type=int, default=256, help="MiB per shard")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--in-flight", type=int, default=16)
    ap.add_argument("--oss-local", default=str(target / "release" / "oss-local"))
    ap.add_argument("--library", default=str(target / "release" / "libossmc.so"))
    ap.add_argument("--load-model", default=str(target / "bench-examples-c" / "load_model"))
    ap.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"))
    return ap.parse_args()


def uris(a) -> list:
    return [f"oss://{BUCKET}/{synthetic.shard_key(MODEL, i, a.shards)}" for i in range(1, a.shards + 1)]


def run_python(a, endpoint: str, work: Path, verify: bool) -> dict:
    script = CHILD.format(
        package=str(ROOT / "python"),
        testkit=str(ROOT / "tools" / "testkit" / "python"),
        endpoint=endpoint,
        cred=str(work / "cred.json"),
        config=str(work / "config.json"),
        uris=uris(a),
        verify=verify,
    )
    env = dict(os.environ, OSSMC_LIBRARY=a.library, OSSMC_HEADER=str(ROOT / "include" / "ossmc.h"))
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=1800, env=env)
    if p.returncode != 0:
        raise SystemExit(f"the Python reader failed ({p.returncode}): {p.stderr[-800:]}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    if r["bytes"] != a.shards * a.mib * MiB:
        raise SystemExit(f"the Python reader read {r['bytes']} bytes, expected {a.shards * a.mib * MiB}")
    return r


def run_c(a, endpoint: str, work: Path, verify: bool) -> dict:
    from c_load_model import checksum

    cmd = [a.load_model, "-c", str(work / "cred.json"), "-f", str(work / "config.json")]
    if verify:
        cmd.append("-s")
    p = subprocess.run([*cmd, endpoint, *uris(a)], capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise SystemExit(f"load_model failed ({p.returncode}): {p.stderr[-800:]}")
    total = re.search(r"^total (\d+) bytes in ([0-9.]+) s", p.stdout, re.M)
    if total is None:
        raise SystemExit(f"load_model printed no total: {p.stdout[-400:]}")
    if verify:
        for i, uri in enumerate(uris(a), 1):
            key = synthetic.shard_key(MODEL, i, a.shards)
            m = re.search(rf"^{re.escape(uri)} (\d+) bytes sum ([0-9a-f]{{16}})$", p.stdout, re.M)
            if m is None or int(m.group(1)) != a.mib * MiB or int(m.group(2), 16) != checksum(key, a.mib * MiB):
                raise SystemExit(f"load_model read wrong bytes for {uri}")
    return {"bytes": int(total.group(1)), "secs": float(total.group(2))}


def gbps(r: dict) -> float:
    return r["bytes"] / r["secs"] / 1e9


def main() -> None:
    a = parse_args()
    for path in (a.oss_local, a.library, a.load_model):
        if not Path(path).is_file():
            raise SystemExit(f"{path} is missing; see the build commands at the top of {__file__}")
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    load0 = os.getloadavg()[0]
    server_args = ["--model", f"{BUCKET}/{MODEL}:{a.shards}:{a.mib}"]
    with tempfile.TemporaryDirectory() as tmp, OssLocal(
        server_args, bin_path=a.oss_local, stderr=subprocess.DEVNULL
    ) as server:
        work = Path(tmp)
        (work / "cred.json").write_text(
            json.dumps({"AccessKeyId": TEST_ACCESS_KEY_ID, "AccessKeySecret": TEST_ACCESS_KEY_SECRET})
        )
        (work / "config.json").write_text(
            json.dumps(
                {
                    "logLevel": 2,
                    "logPath": str(work / "connector.log"),
                    "auditPath": "/dev/null",
                    "prefetch": {"vcpus": 1, "workers": a.in_flight, "chunkSize": 8 * MiB, "memoryLimit": 2 << 30},
                }
            )
        )
        run_python(a, server.endpoint, work, verify=True)
        run_c(a, server.endpoint, work, verify=True)
        py, c = [], []
        for i in range(a.rounds):
            order = [("python", py), ("c", c)] if i % 2 == 0 else [("c", c), ("python", py)]
            for name, out in order:
                run = run_python if name == "python" else run_c
                out.append(gbps(run(a, server.endpoint, work, False)))
            print(f"round {i + 1}: Python {py[-1]:.3f} GB/s, C {c[-1]:.3f} GB/s", file=sys.stderr)
    load1 = os.getloadavg()[0]
    mp, mc = statistics.median(py), statistics.median(c)
    ratio = mp / mc
    verdict = (
        "target met: Python reaches at least 0.95 of the C rate"
        if ratio >= 0.95
        else f"target missed: Python is {(1 - ratio) * 100:.1f}% slower than C"
    )
    section = "\n".join(
        [
            BEGIN,
            "## Python API (readinto) against the C API",
            "",
            f"Generated by `python3 bench/python_vs_c.py --shards {a.shards} --mib {a.mib} --rounds {a.rounds}` "
            f"on {started}. Machine: {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; load average {load0:.1f} at the start, {load1:.1f} at the end "
            "(other work was running when it is above the CPU count).",
            "",
            f"Workload: {a.shards} x {a.mib} MiB synthetic shards from one release oss-local on 127.0.0.1, read "
            "alternately by `OssModelConnector` + `readinto` (Python, cffi over the release libossmc.so) and "
            "`examples-c/load_model` (C, the same library build): open every shard, then read each to the end "
            f"into one 4 MiB buffer, closing each once read; {a.in_flight} GETs in flight, 8 MiB chunks, "
            "2 GiB memory limit; time from the first open to the last byte, each run in a fresh process. "
            "A first verified pass of each checked every byte (not timed).",
            "",
            "| contender | median GB/s | best GB/s | rounds (GB/s) |",
            "|---|---:|---:|---|",
            f"| ossmc Python readinto | {mp:.3f} | {max(py):.3f} | {', '.join(f'{x:.3f}' for x in py)} |",
            f"| ossmc C load_model | {mc:.3f} | {max(c):.3f} | {', '.join(f'{x:.3f}' for x in c)} |",
            "",
            f"Python / C (medians): **{ratio:.3f}** ({verdict}).",
            END,
        ]
    )
    results = Path(a.results)
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    results.write_text(text)
    print(section)


if __name__ == "__main__":
    main()
