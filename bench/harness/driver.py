"""What every contender driver shares: its parameters, the clock, byte verification, and the one
JSON line it prints.

A driver is a script in ``drivers/`` run as its own process by the orchestrator
(``python3 drivers/NAME.py PARAMS.json``). It loads the workload the way its library is meant
to be used, hands every received chunk to :meth:`Run.got`, and ends with :meth:`Run.finish`,
which prints one JSON line and leaves with ``os._exit`` (osstorchconnector's native module
crashes at interpreter exit, and nothing else needs a clean shutdown here).

Measured in the driver's own process:

* ``seconds``: from just before the client object is created to the last byte checked;
  ``ttfb``: from the same start to the first body byte handed to the application.
* ``cpu_s``: user + system CPU seconds of this process in that window (``getrusage``);
  ``peak_rss``: the process's high-water mark (``VmHWM``), ``rss_before``: its resident size
  before the start (interpreter, numpy, the client library, the caller's buffers).
* ``lib_bytes``, the library's own memory: ``peak_rss - rss_base - caller_buffer_bytes``, where
  ``rss_base`` is the resident size once the interpreter, numpy and this module are loaded
  (before the client library is imported, so its import counts as the library's) and
  ``caller_buffer_bytes`` the buffers the driver allocated for the application's reads
  (:meth:`Run.buffer`, zero-filled, so resident before the timed window). Drivers that time a
  C program pass the program's own peak and buffers (baseline 0).
* ``timeline``: cumulative bytes every ~50 ms, for the throughput-over-time plot.

Verification: every chunk is compared byte for byte with the synthetic content at its offset
(``synthcheck.c`` through ctypes, about 10 GB/s, GIL released) as it arrives, inside the
timed window, and coverage is checked: a sequential load must see each object whole and in
order, a random read exactly the bytes it asked for. The cost (``verify_s``, typically
0.1-0.2 s per GB) is paid by every in-process contender alike and reported, so it never hides.
A run whose bytes do not all check out is reported with ``verified: false`` and its numbers are
discarded by the report.

The ``dir`` pattern (a directory on tmpfs as the destination, ``workload.PATTERNS``) is timed
to a loadable directory: ``seconds`` and ``cpu_s`` end when the last file is in place
(:meth:`Run.finish_directory`). Then, outside the window, the directory is checked: exactly
the expected files (no temporary ones left), each with its object's size and every byte
compared with the synthetic content through a read-only mapping (``verify_after_s``); then it
is removed. A loader that writes through a shared mapping of its files has those tmpfs pages
in its RSS (``RssShmem``): they are the directory, not the loader's memory, so ``lib_bytes``
of a ``dir`` run leaves them out (:meth:`Run.finish_directory` says how).
"""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TESTKIT = REPO / "tools" / "testkit" / "python"
if str(TESTKIT) not in sys.path:
    sys.path.insert(0, str(TESTKIT))

from ossmc_testkit import synthetic as syn  # noqa: E402


# ---- synthcheck ---------------------------------------------------------------------------


def synthcheck_library(build_dir: Optional[Path] = None) -> Path:
    """Compiles ``synthcheck.c`` once (into ``build_dir``, default ``bench/harness/.build``) and
    returns the shared object; recompiles when the source is newer."""
    src = HERE / "synthcheck.c"
    out_dir = build_dir or HERE / ".build"
    out_dir.mkdir(parents=True, exist_ok=True)
    lib = out_dir / "synthcheck.so"
    if not lib.exists() or lib.stat().st_mtime < src.stat().st_mtime:
        tmp = out_dir / f"synthcheck.{os.getpid()}.so"
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, "-O3", "-march=native", "-shared", "-fPIC", "-o", str(tmp), str(src)], check=True)
        os.replace(tmp, lib)
    return lib


def curlload_binary(build_dir: Optional[Path] = None) -> Optional[Path]:
    """Compiles ``curlload.c`` (with ``synthcheck.c``) against libcurl once; None when that is
    not possible here (no libcurl headers: ``apt-get install -y libcurl4-openssl-dev``)."""
    srcs = [HERE / "curlload.c", HERE / "synthcheck.c"]
    out_dir = build_dir or HERE / ".build"
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / "curlload"
    if exe.exists() and all(exe.stat().st_mtime >= s.stat().st_mtime for s in srcs):
        return exe
    tmp = out_dir / f"curlload.{os.getpid()}"
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-O3", "-march=native", "-o", str(tmp), *map(str, srcs), "-lcurl"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None
    os.replace(tmp, exe)
    return exe


def ossmcload_binary(lib: Path, build_dir: Optional[Path] = None) -> Optional[Path]:
    """Compiles ``ossmcload.c`` against ``include/ossmc.h`` and the library ``lib`` (copied beside
    the program under its soname, found through an $ORIGIN rpath); rebuilt when the sources or
    the library are newer. None when it does not compile (the reason goes to stderr)."""
    srcs = [HERE / "ossmcload.c", HERE / "synthcheck.c", REPO / "include" / "ossmc.h"]
    out_dir = build_dir or HERE / ".build"
    libdir = out_dir / "ossmc-lib"
    libdir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / "ossmcload"
    newest = max(p.stat().st_mtime for p in [*srcs, lib])
    if exe.exists() and exe.stat().st_mtime >= newest:
        return exe
    # The library's soname is libossmc.so.0: programs look for that name at run time.
    tmp_lib = libdir / f"libossmc.so.0.{os.getpid()}"
    shutil.copyfile(lib, tmp_lib)
    os.replace(tmp_lib, libdir / "libossmc.so.0")
    link = libdir / "libossmc.so"
    if not link.is_symlink():
        link.symlink_to("libossmc.so.0")
    tmp = out_dir / f"ossmcload.{os.getpid()}"
    cc = os.environ.get("CC", "cc")
    r = subprocess.run(
        [cc, "-O3", "-march=native", "-I", str(REPO / "include"), "-o", str(tmp), str(srcs[0]), str(srcs[1]),
         "-L", str(libdir), "-lossmc", "-Wl,-rpath,$ORIGIN/ossmc-lib", "-lpthread"],
        capture_output=True, text=True,
    )
    if r.returncode != 0:
        sys.stderr.write(f"ossmcload.c did not compile: {r.stderr[-800:]}\n")
        return None
    os.replace(tmp, exe)
    return exe


class Synth:
    """ctypes binding of ``synthcheck.c``."""

    def __init__(self, path: Path) -> None:
        self._lib = ctypes.CDLL(str(path))
        self._lib.synth_first_mismatch.restype = ctypes.c_int64
        self._lib.synth_first_mismatch.argtypes = [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t]
        self._lib.synth_load_model_sum.restype = ctypes.c_uint64
        self._lib.synth_load_model_sum.argtypes = [ctypes.c_uint64, ctypes.c_uint64]

    def first_mismatch(self, seed: int, offset: int, buf: Any, n: Optional[int] = None) -> int:
        """Index of the first wrong byte among the first ``n`` bytes of ``buf`` (any writable
        buffer, or bytes), or -1 when they all match the object's bytes from ``offset``."""
        # numpy takes a pointer to any buffer, read-only ones (bytes) included, without copying.
        arr = np.frombuffer(buf, dtype=np.uint8)
        if n is None:
            n = arr.shape[0]
        if n == 0:
            return -1
        if n > arr.shape[0]:
            raise ValueError(f"asked to check {n} bytes of a {arr.shape[0]}-byte buffer")
        ptr = arr.ctypes.data
        return int(self._lib.synth_first_mismatch(seed, offset, ptr, n))

    def load_model_sum(self, seed: int, size: int) -> int:
        """The checksum ``examples-c/load_model -s`` prints for a whole object."""
        return int(self._lib.synth_load_model_sum(seed, size))


# ---- measurements -------------------------------------------------------------------------


def rss_bytes(field: str) -> int:
    """``VmHWM`` or ``VmRSS`` of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def status_bytes(*fields: str) -> List[int]:
    """Several size fields of ``/proc/self/status`` (``VmRSS``, ``RssShmem``, ...), in bytes."""
    want = {f + ":": i for i, f in enumerate(fields)}
    out = [0] * len(fields)
    for line in Path("/proc/self/status").read_text().splitlines():
        i = want.get(line.split(None, 1)[0] if line else "")
        if i is not None:
            out[i] = int(line.split()[1]) * 1024
    return out


class MemorySampler:
    """Samples ``VmRSS`` and ``RssShmem`` every ``interval`` seconds in a thread: the peak of
    the resident memory that is not shared-memory (tmpfs) file pages, and the peak of those."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.peak_unshared = 0
        self.peak_shmem = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def sample(self) -> None:
        rss, shmem = status_bytes("VmRSS", "RssShmem")
        self.peak_unshared = max(self.peak_unshared, rss - shmem)
        self.peak_shmem = max(self.peak_shmem, shmem)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        self._thread.join()


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


class Run:
    """One measured run: parameters in, one JSON line out.

    ``p`` holds what the orchestrator passed (see ``harness/run.py``): ``endpoint``,
    ``vhost_endpoint``, ``bucket``, ``objects`` (list of ``{"key", "size"}``), ``pattern``
    (``"seq"`` or ``"random"``), and for ``seq`` ``read`` (``"chunk"``: a reused ``buffer``-byte
    buffer; ``"shard"``: one buffer the size of a shard) and ``open`` (``"all"``: every shard
    opened first; ``"one"``: one shard at a time; see ``workload.PATTERNS``), ``reads``
    (``[object_index, offset, length]`` for random),
    ``buffer``, ``streams``, ``part``, ``max_seconds``, ``options``, ``workdir``,
    ``access_key_id``, ``access_key_secret``, ``region``.
    """

    def __init__(self) -> None:
        with open(sys.argv[1]) as f:
            self.p: Dict[str, Any] = json.load(f)
        self.synth = Synth(Path(self.p["synthcheck"]))
        self.seeds = [syn.seed(o["key"]) for o in self.p["objects"]]
        self.sizes = [int(o["size"]) for o in self.p["objects"]]
        self.keys = [o["key"] for o in self.p["objects"]]
        self.deadline_s = float(self.p.get("max_seconds") or 0)
        self.read_mode = self.p.get("read") or "chunk"
        self.open_mode = self.p.get("open") or "all"
        # Interpreter, numpy, this module and synthcheck: what every Python driver carries.
        self.rss_base = rss_bytes("VmRSS")
        self.caller_buffer_bytes = 0
        self._lock = threading.Lock()
        self.bytes = 0
        self.verify_s = 0.0
        self.problems: List[str] = []
        self.partial = False
        self.extra: Dict[str, Any] = {}
        self.timeline: List[List[float]] = []
        self._next_sample = 0.0
        self.t0: Optional[float] = None
        self.t_first: Optional[float] = None
        self.rss_before = 0
        self.cpu0 = 0.0
        self.cpu_children0 = 0.0
        self.sampler: Optional[MemorySampler] = None
        self.window: Optional[tuple] = None  # (seconds, cpu_s) of a dir run, once ended
        self.directory: Optional[Path] = None  # a dir run's directory, removed however it ends

    # -- the application's buffers --

    def buffer(self, size: int) -> bytearray:
        """A zero-filled (so resident) buffer for the application's reads, counted as the
        caller's memory rather than the library's. Allocate before :meth:`start`."""
        self.caller_buffer_bytes += size
        return bytearray(size)

    def read_buffer(self) -> bytearray:
        """The one buffer the pattern reads into: ``buffer`` bytes (sequential ``chunk``), the
        largest shard (sequential ``shard``), or the largest random read."""
        if self.p["pattern"] != "seq":
            return self.buffer(max(r[2] for r in self.p["reads"]))
        return self.buffer(int(self.p["buffer"]) if self.read_mode == "chunk" else max(self.sizes))

    # -- the timed window --

    def start(self) -> None:
        """Call right before creating the client."""
        self.rss_before = rss_bytes("VmRSS")
        self.cpu0 = cpu_seconds()
        self.cpu_children0 = cpu_seconds(resource.RUSAGE_CHILDREN)
        self.t0 = time.perf_counter()
        self.timeline.append([0.0, 0])
        self._next_sample = 0.05
        if self.p.get("pattern") == "dir":
            self.sampler = MemorySampler()

    def elapsed(self) -> float:
        assert self.t0 is not None
        return time.perf_counter() - self.t0

    def out_of_time(self) -> bool:
        """True once ``max_seconds`` have passed: a driver then stops at its next chunk
        boundary and the run is marked partial (its rate is still bytes / seconds)."""
        if self.deadline_s and self.elapsed() > self.deadline_s:
            self.partial = True
            return True
        return False

    def got(self, obj: int, offset: int, buf: Any, n: Optional[int] = None) -> None:
        """Records and verifies ``n`` bytes (default: all of ``buf``) of object ``obj`` that
        start at ``offset``. Thread-safe."""
        if n is None:
            n = memoryview(buf).nbytes
        if n == 0:
            return
        # The check's own CPU time (thread_time: a thread pool's GIL waits are not the check's).
        c0 = time.thread_time()
        v0 = time.perf_counter()
        bad = self.synth.first_mismatch(self.seeds[obj], offset, buf, n)
        spent = time.thread_time() - c0
        now = time.perf_counter()
        with self._lock:
            self.verify_s += spent
            if bad >= 0:
                self.problems.append(f"{self.keys[obj]}: wrong byte at offset {offset + bad}")
            if self.t_first is None:
                self.t_first = v0
            self.bytes += n
            t = now - self.t0
            if t >= self._next_sample:
                self.timeline.append([round(t, 4), self.bytes])
                self._next_sample = t + 0.05

    def problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)

    def load_sequential(self, buf: Any, open_obj, readinto, close_obj) -> None:
        """The sequential load of a stream reader in this run's read and open patterns.

        ``open_obj(i)`` opens shard ``i``; ``readinto(obj, view)`` reads into ``view`` and
        returns the bytes read (0 or less at the end); ``close_obj(obj)`` releases it. Open
        ``all`` opens every shard before reading any; ``one`` opens each just before reading it.
        Each shard is closed once read (:meth:`read_object` says how it is read)."""
        n = len(self.keys)
        objs: List[Any] = [open_obj(i) for i in range(n)] if self.open_mode == "all" else [None] * n
        for i in range(n):
            if self.out_of_time():
                break
            obj = objs[i] if objs[i] is not None else open_obj(i)
            objs[i] = None
            done = self.read_object(i, obj, buf, readinto)
            close_obj(obj)
            del obj
            if not done:
                break

    def read_object(self, i: int, obj: Any, buf: Any, readinto) -> bool:
        """Reads shard ``i`` from ``obj`` in this run's read pattern: ``chunk`` refills ``buf``
        from its start until a read returns 0; ``shard`` fills ``buf`` from offset 0 to the
        shard's size, calling ``readinto`` on what is left until the shard is in it (a stream
        reader may return less than asked). Every piece is checked at its offset as it arrives.
        False when the load should stop (out of time, or the shard came short)."""
        mv = memoryview(buf)
        size = self.sizes[i]
        off = 0
        while not self.out_of_time():
            view = mv if self.read_mode == "chunk" else mv[off:size]
            if len(view) == 0:
                break
            got = readinto(obj, view)
            if got is None or got <= 0:
                break
            self.got(i, off, view, got)
            off += got
        if self.partial:
            return False
        if off != size:
            self.problem(f"{self.keys[i]}: read {off} bytes of {size}")
            return False
        return True

    def expected_bytes(self) -> int:
        if self.p["pattern"] in ("seq", "dir"):
            return sum(self.sizes)
        return sum(r[2] for r in self.p["reads"])

    # -- a directory as the destination (pattern ``dir``) --

    def relative_paths(self) -> List[str]:
        """Each object's file in the directory: its key below ``p["prefix"]``."""
        prefix = self.p["prefix"]
        return [k[len(prefix):] for k in self.keys]

    def target_dir(self) -> Path:
        """A fresh directory path on tmpfs for this run, not yet created (``p["dir_root"]``,
        else ``p["tmpfs"]``); :meth:`finish_directory` removes it."""
        root = Path(self.p.get("dir_root") or self.p.get("tmpfs") or "/dev/shm")
        root.mkdir(parents=True, exist_ok=True)
        path = root / f"dir-{os.getpid()}"
        shutil.rmtree(path, ignore_errors=True)
        self.directory = path
        return path

    def file_path(self, directory: Path, i: int) -> Path:
        """Where object ``i`` goes in ``directory``, its parent directories created."""
        path = directory / self.relative_paths()[i]
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def check_directory(self, directory: Path, allowed: Sequence[str] = ()) -> None:
        """Checks ``directory`` against the model: every object's file present with the
        object's size and bytes (a partial run may lack the files it did not get to), nothing
        else below it but the names in ``allowed`` (the loader's own files, such as ossmc's
        manifest). Counts the bytes of the files that check out."""
        expected = {rel: i for i, rel in enumerate(self.relative_paths())}
        found = []
        for dirpath, _, filenames in os.walk(directory):
            for name in filenames:
                found.append(os.path.relpath(os.path.join(dirpath, name), directory).replace(os.sep, "/"))
        for rel in sorted(found):
            if rel not in expected and rel not in allowed:
                self.problem(f"{directory.name}/{rel}: a file that is not the model's")
        for rel, i in expected.items():
            path = directory / rel
            if not path.is_file():
                if not self.partial:
                    self.problem(f"{rel}: missing")
                continue
            size = path.stat().st_size
            if size != self.sizes[i]:
                self.problem(f"{rel}: {size} bytes, the object has {self.sizes[i]}")
                continue
            if size:
                with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
                    bad = self.synth.first_mismatch(self.seeds[i], 0, m, size)
                if bad >= 0:
                    self.problem(f"{rel}: wrong byte at offset {bad}")
                    continue
            self.bytes += size

    def end_window(self) -> tuple:
        """Ends the timed window of a ``dir`` run now (before a client's teardown, say):
        returns and keeps (seconds, CPU seconds of this process and its children)."""
        cpu = cpu_seconds() - self.cpu0 + cpu_seconds(resource.RUSAGE_CHILDREN) - self.cpu_children0
        self.window = (self.elapsed(), cpu)
        return self.window

    def finish_directory(self, directory: Path, allowed: Sequence[str] = (), **extra: Any) -> None:
        """Ends a ``dir`` run: the time to a loadable directory and its CPU seconds (this
        process and its children) end here, when every file is in place, unless
        :meth:`end_window` ended them earlier. Then, outside the
        window, :meth:`check_directory`, the directory's removal, and the result line.

        Memory: ``peak_rss`` is ``VmHWM`` as for every run; ``peak_shmem`` the peak of tmpfs
        pages mapped into the process (sampled every 10 ms), which are the directory's files;
        ``lib_bytes`` uses the larger of ``VmHWM - peak_shmem`` and the sampled peak of
        ``VmRSS - RssShmem``, both lower bounds of the peak of the rest (exact for a loader that
        maps nothing from tmpfs), less the baseline and the caller's buffers."""
        seconds, cpu = self.window or self.end_window()
        peak_shmem = peak_unshared = 0
        if self.sampler is not None:
            self.sampler.stop()
            peak_shmem, peak_unshared = self.sampler.peak_shmem, self.sampler.peak_unshared
        hwm = rss_bytes("VmHWM")
        c0 = time.perf_counter()
        self.bytes = 0
        self.check_directory(directory, allowed)
        verify_after = time.perf_counter() - c0
        shutil.rmtree(directory, ignore_errors=True)
        self.finish(seconds=seconds, cpu_s=cpu, ttfb=None, timeline=None, verify_s=0.0,
                    verify_after_s=round(verify_after, 3), peak_rss=hwm, peak_shmem=peak_shmem,
                    peak_rss_unshared=max(hwm - peak_shmem, peak_unshared), **extra)

    def finish(self, **extra: Any) -> None:
        """Prints the result line and exits the process (status 0 even when verification
        failed: the line says so)."""
        t_end = time.perf_counter()
        cpu = cpu_seconds() - self.cpu0
        cpu_children = cpu_seconds(resource.RUSAGE_CHILDREN) - self.cpu_children0
        seconds = extra.pop("seconds", None) or (t_end - self.t0)
        ttfb = extra.pop("ttfb", None)
        if ttfb is None and self.t_first is not None:
            ttfb = self.t_first - self.t0
        expected = self.expected_bytes()
        if not self.partial and self.bytes != expected and not self.problems:
            self.problems.append(f"received {self.bytes} bytes, expected {expected}")
        self.timeline.append([round(t_end - self.t0, 4), self.bytes])
        out = {
            "bytes": self.bytes,
            "expected_bytes": expected,
            "seconds": seconds,
            "ttfb": ttfb,
            "verified": not self.problems and self.bytes > 0,
            "problems": self.problems[:5],
            "partial": self.partial,
            # A driver that times a child process (curl, the C example) passes its own figures.
            "cpu_s": extra.pop("cpu_s", None) if "cpu_s" in extra else cpu + cpu_children,
            "peak_rss": extra.pop("peak_rss", None) or rss_bytes("VmHWM"),
            "rss_before": self.rss_before,
            "rss_base": extra.pop("rss_base", self.rss_base),
            "caller_buffer_bytes": extra.pop("caller_buffer_bytes", self.caller_buffer_bytes),
            "verify_s": self.verify_s,
            "timeline": self.timeline,
        }
        out.update(self.extra)
        out.update(extra)
        peak = out.get("peak_rss_unshared") or out["peak_rss"]  # a dir run: less its mapped files
        out["lib_bytes"] = peak - out["rss_base"] - out["caller_buffer_bytes"]
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    def finish_c_loader(self, cmd: List[str], name: str, report_wall: bool = False, buffer_bytes: int = 0,
                        **extra: Any) -> None:
        """Runs one of the harness's C loaders (``curlload``, ``ossmcload``) as the timed window
        and finishes with its figures. The loader checks every byte itself and prints one JSON
        line: bytes, seconds, ttfb (-1 if none), partial, problems and first_problem, and may
        add cpu_s, its CPU seconds over the load. CPU (without cpu_s) and peak RSS are the
        child's; ``report_wall`` adds this process's view of the time;
        ``buffer_bytes`` is the program's read buffer (the caller's memory)."""
        self.start()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=(self.deadline_s or 600) * 3 + 30)
        if report_wall:
            extra["wall_seconds"] = self.elapsed()
        if proc.returncode != 0 or not proc.stdout.strip():
            raise RuntimeError(f"{name} exited with {proc.returncode}: {proc.stderr.strip()[-400:]}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        self.bytes = int(r["bytes"])
        self.partial = bool(r.get("partial"))
        if r["problems"]:
            self.problem(f"{r['problems']} problems, first: {r['first_problem']}")
        child = resource.getrusage(resource.RUSAGE_CHILDREN)
        # A loader that times its own CPU over its load says so; else the whole child's.
        cpu_s = float(r["cpu_s"]) if r.get("cpu_s") is not None else child.ru_utime + child.ru_stime
        self.finish(seconds=float(r["seconds"]), ttfb=r["ttfb"] if r["ttfb"] >= 0 else None,
                    peak_rss=child.ru_maxrss * 1024, cpu_s=cpu_s, timeline=None,
                    verify_s=None, rss_base=0, caller_buffer_bytes=buffer_bytes, **extra)

    def fail(self, exc: BaseException) -> None:
        """Reports an exception as the run's outcome (no numbers) and exits (removing a ``dir``
        run's directory first)."""
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
        sys.stdout.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:2000]}) + "\n")
        sys.stdout.flush()
        os._exit(0)


def parts(size: int, part: int) -> List[Sequence[int]]:
    """``(offset, length)`` pieces of ``part`` bytes covering ``[0, size)``."""
    return [(off, min(part, size - off)) for off in range(0, size, part)]


def main(body) -> None:
    """Runs ``body(run)`` and turns any exception into an error line."""
    run = Run()
    try:
        body(run)
    except BaseException as e:  # noqa: BLE001 - reported, the orchestrator decides
        run.fail(e)
    run.fail(RuntimeError("the driver returned without finishing"))
