"""Turns one results file into the tables of the "Loaders side by side" section of
``bench/RESULTS.md`` and two PNG plots next to the results file.

Only the text between ``<!-- peers:begin -->`` and ``<!-- peers:end -->`` is replaced (the
heading sits above the markers, so other sections' writers, which replace up to the next
``## `` heading, never touch them). A hand-written note, ``bench/results/NOTES.md``, is copied
in at the end when present: where ossmc falls short and why. The ``dir`` scenario (to a
directory on tmpfs) goes to a section of its own, ``## To a directory`` between
``<!-- dir:begin -->`` and ``<!-- dir:end -->`` (:func:`dir_section`), so that a run of that
scenario alone (``bench/run --patterns dir``) leaves the loaders' tables alone, and a run
without it leaves the directory's; each block is rewritten only by a run that has its scenarios.

A result counts only when the bytes of every rep were verified; the rest show as "n/a" with the
reason. Figures are medians over the reps (``run.aggregate``). "x best peer" is against the
fastest verified peer (osstorchconnector, boto3, Run:ai, oss2) of the same scenario; curl is
a reference row, not a target. The targets table (:func:`targets`) holds ossmc to the issue's
targets without asserting them. The ``dir`` scenario (to a directory on tmpfs) has a table of its
own (:func:`dir_table`): time to a loadable directory, and each contender against ossmc's
in-memory load of the same shards run beside it (the reference of the 90% target).

Usage: ``python3 bench/harness/report.py bench/results/<date>.json`` (``bench/run`` calls it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RESULTS_MD = REPO / "bench" / "RESULTS.md"
HEADING = "## Loaders side by side"
BEGIN, END = "<!-- peers:begin -->", "<!-- peers:end -->"
DIR_HEADING = "## To a directory: prepare_directory against the loaders"
DIR_BEGIN, DIR_END = "<!-- dir:begin -->", "<!-- dir:end -->"
MIB = 1 << 20

PATTERN_NAMES = {
    "chunk-all": "sequential, 4 MiB reads, every shard opened first",
    "chunk-one": "sequential, 4 MiB reads, one shard at a time",
    "shard-all": "sequential, whole-shard reads, every shard opened first",
    "shard-one": "sequential, whole-shard reads, one shard at a time",
    "random": "random 1-16 MiB reads",
    "dir": "to a directory on tmpfs (time to a loadable directory)",
    "seq": "sequential load",  # results files written before the read and open patterns
}
SEQ_PATTERNS = ["chunk-all", "chunk-one", "shard-all", "shard-one"]
CONDITION_NAMES = {"unthrottled": "unthrottled", "throttled": "throttled", "memlimit": "memory-limited"}
# The targets (shown in the table, not asserted).
UNTHROTTLED_X_PEER = 1.15
UNTHROTTLED_CPU_X_PEER = 0.8
THROTTLED_X_PEER = 2.0
SERVED_PER_PAYLOAD = 1.01
LIB_MIB_KEEPING_PACE = 300
LIB_MIB_OVER_LIMIT = 100
DIR_X_IN_MEMORY = 0.9  # prepare_directory against ossmc's own in-memory load


def gbps(r: Dict[str, Any]) -> Optional[float]:
    """The run's GB/s: the median over its reps (one run: its own), None without verified numbers."""
    if not ok(r):
        return None
    if r.get("gbps_median") is not None:
        return r["gbps_median"]
    return r["bytes"] / r["seconds"] / 1e9


def cpu_per_gb(r: Dict[str, Any]) -> Optional[float]:
    if not ok(r):
        return None
    if r.get("cpu_per_gb") is not None:
        return r["cpu_per_gb"]
    return r["cpu_s"] / (r["bytes"] / 1e9) if r.get("cpu_s") is not None and r["bytes"] else None


def lib_mib(r: Dict[str, Any]) -> Optional[float]:
    """The library's own memory, MiB: the largest over the reps of peak RSS less the caller's
    buffers and the interpreter's baseline."""
    v = r.get("lib_bytes_max", r.get("lib_bytes"))
    return None if v is None or not ok(r) else v / MIB


def ok(r: Dict[str, Any]) -> bool:
    return "error" not in r and "skipped" not in r and bool(r.get("verified")) and bool(r.get("seconds"))


def scenario_key(r: Dict[str, Any]) -> Tuple[str, str, str]:
    return (r["server"], r["condition"], r["pattern"])


def best(runs: List[Dict[str, Any]], kind: str) -> Optional[Dict[str, Any]]:
    cands = [r for r in runs if r["kind"] == kind and ok(r)]
    return max(cands, key=gbps) if cands else None


def why_not(r: Dict[str, Any]) -> str:
    if "skipped" in r:
        return "not available: " + r["skipped"]
    if "error" in r:
        return "failed: " + r["error"]
    if not r.get("verified"):
        return "bytes not verified: " + "; ".join(r.get("problems") or ["no bytes"])
    return ""


def md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def scenarios(results) -> Dict[Tuple[str, str, str], List[Dict[str, Any]]]:
    out: Dict[Tuple[str, str, str], List[Dict[str, Any]]] = {}
    for r in results["runs"]:
        out.setdefault(scenario_key(r), []).append(r)
    return out


def reference(groups, key) -> Tuple[Optional[Dict[str, Any]], Optional[Dict[str, Any]]]:
    """The best curl run and the best peer for a scenario (memlimit compares with unthrottled)."""
    server, condition, pattern = key
    ref_key = (server, "unthrottled", pattern) if condition == "memlimit" else key
    runs = groups.get(ref_key, [])
    return best(runs, "limit"), best(runs, "peer")


def fmt(v: Optional[float], spec: str = ".2f") -> str:
    return "" if v is None else format(v, spec)


def notes_for(r: Dict[str, Any]) -> List[str]:
    notes = []
    if r.get("partial"):
        notes.append(f"stopped after {r['seconds']:.1f} s ({r['bytes'] / r['expected_bytes']:.0%} of the bytes)")
    if r["contender"] in ("curl-n", "oss2", "oss2-crc", "boto3") and r.get("streams"):
        notes.append(f"{r['streams']} {'connections' if r['kind'] == 'limit' else 'threads'}")
    if r.get("concurrency"):
        notes.append(f"RUNAI_STREAMER_CONCURRENCY={r['concurrency']}"
                     + (f" ({r['concurrency_from']})" if r.get("concurrency_from") else ""))
    if r.get("failed_reps"):
        notes.append(f"{r['failed_reps']} of {r['failed_reps'] + r['n_reps']} reps failed")
    if r.get("verify_s"):
        notes.append(f"check {r['verify_s']:.2f} s CPU")
    return notes


def in_memory_reference(runs: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The ``dir`` scenario's reference: ossmc's in-memory load run beside it (the contender
    that loads in another pattern, ``as_pattern``), when verified."""
    refs = [r for r in runs if r["kind"] == "ossmc" and r.get("as_pattern") and ok(r)]
    return refs[0] if refs else None


def dir_table(results, groups, key) -> List[str]:
    """The ``dir`` scenario: seconds to a loadable directory (median), GB/s, against ossmc's
    in-memory load of the same shards in the same scenario and against the best peer, CPU per
    GB, memory less the directory's own pages (``lib MiB``; ``mapped MiB`` is the peak of tmpfs
    pages the loader had mapped, the files it was writing through a mapping)."""
    runs = groups[key]
    _, peer = reference(groups, key)
    pg = gbps(peer) if peer else None
    ref = in_memory_reference(runs)
    rg = gbps(ref) if ref else None
    lines = [
        "| contender | s to a loadable directory | GB/s | min-max | x ossmc in memory | x best peer | CPU s/GB "
        "| lib MiB | mapped MiB | peak RSS MiB | requests | peak in flight | served / delivered | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        g = gbps(r)
        if g is None:
            lines.append(f"| {r['label']} | n/a | | | | | | | | | | | | {md_escape(why_not(r))[:200]} |")
            continue
        notes = notes_for(r)
        if r.get("as_pattern"):
            notes.insert(0, f"in memory: the `{r['as_pattern']}` load, its time ends with the last byte checked")
        elif r.get("verify_after_s") is not None:
            notes.insert(0, f"files checked after its time ({r['verify_after_s']:.2f} s)")
        served = r.get("served_ratio")
        shmem = r.get("peak_shmem")
        lines.append(
            "| {label} | {secs:.2f} | {g:.2f} | {mm} | {xm} | {xp} | {cpu} | {lib} | {shm} | {rss:.0f} | {req} "
            "| {pif} | {served} | {note} |".format(
                label=r["label"], secs=r["expected_bytes"] / 1e9 / g, g=g,
                mm=f"{r['gbps_min']:.2f}-{r['gbps_max']:.2f}" if r.get("n_reps", 1) > 1 else "",
                xm=f"{g / rg:.2f}" if rg else "", xp=f"{g / pg:.2f}" if pg else "",
                cpu=fmt(cpu_per_gb(r)), lib=fmt(lib_mib(r), ".0f"),
                shm=f"{shmem / MIB:.0f}" if shmem is not None else "-",
                rss=r.get("peak_rss_max", r["peak_rss"]) / MIB,
                req=r.get("requests") if r.get("requests") is not None else "-",
                pif=r.get("peak_in_flight") if r.get("peak_in_flight") is not None else "-",
                served=fmt(served, ".3f") if served is not None else "-",
                note="; ".join(notes),
            )
        )
    return lines


def table(results, groups, key) -> List[str]:
    if key[2] == "dir":
        return dir_table(results, groups, key)
    runs = groups[key]
    _, peer = reference(groups, key)
    pg = gbps(peer) if peer else None
    lines = [
        "| contender | GB/s | min-max | x best peer | CPU s/GB | lib MiB | peak RSS MiB | ttfb ms | requests "
        "| peak in flight | served / delivered | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        g = gbps(r)
        if g is None:
            lines.append(f"| {r['label']} | n/a | | | | | | | | | | {md_escape(why_not(r))[:200]} |")
            continue
        notes = notes_for(r)
        served = r.get("served_ratio")
        lines.append(
            "| {label} | {g:.2f} | {mm} | {xp} | {cpu} | {lib} | {rss:.0f} | {ttfb} | {req} | {pif} | {served} "
            "| {note} |".format(
                label=r["label"], g=g,
                mm=f"{r['gbps_min']:.2f}-{r['gbps_max']:.2f}" if r.get("n_reps", 1) > 1 else "",
                xp=f"{g / pg:.2f}" if pg else "",
                cpu=fmt(cpu_per_gb(r)),
                lib=fmt(lib_mib(r), ".0f"),
                rss=r.get("peak_rss_max", r["peak_rss"]) / MIB,
                ttfb=f"{r['ttfb'] * 1000:.0f}" if r.get("ttfb") is not None else "-",
                req=r.get("requests") if r.get("requests") is not None else "-",
                pif=r.get("peak_in_flight") if r.get("peak_in_flight") is not None else "-",
                served=fmt(served, ".3f") if served is not None else "-",
                note="; ".join(notes),
            )
        )
    return lines


def matrix(groups, server: str, condition: str) -> List[str]:
    """One server and condition at a glance: GB/s (CPU s/GB) per contender and sequential pattern."""
    keys = [(server, condition, pat) for pat in SEQ_PATTERNS if (server, condition, pat) in groups]
    if len(keys) < 2:
        return []
    names: List[Tuple[str, str]] = []
    cell: Dict[Tuple[str, str], str] = {}
    for key in keys:
        for r in groups[key]:
            if (r["contender"], r["label"]) not in names:
                names.append((r["contender"], r["label"]))
            g = gbps(r)
            cell[(r["contender"], key[2])] = (f"{g:.2f} ({cpu_per_gb(r):.2f})" if g is not None and cpu_per_gb(r)
                                             is not None else "n/a")
    lines = ["| contender | " + " | ".join(k[2] for k in keys) + " |", "|---|" + "---:|" * len(keys)]
    for name, label in names:
        lines.append(f"| {label} | " + " | ".join(cell.get((name, k[2]), "") for k in keys) + " |")
    return lines


def targets(results, groups) -> List[str]:
    """The issue's targets for ossmc, measured against this run's numbers (shown, not asserted).

    nginx unthrottled: ossmc >= 1.15x the best peer in every read and open pattern, client CPU
    per GB <= 0.8x the best peer's, open-all at least as fast as one-by-one. To a directory
    (``dir``, any server): ``prepare_directory`` >= 90% of ossmc's in-memory load of the same
    shards in the same scenario. Throttled (50 MB/s
    per connection): >= 2x the best peer, and bytes served <= 1.01x the bytes delivered (nginx:
    its access log; oss-local: /_stats). Random reads: >= the best peer. Library memory: <= 300
    MiB above the caller's buffers when the reader keeps pace (every run here reads as fast as
    it can), and <= memoryLimit + 100 MiB always. Only contenders marked as targets count (not
    the reference configuration)."""
    p = results["params"]
    rows: List[str] = []

    def row(what, contender, measured, needed, met):
        verdict = "not run" if met is None else ("yes" if met else "**no**")
        rows.append(f"| {what} | {contender} | {measured} | {needed} | {verdict} |")

    def is_target(r):
        return r["kind"] == "ossmc" and r.get("target", True)

    for key, runs in groups.items():
        server, condition, pattern = key
        _, peer = reference(groups, key)
        pg = gbps(peer) if peer else None
        where = f"{server} {CONDITION_NAMES.get(condition, condition)} {pattern}"
        for r in filter(is_target, runs):
            g = gbps(r)
            if g is None:
                if condition != "memlimit":
                    row(where, r["label"], "n/a", "-", None if "skipped" in r else False)
                continue
            if pattern == "dir":
                ref = in_memory_reference(runs)
                if ref is not None:
                    rg = gbps(ref)
                    row(f"{where}: >= {DIR_X_IN_MEMORY:.0%} of ossmc's in-memory load ({ref['label']}, "
                        f"{rg:.2f} GB/s)", r["label"], f"{g:.2f} GB/s ({g / rg:.2f}x)",
                        f"{DIR_X_IN_MEMORY * rg:.2f} GB/s", g >= DIR_X_IN_MEMORY * rg)
                continue
            # The unthrottled targets are nginx's: the server no contender wrote.
            if condition == "unthrottled" and server == "nginx" and pattern != "random" and peer:
                row(f"{where}: >= {UNTHROTTLED_X_PEER}x the best peer ({peer['label']}, {pg:.2f} GB/s)",
                    r["label"], f"{g:.2f} GB/s", f"{UNTHROTTLED_X_PEER * pg:.2f} GB/s", g >= UNTHROTTLED_X_PEER * pg)
                pc, c = cpu_per_gb(peer), cpu_per_gb(r)
                if pc is not None and c is not None:
                    row(f"{where}: CPU per GB <= {UNTHROTTLED_CPU_X_PEER}x the best peer's ({pc:.2f} s/GB)",
                        r["label"], f"{c:.2f} s/GB", f"{UNTHROTTLED_CPU_X_PEER * pc:.2f} s/GB",
                        c <= UNTHROTTLED_CPU_X_PEER * pc)
            elif condition == "throttled" and pattern != "random":
                if peer:
                    row(f"{where}: >= {THROTTLED_X_PEER:g}x the best peer ({peer['label']}, {pg:.2f} GB/s)",
                        r["label"], f"{g:.2f} GB/s", f"{THROTTLED_X_PEER * pg:.2f} GB/s", g >= THROTTLED_X_PEER * pg)
                served = r.get("served_ratio")
                if served is not None:
                    row(f"{where}: bytes served / delivered <= {SERVED_PER_PAYLOAD}", r["label"], f"{served:.3f}",
                        f"{SERVED_PER_PAYLOAD}", served <= SERVED_PER_PAYLOAD)
            elif pattern == "random" and peer:
                row(f"{where}: >= the best peer ({peer['label']}, {pg:.2f} GB/s)", r["label"], f"{g:.2f} GB/s",
                    f"{pg:.2f} GB/s", g >= pg)
            if condition == "unthrottled" and server == "nginx" and pattern.endswith("-all"):
                one = [u for u in groups.get((server, condition, pattern[:-4] + "-one"), [])
                       if u["contender"] == r["contender"] and gbps(u) is not None]
                if one:
                    row(f"{where}: open-all >= one-by-one", r["label"], f"{g:.2f} GB/s",
                        f"{gbps(one[0]):.2f} GB/s", g >= gbps(one[0]))
    # Library memory: the worst run of each server and condition.
    by_condition: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
    for key, runs in groups.items():
        by_condition.setdefault(key[:2], []).extend(r for r in runs if is_target(r) and lib_mib(r) is not None)
    for (server, condition), runs in by_condition.items():
        if not runs:
            continue
        worst = max(runs, key=lib_mib)
        lib = lib_mib(worst)
        who = f"{worst['label']}, {worst['pattern']}"
        where = f"{server} {CONDITION_NAMES.get(condition, condition)}"
        limit = (p["memory_limit_mib"] if condition == "memlimit" else p.get("default_memory_limit_mib", 2048))
        if condition != "memlimit":
            row(f"{where}: library memory <= {LIB_MIB_KEEPING_PACE} MiB (reader keeps pace; worst run)", who,
                f"{lib:.0f} MiB", f"{LIB_MIB_KEEPING_PACE} MiB", lib <= LIB_MIB_KEEPING_PACE)
        row(f"{where}: library memory <= memoryLimit ({limit} MiB) + {LIB_MIB_OVER_LIMIT} MiB (worst run)", who,
            f"{lib:.0f} MiB", f"{limit + LIB_MIB_OVER_LIMIT} MiB", lib <= limit + LIB_MIB_OVER_LIMIT)
    if not rows:
        return ["No ossmc contender ran."]
    return ["| target | contender | measured | needed | met |", "|---|---|---:|---:|---|", *rows]


# ---- plots --------------------------------------------------------------------------------

COLORS = {"limit": "#7f7f7f", "ossmc": "#d62728", "peer": "#1f77b4"}
# One colour per contender in the timeline: reds for ossmc, cool colours for the peers.
LINE_COLORS = {
    "ossmc-python": "#d62728", "ossmc-python-small": "#e377c2", "ossmc-c": "#ff7f0e", "ossmc-rust": "#8c564b",
    "oss2": "#1f77b4", "oss2-crc": "#17becf", "osstorch-dataset": "#2ca02c",
    "osstorch-checkpoint": "#9467bd", "boto3": "#7f7f7f", "osstorch-prefetch": "#bcbd22",
    "runai": "#17becf", "runai-matched": "#393b79", "ossmc-prepare": "#ff9896", "ossmc-in-memory": "#c49c94",
    "oss2-sequential": "#aec7e8", "ossmc-s3": "#ff7f7f",
}


def plot_throughput(results, groups, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(groups)
    cols = min(3, len(keys))
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 0.42 * 11 * rows + 1), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        runs = groups[key]
        labels = [r["label"] for r in runs]
        values = [gbps(r) or 0.0 for r in runs]
        ys = range(len(runs))
        ax.barh(ys, values, color=[COLORS[r["kind"]] for r in runs])
        for y, r, v in zip(ys, runs, values):
            ax.text(v, y, f" {v:.2f}" if gbps(r) is not None else " n/a", va="center", fontsize=7)
        ax.set_yticks(list(ys), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"{key[0]}, {CONDITION_NAMES[key[1]]}, {key[2]}", fontsize=9)
        ax.set_xlabel("GB/s", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlim(0, max(values + [0.1]) * 1.25)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    m = results["machine"]
    fig.suptitle(f"Throughput per contender ({m['cpus']} CPUs, {m['memory_gib']} GiB; {results['date']}); "
                 "medians; grey: curl, red: ossmc, blue: peers", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def rate_series(timeline: List[List[float]], window: float = 0.2) -> Tuple[List[float], List[float]]:
    """GB/s over consecutive windows of the cumulative-bytes timeline, starting at (0, 0)."""
    ts, rs = [0.0], [0.0]
    if not timeline or len(timeline) < 2:
        return ts, rs
    start_t, start_b = timeline[0]
    for t, b in timeline[1:]:
        if t - start_t >= window:
            ts.append(t)  # plotted at the end of its window: the bytes had arrived by then
            rs.append((b - start_b) / (t - start_t) / 1e9)
            start_t, start_b = t, b
    return ts, rs


def plot_timeline(results, groups, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = []
    for condition in ("unthrottled", "throttled"):
        for server in ("nginx", "oss-local"):
            k = next(((server, condition, pat) for pat in ("shard-all", "chunk-all", "seq")
                      if (server, condition, pat) in groups), None)
            if k is not None:
                keys.append(k)
                break
    if not keys:
        return
    fig, axes = plt.subplots(1, len(keys), figsize=(7.5 * len(keys), 4.5), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for r in groups[key]:
            if not ok(r) or not r.get("timeline"):
                continue
            ts, rs = rate_series(r["timeline"])
            style = "-" if r["kind"] == "ossmc" else "--"
            ax.plot(ts, rs, style, label=r["label"], color=LINE_COLORS.get(r["contender"]),
                    linewidth=2.0 if r["kind"] == "ossmc" else 1.2, marker="." if len(ts) < 8 else None)
        ax.set_title(f"{key[0]}, {CONDITION_NAMES[key[1]]}, {key[2]}: the median run's throughput over time "
                     "(0.2 s windows)", fontsize=9)
        ax.set_xlabel("seconds since the client was created", fontsize=8)
        ax.set_ylabel("GB/s delivered to the application", fontsize=8)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- RESULTS.md ---------------------------------------------------------------------------


def rel(q: Path) -> str:
    """A link relative to RESULTS.md when the file is under bench/, else its full path."""
    try:
        return q.resolve().relative_to((REPO / "bench").resolve()).as_posix()
    except ValueError:
        return str(q.resolve())


def generated_by(results, results_path: Path) -> str:
    m = results["machine"]
    return (
        f"Generated by `{results['command']}` on {results['date']} in {results['elapsed_s']:.0f} s. "
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB memory, Linux {m['kernel']}; "
        f"load average {results['load_average_start'][0]:.1f} at the start, {results['load_average_end'][0]:.1f} at the end "
        f"(other work was running when it is above {m['cpus']}). Tools: Python {m['python']}, {m['curl']}, "
        f"{m['nginx']}, oss2 {m['oss2']}, boto3 {m['boto3']}, osstorchconnector {m['osstorchconnector']}, "
        f"runai-model-streamer {m.get('runai_model_streamer')}. "
        f"Raw numbers: [`{rel(results_path)}`]({rel(results_path)})."
    )


def load_groups(results) -> Dict[Tuple[str, str, str], List[Dict[str, Any]]]:
    """The loaders' scenarios: every one but ``dir``."""
    return {k: v for k, v in scenarios(results).items() if k[2] != "dir"}


def dir_groups(results) -> Dict[Tuple[str, str, str], List[Dict[str, Any]]]:
    return {k: v for k, v in scenarios(results).items() if k[2] == "dir"}


def section(results, results_path: Path, plots: List[Path]) -> str:
    p = results["params"]
    groups = load_groups(results)
    reps = p.get("reps", 1)
    out = [
        generated_by(results, results_path),
        "",
        f"Workload: {p['shards']} x {p['shard_mib']} MiB synthetic shards. Sequential patterns: each shard read "
        f"into a reused {p['buffer_mib']} MiB buffer (`chunk`) or into one buffer the size of a shard until the "
        "shard is in it (`shard`, how `safetensors.load(obj.read())` and tensor loaders read), with every shard "
        "opened first (`all`) or one opened, read and closed at a time (`one`); each contender runs the patterns "
        f"its API has (curl, oss2 and the Rust API only `chunk-all`; Run:ai only `shard`). curl and the thread-pool "
        f"peers fetch {p['part_mib']} MiB ranges with {p['streams']} connections / threads (curl: "
        f"{p['throttled_streams']} when throttled). Random: {p['random_reads']} reads of 1-16 MiB "
        f"({p['random_mib']} MiB) at scattered offsets, one at a time for the stream readers and Run:ai, "
        f"{p['streams']} at a time for curl and the thread-pool peers. Throttled: {p['rate_mbps']} MB/s per "
        f"connection (nginx `limit_rate` with `sendfile_max_chunk 256k`; oss-local `--rate-mbps {p['rate_mbps']} "
        f"--latency-ms {p['latency_ms']}`). Memory-limited: ossmc with `prefetch.memoryLimit` = "
        f"{p['memory_limit_mib']} MiB (default 2 GiB). Each run is bounded ({p['max_seconds']:.0f} s, throttled "
        f"{p['throttled_max_seconds']:.0f} s) and then reports bytes / seconds for what it got. "
        + (f"Figures are medians of {reps} runs (min-max alongside), the reps interleaved: every contender once, "
           "then again." if reps > 1 else "One run each."),
        "",
        "Every contender runs in its own process and every byte it receives is compared with the synthetic "
        "content inside the timed window, counted in the contender's time (a C check at ~10 GB/s; the Rust "
        "contender, `core-load --child --verify`, uses the Rust test kit's memcmp check; Run:ai's ranges are "
        "checked when their response arrives); a result with any wrong byte in any rep shows n/a. The C contender "
        "is `bench/harness/ossmcload.c`, the pattern of `examples-c/load_model` with that check. "
        "Run:ai (runai-model-streamer, through its native `libstreamer`, path style, no torch) runs twice: with "
        "its default concurrency (8 workers) and with `RUNAI_STREAMER_CONCURRENCY` set to the requests ossmc had "
        f"in flight at its peak in the same scenario, as the server counted them (else {p.get('runai_fallback_concurrency', 16)}); "
        "its `shard-all` submits every shard at once, each into its own shard-sized buffer (its destinations in "
        "flight may not overlap). "
        + ("curl is libcurl (`bench/harness/curlload.c`: the multi interface, each byte checked as it "
           "arrives and dropped), a reference row, not a target. "
           if p.get("curl_tool", "").startswith("libcurl") else
           "curl is the curl command writing each response to tmpfs (checked after its window), a reference "
           "row, not a target. ")
        + "GB = 10^9 bytes; time from client creation to the last byte; ttfb = to the first byte handed to the "
        "application; CPU = user + system seconds of the client process per GB (median); lib MiB = the "
        "library's own memory, the largest over the reps of peak RSS (VmHWM; ru_maxrss of the C programs) less the "
        "caller's read buffers less the interpreter's resident size before the client library was imported "
        "(Python, numpy, the harness: the client library's import counts as its memory; 0 for the C programs, "
        "whose figure so includes the program itself); requests, peak in flight and bytes served from oss-local's "
        "`/_stats` or nginx's access log (each response's end time and duration, to the millisecond); "
        "served / delivered = bytes the server sent per byte the contender delivered.",
        "",
    ]
    for q in plots:
        if q.exists():
            out += [f"![{q.stem}]({rel(q)})", ""]
    seen = []
    for key in groups:
        if key[:2] not in seen:
            seen.append(key[:2])
    for server, condition in seen:
        m_lines = matrix(groups, server, condition)
        if m_lines:
            out += [f"### {server}, {CONDITION_NAMES.get(condition, condition)}: sequential patterns at a glance",
                    "", "GB/s (client CPU s/GB), medians.", "", *m_lines, ""]
    for key in groups:
        server, condition, pattern = key
        out += [f"### {server}, {CONDITION_NAMES.get(condition, condition)}, {PATTERN_NAMES.get(pattern, pattern)}",
                "", *table(results, groups, key), ""]
    out += ["### Targets for ossmc", "",
            "The issue's targets, shown and not asserted (curl is a reference, not a target): on nginx "
            f"unthrottled >= {UNTHROTTLED_X_PEER}x the best peer in every read and open pattern at <= "
            f"{UNTHROTTLED_CPU_X_PEER}x its client CPU per GB, and open-all at least as fast as one-by-one; "
            f"throttled >= {THROTTLED_X_PEER:g}x the best peer with bytes served <= {SERVED_PER_PAYLOAD}x the bytes "
            "delivered; random reads >= the best peer; library memory <= "
            f"{LIB_MIB_KEEPING_PACE} MiB when the reader keeps pace and <= memoryLimit + {LIB_MIB_OVER_LIMIT} MiB "
            "always. The best peer is the fastest verified peer of the same scenario.", "",
            *targets(results, groups), ""]
    notes = REPO / "bench" / "results" / "NOTES.md"
    if notes.exists():
        out += ["### Where ossmc stands", "", notes.read_text().strip(), ""]
    return "\n".join(out)


def dir_section(results, results_path: Path) -> str:
    """The ``## To a directory`` block: how the directory is made by each contender, its table
    per server and condition, and the target."""
    p = results["params"]
    groups = dir_groups(results)
    reps = p.get("reps", 1)
    out = [
        generated_by(results, results_path),
        "",
        f"The whole model ({p['shards']} x {p['shard_mib']} MiB synthetic shards) made into a fresh directory on "
        "tmpfs (`/dev/shm`, removed after each run) that a framework can load as it is, timed from client "
        "creation to the last file in place; the files are checked byte for byte after that, outside the time "
        "(exactly the model's files, no temporary ones, each with its object's size and bytes; ossmc's own "
        "`.ossmc-manifest.json` allowed). ossmc: `prepare_directory(\"oss://bench/model/\", dir)`, which lists the "
        "prefix and writes each object straight into its file under a temporary name, renamed when complete. "
        "oss2: the prefix listed (ListObjectsV2), then `get_object_to_file` one object after another on one "
        "connection, what `ossutil cp -r` does, sequentially (crc off: nginx sends no CRC to compare with). "
        "Run:ai and osstorchconnector load into memory, so they load whole shards and `write()` each to its "
        "file: Run:ai every shard at once, each into its own buffer, each written as it arrives; "
        "osstorchconnector's dataset reader every shard opened first, read into one shard-sized buffer, then "
        "written. nginx has no ListObjectsV2: the harness's nginx answers listings of the bucket with a static "
        "page, what OSS would answer for the prefix (one request of 1 KiB; the other contenders are given the "
        "keys). The reference is ossmc's in-memory load of the same shards, `readinto` whole shards with every "
        "shard opened first (the `shard-all` load of the tables above, its time ending with the last byte "
        "checked), run in the same scenario, interleaved; the target: `prepare_directory` >= "
        f"{DIR_X_IN_MEMORY:.0%} of its rate. CPU = user + system seconds of the client process per GB (page "
        "faults and tmpfs page allocation included); lib MiB = peak RSS less the tmpfs pages the process had "
        "mapped (its files, `mapped MiB`, the peak sampled every 10 ms), the caller's buffers and the "
        "interpreter; "
        + (f"medians of {reps} interleaved runs (min-max alongside)." if reps > 1 else "one run each."),
        "",
    ]
    for key in groups:
        server, condition, _ = key
        out += [f"### {server}, {CONDITION_NAMES.get(condition, condition)}", "", *table(results, groups, key), ""]
    out += ["Target (shown, not asserted):", "", *targets(results, groups), "",
            "Where the time goes: see \"Where ossmc stands\" above (`bench/results/NOTES.md`).", ""]
    return "\n".join(out)


def update_block(begin: str, end: str, heading: str, body: str, after: Optional[str] = None) -> None:
    """Replaces the text between ``begin`` and ``end`` in RESULTS.md with ``body``; without
    them, adds ``heading`` and the block after the marker ``after`` (else at the end)."""
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    elif after and after in text:
        head, tail = text.split(after, 1)
        text = head + after + f"\n\n{heading}\n\n{block}" + tail
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{block}\n"
    RESULTS_MD.write_text(text)


def update_results_md(body: str) -> None:
    update_block(BEGIN, END, HEADING, body)


def write(results: Dict[str, Any], results_path: Path) -> None:
    """Writes the blocks this run has scenarios for: the loaders' (with the plots) and the
    directory's."""
    groups = load_groups(results)
    if groups:
        base = results_path.with_suffix("")
        plots = [Path(f"{base}-throughput.png"), Path(f"{base}-timeline.png")]
        try:
            plot_throughput(results, groups, plots[0])
            plot_timeline(results, groups, plots[1])
        except ImportError as e:
            print(f"no plots: {e} (pip install -r bench/requirements.txt)", flush=True)
        update_results_md(section(results, results_path, plots))
        print(f"updated {RESULTS_MD} and the plots {', '.join(q.name for q in plots if q.exists())}",
              flush=True)
    if dir_groups(results):
        update_block(DIR_BEGIN, DIR_END, DIR_HEADING, dir_section(results, results_path), after=END)
        print(f"updated the directory section of {RESULTS_MD}", flush=True)


if __name__ == "__main__":
    path = Path(sys.argv[1])
    write(json.loads(path.read_text()), path)
