"""A job's deferred events: ``JobState.add_deferred_event``, emitted when the job resumes."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from routilux._model.job_output import check_text, copied

if TYPE_CHECKING:
    from routilux._model.durable import CheckpointMarks

__all__ = ["JobDeferred"]


class JobDeferred:
    """The events a job emits once it is resumed (a part of :class:`JobState`).

    Attributes:
        deferred_events: The deferred events, oldest first, each a dict
            ``{"routine_id", "event_name", "data", "timestamp"}`` (the time
            as ISO 8601 text, in UTC).
    """

    deferred_events: list[dict[str, Any]]
    _lock: threading.RLock
    # Whether the list changed since a durable job's last checkpoint.
    checkpoint_marks: CheckpointMarks

    def add_deferred_event(
        self, routine_id: str, event_name: str, data: Mapping[str, Any] | None
    ) -> None:
        """Add an event for the routine ``routine_id`` to emit when the job is resumed.

        It is appended to :attr:`deferred_events` at once. When ``flow.resume``
        continues the paused job, before its pending deliveries run, each
        deferred event is emitted as the routine's own emit (through the
        flow's connections, recorded in the history) and the list is
        emptied. A job that completes without being resumed keeps them and
        logs a warning. A handler calls ``self.emit_deferred_event(...)``
        instead, which checks the event and keeps it only if the handler
        succeeds. A durable job saves the list with its next checkpoint.

        Args:
            routine_id: The routine whose event it is.
            event_name: The event.
            data: The event's data (copied); ``None`` for none.

        Raises:
            DefinitionError: ``routine_id`` or ``event_name`` is not a
                string, or ``data`` is not a mapping.
        """
        check_text("add_deferred_event", "routine_id", routine_id)
        check_text("add_deferred_event", "event_name", event_name)
        entry = {
            "routine_id": routine_id,
            "event_name": event_name,
            "data": copied("add_deferred_event", data),
            "timestamp": datetime.now(timezone.utc).isoformat(),
        }
        with self._lock:
            self.deferred_events.append(entry)
            self.checkpoint_marks.deferred_dirty = True
