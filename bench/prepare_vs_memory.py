#!/usr/bin/env python3
"""``prepare_directory`` against ossmc's in-memory load of the same shards, from the
benchmark's nginx (tmpfs, static listing), with page-fault counts: where the directory's extra
time goes, and a quick A/B of library builds.

Each run is a process of its own: ``prepare`` makes a fresh directory on tmpfs with
``OssModelConnector.prepare_directory`` (removed afterwards, outside the time); ``memory`` opens
every shard and reads each whole with ``readinto`` into one shard-sized buffer (zero-filled before
the clock, like the harness's caller buffers). Printed per run: seconds from client creation to
the return, GB/s, user and system CPU seconds, minor page faults (``getrusage``); then medians.
Runs are interleaved (prepare, memory, prepare, ...). Bytes are not checked here (``bench/run``
does that); the sizes are.

  python3 bench/prepare_vs_memory.py                       # 4 x 512 MiB, 5 reps each
  python3 bench/prepare_vs_memory.py --lib A.so --lib B.so # prepare with each build, memory with the first
  python3 bench/prepare_vs_memory.py --reps 1 --wrap 'strace -f --seccomp-bpf -e trace=mmap,munmap,rename -T -o prep.strace'
  python3 bench/prepare_vs_memory.py --reps 1 --wrap 'perf record -g -o prep.perf.data'

``--wrap`` runs the prepare processes under that command (the memory ones as they are).
Defaults to the release build (``target/release/libossmc.so``, or ``$CARGO_TARGET_DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE / "harness"))


def child(mode: str, endpoint: str, work: Path, target: Path) -> None:
    import resource

    from ossmodelconnector import OssModelConnector

    cred, cfg = work / "cred.json", work / "cfg.json"
    model = json.loads((work / "model.json").read_text())
    buf = bytearray(model["shard_bytes"]) if mode == "memory" else None
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    conn = OssModelConnector(endpoint=endpoint, cred_path=str(cred), config_path=str(cfg))
    total = 0
    if mode == "prepare":
        res = conn.prepare_directory(f"oss://{model['bucket']}/{model['prefix']}", str(target), progress=False)
        total = res.bytes_fetched
    else:
        objs = [conn.open(f"oss://{model['bucket']}/{key}") for key in model["keys"]]
        mv = memoryview(buf)
        for obj in objs:
            off = 0
            while off < len(buf):
                n = obj.readinto(mv[off:])
                if n <= 0:
                    break
                off += n
            obj.close()
            total += off
    seconds = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    if mode == "prepare":
        sizes = sorted(p.stat().st_size for p in target.rglob("*") if p.is_file() and not p.name.startswith("."))
        ok = sizes == [model["shard_bytes"]] * len(model["keys"])
        shutil.rmtree(target, ignore_errors=True)
    else:
        ok = total == model["shard_bytes"] * len(model["keys"])
    print(json.dumps({"seconds": seconds, "bytes": total, "user": r1.ru_utime - r0.ru_utime,
                      "sys": r1.ru_stime - r0.ru_stime, "minflt": r1.ru_minflt - r0.ru_minflt, "ok": ok}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--mib", type=int, default=512)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--lib", action="append", help="libossmc.so to run prepare with (repeatable)")
    ap.add_argument("--wrap", help="command prefix for the prepare processes (strace, perf record)")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, endpoint, work, target = args.child
        child(mode, endpoint, Path(work), Path(target))
        return

    import servers
    from workload import BUCKET, MIB, Model

    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    libs = [Path(p).resolve() for p in (args.lib or [target_dir / "release" / "libossmc.so"])]
    model = Model(args.shards, args.mib * MIB)
    work = Path(tempfile.mkdtemp(prefix="prepare-vs-memory-"))
    shm = Path(tempfile.mkdtemp(prefix="prepare-vs-memory-", dir=servers.tmpfs_dir()))
    dirs = Path(tempfile.mkdtemp(prefix="prepare-vs-memory-dirs-", dir=servers.tmpfs_dir()))
    (work / "cred.json").write_text(json.dumps({"AccessKeyId": "id", "AccessKeySecret": "secret"}))
    (work / "cfg.json").write_text(json.dumps({"logLevel": 2, "logPath": str(work / "ossmc.log"),
                                               "auditPath": str(work / "audit.log")}))
    (work / "model.json").write_text(json.dumps({"bucket": BUCKET, "prefix": model.prefix, "keys": model.keys,
                                                 "shard_bytes": model.shard_bytes}))
    srv = None
    results = {}
    try:
        servers.write_model(shm, model)
        srv = servers.NginxServer(shm, work, count_requests=False,
                                  listing=servers.listing_xml(shm, model.keys, model.prefix))
        runs = [(f"prepare {lib}", "prepare", lib) for lib in libs] + [("memory", "memory", libs[0])]
        print(f"{model.shards} x {args.mib} MiB from nginx {srv.endpoint}; load average "
              f"{open('/proc/loadavg').read().split()[0]}", flush=True)
        for rep in range(args.reps):
            for name, mode, lib in runs:
                env = {**os.environ, "OSSMC_LIBRARY": str(lib), "PYTHONPATH": str(REPO / "python")}
                cmd = [sys.executable, __file__, "--child", mode, srv.endpoint, str(work), str(dirs / f"d{rep}")]
                if mode == "prepare" and args.wrap:
                    cmd = shlex.split(args.wrap) + cmd
                out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(REPO))
                lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
                if not lines:
                    raise SystemExit(f"{name} failed: {out.stderr[-800:]}")
                r = json.loads(lines[-1])
                results.setdefault(name, []).append(r)
                gb = r["bytes"] / 1e9
                print(f"rep {rep + 1} {name:60s} {r['seconds']:6.2f} s {gb / r['seconds']:5.2f} GB/s  CPU user "
                      f"{r['user']:.2f} sys {r['sys']:.2f} s ({(r['user'] + r['sys']) / gb:.2f} s/GB)  minflt "
                      f"{r['minflt']}{'' if r['ok'] else '  SIZES WRONG'}", flush=True)
    finally:
        if srv is not None:
            srv.close()
        for d in (shm, dirs, work):
            shutil.rmtree(d, ignore_errors=True)
    print("medians:")
    mem = statistics.median(r["bytes"] / r["seconds"] for r in results["memory"]) / 1e9
    for name, rs in results.items():
        g = statistics.median(r["bytes"] / r["seconds"] for r in rs) / 1e9
        cpu = statistics.median((r["user"] + r["sys"]) / (r["bytes"] / 1e9) for r in rs)
        flt = statistics.median(r["minflt"] for r in rs)
        print(f"  {name:60s} {g:5.2f} GB/s  {cpu:.2f} CPU s/GB  {flt:8.0f} minflt  {g / mem:.2f}x memory")


if __name__ == "__main__":
    main()
