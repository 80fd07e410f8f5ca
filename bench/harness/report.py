"""Turns one results file into the tables of the "Loaders side by side" section of
``bench/RESULTS.md`` and two PNG plots next to the results file.

Only the text between ``<!-- peers:begin -->`` and ``<!-- peers:end -->`` is replaced (the
heading sits above the markers, so other sections' writers, which replace up to the next
``## `` heading, never touch them). A hand-written note, ``bench/results/NOTES.md``, is copied
in at the end when present: where ossmc falls short and why.

A run counts only when its bytes were verified; the rest show as "n/a" with the reason. Ratios:
"x limit" is against the best curl run of the same scenario, "x best peer" against the fastest
verified peer (oss2, osstorchconnector, boto3) of the same scenario.

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
MIB = 1 << 20

PATTERN_NAMES = {"seq": "sequential load", "random": "random 1-16 MiB reads"}
CONDITION_NAMES = {"unthrottled": "unthrottled", "throttled": "throttled", "memlimit": "memory-limited"}


def gbps(r: Dict[str, Any]) -> Optional[float]:
    if not ok(r):
        return None
    return r["bytes"] / r["seconds"] / 1e9


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
    """The limit and the best peer for a scenario (memlimit compares with unthrottled seq)."""
    server, condition, pattern = key
    ref_key = (server, "unthrottled", pattern) if condition == "memlimit" else key
    runs = groups.get(ref_key, [])
    return best(runs, "limit"), best(runs, "peer")


def table(results, groups, key) -> List[str]:
    runs = groups[key]
    limit, peer = reference(groups, key)
    lg, pg = (gbps(limit) if limit else None), (gbps(peer) if peer else None)
    lines = [
        "| contender | GB/s | x limit | x best peer | ttfb ms | peak RSS MiB | CPU s/GB | requests | peak in flight | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        g = gbps(r)
        if g is None:
            lines.append(f"| {r['label']} | n/a | | | | | | | | {md_escape(why_not(r))[:200]} |")
            continue
        notes = []
        if r.get("partial"):
            notes.append(f"stopped after {r['seconds']:.1f} s ({r['bytes'] / r['expected_bytes']:.0%} of the bytes)")
        if r["contender"] in ("curl-n", "oss2", "oss2-crc", "boto3") and r.get("streams"):
            notes.append(f"{r['streams']} {'connections' if r['kind'] == 'limit' else 'threads'}")
        if r.get("verify_s"):
            notes.append(f"check {r['verify_s']:.2f} s CPU")
        lines.append(
            "| {label} | {g:.2f} | {xl} | {xp} | {ttfb} | {rss:.0f} | {cpu:.2f} | {req} | {pif} | {note} |".format(
                label=r["label"], g=g,
                xl=f"{g / lg:.2f}" if lg else "",
                xp=f"{g / pg:.2f}" if pg else "",
                ttfb=f"{r['ttfb'] * 1000:.0f}" if r.get("ttfb") is not None else "-",
                rss=r["peak_rss"] / MIB,
                cpu=r["cpu_s"] / (r["bytes"] / 1e9),
                req=r.get("requests") if r.get("requests") is not None else "-",
                pif=r.get("peak_in_flight") if r.get("peak_in_flight") is not None else "-",
                note="; ".join(notes),
            )
        )
    return lines


def targets(results, groups) -> List[str]:
    """The issue's targets for ossmc, measured against this run's numbers."""
    p = results["params"]
    rows = []

    def row(what, contender, measured, needed, met):
        verdict = "not run" if met is None else ("yes" if met else "**no**")
        rows.append(f"| {what} | {contender} | {measured} | {needed} | {verdict} |")

    for key, runs in groups.items():
        server, condition, pattern = key
        if pattern != "seq":
            continue
        limit, peer = reference(groups, key)
        for r in runs:
            if r["kind"] != "ossmc":
                continue
            g = gbps(r)
            if g is None:
                row(f"{server} {CONDITION_NAMES[condition]}", r["label"], "n/a", "-",
                    None if "skipped" in r else False)
                continue
            if condition == "unthrottled":
                if limit:
                    row(f"{server} unthrottled: >= 90% of the curl limit", r["label"], f"{g:.2f} GB/s",
                        f"{0.9 * gbps(limit):.2f} GB/s", g >= 0.9 * gbps(limit))
                if peer:
                    row(f"{server} unthrottled: >= 1.25x the best peer ({peer['label']})", r["label"], f"{g:.2f} GB/s",
                        f"{1.25 * gbps(peer):.2f} GB/s", g >= 1.25 * gbps(peer))
            elif condition == "throttled":
                plain = best(groups.get((server, "unthrottled", "seq"), []), "limit")
                pif = r.get("peak_in_flight")
                if plain and pif:
                    cap = min(pif * p["rate_mbps"] * 1e6 / 1e9, gbps(plain))
                    row(f"{server} throttled: >= 90% of min({pif} in flight x {p['rate_mbps']} MB/s, unthrottled limit)",
                        r["label"], f"{g:.2f} GB/s", f"{0.9 * cap:.2f} GB/s", g >= 0.9 * cap)
                if peer:
                    row(f"{server} throttled: >= 2.5x the best peer ({peer['label']})", r["label"], f"{g:.2f} GB/s",
                        f"{2.5 * gbps(peer):.2f} GB/s", g >= 2.5 * gbps(peer))
            elif condition == "memlimit":
                cap = p["memory_limit_mib"] + 100
                row(f"{server} memory-limited: peak RSS <= memoryLimit + 100 MiB", r["label"],
                    f"{r['peak_rss'] / MIB:.0f} MiB", f"{cap} MiB", r["peak_rss"] / MIB <= cap)
                same = [u for u in groups.get((server, "unthrottled", "seq"), []) if u["contender"] == r["contender"]]
                if same and gbps(same[0]):
                    u = gbps(same[0])
                    row(f"{server} memory-limited: throughput within 15% of unthrottled", r["label"], f"{g:.2f} GB/s",
                        f"{0.85 * u:.2f} GB/s", g >= 0.85 * u)
    if not rows:
        return ["No ossmc contender ran."]
    return ["| target | contender | measured | needed | met |", "|---|---|---:|---:|---|", *rows]


# ---- plots --------------------------------------------------------------------------------

COLORS = {"limit": "#7f7f7f", "ossmc": "#d62728", "peer": "#1f77b4"}
# One colour per contender in the timeline: reds for ossmc, cool colours for the peers.
LINE_COLORS = {
    "ossmc-python": "#d62728", "ossmc-python-small": "#e377c2", "ossmc-c": "#ff7f0e", "ossmc-rust": "#8c564b",
    "oss2": "#1f77b4", "oss2-crc": "#17becf", "osstorch-dataset": "#2ca02c",
    "osstorch-checkpoint": "#9467bd", "boto3": "#7f7f7f",
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
        ax.set_title(f"{key[0]}, {CONDITION_NAMES[key[1]]}, {PATTERN_NAMES[key[2]]}", fontsize=9)
        ax.set_xlabel("GB/s", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlim(0, max(values + [0.1]) * 1.25)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    m = results["machine"]
    fig.suptitle(f"Throughput per contender ({m['cpus']} CPUs, {m['memory_gib']} GiB; {results['date']}); "
                 "grey: curl limit, red: ossmc, blue: peers", fontsize=10)
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

    keys = [k for k in [("oss-local", "unthrottled", "seq"), ("oss-local", "throttled", "seq")] if k in groups]
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
        ax.set_title(f"{key[0]}, {CONDITION_NAMES[key[1]]}: one load, throughput over time (0.2 s windows)", fontsize=9)
        ax.set_xlabel("seconds since the client was created", fontsize=8)
        ax.set_ylabel("GB/s delivered to the application", fontsize=8)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- RESULTS.md ---------------------------------------------------------------------------


def section(results, results_path: Path, plots: List[Path]) -> str:
    p, m = results["params"], results["machine"]
    groups = scenarios(results)

    def rel(q: Path) -> str:
        """A link relative to RESULTS.md when the file is under bench/, else its full path."""
        try:
            return q.resolve().relative_to((REPO / "bench").resolve()).as_posix()
        except ValueError:
            return str(q.resolve())

    out = [
        f"Generated by `{results['command']}` on {results['date']} in {results['elapsed_s']:.0f} s. "
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB memory, Linux {m['kernel']}; "
        f"load average {results['load_average_start'][0]:.1f} at the start, {results['load_average_end'][0]:.1f} at the end "
        f"(other work was running when it is above {m['cpus']}). Tools: Python {m['python']}, {m['curl']}, "
        f"{m['nginx']}, oss2 {m['oss2']}, boto3 {m['boto3']}, osstorchconnector {m['osstorchconnector']}. "
        f"Raw numbers: [`{rel(results_path)}`]({rel(results_path)}).",
        "",
        f"Workload: {p['shards']} x {p['shard_mib']} MiB synthetic shards. Sequential: open every shard, then read each "
        f"into a reused {p['buffer_mib']} MiB buffer (curl and the peers fetch {p['part_mib']} MiB ranges with "
        f"{p['streams']} connections / threads; curl gets {p['throttled_streams']} when throttled). Random: "
        f"{p['random_reads']} reads of 1-16 MiB ({p['random_mib']} MiB) at scattered offsets, one at a time for the "
        f"stream readers, {p['streams']} at a time for curl and the thread-pool peers. Throttled: oss-local "
        f"`--rate-mbps {p['rate_mbps']} --latency-ms {p['latency_ms']}`. Memory-limited: ossmc with "
        f"`prefetch.memoryLimit` = {p['memory_limit_mib']} MiB (ossmc's default is 2 GiB); these two conditions "
        f"run on oss-local only, nginx being the neutral check of the unthrottled numbers. Each run is bounded ({p['max_seconds']:.0f} s, "
        f"throttled {p['throttled_max_seconds']:.0f} s) and then reports bytes / seconds for what it got"
        + (f"; best of {p['reps']} runs each." if p.get("reps", 1) > 1 else "; one run each."),
        "",
        "Every contender runs in its own process and every byte it receives is compared with the synthetic "
        "content inside the timed window, counted in the contender's time (a C check at ~10 GB/s; the Rust "
        "contender, `core-load --child --verify`, uses the Rust test kit's memcmp check); a run that fails the "
        "check shows n/a. The C contender is `bench/harness/ossmcload.c`, the pattern of `examples-c/load_model` "
        "with that check instead of load_model's `-s` checksum, which runs at ~1.7 GB/s. "
        + ("The limit is libcurl (`bench/harness/curlload.c`: curl's multi interface, each byte checked as it "
           "arrives and dropped, like a loader with a reused buffer). "
           if p.get("curl_tool", "").startswith("libcurl") else
           "The limit is the curl command writing each response to tmpfs (checked after its window), which "
           "costs it fresh pages: a pessimistic limit. ")
        + "GB = 10^9 bytes; time from client creation to the last byte; "
        "ttfb = to the first byte handed to the application; CPU = user + system seconds of the client process per "
        "GB; peak RSS = the client's VmHWM (ru_maxrss of the C programs); requests and peak in flight from "
        "oss-local's `/_stats` (nginx: requests from its access log).",
        "",
    ]
    for q in plots:
        if q.exists():
            out += [f"![{q.stem}]({rel(q)})", ""]
    for key in groups:
        server, condition, pattern = key
        out += [f"### {server}, {CONDITION_NAMES[condition]}, {PATTERN_NAMES[pattern]}", "", *table(results, groups, key), ""]
    out += ["### Targets for ossmc", "", *targets(results, groups), ""]
    notes = REPO / "bench" / "results" / "NOTES.md"
    if notes.exists():
        out += ["### Where ossmc stands", "", notes.read_text().strip(), ""]
    return "\n".join(out)


def update_results_md(body: str) -> None:
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    block = f"{BEGIN}\n{body.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\n{block}\n"
    RESULTS_MD.write_text(text)


def write(results: Dict[str, Any], results_path: Path) -> None:
    groups = scenarios(results)
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


if __name__ == "__main__":
    path = Path(sys.argv[1])
    write(json.loads(path.read_text()), path)
