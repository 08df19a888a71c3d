"""Summaries of the repetitions, ratios to (d), to an ideal or a reference, and the table."""

from __future__ import annotations

import statistics
from typing import Any

from bench.registry import BASELINE, WORKLOADS

__all__ = ["add_ratios", "markdown", "summarise"]

_SECONDARY_LABELS = {
    "source_msgs_per_s": "source msgs/s",
    "us_per_execute": "µs/execute",
    "cold_s": "s cold (first execute)",
    "peak_in_flight": "peak handlers in flight",
    "peak_rss_mb": "MB peak RSS",
    "bytes_per_pending": "bytes per pending delivery",
    "tracemalloc_peak_mb": "MB tracemalloc peak",
    "rest_mb": "MB RSS at rest",
    "jobs_per_s": "jobs/s",
    "p50_ms": "ms p50 request latency",
    "p99_ms": "ms p99 request latency",
    "timeouts": "handler timeouts",
    "ray_task_us": "µs per empty Ray task round trip (same process)",
    "overhead_us": "µs added by the strategy per delivery",
    "takeover_max_s": "s longest takeover",
    "ran_twice": "of the trials ran their in-flight delivery again",
}

#: Secondary figures shown without decimals.
_WHOLE = {"peak_in_flight", "bytes_per_pending", "timeouts", "ran_twice"}


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def summarise(name: str, size: int, repetitions: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON entry of one workload, from its repetitions (errors included)."""
    workload = WORKLOADS[name]
    good = [r for r in repetitions if "error" not in r]
    counts = [r["counts"] for r in good]
    identical = all(c == counts[0] for c in counts)
    entry: dict[str, Any] = {
        "title": workload.title,
        "params": {workload.size_name: size},
        "unit": workload.unit,
        "better": workload.better,
        "repetitions": repetitions,
        "values": [r["value"] for r in good],
        "verified": bool(good) and len(good) == len(repetitions) and identical,
        "counts": counts[0] if counts else None,
        "counts_identical": identical,
        "ratio_note": workload.ratio_note,
        "ratio_to_baseline": None,
        "ideal": None if workload.ideal is None else workload.ideal(size),
        "ratio_to_ideal": None,
        "reference": workload.reference,
        "ratio_to_reference": None,
        "comparison_note": workload.comparison_note,
    }
    if good:
        entry |= _stats(entry["values"])
        if entry["ideal"] is not None:
            entry["ratio_to_ideal"] = entry["median"] / entry["ideal"]
        entry["cost_us"] = _stats([r["cost_us"] for r in good])
        entry["cpu_share_min"] = min(r["cpu_share"] for r in good)
        keys = good[0]["secondary"]
        entry["secondary"] = {k: _stats([r["secondary"][k] for r in good]) for k in keys}
    return entry


def add_ratios(results: dict[str, dict[str, Any]]) -> None:
    """Set each entry's ``ratio_to_baseline`` (if (d) ran) and ``ratio_to_reference``.

    Both come from the median costs; a ratio whose divisor did not run (or
    failed) stays ``None``.
    """
    baseline = results.get(BASELINE, {}).get("cost_us")
    for name, entry in results.items():
        if "cost_us" not in entry:
            continue
        workload = WORKLOADS[name]
        if baseline is not None and workload.plain_hops is not None:
            plain = workload.plain_hops * baseline["median"]
            entry["ratio_to_baseline"] = entry["cost_us"]["median"] / plain
        reference = results.get(workload.reference or "", {}).get("cost_us")
        if reference is not None:
            entry["ratio_to_reference"] = entry["cost_us"]["median"] / reference["median"]


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _fmt_secondary(key: str, value: float) -> str:
    return f"{value:,.0f}" if key in _WHOLE else _fmt(value)


def _other_ratio(entry: dict[str, Any]) -> str:
    """The ratio to the ideal or to the reference workload, for the table."""
    if entry["ideal"] is not None:
        ratio = entry["ratio_to_ideal"]
        shown = f"{ratio:.2f}" if ratio < 10 else f"{ratio:.1f}"
        return f"{shown}x ideal ({_fmt(entry['ideal'])} {entry['unit']})"
    if entry["reference"] is not None:
        ratio = entry["ratio_to_reference"]
        return "—" if ratio is None else f"{ratio:.1f}x ({entry['reference']})"
    return ""


def _row(name: str, entry: dict[str, Any]) -> str:
    workload = WORKLOADS[name]
    label = workload.describe(next(iter(entry["params"].values())))
    if "median" not in entry:
        return f"| {name} | {label} | failed | | | {entry['unit']} | | | | see the JSON |"
    ratio = entry["ratio_to_baseline"]
    shown = f"{ratio:.1f}x" if ratio is not None else "n/a" if workload.plain_hops is None else "—"
    notes = [
        f"{_fmt_secondary(key, stats['median'])} {_SECONDARY_LABELS.get(key, key)}"
        for key, stats in entry.get("secondary", {}).items()
    ]
    figures = " | ".join(_fmt(entry[k]) for k in ("median", "min", "max"))
    share = f"{entry['cpu_share_min']:.2f}"
    return (
        f"| {name} | {label} | {figures} | {entry['unit']} | {shown} | {_other_ratio(entry)} "
        f"| {share} | {', '.join(notes)} |"
    )


def markdown(document: dict[str, Any]) -> str:
    """The Markdown report: a header, the table, and how to read the ratios."""
    machine = document["machine"]
    settings = document["settings"]
    cpu = machine["cpu_model"] or machine["processor"] or machine["machine"]
    lines = [
        f"routilux benchmarks, {document['timestamp']}",
        "",
        f"Python {machine['python_version']} ({machine['python_implementation']}), "
        f"{machine['platform']}, {machine['cpu_count']} CPUs ({cpu}), "
        f"commit {document['git_commit'] or 'none'}, "
        f"source digest {', '.join(document['source_digests']) or 'none'}, load average at start "
        f"{document['load_average_start']}, at end {document['load_average_end']}. "
        f"Median of {settings['repeat']} repetitions, each in a fresh process"
        f"{' (--quick sizes)' if settings['quick'] else ''}.",
        "",
        "| Id | Workload | Median | Min | Max | Unit | vs (d) | vs ideal or ref. | CPU share "
        "| Also (median) |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    lines += [_row(name, entry) for name, entry in document["workloads"].items()]
    lines += [
        "",
        "vs (d): the workload's median cost per hop (or delivery) divided by the median cost "
        "of one plain method-call hop of (d); for (c) and c-asyncio, the median cost of one "
        "execute (run) divided by the cost of 3 plain hops; n/a for (e) and (f), whose "
        "handlers wait, and for (m), a memory figure. "
        "vs ideal: the median wall time divided by the ideal, the wall time if the engine "
        "cost nothing. vs a reference, in brackets: the median cost per hop (delivery, "
        "execute) divided by that of the reference in the same run: for (a), (b) and (c), "
        "their asyncio versions; for (g) and (h), (a), the sequential in-memory chain (for "
        "(h), per durable delivery: N x 11 + 1, each with its checkpoint committed to "
        "SQLite). (m): the peak RSS of the job minus the RSS just before the flow was built, "
        "in MB (MiB), with all N deliveries of the source pending at once; "
        "the Also column gives it per pending delivery, and tracemalloc's peak for the same "
        "job run again under tracing. CPU share: the lowest, over the "
        "repetitions, of "
        "the process's CPU time divided by the wall time of the timed block; for the "
        "single-threaded workloads, well below 1 means the process waited for a CPU and the "
        "figures are inflated (for (e) and (f), it is low because the handlers sleep; for "
        "(g), above 1 means more than one thread ran at once; for (h), it is below 1 because "
        "the process waits for the disk: fsync at SQLite's WAL checkpoints, and for h-full "
        "at every commit).",
    ]
    return "\n".join(lines) + "\n"
