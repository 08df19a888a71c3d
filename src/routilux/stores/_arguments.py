"""Checks of the arguments the job stores' methods take, shared by every store.

A wrong argument raises :class:`~routilux.DefinitionError` (also a
:class:`ValueError`) naming the argument and what it takes, rather than
whatever the query happened to do with it (a raw ``TypeError``, or an empty
result for a misspelt status).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, overload

from routilux._model.status import JobStatus
from routilux.exceptions import DefinitionError

__all__ = [
    "STATUSES",
    "check_before",
    "check_claim",
    "check_job_listing",
    "check_lease",
    "check_log_window",
    "check_statuses",
    "check_text",
    "check_window",
]

#: Every job status, as the stores keep it.
STATUSES = tuple(status.value for status in JobStatus)


def check_window(limit: Any, offset: Any) -> None:
    """Check a listing's ``limit`` and ``offset``.

    Raises:
        DefinitionError: ``limit`` or ``offset`` is not an integer, or is negative.
    """
    for name, value in (("limit", limit), ("offset", offset)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise DefinitionError(f"{name} must be an integer, not {value!r}.")
    if limit < 0 or offset < 0:
        raise DefinitionError(f"limit and offset must not be negative (got {limit} and {offset}).")


def check_log_window(after: Any, limit: Any) -> None:
    """Check ``read_job_logs``'s ``after`` and ``limit`` (``None``: no limit).

    Raises:
        DefinitionError: ``after`` or ``limit`` is not an integer, or is negative.
    """
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise DefinitionError(
            f"after must be an integer of at least 0 (how many of the job's first log records "
            f"to skip), not {after!r}."
        )
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise DefinitionError(f"limit must be None or an integer of at least 0, not {limit!r}.")


def check_statuses(name: str, value: Any) -> list[str]:
    """``value`` (one status or several) as a list of statuses.

    Raises:
        DefinitionError: ``value`` is not a status, or holds something that is not.
    """
    given = [value] if isinstance(value, str) else value
    if not isinstance(given, Iterable):
        raise DefinitionError(
            f"{name} must be a job status or a list of them, not {value!r}; "
            f"the statuses are {', '.join(STATUSES)}."
        )
    statuses = list(given)
    for status in statuses:
        if status not in STATUSES:
            raise DefinitionError(
                f"{name} has {status!r}, which is not a job status; "
                f"the statuses are {', '.join(STATUSES)}."
            )
    return [str(status) for status in statuses]


def check_before(value: Any) -> datetime:
    """Check ``delete_jobs``'s ``updated_before``.

    Raises:
        DefinitionError: ``value`` is not a datetime.
    """
    if not isinstance(value, datetime):
        raise DefinitionError(
            f"updated_before must be a datetime (a naive one is taken as UTC), not {value!r}."
        )
    return value


def check_text(name: str, value: Any) -> None:
    """Check an optional id a listing filters by (``flow_id``, ``job_id``).

    Raises:
        DefinitionError: ``value`` is neither ``None`` nor a string.
    """
    if value is not None and not isinstance(value, str):
        raise DefinitionError(f"{name} must be a string or None, not {value!r}.")


def check_job_listing(flow_id: Any, status: Any, limit: Any, offset: Any) -> list[str] | None:
    """Check the arguments of ``list_jobs``; return the statuses asked for (``None``: any).

    Raises:
        DefinitionError: An argument is not of its type, ``limit`` or
            ``offset`` is negative, or a status is not a job status.
    """
    check_window(limit, offset)
    check_text("flow_id", flow_id)
    return None if status is None else check_statuses("status", status)


@overload
def check_lease(lease: Any, *, optional: Literal[False] = False) -> float: ...
@overload
def check_lease(lease: Any, *, optional: bool) -> float | None: ...
def check_lease(lease: Any, *, optional: bool = False) -> float | None:
    """``lease`` as a number of seconds (``None`` allowed when ``optional``).

    Raises:
        DefinitionError: It is not a positive finite number of seconds.
    """
    if lease is None and optional:
        return None
    if (
        not isinstance(lease, (int, float))
        or isinstance(lease, bool)
        or not math.isfinite(lease)
        or lease <= 0
    ):
        raise DefinitionError(f"lease must be a positive number of seconds, not {lease!r}.")
    return float(lease)


def check_claim(claim: Any) -> int:
    """``claim`` as a job's claim (an integer of at least 0).

    Raises:
        DefinitionError: It is not.
    """
    if not isinstance(claim, int) or isinstance(claim, bool) or claim < 0:
        raise DefinitionError(f"A claim is an integer of at least 0, not {claim!r}.")
    return claim
