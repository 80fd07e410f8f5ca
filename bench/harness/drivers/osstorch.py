"""osstorchconnector 1.2.3 (Alibaba's connector, native C++ core) through its native reader.

The documented load pattern: open every shard first (``open_ro`` with the known size), then
``readinto`` a reused ``buffer``-byte buffer until each is exhausted. ``options.reader_type``
picks the read mode: 0 = "dataset" reader (one connection, large GETs one after another),
1 = "checkpoint" reader (1 MiB GETs on many connections). Random pattern: ``seek`` + ``readinto``
per read on the opened objects, one read at a time, as its safetensors loader does.

It always uses virtual-hosted addressing (``BUCKET.localhost``, see /etc/hosts) and V4
signatures; torch is not needed, the native module is imported from the package folder. Its
module crashes at interpreter exit, which :meth:`driver.Run.finish` avoids with ``os._exit``.
"""

import importlib.util
import json
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import driver  # noqa: E402


def native_module():
    spec = importlib.util.find_spec("osstorchconnector")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("osstorchconnector is not installed (pip install --no-deps osstorchconnector==1.2.3)")
    sys.path.insert(0, str(Path(spec.submodule_search_locations[0]) / "_oss_connector"))
    import oss_connector  # noqa: PLC0415 - importable only once the path is set

    return oss_connector


def body(run: driver.Run) -> None:
    p = run.p
    work = Path(p["workdir"])
    cred = work / "osstorch-credentials.json"
    cred.write_text(json.dumps({"AccessKeyId": p["access_key_id"], "AccessKeySecret": p["access_key_secret"]}))
    cfg = work / "osstorch-config.json"
    cfg.write_text(json.dumps({"logLevel": 2, "logPath": str(work / "osstorch.log"), "auditPath": ""}))
    oc = native_module()
    mode = int(p["options"]["reader_type"])
    buf = bytearray(int(p["buffer"]) if p["pattern"] == "seq" else max(r[2] for r in p["reads"]))
    mv = memoryview(buf)
    run.start()
    ds = oc.new_oss_dataset(p["vhost_endpoint"], str(cred), None, str(cfg), str(uuid.uuid4()), 0, 1, p["region"])
    objs = [ds.open_ro(p["bucket"], key, size, mode, "") for key, size in zip(run.keys, run.sizes)]
    if p["pattern"] == "seq":
        for i, obj in enumerate(objs):
            off = 0
            while not run.out_of_time():
                n = obj.readinto(buf)
                if n <= 0:
                    break
                run.got(i, off, mv, n)
                off += n
            if off != run.sizes[i] and not run.partial:
                run.problem(f"{run.keys[i]}: read {off} bytes of {run.sizes[i]}")
                break
            objs[i] = None
            del obj
            if run.partial:
                break
    else:
        for i, off, n in p["reads"]:
            if run.out_of_time():
                break
            obj = objs[i]
            obj.seek(off, 0)
            got = obj.readinto(mv[:n])
            if got != n:
                run.problem(f"{run.keys[i]}: read at {off} gave {got} bytes, asked {n}")
            run.got(i, off, mv, max(got, 0))
    run.finish(peer_mode=mode)


driver.main(body)
