"""``JobState.wait_for_completion``: waiting for a job to end or pause, reporting progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from routilux._model.status import JobStatus
from routilux.exceptions import DefinitionError

if TYPE_CHECKING:
    from routilux._model.job_state import JobState

__all__ = ["check_wait_arguments", "wait_ended_or_paused"]

#: How often progress is reported, in seconds.
PROGRESS_INTERVAL = 5.0


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_wait_arguments(
    job_state: Any,
    timeout: Any,
    stability_checks: Any,
    check_interval: Any,
    stability_delay: Any,
    progress_callback: Any,
) -> None:
    """Raise :class:`DefinitionError` naming the first argument that is wrong."""
    from routilux._model.job_state import JobState

    checks = [
        ("job_state", job_state, "a JobState", isinstance(job_state, JobState)),
        (
            "timeout",
            timeout,
            "None or zero or more seconds",
            timeout is None or (_number(timeout) and timeout >= 0),
        ),
        (
            "stability_checks",
            stability_checks,
            "a positive integer",
            _number(stability_checks)
            and isinstance(stability_checks, int)
            and stability_checks >= 1,
        ),
        (
            "check_interval",
            check_interval,
            "a positive number of seconds",
            _number(check_interval) and check_interval > 0,
        ),
        (
            "stability_delay",
            stability_delay,
            "zero or more seconds",
            _number(stability_delay) and stability_delay >= 0,
        ),
        (
            "progress_callback",
            progress_callback,
            "None or a callable",
            progress_callback is None or callable(progress_callback),
        ),
    ]
    for name, value, wanted, ok in checks:
        if not ok:
            raise DefinitionError(
                f"JobState.wait_for_completion: {name} must be {wanted}, not {value!r}."
            )


def wait_ended_or_paused(
    flow: Any,
    job: JobState,
    timeout: float | None,
    progress_callback: Callable[[int, int, str], Any] | None,
) -> bool:
    """Block until ``job`` has ended or is paused, or ``timeout`` seconds pass.

    Returns:
        Whether it has ended or is paused.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    report_at = time.monotonic()
    while True:
        now = time.monotonic()
        if progress_callback is not None and now >= report_at:
            _report(flow, job, progress_callback)
            report_at = now + PROGRESS_INTERVAL
        left = None if deadline is None else deadline - time.monotonic()
        step = left if progress_callback is None else _earliest(left, report_at - now)
        with job._status_changed:
            settled = job._status_changed.wait_for(lambda: _settled(job), step)
        if settled:
            break
        if left is not None and left <= 0:
            return False
    if job.status is JobStatus.PAUSED:
        return True
    # A job's status turns final a moment before it announces it is done
    # (once its store has the final status): wait for that, as job.wait() does.
    return job.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))


def _settled(job: JobState) -> bool:
    return job.status is JobStatus.PAUSED or job.status.is_terminal


def _earliest(left: float | None, until_report: float) -> float:
    until_report = max(0.0, until_report)
    return until_report if left is None else min(left, until_report)


def _report(flow: Any, job: JobState, callback: Callable[[int, int, str], Any]) -> None:
    get_progress = getattr(flow, "get_progress", None)
    progress = get_progress(job) if get_progress is not None else None
    if progress is None:  # Not running in this process: what it holds is what waits.
        callback(len(job.pending_deliveries), 0, job.status.value)
    else:
        callback(progress.pending, progress.running, progress.status)
