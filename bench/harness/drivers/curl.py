"""curl, the machine's limit: the same bytes with no loader library in the way.

Single stream = the objects fetched whole, one after another on one connection (sequential
pattern) or the reads one at a time (random pattern); N streams = ``part``-byte ranges
(sequential) or the reads (random), ``streams`` transfers at once.

Preferred tool: ``curlload`` (``curlload.c``), libcurl's multi interface with every byte checked
as it arrives and dropped, like a loader with a reused buffer. Without libcurl headers the curl
command is used instead (``-K`` config, ``--parallel``), each response written to its own tmpfs
file and checked after the timed window; that costs curl fresh pages for the whole model, which
makes it a pessimistic limit. Either way CPU time and peak RSS are the child's
(``RUSAGE_CHILDREN``).
"""

import mmap
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import driver  # noqa: E402


def libcurl(run: driver.Run, work, streams: int) -> None:
    p = run.p
    work_file = Path(p["workdir"]) / "curlload.work"
    work_file.write_text("".join(
        f"{p['endpoint']}/{p['bucket']}/{run.keys[i]} {run.seeds[i]} {off} {n} {int(ranged)}\n"
        for i, off, n, ranged in work
    ))
    run.finish_c_loader([p["curlload"], str(streams), str(work_file), str(run.deadline_s or 0)], "curlload",
                        tool="libcurl (curlload)")


def body(run: driver.Run) -> None:
    p = run.p
    streams = int(p["streams"])
    if p["pattern"] == "seq":
        if streams == 1:
            work = [(i, 0, size, False) for i, size in enumerate(run.sizes)]
        else:
            work = [(i, off, n, True) for i, size in enumerate(run.sizes) for off, n in driver.parts(size, int(p["part"]))]
    else:
        work = [(i, off, n, True) for i, off, n in p["reads"]]
    if p.get("curlload"):
        libcurl(run, work, streams)
    out_dir = Path(tempfile.mkdtemp(prefix="curl-", dir=p.get("tmpfs") or "/dev/shm"))
    try:
        lines = []
        for n, (i, off, length, ranged) in enumerate(work):
            if n:
                lines.append("next")
            lines.append(f'url = "{p["endpoint"]}/{p["bucket"]}/{run.keys[i]}"')
            if ranged:
                lines.append(f'range = "{off}-{off + length - 1}"')
            lines += [f'output = "{out_dir}/{n}"', 'write-out = "%{http_code} %{size_download} %{time_starttransfer}\\n"']
        config = out_dir / "curl.config"
        config.write_text("\n".join(lines) + "\n")
        cmd = ["curl", "-sS", "--no-progress-meter", "-K", str(config)]
        if streams > 1:
            cmd += ["--parallel", "--parallel-immediate", "--parallel-max", str(streams)]
        if run.deadline_s:
            cmd += ["--max-time", str(int(run.deadline_s * 3) + 10)]
        run.start()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = run.elapsed()
        got = proc.stdout.split()
        codes = got[0::3]
        starts = [float(x) for x in got[2::3]]
        want = "200" if streams == 1 and p["pattern"] == "seq" else "206"
        if proc.returncode != 0 or len(codes) != len(work) or set(codes) != {want}:
            raise RuntimeError(f"curl failed (exit {proc.returncode}, statuses {sorted(set(codes))}): {proc.stderr[-400:]}")
        # Outside the timed window: check every file against the synthetic content.
        for n, (i, off, length, _) in enumerate(work):
            path = out_dir / str(n)
            size = path.stat().st_size
            if size != length:
                run.problem(f"{run.keys[i]}: range at {off} gave {size} bytes, asked {length}")
                continue
            with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
                run.got(i, off, m, length)
            path.unlink()
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.finish(seconds=seconds, ttfb=min(starts) if starts else None, peak_rss=child.ru_maxrss * 1024,
               cpu_s=child.ru_utime + child.ru_stime, verify_s=0.0, verify_after_s=run.verify_s, timeline=None,
               tool="curl command to tmpfs")


driver.main(body)
