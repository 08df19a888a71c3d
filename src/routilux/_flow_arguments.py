"""Reading the arguments of a flow's job methods, in our form and the published 0.10 one."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from routilux._model.job_state import JobState
from routilux._model.status import JobStatus
from routilux.exceptions import DefinitionError

__all__ = [
    "check_job_of",
    "check_timeout",
    "entry_arguments",
    "pause_arguments",
    "pause_point",
]

_STRATEGIES = ("sequential", "concurrent")


def entry_arguments(
    method: str,
    entry_id: Any,
    entry_routine_id: Any,
    third: Any,
    timeout: Any,
) -> tuple[Any, str | None, Any]:
    """The entry routine id, the job's own strategy and the timeout of ``execute`` or ``start``.

    The third positional argument is the strategy when it is a string (as
    in ``execute(entry_routine_id, entry_params, execution_strategy,
    timeout)``), else the timeout (as in ``execute(entry_id, entry_params,
    timeout)``).

    Raises:
        DefinitionError: The entry routine is named twice, the timeout is
            given twice, or the strategy is unknown.
    """
    if entry_id is not None and entry_routine_id is not None:
        raise DefinitionError(
            f"{method} was given both entry_id={entry_id!r} and "
            f"entry_routine_id={entry_routine_id!r}; they name the same routine: give one."
        )
    routine_id = entry_routine_id if entry_id is None else entry_id
    strategy = None
    if isinstance(third, str):
        if third not in _STRATEGIES:
            raise DefinitionError(
                f"Unknown execution_strategy {third!r} for {method}; use 'sequential', "
                "'concurrent' or 'ray'."
            )
        strategy = third
    elif third is not None:
        if timeout is not None:
            raise DefinitionError(
                f"{method} was given two timeouts, {third!r} as its third argument and "
                f"timeout={timeout!r}; the third argument is the timeout only when it is "
                "not a strategy name."
            )
        timeout = third
    return routine_id, strategy, timeout


def pause_arguments(reason: Any, checkpoint: Any, timeout: Any) -> tuple[str, dict[str, Any], Any]:
    """The reason, checkpoint (a copy) and timeout of ``pause``.

    A number given as the second argument is the timeout, as in
    ``pause(job_state, timeout)``.

    Raises:
        DefinitionError: The reason is not a string, the checkpoint not a
            mapping, or the timeout is given twice.
    """
    if isinstance(reason, (int, float)) and not isinstance(reason, bool):
        if timeout is not None:
            raise DefinitionError(
                f"pause was given two timeouts, {reason!r} as its second argument and "
                f"timeout={timeout!r}."
            )
        reason, timeout = "", reason
    if not isinstance(reason, str):
        raise DefinitionError(f"pause expects a reason string, not {type(reason).__name__}.")
    if checkpoint is not None and not isinstance(checkpoint, Mapping):
        raise DefinitionError(
            f"pause expects a checkpoint dict or None, not {type(checkpoint).__name__}."
        )
    return reason, copy.deepcopy(dict(checkpoint or {})), timeout


def pause_point(
    job: JobState, reason: str, checkpoint: dict[str, Any], pending: int
) -> dict[str, Any]:
    """The entry ``pause`` appends to ``job.pause_points``."""
    return {
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "reason": reason,
        "checkpoint": checkpoint,
        "current_routine_id": job.current_routine_id,
        "pending_count": len(job.pending_deliveries) if job.status is JobStatus.PAUSED else pending,
    }


def check_job_of(flow_id: str, job: Any, method: str) -> JobState:
    """``job``, if it is a JobState of the flow ``flow_id``.

    Raises:
        DefinitionError: It is not a JobState, or belongs to another flow.
    """
    if not isinstance(job, JobState):
        raise DefinitionError(f"{method} expects a JobState, not {type(job).__name__} {job!r}.")
    if job.flow_id != flow_id:
        raise DefinitionError(
            f"Job {job.job_id} belongs to flow {job.flow_id!r}, not to flow {flow_id!r}; "
            f"{method} it through the flow that runs it."
        )
    return job


def check_timeout(value: object) -> float | None:
    """``value`` as a timeout in seconds, or ``None``.

    Raises:
        DefinitionError: It is not ``None`` or a positive finite number.
    """
    if value is None:
        return None
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise DefinitionError(f"A timeout must be a positive number of seconds, not {value!r}.")
    return float(value)
