"""Tagging ``logging`` records with the job delivery that logged them.

A handler that logs with the standard :mod:`logging` module while the
engine runs one of its deliveries can have each record tagged with where it
came from. Add :class:`JobLogFilter` to a logging *handler* (a filter on a
logger sees only the records logged to that very logger, not those of its
children)::

    handler = logging.StreamHandler()
    handler.addFilter(JobLogFilter())
    handler.setFormatter(JsonLogFormatter())
    logging.getLogger().addHandler(handler)

Each record that passes the filter carries five attributes, ``None`` on a
record logged outside a delivery:

- ``routilux_job_id``: the id of the job;
- ``routilux_flow_id``: the id of the job's flow;
- ``routilux_routine_id``: the id, in the flow, of the routine whose handler runs;
- ``routilux_slot``: the name of the slot whose handler runs;
- ``routilux_delivery_id``: the stable id of the delivery (``"{job_id}:{n}"``).

The tags are read from the running delivery's frame, a context variable the
engine sets on the thread or task that runs the handler (a handler with a
timeout on its own thread, an ``async def`` handler on the engine's loop
thread included). Nothing runs on the engine's path: the cost is paid by the
filter, per record, and only where it is installed.

Limitation: a record logged on an engine thread *between* two deliveries
(the engine's own warnings about a failed delivery, for instance) carries
the tags of the delivery that ran last on that thread; a thread a handler
starts itself does not inherit the frame unless the handler copies its
context (:func:`contextvars.copy_context`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from routilux._engine.frame import DeliveryFrame
from routilux._engine.hooks import HookFrame
from routilux._model.context import CURRENT_FRAME
from routilux._model.job_logs import MAX_KEPT_LOGS
from routilux.exceptions import DefinitionError

if TYPE_CHECKING:
    from routilux._engine.plan import Target

__all__ = [
    "MAX_KEPT_LOGS",
    "TAG_NAMES",
    "DeliveryTags",
    "JobLogFilter",
    "JobLogKeeper",
    "JsonLogFormatter",
    "current_tags",
    "keep_job_logs",
    "kept_log_level",
]


class DeliveryTags(NamedTuple):
    """Where a record was logged: the delivery running in its thread or task.

    Attributes:
        job_id: The id of the job.
        flow_id: The id of the job's flow.
        routine_id: The id, in the flow, of the routine whose handler runs.
        slot: The name of the slot whose handler runs.
        delivery_id: The stable id of the delivery (``"{job_id}:{n}"``).
    """

    job_id: str
    flow_id: str
    routine_id: str
    slot: str
    delivery_id: str


#: The record attribute of each field of :class:`DeliveryTags`, in order.
TAG_NAMES: tuple[str, ...] = tuple(f"routilux_{field}" for field in DeliveryTags._fields)
_NO_TAGS = (None,) * len(TAG_NAMES)


def _running_frame() -> DeliveryFrame | None:
    frame = CURRENT_FRAME.get()
    if isinstance(frame, HookFrame):  # A handler of a flow with hooks: the delivery's frame inside.
        frame = frame.frame
    if not isinstance(frame, DeliveryFrame):
        return None
    target: Target | None = frame.target
    return None if target is None else frame  # A pool thread's frame before its first delivery.


def _tags_of(frame: DeliveryFrame) -> DeliveryTags:
    target, job = frame.target, frame.run.job
    return DeliveryTags(
        job.job_id, job.flow_id, target.routine_id, target.slot.name, frame.delivery_id()
    )


def current_tags() -> DeliveryTags | None:
    """The tags of the delivery running in this thread or task, ``None`` outside one."""
    frame = _running_frame()
    return None if frame is None else _tags_of(frame)


def _tag(record: logging.LogRecord) -> None:
    tags = current_tags()
    for name, value in zip(TAG_NAMES, _NO_TAGS if tags is None else tags, strict=True):
        setattr(record, name, value)


class JobLogFilter(logging.Filter):
    """Tags each record with the delivery that logged it; lets every record through.

    Sets the attributes named in :data:`TAG_NAMES` on each record it sees
    (``None`` outside a delivery), so a format string such as
    ``"%(routilux_job_id)s %(message)s"`` works on every record. A record
    already tagged (by another filter on the way) keeps its tags.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Tag ``record`` (unless tagged already) and keep it."""
        if not hasattr(record, TAG_NAMES[0]):
            _tag(record)
        return True


#: The attributes of every LogRecord, which are not extra fields of a JSON line.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    *TAG_NAMES,
}


class JsonLogFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line.

    The object holds ``time`` (seconds since the epoch), ``level``,
    ``logger``, ``message``, the delivery tags (the attributes named in
    :data:`TAG_NAMES`, ``null`` outside a delivery), ``exception`` (the
    formatted traceback) when the record has one, and the record's extra
    fields (``logger.info(..., extra={...})``), each value that JSON cannot
    hold written as its ``repr``. A record no :class:`JobLogFilter` tagged is
    tagged here, from the thread that formats it.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The JSON line of ``record`` (no trailing newline)."""
        if not hasattr(record, TAG_NAMES[0]):
            _tag(record)
        line: dict[str, object] = {
            "time": record.created,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in TAG_NAMES:
            line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in line:
                line[name] = value
        return json.dumps(line, default=repr, ensure_ascii=False)


def kept_log_level(keep_logs: object) -> int | None:
    """The level of ``Flow(keep_logs=...)``: ``None`` (off) or a :mod:`logging` level.

    ``False`` or ``None`` is off, ``True`` is ``INFO``; a level is a
    non-negative int or a level name (``"WARNING"``, any case).

    Raises:
        DefinitionError: ``keep_logs`` is none of these.
    """
    if keep_logs is None or keep_logs is False:
        return None
    if keep_logs is True:
        return logging.INFO
    if isinstance(keep_logs, int) and keep_logs >= 0:
        return keep_logs
    if isinstance(keep_logs, str) and keep_logs.upper() in _LEVEL_NAMES:
        return _LEVEL_NAMES[keep_logs.upper()]
    raise DefinitionError(
        f"keep_logs must be a bool, a logging level (an int >= 0) or a level name "
        f"({', '.join(_LEVEL_NAMES)}), not {type(keep_logs).__name__} {keep_logs!r}."
    )


_LEVEL_NAMES: dict[str, int] = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # Bad format arguments: logging reports them when it emits.
        return str(record.msg)


def _entry(record: logging.LogRecord, tags: DeliveryTags) -> dict[str, object]:
    """The fields of ``record`` a job keeps (JSON-compatible)."""
    entry: dict[str, object] = {
        "time": record.created,
        "level": record.levelname,
        "levelno": record.levelno,
        "logger": record.name,
        "message": _message(record),
        "routine_id": tags.routine_id,
        "slot": tags.slot,
        "delivery_id": tags.delivery_id,
    }
    if record.exc_info:
        entry["exception"] = logging.Formatter().formatException(record.exc_info)
    return entry


class JobLogKeeper:
    """A log record factory that keeps each record made during a delivery with its job.

    :func:`keep_job_logs` installs one (``logging.setLogRecordFactory``),
    wrapping the factory in place. A record is kept when its logger's level
    lets it be made at all, it was made during a delivery of a job whose
    flow has ``keep_logs`` on, and it is at that level or above; whatever
    handlers and filters then do with it. Records made outside a delivery
    are not kept. Being a factory, not a handler, it leaves the handlers
    configured (and :data:`logging.lastResort`) as they were.

    Args:
        make: The record factory it wraps.
    """

    def __init__(self, make: Callable[..., logging.LogRecord]) -> None:
        self._make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        """Make the record with the wrapped factory; keep it with the running job if asked."""
        record = self._make(*args, **kwargs)
        frame = _running_frame()
        if frame is not None:
            level = frame.run.port.flow.keep_logs
            if level is not None and record.levelno >= level:
                frame.run.job.keep_log(_entry(record, _tags_of(frame)))
        return record


_KEEPER_LOCK = threading.Lock()


def keep_job_logs() -> None:
    """Install the :class:`JobLogKeeper` as the log record factory (once per process).

    ``Flow(keep_logs=...)`` calls it; a process whose flows never keep logs
    never does, so then records cost nothing more. A factory set later with
    ``logging.setLogRecordFactory`` replaces it: set yours first.
    """
    with _KEEPER_LOCK:
        current = logging.getLogRecordFactory()
        if not isinstance(current, JobLogKeeper):
            logging.setLogRecordFactory(JobLogKeeper(current))
