"""``python -m bench``: run every workload in fresh subprocesses and report.

With ``--check``, compare the run (or the results file given with
``--results``) with the committed baseline and exit 1 if a workload got more
than ``--tolerance`` worse; with ``--save-baseline``, write that baseline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.check import DEFAULT_TOLERANCE, baseline_document, compare, table
from bench.machine import ROOT, git_commit, load_average, machine_info
from bench.registry import Workload, select
from bench.report import add_ratios, markdown, summarise

__all__ = ["main"]

DEFAULT_OUT = ROOT / "bench" / "results" / "latest.json"
DEFAULT_BASELINE = ROOT / "bench" / "baseline.json"
WORKER_TIMEOUT_S = 900


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the routilux benchmarks; each repetition in a fresh subprocess.",
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per workload (3)")
    parser.add_argument(
        "--only",
        help="comma-separated workloads or families, e.g. 'a,b' or 'a-nohist' "
        "(d, the baseline of the ratios, always runs)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"JSON path (default {DEFAULT_OUT})"
    )
    guard = parser.add_mutually_exclusive_group()
    guard.add_argument(
        "--check",
        action="store_true",
        help="compare the run with the baseline; exit 1 if a workload is more than "
        "--tolerance worse",
    )
    guard.add_argument(
        "--save-baseline",
        action="store_true",
        help="write the baseline (the figures --check compares) from the run",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=DEFAULT_BASELINE,
        help=f"baseline path for --check and --save-baseline (default {DEFAULT_BASELINE})",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"--check: how much worse a figure may get, as a fraction "
        f"(default {DEFAULT_TOLERANCE})",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="--check or --save-baseline: use this results JSON instead of running the suite",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.tolerance < 0:
        parser.error("--tolerance must not be negative")
    if args.results is not None:
        if not (args.check or args.save_baseline):
            parser.error("--results needs --check or --save-baseline")
        if args.only or args.quick:
            parser.error("--results reads a finished run: --only and --quick do not apply")
    if args.save_baseline and args.quick:
        parser.error("--save-baseline needs a full run, not --quick")
    try:
        args.workloads = select(args.only.split(",") if args.only else None)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def _run_worker(workload: Workload, quick: bool) -> dict[str, Any]:
    """One repetition in a fresh interpreter; its JSON line, or an ``error`` entry."""
    command = [sys.executable, "-m", "bench.worker", workload.name]
    if quick:
        command.append("--quick")
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {WORKER_TIMEOUT_S} s"}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-5:]
        return {"error": f"exit status {done.returncode}: " + " / ".join(tail)}
    record: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return record


def _run_all(workloads: list[Workload], repeat: int, quick: bool) -> dict[str, list[Any]]:
    """Every repetition, round robin: repetition 1 of each workload, then 2, ..."""
    runs: dict[str, list[Any]] = {w.name: [] for w in workloads}
    for rep in range(1, repeat + 1):
        for workload in workloads:
            record = _run_worker(workload, quick)
            runs[workload.name].append(record)
            shown = record.get("error") or f"{record['value']:.4g} {workload.unit}"
            print(f"[{rep}/{repeat}] {workload.name}: {shown}", file=sys.stderr, flush=True)
    return runs


def _run_suite(args: argparse.Namespace) -> dict[str, Any]:
    """Run the selected workloads, write the JSON and Markdown, print the table."""
    started = datetime.now(timezone.utc)
    load_start = load_average()
    runs = _run_all(args.workloads, args.repeat, args.quick)
    results = {
        w.name: summarise(w.name, w.quick_size if args.quick else w.size, runs[w.name])
        for w in args.workloads
    }
    add_ratios(results)
    digests = sorted({r["source_digest"] for rs in runs.values() for r in rs if "value" in r})
    if len(digests) > 1:
        print(
            "WARNING: src/routilux changed during the run; repetitions measured different code",
            file=sys.stderr,
        )
    document = {
        "schema": 1,
        "timestamp": started.isoformat(timespec="seconds"),
        "duration_s": round((datetime.now(timezone.utc) - started).total_seconds(), 1),
        "machine": machine_info(),
        "git_commit": git_commit(ROOT),
        "source_digests": digests,
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "settings": {"repeat": args.repeat, "quick": args.quick, "only": args.only},
        "workloads": results,
    }
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    table = markdown(document)
    out.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    print(f"Wrote {out} and {out.with_suffix('.md')}", file=sys.stderr)
    return document


def _check(document: dict[str, Any], baseline_path: Path, tolerance: float) -> int:
    """Print the comparison with the baseline; 1 if a workload fails it, 2 without one."""
    try:
        baseline = json.loads(baseline_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        print(f"No baseline at {baseline_path}: make one with --save-baseline", file=sys.stderr)
        return 2
    lines = compare(baseline, document, tolerance)
    before, now = baseline["machine"], document["machine"]
    print(
        f"Baseline of {baseline['run_timestamp']} ({baseline_path.name}), "
        f"run of {document['timestamp']}; figures are ratios to (d) of the same run, "
        "to the ideal for e and f, MB for m."
    )
    for key in ("cpu_model", "cpu_count", "python_version"):
        if before.get(key) != now.get(key):
            print(f"WARNING: {key} differs: {before.get(key)} in the baseline, {now.get(key)} now")
    print()
    print(table(lines, tolerance), end="")
    return 1 if any(line.failed for line in lines) else 0


def _save_baseline(document: dict[str, Any], baseline_path: Path) -> int:
    """Write the baseline from ``document``; 1 (and nothing written) if the run cannot be one."""
    try:
        baseline = baseline_document(document)
    except ValueError as exc:
        print(f"Not saving a baseline: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(baseline, indent=2, ensure_ascii=False) + "\n"
    baseline_path.write_text(text, encoding="utf-8")
    print(f"Wrote {baseline_path} ({len(baseline['workloads'])} workloads)", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the selected workloads (or read ``--results``); report, check or save a baseline.

    Returns:
        0; 1 if a repetition failed (a wrong count or a crash), or with
        ``--check``, if a workload is more than ``--tolerance`` worse than
        the baseline; 2 if ``--check`` finds no baseline.
    """
    args = _parse(argv)
    if args.results is not None:
        document: dict[str, Any] = json.loads(args.results.read_text(encoding="utf-8"))
    else:
        document = _run_suite(args)
    if args.check:
        return _check(document, args.baseline, args.tolerance)
    if args.save_baseline:
        return _save_baseline(document, args.baseline)
    return 0 if all(entry["verified"] for entry in document["workloads"].values()) else 1
