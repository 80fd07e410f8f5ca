"""ossmc through its Python package ``ossmodelconnector`` (the documented OssModelConnector API).

Sequential patterns (``Run.load_sequential``): open ``all`` shards first, as the documentation
recommends (the open order is the prefetch order), or open ``one`` at a time; ``readinto`` a
reused ``buffer``-byte bytearray until each shard is exhausted (read ``chunk``), or into one
bytearray the size of a shard until the shard is in it (read ``shard``, what
``safetensors.load(obj.read())`` amounts to without the extra copy); each shard is closed once
read so its prefetch memory goes to the next ones. Random pattern: the same opens, then
``seek`` + ``readinto`` per read, one at a time. ``options.config`` is written as the
connector's JSON configuration (prefetch settings such as ``memoryLimit`` for the
memory-limited condition); with ``"protocol": "s3"`` there it speaks the S3 API (AWS
Signature V4, ``s3://`` URIs) to the same server and bytes, the S3 row beside boto3 and Run:ai.

``dir`` pattern: ``prepare_directory("oss://BUCKET/PREFIX/", dir)`` into a fresh directory on
tmpfs: it lists the prefix and writes every object straight into its file (a hidden temporary
name, renamed once complete and verified), plus its own ``.ossmc-manifest.json``. The time ends
when the call returns; the files are checked after that (``Run.finish_directory``).
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
    scheme = "s3" if config.get("protocol") == "s3" else "oss"
    if p["pattern"] == "dir":
        target = run.target_dir()
        run.start()
        conn = OssModelConnector(endpoint=p["endpoint"], cred_path=str(cred), config_path=str(cfg))
        result = conn.prepare_directory(f"{scheme}://{p['bucket']}/{p['prefix']}", str(target), progress=False)
        if result.fetched != len(run.keys) or result.kept or result.bytes_fetched != sum(run.sizes):
            run.problem(f"prepare_directory says {result}")
        run.finish_directory(target, allowed=(".ossmc-manifest.json",), library_version=library_version,
                             prepare=result._asdict())
    buf = run.read_buffer()
    mv = memoryview(buf)
    run.start()
    conn = OssModelConnector(endpoint=p["endpoint"], cred_path=str(cred), config_path=str(cfg))

    def open_obj(i):
        return conn.open(f"{scheme}://{p['bucket']}/{run.keys[i]}")

    if p["pattern"] == "seq":
        run.load_sequential(buf, open_obj, lambda obj, view: obj.readinto(view), lambda obj: obj.close())
    else:
        objs = [open_obj(i) for i in range(len(run.keys))]
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
