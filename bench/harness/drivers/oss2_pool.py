"""oss2 (2.19.1): a thread pool of ranged GETs, the way users parallelize the official SDK.

Sequential pattern: the objects cut into ``part``-byte ranges, in order, fetched by ``streams``
threads; each part is read whole (``get_object(...).read()``) and checked. Random pattern: one
ranged GET per read, ``streams`` at a time. ``options.crc`` turns oss2's client-side CRC-64 on
or off (it is computed on ranged reads too, where there is nothing to compare it with).

``dir`` pattern: what ``ossutil cp -r oss://BUCKET/PREFIX/ DIR`` amounts to, sequentially: the
prefix listed (``ObjectIteratorV2``, ListObjectsV2), then ``get_object_to_file`` of each listed
object into its file, one object after another on one connection (oss2 reads the body in
16 KiB pieces and writes each to the file). Its time ends when the last file is written; the
files are checked after that (``Run.finish_directory``).
"""

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import driver  # noqa: E402


def body(run: driver.Run) -> None:
    import oss2

    p = run.p
    threads = int(p["streams"])
    # Without this the pool keeps 10 connections and churns the rest.
    oss2.defaults.connection_pool_size = threads
    run.start()
    bucket = oss2.Bucket(
        oss2.Auth(p["access_key_id"], p["access_key_secret"]),
        p["endpoint"],
        p["bucket"],
        enable_crc=bool(p["options"].get("crc")),
    )
    if p["pattern"] == "dir":
        target = run.target_dir()
        index = {key: i for i, key in enumerate(run.keys)}
        listed = [o for o in oss2.ObjectIteratorV2(bucket, prefix=p["prefix"]) if not o.key.endswith("/")]
        if sorted(o.key for o in listed) != sorted(run.keys):
            raise RuntimeError(f"the listing of {p['prefix']} gave {[o.key for o in listed][:5]}")
        for o in listed:
            if run.out_of_time():
                break
            i = index[o.key]
            bucket.get_object_to_file(o.key, str(run.file_path(target, i)))
        run.finish_directory(target)
    if p["pattern"] == "seq":
        work = [(i, off, n) for i, size in enumerate(run.sizes) for off, n in driver.parts(size, int(p["part"]))]
    else:
        work = [tuple(r) for r in p["reads"]]

    def fetch(item):
        i, off, n = item
        if run.out_of_time():
            return
        data = bucket.get_object(run.keys[i], byte_range=(off, off + n - 1)).read()
        if len(data) != n:
            run.problem(f"{run.keys[i]}: range at {off} gave {len(data)} bytes, asked {n}")
        run.got(i, off, data)

    with ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(fetch, w) for w in work]:
            f.result()
    run.finish()


driver.main(body)
