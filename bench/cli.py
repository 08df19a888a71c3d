"""``python -m bench``: run every workload in fresh subprocesses and report."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.machine import ROOT, git_commit, load_average, machine_info
from bench.registry import Workload, select
from bench.report import add_ratios, markdown, summarise

__all__ = ["main"]

DEFAULT_OUT = ROOT / "bench" / "results" / "latest.json"
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
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
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


def main(argv: list[str] | None = None) -> int:
    """Run the selected workloads, write the JSON and Markdown, print the table.

    Returns:
        0, or 1 if a repetition failed (a wrong count or a crash).
    """
    args = _parse(argv)
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
    return 0 if all(entry["verified"] for entry in results.values()) else 1
