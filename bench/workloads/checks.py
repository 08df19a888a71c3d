"""Count checks shared by the routilux workloads."""

from __future__ import annotations

from collections.abc import Mapping

from bench.measure import expect, expect_completed
from bench.workloads.routines import CountingSink
from routilux import JobState

__all__ = ["check_job", "check_sink"]


def check_job(job: JobState, expected: Mapping[str, int]) -> int:
    """Check the job completed and each routine ran ``expected[id]`` deliveries.

    Returns:
        The job's deliveries, summed over its routines.
    """
    expect_completed(job)
    ran = {rid: stats.deliveries for rid, stats in job.all_routine_stats().items()}
    expect("deliveries per routine", ran, dict(expected))
    return sum(ran.values())


def check_sink(sink: CountingSink, messages: int, copies: int = 1) -> None:
    """Check ``sink`` received ``copies`` of each of ``messages`` messages, intact."""
    expect("messages received by the sink", sink.count, messages * copies)
    expect("sum of i received by the sink", sink.total, copies * messages * (messages - 1) // 2)
