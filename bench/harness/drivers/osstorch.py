"""osstorchconnector 1.2.3 (Alibaba's connector, native C++ core) through its native reader.

Sequential patterns (``Run.load_sequential``): ``open_ro`` with the known size, every shard
first (open ``all``, the documented load pattern) or one at a time (open ``one``), then
``readinto`` a reused ``buffer``-byte buffer until each is exhausted (read ``chunk``) or one
shard-sized buffer until the shard is in it (read ``shard``). ``options.reader_type`` picks the
read mode: 0 = "dataset" reader (one connection, large GETs one after another), 1 =
"checkpoint" reader (1 MiB GETs on many connections). ``options.prefetch`` uses the dataset's
prefetching iterator instead, ``list_from_uris(objects, prefetch=True)`` (what its map-style
dataset does for a batch): open ``all`` hands it every shard at once and reads the objects as
the iterator yields them; open ``one`` makes one iterator per shard. Random pattern: ``seek`` +
``readinto`` per read on the opened objects, one read at a time, as its safetensors loader does.

``dir`` pattern (a directory on tmpfs): it loads into memory, so the directory is made as a user
of it would: every shard opened first (``open_ro``, ``options.reader_type``), each read into
one shard-sized buffer until the shard is in it (its ``shard-all`` load), then written to its
file (one ``write``). The keys are given (no listing); the files are checked after the time
ends (``Run.finish_directory``).

It always uses virtual-hosted addressing (``BUCKET.localhost``, see /etc/hosts) and V4
signatures; torch is not needed, the native module is imported from the package folder. Its
module crashes at interpreter exit, which :meth:`driver.Run.finish` avoids with ``os._exit``;
iterators are deleted before that (one left alive at shutdown can spin).
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


def readinto(obj, view):
    return obj.readinto(view)


def prefetched(run: driver.Run, oc, dataset) -> None:
    """The sequential load through ``list_from_uris(..., prefetch=True)``."""
    p = run.p
    index = {f"/{p['bucket']}/{key}": i for i, key in enumerate(run.keys)}
    uris = [f"oss://{p['bucket']}/{key}" for key in run.keys]
    groups = [list(range(len(uris)))] if run.open_mode == "all" else [[i] for i in range(len(uris))]
    buf = run.read_buffer()
    run.start()
    ds = dataset()
    order = []
    for group in groups:
        it = ds.list_from_uris([oc.new_data_object(uris[i], run.sizes[i], "") for i in group], True, True)
        ok = True
        for obj in it:
            key = str(obj.key)
            err = obj.err() if callable(obj.err) else obj.err
            if err:
                run.problem(f"{key}: error {err}: {obj.error_msg()}")
            elif key not in index:
                run.problem(f"the iterator yielded an unknown key {key}")
            else:
                order.append(index[key])
                ok = run.read_object(index[key], obj, buf, readinto)
            del obj
            if not ok or run.problems:
                break
        del it
        if not ok or run.problems:
            break
    if order != sorted(order):
        run.extra["yield_order"] = order
    run.finish(peer_mode="list_from_uris prefetch")


def body(run: driver.Run) -> None:
    p = run.p
    work = Path(p["workdir"])
    cred = work / "osstorch-credentials.json"
    cred.write_text(json.dumps({"AccessKeyId": p["access_key_id"], "AccessKeySecret": p["access_key_secret"]}))
    cfg = work / "osstorch-config.json"
    cfg.write_text(json.dumps({"logLevel": 2, "logPath": str(work / "osstorch.log"), "auditPath": ""}))
    oc = native_module()

    def dataset():
        return oc.new_oss_dataset(p["vhost_endpoint"], str(cred), None, str(cfg), str(uuid.uuid4()), 0, 1,
                                  p["region"])

    if p["options"].get("prefetch"):
        if p["pattern"] != "seq":
            raise ValueError("the prefetching iterator is measured on the sequential patterns only")
        prefetched(run, oc, dataset)
        return
    mode = int(p["options"]["reader_type"])
    if p["pattern"] == "dir":
        target = run.target_dir()
        buf = run.buffer(max(run.sizes))
    else:
        buf = run.read_buffer()
    mv = memoryview(buf)
    run.start()
    ds = dataset()

    def open_obj(i):
        return ds.open_ro(p["bucket"], run.keys[i], run.sizes[i], mode, "")

    if p["pattern"] == "dir":
        objs = [open_obj(i) for i in range(len(run.keys))]
        for i, obj in enumerate(objs):
            size, off = run.sizes[i], 0
            while off < size:
                got = obj.readinto(mv[off:size])
                if got is None or got <= 0:
                    raise RuntimeError(f"{run.keys[i]}: read {off} bytes of {size}")
                off += got
            objs[i] = None
            del obj
            with open(run.file_path(target, i), "wb") as f:
                f.write(mv[:size])
        run.finish_directory(target, peer_mode=mode)
    elif p["pattern"] == "seq":
        run.load_sequential(buf, open_obj, readinto, lambda obj: None)
    else:
        objs = [open_obj(i) for i in range(len(run.keys))]
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
