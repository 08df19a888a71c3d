"""A job's output channel: ``JobState.set_output_handler`` and ``JobState.send_output``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Protocol

from routilux.exceptions import DefinitionError

__all__ = ["JobOutput", "OutputHandlerLike", "check_text", "copied"]

logger = logging.getLogger("routilux")


class OutputHandlerLike(Protocol):
    """What ``JobState.set_output_handler`` takes (see ``routilux.output_handler``)."""

    def handle(
        self,
        *,
        job_id: str,
        routine_id: str,
        output_type: str,
        data: dict[str, Any],
        timestamp: datetime,
    ) -> Any:
        """Take one output."""


class JobOutput:
    """The outputs of a job, and where they go (a part of :class:`JobState`).

    Attributes:
        output_log: The outputs sent, in order.
        output_handler: Where outputs go as they are sent, or ``None``.
    """

    job_id: str
    output_log: list[dict[str, Any]]
    output_handler: OutputHandlerLike | None
    _lock: threading.RLock

    def set_output_handler(self, handler: OutputHandlerLike | None) -> None:
        """Send this job's outputs to ``handler`` from now on; ``None`` stops sending them.

        ``handler`` is an :class:`~routilux.output_handler.OutputHandler`, or
        any object with a ``handle`` method taking the same arguments.

        Raises:
            DefinitionError: ``handler`` has no ``handle`` method.
        """
        if handler is not None and not callable(getattr(handler, "handle", None)):
            raise DefinitionError(
                f"An output handler needs a handle(job_id, routine_id, output_type, data, "
                f"timestamp) method; {type(handler).__name__} has none. Use an OutputHandler "
                "of routilux.output_handler, or None to send no output."
            )
        self.output_handler = handler

    def send_output(self, routine_id: str, output_type: str, data: Mapping[str, Any]) -> None:
        """Send an output: add it to :attr:`output_log`, then hand it to the output handler.

        The handler, if one is set, is called at once, in this thread, as
        ``handler.handle(job_id=, routine_id=, output_type=, data=,
        timestamp=)`` with a timezone-aware UTC ``datetime``; with the
        concurrent strategy it may be called from several threads at once.
        If it raises, a warning is logged on the ``routilux`` logger and the
        caller goes on. Outputs are not staged like emits: a delivery that
        fails and is retried sends its outputs again.

        Args:
            routine_id: The routine sending it.
            output_type: What kind of output it is (``"progress"``, ``"result"``...).
            data: The output's data (copied).

        Raises:
            DefinitionError: ``routine_id`` or ``output_type`` is not a
                string, or ``data`` is not a mapping.
        """
        check_text("send_output", "routine_id", routine_id)
        check_text("send_output", "output_type", output_type)
        message = copied("send_output", data)
        timestamp = datetime.now(timezone.utc)
        entry = {
            "routine_id": routine_id,
            "output_type": output_type,
            "data": message,
            "timestamp": timestamp.isoformat(),
        }
        with self._lock:
            self.output_log.append(entry)
        handler = self.output_handler
        if handler is None:
            return
        try:
            handler.handle(
                job_id=self.job_id,
                routine_id=routine_id,
                output_type=output_type,
                data=message,
                timestamp=timestamp,
            )
        except Exception:  # The handler is user code; the job goes on without it.
            logger.warning(
                "Job %s: the output handler %s failed on the %r output of routine %r; "
                "the output is kept in the job's output_log.",
                self.job_id,
                type(handler).__name__,
                output_type,
                routine_id,
                exc_info=True,
            )


def check_text(method: str, name: str, value: Any) -> None:
    """Raise :class:`DefinitionError` unless ``value`` (argument ``name`` of ``method``) is text."""
    if not isinstance(value, str):
        raise DefinitionError(f"JobState.{method}: {name} must be a string, not {value!r}.")


def copied(method: str, data: Any) -> dict[str, Any]:
    """A copy of ``data``, the data argument of ``method`` (``{}`` for ``None``).

    Raises:
        DefinitionError: ``data`` is not a mapping.
    """
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise DefinitionError(
            f"JobState.{method}: data must be a mapping (a dict), not "
            f"{type(data).__name__} {data!r}."
        )
    return dict(data)
