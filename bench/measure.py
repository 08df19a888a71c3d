"""Timing and count checking shared by every workload."""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

__all__ = [
    "Result",
    "Timer",
    "VerificationError",
    "current_rss_kb",
    "expect",
    "expect_completed",
    "peak_rss_kb",
    "reset_peak_rss",
]


class VerificationError(RuntimeError):
    """A workload produced the wrong counts, or its job did not complete."""


def expect(label: str, got: object, want: object) -> None:
    """Raise :class:`VerificationError` unless ``got == want``."""
    if got != want:
        raise VerificationError(f"{label}: got {got!r}, expected {want!r}")


def expect_completed(job: Any) -> None:
    """Raise :class:`VerificationError` unless the routilux job completed."""
    if job.status != "completed":
        raise VerificationError(f"job ended {job.status!s}, not completed: {job.error}")


def peak_rss_kb() -> int | None:
    """The process's peak resident set size so far, in KiB (``None`` on Windows).

    On Linux, the peak since the process started or since :func:`reset_peak_rss`.
    """
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def _proc_status_kb(field_name: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (Linux), or ``None``."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def current_rss_kb() -> int | None:
    """The process's resident set size now, in KiB (``VmRSS``; ``None`` outside Linux)."""
    return _proc_status_kb("VmRSS")


def reset_peak_rss() -> bool:
    """Reset the process's peak RSS to its current RSS; return whether it could.

    Linux resets the peak (``VmHWM``, which ``getrusage`` reports as
    ``ru_maxrss``) when ``5`` is written to ``/proc/self/clear_refs``; after
    that, :func:`peak_rss_kb` is the peak since the reset. Elsewhere it is
    the peak since the process started.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def _gc_collections() -> list[int]:
    return [generation["collections"] for generation in gc.get_stats()]


class Timer:
    """Times a block with :func:`time.perf_counter`, after a full :func:`gc.collect`.

    The collector stays enabled inside the block: collections that the
    workload triggers are part of its cost. ``gc_collections`` counts them
    per generation. ``cpu_share`` is the process's CPU time over the wall
    time: well below 1 for a single-threaded workload, the process waited
    for a CPU (another process was running) and the figure is inflated.
    ``peak_rss_kb`` is the process's peak memory when the block ends (before
    the workload's checks, which may allocate a lot themselves).
    """

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.cpu_share = 0.0
        self.peak_rss_kb: int | None = None
        self._cpu_start = 0.0
        self.gc_collections = [0, 0, 0]
        self._start = 0.0
        self._gc_before: list[int] = []

    def __enter__(self) -> Timer:
        gc.collect()
        self._gc_before = _gc_collections()
        self._cpu_start = time.process_time()
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.elapsed = time.perf_counter() - self._start
        cpu = time.process_time() - self._cpu_start
        self.cpu_share = cpu / self.elapsed if self.elapsed > 0 else 0.0
        self.peak_rss_kb = peak_rss_kb()
        after = _gc_collections()
        self.gc_collections = [a - b for a, b in zip(after, self._gc_before, strict=True)]


@dataclass(frozen=True)
class Result:
    """One repetition of one workload.

    Attributes:
        value: The reported figure, in the workload's unit.
        cost_us: Microseconds per operation, the basis of the ratio to (d).
        elapsed_s: Seconds the timed block took.
        operations: What ``cost_us`` divides by (hops, deliveries or executes).
        counts: The verified counts.
        secondary: Further figures (say, source messages per second).
        gc_collections: Collections per generation inside the timed block.
        cpu_share: CPU time over wall time of the timed block (see :class:`Timer`).
        peak_rss_kb: Peak memory of the process when the timed block ended.
    """

    value: float
    cost_us: float
    elapsed_s: float
    operations: int
    counts: dict[str, int]
    secondary: dict[str, float] = field(default_factory=dict)
    gc_collections: list[int] = field(default_factory=list)
    cpu_share: float = 1.0
    peak_rss_kb: int | None = None

    @classmethod
    def per_operation(
        cls,
        timer: Timer,
        operations: int,
        counts: dict[str, int],
        secondary: dict[str, float] | None = None,
    ) -> Result:
        """A result whose figure is microseconds per operation."""
        cost = timer.elapsed / operations * 1e6
        return cls(
            value=cost,
            cost_us=cost,
            elapsed_s=timer.elapsed,
            operations=operations,
            counts=counts,
            secondary=secondary or {},
            gc_collections=timer.gc_collections,
            cpu_share=timer.cpu_share,
            peak_rss_kb=timer.peak_rss_kb,
        )
