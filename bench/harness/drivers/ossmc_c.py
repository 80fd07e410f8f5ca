"""ossmc through its C ABI: ``ossmcload`` (``bench/harness/ossmcload.c``), the load pattern of
``examples-c/load_model`` (open every shard, then ``ossmc_read`` each to the end into one
``buffer``-byte buffer, closing each shard once read), sequential pattern only.

Every chunk is checked against the synthetic content as it arrives (synthcheck.c, inside the
timed loop, like the Python contenders); load_model's own ``-s`` checksum would cost more than
the load. Throughput uses the seconds ossmcload reports (first open to last byte); CPU time and
peak RSS are the child's (``RUSAGE_CHILDREN``).
"""

import json
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import driver  # noqa: E402


def body(run: driver.Run) -> None:
    p = run.p
    if p["pattern"] != "seq":
        raise ValueError("the C contender only does the sequential pattern")
    work = Path(p["workdir"])
    cred = work / "ossmc-c-credentials.json"
    cred.write_text(json.dumps({"AccessKeyId": p["access_key_id"], "AccessKeySecret": p["access_key_secret"]}))
    cfg = work / "ossmc-c-config.json"
    config = {"logLevel": 2, "logPath": str(work / "ossmc-c.log"), "auditPath": str(work / "ossmc-c-audit.log")}
    config.update(p["options"].get("config") or {})
    cfg.write_text(json.dumps(config))
    cmd = [p["options"]["binary"], p["endpoint"], str(cred), str(cfg), str(int(p["buffer"])), str(run.deadline_s or 0)]
    for key, seed, size in zip(run.keys, run.seeds, run.sizes):
        cmd += [f"oss://{p['bucket']}/{key}", str(seed), str(size)]
    run.start()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=(run.deadline_s or 600) * 3 + 30)
    wall = run.elapsed()
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"ossmcload exited with {proc.returncode}: {proc.stderr.strip()[-400:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    run.bytes = int(r["bytes"])
    run.partial = bool(r.get("partial"))
    if r["problems"]:
        run.problem(f"{r['problems']} problems, first: {r['first_problem']}")
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.finish(seconds=float(r["seconds"]), ttfb=r["ttfb"] if r["ttfb"] >= 0 else None, wall_seconds=wall,
               peak_rss=child.ru_maxrss * 1024, cpu_s=child.ru_utime + child.ru_stime, timeline=None, verify_s=None)


driver.main(body)
