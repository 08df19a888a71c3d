"""Run one repetition of one workload and print its result as one JSON line.

Usage: ``python -m bench.worker NAME [--size N | --quick] [--profile]``. The harness
starts one of these per repetition, so no two repetitions share a heap or
the garbage collector's state. A failed count check exits non-zero.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import pstats
import sys

from bench.machine import source_digest
from bench.registry import WORKLOADS

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the workload named on the command line; print its result."""
    parser = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__)
    parser.add_argument("name", choices=list(WORKLOADS))
    parser.add_argument("--size", type=int, help="messages or executes (default: the full size)")
    parser.add_argument("--quick", action="store_true", help="use the small smoke-run size")
    parser.add_argument(
        "--profile", action="store_true", help="run under cProfile; print the top functions"
    )
    args = parser.parse_args(argv)
    workload = WORKLOADS[args.name]
    digest = source_digest()  # Before routilux is imported: the code this process runs.
    size = args.size or (workload.quick_size if args.quick else workload.size)
    if size < 1:
        parser.error("--size must be positive")
    if args.profile:
        profiler = cProfile.Profile()
        result = profiler.runcall(workload.run, size)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    else:
        result = workload.run(size)
    record = dataclasses.asdict(result) | {
        "workload": workload.name,
        "size": size,
        "source_digest": digest,
    }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
