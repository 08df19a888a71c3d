"""The engine's records of a job's routines in the job document.

A job document has, besides ``routine_states`` (what handlers stored),
three fields of the engine's own, by routine id:

- ``routine_stats``: ``{"deliveries": n, "failures": n, "skips": n}``;
- ``job_values``: the routine's job values, in the value codec;
- ``timers``: each named timer's pending delivery number.

Documents written before these fields existed kept them inside
``routine_states`` (the counts with a ``status``, and the ``values`` and
``timers`` keys): they are taken out of it when such a document is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from routilux._model.records import RoutineStats
from routilux._serde.json_text import safe_repr
from routilux._serde.values import decode_value, encode_value
from routilux.exceptions import SerializationError

if TYPE_CHECKING:
    from routilux._model.job_state import JobState

__all__ = [
    "COUNTS",
    "Records",
    "engine_records",
    "read_routine_records",
    "split_legacy",
    "split_records",
    "write_routine_records",
]

#: The counts of ``routine_stats``, as :class:`RoutineStats` has them.
COUNTS = ("deliveries", "failures", "skips")
# The statuses the engine wrote beside the counts, before they moved out.
_LEGACY_STATUSES = ("completed", "failed", "skipped")

#: The engine's records of a job's routines, by routine id: counts, job values, timers.
Records = tuple[dict[str, dict[str, int]], dict[str, dict[str, Any]], dict[str, Any]]


def write_routine_records(job: JobState) -> dict[str, Any]:
    """The ``routine_stats``, ``job_values`` and ``timers`` fields of ``job``'s document.

    Raises:
        SerializationError: A job value cannot be written.
    """
    with job._lock:
        return {**engine_records(job), "job_values": encode_value(job._job_values, "job_values")}


def engine_records(job: JobState) -> dict[str, Any]:
    """The ``routine_stats`` and ``timers`` fields of ``job``'s document (plain JSON).

    A store keeps the two together, and job values apart.
    """
    with job._lock:
        return {
            "routine_stats": {
                rid: {"deliveries": s.deliveries, "failures": s.failures, "skips": s.skips}
                for rid, s in job._routine_stats.items()
            },
            "timers": {rid: dict(names) for rid, names in job._timers.items()},
        }


def read_routine_records(job: JobState, doc: dict[str, Any]) -> None:
    """Fill ``job``'s records from ``doc``, taking them out of its routine states if old.

    Called once ``job.routine_states`` holds the document's decoded states.

    Raises:
        SerializationError: A field is not of its shape.
    """
    counts, values, timers = split_records(doc, job.routine_states)
    job._routine_stats = {rid: RoutineStats(**entry) for rid, entry in counts.items()}
    job._job_values = values
    job._timers = timers


def split_records(doc: dict[str, Any], states: dict[str, dict[str, Any]]) -> Records:
    """The ``routine_stats``, decoded ``job_values`` and ``timers`` of ``doc``, checked.

    ``states`` are the document's routine states, decoded: a document
    without ``routine_stats`` was written before the three fields existed,
    and its records are taken out of them (see :func:`split_legacy`).

    Raises:
        SerializationError: A field is not of its shape.
    """
    if "routine_stats" not in doc:
        counts, values, timers = split_legacy(states)
        for rid, kept in _mapping(doc.get("job_values", {}), "job_values", decode=True).items():
            values.setdefault(rid, {}).update(kept)  # A store's rows win over what was left.
    else:
        counts = _mapping(doc["routine_stats"], "routine_stats")
        values = _mapping(doc.get("job_values", {}), "job_values", decode=True)
        timers = _mapping(doc.get("timers", {}), "timers")
    return (
        {rid: _counts(rid, entry) for rid, entry in counts.items()},
        values,
        {rid: _timer_names(rid, names) for rid, names in timers.items()},
    )


def split_legacy(states: dict[str, dict[str, Any]]) -> Records:
    """Take the engine's keys out of decoded routine states of an old document.

    A state is taken to have the engine's counts when ``deliveries``,
    ``failures`` and ``skips`` are all integers; its ``status`` goes with
    them. ``values`` and ``timers`` go when they are objects. A state left
    empty is removed.

    Returns:
        The counts, job values and timers, by routine id.
    """
    counts: dict[str, dict[str, int]] = {}
    values: dict[str, dict[str, Any]] = {}
    timers: dict[str, Any] = {}
    for rid, state in list(states.items()):
        if all(_is_count(state.get(key)) for key in COUNTS):
            counts[rid] = {key: state.pop(key) for key in COUNTS}
            if state.get("status") in _LEGACY_STATUSES:
                del state["status"]
        if isinstance(state.get("values"), dict):
            values[rid] = state.pop("values")
        if isinstance(state.get("timers"), dict):
            timers[rid] = state.pop("timers")
        if not state:
            del states[rid]
    return counts, values, timers


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _mapping(raw: Any, field: str, *, decode: bool = False) -> dict[str, Any]:
    """The field ``field``: an object of objects by routine id (decoded, for job values)."""
    value = decode_value(raw, field) if decode else raw
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise SerializationError(
            f"The {field!r} field of the job document must map routine ids to objects, "
            f"not {safe_repr(raw)}."
        )
    return value


def _counts(rid: str, entry: dict[str, Any]) -> dict[str, int]:
    for key in COUNTS:
        if not _is_count(entry.get(key, 0)):
            raise SerializationError(
                f"routine_stats[{rid!r}][{key!r}] of the job document must be an integer "
                f"of 0 or more, not {safe_repr(entry.get(key))}."
            )
    return {key: entry.get(key, 0) for key in COUNTS}


def _timer_names(rid: str, names: dict[str, Any]) -> dict[str, int]:
    for name, seq in names.items():
        if not _is_count(seq):
            raise SerializationError(
                f"timers[{rid!r}][{name!r}] of the job document must be a delivery number, "
                f"not {safe_repr(seq)}."
            )
    return dict(names)
