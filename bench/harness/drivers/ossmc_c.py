"""ossmc through its C ABI: ``ossmcload`` (``bench/harness/ossmcload.c``), the load pattern of
``examples-c/load_model``: every shard opened first (open ``all``; ``-1`` opens, reads and
closes one at a time for open ``one``), then each read to the end with ``ossmc_read`` into one
``buffer``-byte buffer (read ``chunk``) or, with ``-s``, into one buffer the size of a shard
until the shard is in it (read ``shard``), closing each shard once read. Sequential patterns
only.

Every chunk is checked against the synthetic content as it arrives (synthcheck.c, inside the
timed loop, like the Python contenders); load_model's own ``-s`` checksum would cost more than
the load. Throughput uses the seconds ossmcload reports (first open to last byte), CPU time the
CPU seconds it reports over the same window (``getrusage`` in the program, so the zero-fill of
its buffer is left out, as in the Python drivers, whose buffers are filled before their clock
starts); peak RSS is the child's (``RUSAGE_CHILDREN``).
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import driver  # noqa: E402


def body(run: driver.Run) -> None:
    p = run.p
    if p["pattern"] != "seq":
        raise ValueError("the C contender only does the sequential patterns")
    work = Path(p["workdir"])
    cred = work / "ossmc-c-credentials.json"
    cred.write_text(json.dumps({"AccessKeyId": p["access_key_id"], "AccessKeySecret": p["access_key_secret"]}))
    cfg = work / "ossmc-c-config.json"
    config = {"logLevel": 2, "logPath": str(work / "ossmc-c.log"), "auditPath": str(work / "ossmc-c-audit.log")}
    config.update(p["options"].get("config") or {})
    cfg.write_text(json.dumps(config))
    flags = (["-s"] if run.read_mode == "shard" else []) + (["-1"] if run.open_mode == "one" else [])
    cmd = [p["options"]["binary"], *flags, p["endpoint"], str(cred), str(cfg), str(int(p["buffer"])),
           str(run.deadline_s or 0)]
    for key, seed, size in zip(run.keys, run.seeds, run.sizes):
        cmd += [f"oss://{p['bucket']}/{key}", str(seed), str(size)]
    buffer_bytes = max(run.sizes) if run.read_mode == "shard" else int(p["buffer"])
    run.finish_c_loader(cmd, "ossmcload", report_wall=True, buffer_bytes=buffer_bytes)


driver.main(body)
