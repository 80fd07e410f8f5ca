#!/usr/bin/env python3
"""What it costs to put bytes into a file on tmpfs, against copying them into memory already
resident: the ways a loader can make a directory on /dev/shm, one thread, no network.

For a ``--mib`` file (default 512, a shard of the benchmark's model), each way fills a fresh
file from a resident source buffer and is timed (wall and CPU seconds of this process, minor
page faults):

* ``memcpy to resident memory``: the copy an in-memory load ends with (reference);
* ``mmap MAP_POPULATE, then memcpy``: a shared mapping of the sized file, every page allocated,
  zeroed and mapped by ``mmap`` itself before the copy (what ``prepare_directory`` does now,
  ``src/prepare/local_file.rs``); the populate and the copy are also timed apart;
* ``mmap, memcpy faulting pages in``: the same mapping without MAP_POPULATE, pages allocated
  as the copy first touches them;
* ``fallocate, mmap, memcpy``: pages allocated by ``posix_fallocate`` first;
* ``write()``: one ``write`` of the buffer (tmpfs allocates each page and copies into it, with
  no zeroing and no mapping to tear down).

Mapping ways include the ``munmap`` (timed apart too). The reps are interleaved; medians are
printed. The file is removed after each way, outside its time.

Usage: ``python3 bench/tmpfs_fill.py [--mib 512] [--reps 5] [--dir /dev/shm]``
"""

from __future__ import annotations

import argparse
import mmap
import os
import resource
import statistics
import tempfile
import time
from typing import Callable, Dict, List

MIB = 1 << 20


def usage() -> tuple:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), r.ru_utime + r.ru_stime, r.ru_minflt


def timed(fn: Callable[[], Dict[str, float]]) -> Dict[str, float]:
    t0, c0, f0 = usage()
    parts = fn() or {}
    t1, c1, f1 = usage()
    return {"s": t1 - t0, "cpu": c1 - c0, "faults": f1 - f0, **parts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=512)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dir", default="/dev/shm")
    args = ap.parse_args()
    size = args.mib * MIB
    src = bytearray(os.urandom(MIB)) * args.mib  # resident
    dst = bytearray(size)  # resident: zero-filled before any clock, like a caller's buffer
    work = tempfile.mkdtemp(prefix="tmpfs-fill-", dir=args.dir)
    path = os.path.join(work, "f")

    def sized() -> int:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.ftruncate(fd, size)
        return fd

    def resident():
        dst[:] = src

    def mapped(populate: bool, fallocate: bool = False):
        def run():
            fd = sized()
            if fallocate:
                os.posix_fallocate(fd, 0, size)
            t0 = time.perf_counter()
            flags = mmap.MAP_SHARED | (mmap.MAP_POPULATE if populate else 0)
            m = mmap.mmap(fd, size, flags=flags, prot=mmap.PROT_READ | mmap.PROT_WRITE)
            t1 = time.perf_counter()
            m[:] = src
            t2 = time.perf_counter()
            m.close()
            t3 = time.perf_counter()
            os.close(fd)
            return {"map_s": t1 - t0, "copy_s": t2 - t1, "unmap_s": t3 - t2}
        return run

    def written():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        view, off = memoryview(src), 0
        while off < size:
            off += os.write(fd, view[off:])
        os.close(fd)

    ways = {
        "memcpy to resident memory": resident,
        "mmap MAP_POPULATE, then memcpy": mapped(True),
        "mmap, memcpy faulting pages in": mapped(False),
        "fallocate, mmap, memcpy": mapped(False, True),
        "write()": written,
    }
    got: Dict[str, List[Dict[str, float]]] = {w: [] for w in ways}
    try:
        for _ in range(args.reps):
            for name, fn in ways.items():
                got[name].append(timed(fn))
                if os.path.exists(path):
                    os.unlink(path)
    finally:
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(work)
    gb = size / 1e9
    print(f"{args.mib} MiB file on {args.dir}, medians of {args.reps} interleaved reps, one thread")
    print(f"{'way':34s} {'s':>7s} {'GB/s':>6s} {'CPU s/GB':>8s} {'faults':>8s}  mmap / copy / munmap s")
    for name, runs in got.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        split = (f"  {med['map_s']:.3f} / {med['copy_s']:.3f} / {med['unmap_s']:.3f}" if "map_s" in med else "")
        print(f"{name:34s} {med['s']:7.3f} {gb / med['s']:6.2f} {med['cpu'] / gb:8.2f} {med['faults']:8.0f}{split}")


if __name__ == "__main__":
    main()
