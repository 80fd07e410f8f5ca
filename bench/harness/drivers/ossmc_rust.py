"""ossmc through its Rust API: the ``core-load`` benchmark binary (``bench/core-load``) in its
``--child`` mode, sequential pattern ``chunk-all`` only.

That mode creates a ``Connector``, opens every shard, then reads each to the end with 4 MiB
``read`` calls and prints one JSON line (bytes, seconds from the first open, CPU seconds,
VmHWM). With ``--verify`` it compares every chunk with the synthetic content as it arrives (the
Rust test kit's check, inside its timed loop) and fails on the first wrong byte, so a run that
exits cleanly with all the bytes is a verified run. ``options.in_flight`` and
``options.memory_limit_mib`` set its prefetch concurrency and memory limit.
"""

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import driver  # noqa: E402


def body(run: driver.Run) -> None:
    p = run.p
    if p["pattern"] != "seq":
        raise ValueError("core-load only does the sequential pattern")
    o = p["options"]
    cmd = [o["binary"], "--child", "--verify", "--endpoint", p["endpoint"], "--shards", str(len(run.keys)),
           "--in-flight", str(o["in_flight"]), "--memory-limit-mib", str(o["memory_limit_mib"])]
    timeout = (run.deadline_s or 600) * 3 + 30
    run.start()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    wall = run.elapsed()
    if proc.returncode != 0:
        raise RuntimeError(f"core-load exited with {proc.returncode}: {proc.stderr.strip()[-400:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"core-load printed no result: {proc.stdout[-300:]!r}")
    r = json.loads(lines[-1])
    run.bytes = int(r["bytes"])
    run.finish(seconds=float(r["secs"]), wall_seconds=wall, cpu_s=float(r["cpu_secs"]),
               peak_rss=int(r["vmhwm_kib"]) * 1024, timeline=None, verify_s=None, rss_base=0,
               caller_buffer_bytes=4 * 1024 * 1024,  # core-load's read buffer
               verify_inline="core-load --verify", peak_bytes_held=r.get("peak_bytes_held"),
               chunks_refetched=r.get("chunks_refetched"))


driver.main(body)
