"""Event hooks: the records of job and delivery events, and the :class:`Hooks` to observe them.

The engine builds the records and calls the hooks (``routilux._engine.hooks``);
``routilux.hooks`` is the public module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from routilux._model.records import JobProgress

__all__ = [
    "EVENT_METHODS",
    "TRACER_METHODS",
    "Carrier",
    "DeliveryEvent",
    "EmitEvent",
    "Hooks",
    "JobEvent",
    "Tracer",
]

#: A context propagated with a delivery: text keys to text values (a W3C
#: ``traceparent``, say). Durable jobs keep it with each pending delivery.
Carrier = Mapping[str, str]


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


class Tracer(Hooks):
    """Hooks that also run around each delivery attempt, on the handler's own thread.

    What tracing needs beyond events: a scope that is *current* while the
    handler runs (so that the handler's own spans and log records nest in
    it), and a context carried from the delivery that emitted a message to
    the delivery of that message, kept with the pending delivery in a
    durable store so that a job resumed in another process continues it.
    ``routilux.otel.OpenTelemetryHooks`` is one; most programs use it
    rather than subclass this.

    Registered like any hooks (``flow.add_hooks``, ``add_global_hooks``);
    a job is traced by one tracer: the flow's first, else the first global
    one. Unlike the event methods, the methods below are called
    synchronously, on the thread of the job or of the handler, so they
    must be quick; they cannot change the job, and one that raises is
    logged and the job goes on.
    """

    def job_begun(
        self, event: JobEvent, carrier: Carrier | None, progress: Callable[[], JobProgress]
    ) -> Carrier | None:
        """A job starts or resumes in this process (on the thread that starts it).

        Args:
            event: The job (``status`` is ``"running"``).
            carrier: For a resumed job, the context of the job as it was
                kept (with its pending deliveries, or by this process when
                it paused); ``None`` for a new job.
            progress: Returns the job's counters now (approximate: read
                without the job's lock), for as long as the job runs here.

        Returns:
            The context given to the deliveries that have none (the job's
            first delivery, and deliveries the engine adds itself).
        """
        return None

    def attempt_started(self, event: DeliveryEvent, carrier: Carrier | None) -> Any:
        """A handler is about to run (on its thread); return a token for the other calls.

        Args:
            event: The attempt (``duration`` is ``None``).
            carrier: The context the delivery carries: what :meth:`carrier`
                returned for the attempt that added it, or what
                :meth:`job_begun` returned; ``None`` if it has none.
        """
        return None

    def attempt_scope(self, token: Any) -> AbstractContextManager[Any] | None:
        """What to enter while the handler runs (on its thread, or in its event loop)."""
        return None

    def attempt_ended(self, token: Any, error: BaseException | None, duration: float) -> None:
        """The handler returned (``error`` is ``None``) or raised ``error`` after ``duration`` s."""

    def carrier(self, token: Any) -> Carrier | None:
        """The context to carry with what the attempt of ``token`` adds (inside its scope)."""
        return None


#: The methods of :class:`Hooks`, one per event.
EVENT_METHODS = tuple(name for name in vars(Hooks) if not name.startswith("_"))
#: The synchronous methods of :class:`Tracer`.
TRACER_METHODS = tuple(name for name in vars(Tracer) if not name.startswith("_"))
