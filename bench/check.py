"""The regression guard: compare a run with the committed ``bench/baseline.json``.

Each workload is guarded by one figure that should carry from run to run on
the same machine: its ratio to the plain-Python baseline (d) of the same run
where it has one (for (c), the cost of an execute over 3 plain hops), its
ratio to its ideal wall time for (e) and (f), and its median in MB for the
memory workloads (m). Every guarded figure is better lower. (d) itself is not
guarded: it is the divisor. A workload's ``check_tolerance`` in the registry
loosens the tolerance for it ((f) 50%; (g) is shown but not guarded).

:func:`compare` is a pure function of two documents, so it is tested without
timing anything; :func:`baseline_document` makes the baseline from a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bench.registry import BASELINE, WORKLOADS, Workload

__all__ = [
    "DEFAULT_TOLERANCE",
    "Comparison",
    "baseline_document",
    "compare",
    "failing",
    "guarded_metric",
    "table",
    "tolerance_for",
]

#: A workload fails the check if its figure is more than this much worse (0.25 = 25%).
DEFAULT_TOLERANCE = 0.25

#: How each guarded metric is shown in the check's table.
_METRIC_LABELS = {
    "ratio_to_baseline": "x (d)",
    "ratio_to_ideal": "x ideal",
    "median": "",
}


def guarded_metric(workload: Workload) -> str | None:
    """The key of the figure in a results entry that guards ``workload``, or ``None``.

    ``ratio_to_baseline`` if the workload has a ratio to (d), else
    ``ratio_to_ideal`` if it has an ideal, else ``median`` (the memory
    workloads, in MB); ``None`` for (d), every ratio's divisor.
    """
    if workload.name == BASELINE:
        return None
    if workload.plain_hops is not None:
        return "ratio_to_baseline"
    if workload.ideal is not None:
        return "ratio_to_ideal"
    if workload.better != "lower":  # pragma: no cover - every such workload has a ratio.
        raise ValueError(f"{workload.name}: a guarded median must be better lower")
    return "median"


def baseline_document(results: dict[str, Any]) -> dict[str, Any]:
    """The baseline to commit, from a results document (``bench/results/*.json``).

    It keeps, for each guarded workload, the metric, its value and the
    workload's parameters (a check against a run of other sizes fails), plus
    the machine, the commit and digests, the load averages and the dates.

    Raises:
        ValueError: The run used ``--quick`` sizes, or a workload failed.
    """
    if results["settings"].get("quick"):
        raise ValueError("a baseline must come from a full run, not --quick")
    broken = [name for name, entry in results["workloads"].items() if not entry["verified"]]
    if broken:
        raise ValueError(f"workloads failed in this run: {', '.join(broken)}")
    workloads: dict[str, Any] = {}
    for name, entry in results["workloads"].items():
        workload = WORKLOADS.get(name)
        metric = None if workload is None else guarded_metric(workload)
        if metric is None:
            continue
        value = entry.get(metric)
        if value is None:
            raise ValueError(f"{name}: no {metric} in this run (did (d) run?)")
        workloads[name] = {
            "metric": metric,
            "value": value,
            "unit": entry["unit"] if metric == "median" else "ratio",
            "params": entry["params"],
        }
    return {
        "schema": 1,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_timestamp": results["timestamp"],
        "machine": results["machine"],
        "git_commit": results["git_commit"],
        "source_digests": results["source_digests"],
        "load_average_start": results["load_average_start"],
        "load_average_end": results["load_average_end"],
        "repeat": results["settings"]["repeat"],
        "workloads": workloads,
    }


@dataclass(frozen=True)
class Comparison:
    """One workload's line of the check.

    Attributes:
        workload: Its name.
        metric: The guarded key of the results entry (``ratio_to_baseline``...).
        unit: ``"ratio"``, or the workload's unit for ``median`` (``MB``).
        baseline: The committed figure (``None`` for a workload new since).
        current: This run's figure (``None`` if it failed or did not run).
        change: ``current / baseline - 1``: +0.30 is 30% worse.
        tolerance: The largest ``change`` that passes (``math.inf``: the
            figure is not guarded).
        status: ``ok``, ``better``, ``WORSE``, ``not guarded``, ``FAILED``
            (the workload failed in this run), ``SIZE CHANGED`` (its
            parameters differ from the baseline's), ``not run`` or ``new``
            (not in the baseline).
        failed: Whether this line fails the check.
    """

    workload: str
    metric: str
    unit: str
    baseline: float | None
    current: float | None
    change: float | None
    tolerance: float
    status: str
    failed: bool


def tolerance_for(name: str, tolerance: float) -> float:
    """The tolerance the check applies to ``name``: ``tolerance``, or its looser own."""
    workload = WORKLOADS.get(name)
    own = None if workload is None else workload.check_tolerance
    return tolerance if own is None else max(tolerance, own)


def _compare_one(
    name: str, guarded: dict[str, Any] | None, entry: dict[str, Any] | None, tolerance: float
) -> Comparison:
    if guarded is not None:
        metric, unit = guarded["metric"], guarded["unit"]
        before: float | None = float(guarded["value"])
    else:  # A new workload, guarded from the next baseline on.
        workload = WORKLOADS[name]
        metric = guarded_metric(workload) or "median"
        unit = workload.unit if metric == "median" else "ratio"
        before = None
    raw = None if entry is None else entry.get(metric)
    now = None if raw is None else float(raw)

    tolerance = tolerance_for(name, tolerance)

    def line(change: float | None, status: str, failed: bool) -> Comparison:
        return Comparison(name, metric, unit, before, now, change, tolerance, status, failed)

    if entry is None:
        return line(None, "not run", False)
    if not entry.get("verified") or now is None:
        return line(None, "FAILED", True)
    if guarded is None:
        return line(None, "new", False)
    if entry.get("params") != guarded["params"]:
        return line(None, "SIZE CHANGED", True)
    change = now / before - 1 if before else None
    if math.isinf(tolerance):
        return line(change, "not guarded", False)
    if change is not None and change > tolerance:
        return line(change, "WORSE", True)
    if change is not None and change < -tolerance:
        return line(change, "better", False)
    return line(change, "ok", False)


def compare(
    baseline: dict[str, Any], results: dict[str, Any], tolerance: float = DEFAULT_TOLERANCE
) -> list[Comparison]:
    """Compare a results document with a baseline document; one line per workload.

    The lines follow the registry's order. A workload fails if its figure is
    more than ``tolerance`` (a fraction; or its own ``check_tolerance``, if
    larger) above the baseline's, if it failed
    in this run (a wrong count, a crash, or no (d) to divide by), or if its
    parameters (its size) differ from the baseline's. A workload of the
    baseline that this run did not include (``--only``) is shown as
    ``not run``, and one the baseline does not have as ``new``; neither fails.
    (d) and workloads without a guarded figure are left out.

    Raises:
        ValueError: ``tolerance`` is negative.
    """
    if tolerance < 0:
        raise ValueError("the tolerance must not be negative")
    guarded: dict[str, Any] = baseline["workloads"]
    entries: dict[str, Any] = results["workloads"]
    names = [n for n in WORKLOADS if n in guarded or n in entries]
    names += sorted(n for n in guarded.keys() | entries.keys() if n not in WORKLOADS)
    lines = []
    for name in names:
        workload = WORKLOADS.get(name)
        if name not in guarded and (workload is None or guarded_metric(workload) is None):
            continue
        lines.append(_compare_one(name, guarded.get(name), entries.get(name), tolerance))
    return lines


def failing(
    baseline: dict[str, Any], results: dict[str, Any], tolerance: float = DEFAULT_TOLERANCE
) -> list[str]:
    """The workloads that fail the check (see :func:`compare`), in order."""
    return [line.workload for line in compare(baseline, results, tolerance) if line.failed]


def _figure(value: float | None, line: Comparison) -> str:
    if value is None:
        return "—"
    if line.metric == "median":
        return f"{value:,.1f} {line.unit}" if value >= 10 else f"{value:.3g} {line.unit}"
    return f"{value:.2f}{_METRIC_LABELS[line.metric]}"


def table(lines: list[Comparison], tolerance: float) -> str:
    """The check as a Markdown table, with a one-line verdict under it."""
    rows = [
        "| Workload | Baseline | Current | Change | Tolerance | Status |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for line in lines:
        change = "" if line.change is None else f"{line.change:+.1%}"
        allowed = "—" if math.isinf(line.tolerance) else f"{line.tolerance:.0%}"
        rows.append(
            f"| {line.workload} | {_figure(line.baseline, line)} | {_figure(line.current, line)} "
            f"| {change} | {allowed} | {line.status} |"
        )
    failed = [line.workload for line in lines if line.failed]
    verdict = (
        f"FAIL: {', '.join(failed)} (tolerance {tolerance:.0%}, or a workload's own)"
        if failed
        else f"OK: every workload within its tolerance ({tolerance:.0%}, or its own) "
        "of the baseline"
    )
    return "\n".join([*rows, "", verdict]) + "\n"
