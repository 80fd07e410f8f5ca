"""Two loaders of one synthetic model timed against each other, in one run: what
``bench/c_load_model.py`` (C API against Rust API) and ``bench/python_vs_c.py`` (Python API
against C API) share.

It owns their common command line, the release oss-local serving the model, the credentials
and configuration files both contenders read, the ``examples-c/load_model`` contender (which
both scripts measure) with its checksum check, the verified first pass and the alternating
timed rounds, and writing a script's section of bench/RESULTS.md between its markers. Each
script brings its other contender and the text of its section.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
#: The shared Python test kit (synthetic bytes, oss-local launcher).
TESTKIT = ROOT / "tools" / "testkit" / "python"
if str(TESTKIT) not in sys.path:
    sys.path.insert(0, str(TESTKIT))

from ossmc_testkit import synthetic  # noqa: E402
from ossmc_testkit.oss_local import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, OssLocal  # noqa: E402

#: The model oss-local serves: what ``core-load --child`` reads too.
BUCKET, MODEL = "bench", "model"
MiB = 1 << 20

#: A contender: ``run(endpoint, work, verify)`` loads the whole model once and returns
#: ``{"bytes": ..., "secs": ...}``; ``work`` holds ``cred.json`` and ``config.json``. With
#: ``verify`` it checks every byte (not timed), and exits with a sentence when one is wrong.
Runner = Callable[[str, Path, bool], dict]


def parse_args(doc: str, script: str, binaries: Sequence[Tuple[str, str]]) -> argparse.Namespace:
    """The command line both scripts take, with ``binaries`` (option, path under the cargo
    target directory) between ``--oss-local`` and ``--load-model``; exits naming the first
    program that is missing (``doc``, the script's docstring, says how to build them)."""
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--mib", type=int, default=256, help="MiB per shard")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--in-flight", type=int, default=16)
    ap.add_argument("--oss-local", default=str(target / "release" / "oss-local"))
    for option, path in binaries:
        ap.add_argument(option, default=str(target / path))
    ap.add_argument("--load-model", default=str(target / "bench-examples-c" / "load_model"))
    ap.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"))
    a = ap.parse_args()
    programs = [a.oss_local, *(getattr(a, option[2:].replace("-", "_")) for option, _ in binaries), a.load_model]
    for path in programs:
        if not Path(path).is_file():
            raise SystemExit(f"{path} is missing; see the build commands at the top of {script}")
    return a


def shard_uris(a: argparse.Namespace) -> List[str]:
    """The model's shards, in load order."""
    return [f"oss://{BUCKET}/{synthetic.shard_key(MODEL, i, a.shards)}" for i in range(1, a.shards + 1)]


def run_load_model(a: argparse.Namespace, endpoint: str, work: Path, verify: bool) -> dict:
    """One load by ``examples-c/load_model``; with ``verify``, its per-shard checksums (``-s``)
    are compared with the synthetic content's."""
    uris = shard_uris(a)
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
        size = a.mib * MiB
        for i, uri in enumerate(uris, 1):
            key = synthetic.shard_key(MODEL, i, a.shards)
            m = re.search(rf"^{re.escape(uri)} (\d+) bytes sum ([0-9a-f]{{16}})$", p.stdout, re.M)
            if m is None or int(m.group(1)) != size or int(m.group(2), 16) != checksum(key, size):
                raise SystemExit(f"load_model read wrong bytes for {uri}: {m.group(0) if m else 'no line'}")
    return {"bytes": int(total.group(1)), "secs": float(total.group(2))}


def checksum(key: str, size: int) -> int:
    """load_model's checksum of the synthetic object (see examples-c/load_model.c)."""
    import numpy as np  # only the verified pass needs it

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
    """The rate of one load, in GB (10^9 bytes) per second."""
    return r["bytes"] / r["secs"] / 1e9


@dataclass
class Comparison:
    """What :func:`compare` measured."""

    #: When the run started (UTC, ISO 8601).
    started: str
    #: The 1-minute load average before the server started and after it stopped.
    load_before: float
    load_after: float
    #: GB/s of each timed round, by contender name, in round order.
    rates: Dict[str, List[float]]


def compare(a: argparse.Namespace, contenders: Sequence[Tuple[str, Runner]]) -> Comparison:
    """Serves the model from one oss-local, runs a verified pass of each contender, then
    ``a.rounds`` timed rounds in which the two alternate which goes first (so that drift hits
    both alike), printing each round's rates to stderr."""
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    load_before = os.getloadavg()[0]
    rates: Dict[str, List[float]] = {name: [] for name, _ in contenders}
    with tempfile.TemporaryDirectory() as tmp, OssLocal(
        ["--model", f"{BUCKET}/{MODEL}:{a.shards}:{a.mib}"], bin_path=a.oss_local, stderr=subprocess.DEVNULL
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
        for _, run in contenders:
            run(server.endpoint, work, True)
        for i in range(a.rounds):
            order = list(contenders) if i % 2 == 0 else list(reversed(contenders))
            for name, run in order:
                rates[name].append(gbps(run(server.endpoint, work, False)))
            line = ", ".join(f"{name} {rates[name][-1]:.3f} GB/s" for name, _ in contenders)
            print(f"round {i + 1}: {line}", file=sys.stderr)
    return Comparison(started, load_before, os.getloadavg()[0], rates)


def table_row(label: str, rates: List[float]) -> str:
    """A row of the sections' table: contender, median, best, every round (GB/s)."""
    return (
        f"| {label} | {statistics.median(rates):.3f} | {max(rates):.3f} | "
        f"{', '.join(f'{x:.3f}' for x in rates)} |"
    )


def write_section(results: Path, begin: str, end: str, section: str) -> None:
    """Replaces the text from ``begin`` to ``end`` in ``results`` with ``section`` (which
    starts and ends with those markers), or appends it; the rest of the file is kept."""
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    results.write_text(text)
