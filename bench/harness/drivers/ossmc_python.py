"""ossmc through its Python package ``ossmodelconnector`` (the documented OssModelConnector API).

Sequential pattern, as the documentation recommends: ``open`` every shard first (the open order
is the prefetch order), then ``readinto`` a reused ``buffer``-byte bytearray until each shard
is exhausted, closing each shard once read so its prefetch memory goes to the next ones.
Random pattern: the same opens, then ``seek`` + ``readinto`` per read, one at a time.
``options.config`` is written as the connector's JSON configuration (prefetch settings such as
``memoryLimit`` for the memory-limited condition).
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import driver  # noqa: E402


def body(run: driver.Run) -> None:
    from ossmodelconnector import OssModelConnector, library_version

    p = run.p
    work = Path(p["workdir"])
    cred = work / "ossmc-credentials.json"
    cred.write_text(json.dumps({"AccessKeyId": p["access_key_id"], "AccessKeySecret": p["access_key_secret"]}))
    cfg = work / "ossmc-config.json"
    config = {"logLevel": 2, "logPath": str(work / "ossmc.log"), "auditPath": str(work / "ossmc-audit.log")}
    config.update(p["options"].get("config") or {})
    cfg.write_text(json.dumps(config))
    buf = bytearray(int(p["buffer"]) if p["pattern"] == "seq" else max(r[2] for r in p["reads"]))
    mv = memoryview(buf)
    run.start()
    conn = OssModelConnector(endpoint=p["endpoint"], cred_path=str(cred), config_path=str(cfg))
    objs = [conn.open(f"oss://{p['bucket']}/{key}") for key in run.keys]
    if p["pattern"] == "seq":
        for i, obj in enumerate(objs):
            off = 0
            while not run.out_of_time():
                n = obj.readinto(buf)
                if n == 0:
                    break
                run.got(i, off, mv, n)
                off += n
            if off != run.sizes[i] and not run.partial:
                run.problem(f"{run.keys[i]}: read {off} bytes of {run.sizes[i]}")
            obj.close()
            if run.partial or run.problems:
                break
    else:
        for i, off, n in p["reads"]:
            if run.out_of_time():
                break
            obj = objs[i]
            obj.seek(off)
            got = obj.readinto(mv[:n])
            if got != n:
                run.problem(f"{run.keys[i]}: read at {off} gave {got} bytes, asked {n}")
            run.got(i, off, mv, got)
    run.finish(library_version=library_version)


driver.main(body)
