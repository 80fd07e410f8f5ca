"""Where an ossmc load spends its CPU: runs the Rust API contender (``core-load --child``) under
``perf record`` against oss-local and prints the hottest symbols, for the closing note of
``bench/RESULTS.md``.

Usage: ``python3 bench/harness/profile.py [--shards 4 --mib 512] [--in-flight 256]
[--memory-limit-mib 2048] [--top 15] [--verify]``. Needs ``perf`` and release builds of oss-local and
core-load (``bench/run`` makes them; ``CARGO_TARGET_DIR`` is honoured). Also prints the run's own
JSON line (seconds, CPU seconds, VmHWM, peak bytes held) so the profile can be tied to a figure.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import servers  # noqa: E402
from run import release_artifact  # noqa: E402
from workload import MIB, Model  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--mib", type=int, default=512)
    ap.add_argument("--in-flight", type=int, default=256)
    ap.add_argument("--memory-limit-mib", type=int, default=2048)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--verify", action="store_true", help="let core-load check the bytes (costs CPU in the profile)")
    args = ap.parse_args()
    if shutil.which("perf") is None:
        raise SystemExit("perf is not installed (apt-get install -y linux-perf)")
    core_load = release_artifact("core-load")
    if core_load is None:
        raise SystemExit("no release build of core-load: run bench/run once, or cargo build --release -p ossmc-bench-core")
    model = Model(args.shards, args.mib * MIB)
    server = servers.OssLocalServer(servers.find_oss_local(), model)
    data = Path(tempfile.mkdtemp(prefix="ossmc-profile-")) / "perf.data"
    try:
        cmd = [str(core_load), "--child", "--endpoint", server.endpoint, "--shards", str(args.shards),
               "--in-flight", str(args.in_flight), "--memory-limit-mib", str(args.memory_limit_mib)]
        if args.verify:
            cmd.append("--verify")
        rec = subprocess.run(["perf", "record", "-F", "499", "-g", "-o", str(data), "--", *cmd],
                             capture_output=True, text=True)
        if rec.returncode != 0:
            raise SystemExit(f"perf record failed: {rec.stderr[-400:]}")
        print("run:", " ".join(cmd[1:]))
        print("result:", rec.stdout.strip().splitlines()[-1] if rec.stdout.strip() else "(none)")
        rep = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-children", "--sort", "dso,symbol",
                              "-g", "none"], capture_output=True, text=True)
        rows = [ln.rstrip() for ln in rep.stdout.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        print(f"hottest symbols (share of the client's samples, {args.top} shown):")
        for ln in rows[: args.top]:
            # perf pads the columns and ends each row with "- -" (no source line info).
            print("  " + " ".join(w for w in ln.split() if w != "-"))
    finally:
        server.close()
        shutil.rmtree(data.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
