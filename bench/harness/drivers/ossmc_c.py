"""ossmc through its C ABI: the shipped example ``examples-c/load_model`` (open every shard,
then read each to the end into one 4 MiB buffer), sequential pattern only.

It runs with ``-s``, so it prints an order-sensitive checksum of every shard computed on the
bytes it received, inside its own timed loop; the driver compares each with the checksum of
the synthetic content. Throughput uses the seconds load_model reports (first open to last
byte); CPU time and peak RSS are the child's (``RUSAGE_CHILDREN``). No ttfb: the example does
not report one.
"""

import json
import re
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import driver  # noqa: E402


def body(run: driver.Run) -> None:
    p = run.p
    if p["pattern"] != "seq":
        raise ValueError("load_model only does the sequential pattern")
    work = Path(p["workdir"])
    cred = work / "ossmc-c-credentials.json"
    cred.write_text(json.dumps({"AccessKeyId": p["access_key_id"], "AccessKeySecret": p["access_key_secret"]}))
    cfg = work / "ossmc-c-config.json"
    config = {"logLevel": 2, "logPath": str(work / "ossmc-c.log"), "auditPath": str(work / "ossmc-c-audit.log")}
    config.update(p["options"].get("config") or {})
    cfg.write_text(json.dumps(config))
    uris = [f"oss://{p['bucket']}/{k}" for k in run.keys]
    cmd = [p["options"]["binary"], "-s", "-b", str(int(p["buffer"])), "-c", str(cred), "-f", str(cfg), p["endpoint"], *uris]
    timeout = (run.deadline_s or 600) * 3 + 30
    run.start()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    wall = run.elapsed()
    if proc.returncode != 0:
        raise RuntimeError(f"load_model exited with {proc.returncode}: {proc.stderr.strip()[-400:]}")
    sums = {}
    for m in re.finditer(r"^(\S+) (\d+) bytes sum ([0-9a-f]{16})$", proc.stdout, re.M):
        sums[m.group(1)] = (int(m.group(2)), int(m.group(3), 16))
    total = re.search(r"^total (\d+) bytes in ([0-9.]+) s", proc.stdout, re.M)
    if total is None:
        raise RuntimeError(f"load_model printed no total line: {proc.stdout[-300:]!r}")
    for i, uri in enumerate(uris):
        if uri not in sums:
            run.problem(f"load_model printed no checksum for {uri}")
            continue
        n, s = sums[uri]
        if n != run.sizes[i] or s != run.synth.load_model_sum(run.seeds[i], run.sizes[i]):
            run.problem(f"{uri}: {n} bytes with checksum {s:016x}, not the synthetic content")
    run.bytes = int(total.group(1))
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.finish(seconds=float(total.group(2)), wall_seconds=wall, peak_rss=child.ru_maxrss * 1024,
               cpu_s=child.ru_utime + child.ru_stime, timeline=None, verify_s=None, verify_inline="load_model -s checksum")


driver.main(body)
