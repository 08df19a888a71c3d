"""Event hooks: the records of job and delivery events, and the :class:`Hooks` to observe them.

The engine builds the records and calls the hooks (``routilux._engine.hooks``);
``routilux.hooks`` is the public module.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["EVENT_METHODS", "DeliveryEvent", "EmitEvent", "Hooks", "JobEvent"]


class JobEvent(NamedTuple):
    """A job started, paused, resumed or ended (a record: immutable, fields by name).

    Attributes:
        job_id: The job's id.
        flow_id: Its flow's id.
        status: The job's status when the event happened (``"running"``,
            ``"paused"``, ``"completed"``, ``"failed"``, ``"cancelled"``).
        error: Why it ended, for a job that failed or was cancelled, else ``None``.
    """

    job_id: str
    flow_id: str
    status: str
    error: str | None = None


class DeliveryEvent(NamedTuple):
    """One attempt of one delivery: started, succeeded, failed, retried, skipped, dead-lettered.

    Attributes:
        job_id: The job's id.
        flow_id: Its flow's id.
        routine_id: The id of the routine the message goes to.
        slot: The slot's name.
        delivery_id: ``"{job_id}:{n}"``, the same for every attempt of the delivery.
        attempt: 1 for a first try, one more for each retry.
        duration: Seconds the handler ran (``None`` in ``delivery_started``
            and in the events the error policy decides).
        error_type: The exception's class name, for a failure, else ``None``.
        error: The exception's text, for a failure, else ``None``.
        retry_delay: Seconds until the next attempt, in ``delivery_retried``.
    """

    job_id: str
    flow_id: str
    routine_id: str
    slot: str
    delivery_id: str
    attempt: int
    duration: float | None = None
    error_type: str | None = None
    error: str | None = None
    retry_delay: float | None = None


class EmitEvent(NamedTuple):
    """A handler emitted an event (reported once the handler has returned).

    Attributes:
        job_id: The job's id.
        flow_id: Its flow's id.
        routine_id: The id of the routine that emitted.
        event_name: The event's name.
        target_routine_ids: The routines connected to it, each once, in connection order.
        delivery_id: The id of the delivery whose handler emitted.
    """

    job_id: str
    flow_id: str
    routine_id: str
    event_name: str
    target_routine_ids: tuple[str, ...]
    delivery_id: str


class Hooks:
    """Override the methods of the events to observe; each does nothing by default.

    Register an instance with ``flow.add_hooks(hooks)`` (one flow) or
    :func:`add_global_hooks` (every flow of the process). Methods are
    called outside the job's lock, in the order the events happened in
    the job, possibly from several threads (never two at once for one
    job). They get frozen records, never the live job. A method that
    raises is logged, and the hooks object is detached.
    """

    def job_started(self, event: JobEvent) -> None:
        """A job started running (``execute`` or ``start``)."""

    def job_paused(self, event: JobEvent) -> None:
        """A job was paused."""

    def job_resumed(self, event: JobEvent) -> None:
        """A paused job was resumed, or a job no flow ran was taken up (stored, or a document)."""

    def job_ended(self, event: JobEvent) -> None:
        """A job ended: completed, failed or cancelled (``event.status``)."""

    def delivery_started(self, event: DeliveryEvent) -> None:
        """A handler is about to be called with a message."""

    def delivery_succeeded(self, event: DeliveryEvent) -> None:
        """A handler returned (its emits were reported just before)."""

    def delivery_failed(self, event: DeliveryEvent) -> None:
        """A handler raised; the error policy's decision follows."""

    def delivery_retried(self, event: DeliveryEvent) -> None:
        """The failed delivery will be tried again after ``event.retry_delay`` seconds."""

    def delivery_skipped(self, event: DeliveryEvent) -> None:
        """The failed delivery was skipped (a ``SKIP`` policy)."""

    def delivery_dead_lettered(self, event: DeliveryEvent) -> None:
        """The failed delivery, not retried, was kept as a dead letter of the job."""

    def emitted(self, event: EmitEvent) -> None:
        """A handler emitted an event (after its delivery succeeded)."""


#: The methods of :class:`Hooks`, one per event.
EVENT_METHODS = tuple(name for name in vars(Hooks) if not name.startswith("_"))
