"""Output handlers: where a job's outputs go as routines send them.

A routine sends an output with ``self.send_output(output_type, **data)``
(or ``job_state.send_output(routine_id, output_type, data)``); the job
passes it at once to its output handler, set with
``job_state.set_output_handler(handler)`` or ``flow.execute(...,
output_handler=handler)``, and keeps it in ``job_state.output_log``.

Four handlers come with routilux, and any object with the method
:meth:`OutputHandler.handle` will do:

- :class:`QueueOutputHandler` puts each output on a queue, for a consumer
  thread (a web server streaming progress, say);
- :class:`CallbackOutputHandler` calls a function;
- :class:`NullOutputHandler` drops everything.

``handle`` is called in the thread of the handler that sent the output,
while that handler runs: with the concurrent strategy, from several threads
at once. A delivery that is retried sends its outputs again.
"""

from __future__ import annotations

import abc
import queue as queue_module
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Protocol

from routilux.exceptions import DefinitionError

__all__ = [
    "CallbackOutputHandler",
    "NullOutputHandler",
    "OutputHandler",
    "QueueOutputHandler",
]


class _Putter(Protocol):
    def put(self, item: Any, /) -> Any: ...


def _now() -> datetime:
    return datetime.now(timezone.utc)


class OutputHandler(abc.ABC):
    """Receives the outputs routines send in a job.

    Subclass it and implement :meth:`handle`. One handler may serve several
    jobs, and its ``handle`` may be called from several threads at once.
    """

    @abc.abstractmethod
    def handle(
        self,
        job_id: str,
        routine_id: str,
        output_type: str,
        data: dict[str, Any],
        timestamp: datetime | None = None,
    ) -> None:
        """Take one output.

        Args:
            job_id: The job the output belongs to.
            routine_id: The id, in the flow, of the routine that sent it.
            output_type: What kind of output it is (``"progress"``, ``"result"``...).
            data: The output's data.
            timestamp: When it was sent, a timezone-aware UTC ``datetime``;
                ``None`` means now.
        """


class QueueOutputHandler(OutputHandler):
    """Puts each output on a queue, as a dict.

    Each item is ``{"job_id", "routine_id", "output_type", "data",
    "timestamp"}``, the timestamp as ISO 8601 text (UTC).

    Args:
        queue: Any object with a ``put`` method (``queue.Queue``,
            ``multiprocessing.Queue``...); a new ``queue.Queue()`` if omitted.

    Attributes:
        queue: The queue outputs are put on.
    """

    def __init__(self, queue: _Putter | None = None) -> None:
        self.queue: Any = queue_module.Queue() if queue is None else queue

    def handle(
        self,
        job_id: str,
        routine_id: str,
        output_type: str,
        data: dict[str, Any],
        timestamp: datetime | None = None,
    ) -> None:
        """Put the output on :attr:`queue`; see :meth:`OutputHandler.handle`."""
        self.queue.put(
            {
                "job_id": job_id,
                "routine_id": routine_id,
                "output_type": output_type,
                "data": data,
                "timestamp": (timestamp or _now()).isoformat(),
            }
        )


class CallbackOutputHandler(OutputHandler):
    """Calls a function with each output.

    Args:
        callback: Called as ``callback(job_id, routine_id, output_type, data,
            timestamp)``, the timestamp a timezone-aware UTC ``datetime``.

    Attributes:
        callback: The function.

    Raises:
        DefinitionError: ``callback`` is not callable.
    """

    def __init__(self, callback: Callable[[str, str, str, dict[str, Any], datetime], Any]) -> None:
        if not callable(callback):
            raise DefinitionError(
                f"CallbackOutputHandler needs a callable, not {type(callback).__name__}; "
                "pass a function taking (job_id, routine_id, output_type, data, timestamp)."
            )
        self.callback = callback

    def handle(
        self,
        job_id: str,
        routine_id: str,
        output_type: str,
        data: dict[str, Any],
        timestamp: datetime | None = None,
    ) -> None:
        """Call :attr:`callback`; see :meth:`OutputHandler.handle`."""
        self.callback(job_id, routine_id, output_type, data, timestamp or _now())


class NullOutputHandler(OutputHandler):
    """Drops every output (they are still kept in the job's ``output_log``)."""

    def handle(
        self,
        job_id: str,
        routine_id: str,
        output_type: str,
        data: dict[str, Any],
        timestamp: datetime | None = None,
    ) -> None:
        """Do nothing; see :meth:`OutputHandler.handle`."""
