"""OpenTelemetry traces and metrics of routilux jobs (the ``otel`` extra).

Register :class:`OpenTelemetryHooks` like any hooks::

    from routilux.hooks import add_global_hooks
    from routilux.otel import OpenTelemetryHooks

    add_global_hooks(OpenTelemetryHooks())  # the application's providers

Spans (see ``docs/observability.md``):

* ``job <flow_id>``: one per job and process that runs it, from its start
  (or its resume here) to its end. A job resumed in another process gets
  one there too, a child of the first, in the same trace.
* ``process <routine_id>.<slot>``: one per delivery attempt, a child of its
  job's span (kind ``CONSUMER``), current while the handler runs (so the
  handler's own spans are its children), with a link to the span of the
  delivery whose handler emitted the message. A failed attempt has status
  ``ERROR`` and an ``exception`` event.

The trace context of each delivery is carried with it, and a durable job
keeps it with each pending delivery in its store.

Metrics (instrument names; every one has ``routilux.flow.id``):

* ``routilux.deliveries`` (counter): attempts run, by routine, slot and
  ``routilux.outcome`` (``succeeded``, ``failed``);
* ``routilux.delivery.failures``, ``routilux.delivery.retries``,
  ``routilux.dead_letters`` (counters), by routine and slot (failures also
  by ``error.type``);
* ``routilux.delivery.duration`` (histogram, seconds), by routine, slot and
  outcome;
* ``routilux.jobs.ended`` (counter), by ``routilux.job.status``;
* ``routilux.jobs`` (gauge): the jobs this process runs now, by status
  (``running``, ``paused``);
* ``routilux.deliveries.pending`` (gauge): the deliveries those jobs have
  waiting to run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from routilux import JobProgress
from routilux._install import install_command
from routilux.hooks import Carrier, DeliveryEvent, JobEvent, Tracer

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics, trace
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.trace import (
        Link,
        NonRecordingSpan,
        Span,
        SpanContext,
        SpanKind,
        Status,
        StatusCode,
        TraceFlags,
    )
except ImportError as exc:  # pragma: no cover - the extra is installed in the tests
    raise ImportError(
        f"routilux.otel needs OpenTelemetry (the otel extra): {install_command('otel')}"
    ) from exc

__all__ = ["JOB_KEY", "OpenTelemetryHooks"]

#: The key of a carried context that holds the job's first span (its ``traceparent``).
JOB_KEY = "routilux-job"
_SCOPE = "routilux"


@dataclass
class _Job:
    """A job this process runs: its span, and its counters for the gauges."""

    span: Span
    context: otel_context.Context  # The span's, as the parent of its deliveries' spans.
    traceparent: str  # The span's.
    root: str  # The traceparent of the job's first span, in any process.
    progress: Callable[[], JobProgress]
    flow_id: str


@dataclass
class _Attempt:
    """One delivery attempt's span, and what the metrics need of it."""

    span: Span
    root: str | None
    attributes: tuple[str, str, str]  # flow, routine, slot: what its metrics are by.


def _traceparent(context: SpanContext) -> str:
    """The W3C ``traceparent`` of a span context (what the propagator writes, without a call)."""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def _remote(traceparent: str | None) -> SpanContext | None:
    """The span context a W3C ``traceparent`` (version 00) names, if it is a valid one."""
    if not traceparent or len(traceparent) != 55:
        return None
    version, trace_id, span_id, flags = traceparent.split("-", 3)
    try:
        ids = int(trace_id, 16), int(span_id, 16), int(flags, 16)
    except ValueError:
        return None
    if version != "00" or not ids[0] or not ids[1]:
        return None
    return SpanContext(ids[0], ids[1], is_remote=True, trace_flags=TraceFlags(ids[2]))


class _Current:
    """Makes a span current while a handler runs (``trace.use_span``, as a small class)."""

    __slots__ = ("_context", "_token")

    def __init__(self, context: otel_context.Context) -> None:
        self._context = context
        self._token: object = None

    def __enter__(self) -> None:
        self._token = otel_context.attach(self._context)

    def __exit__(self, *exc: object) -> None:
        otel_context.detach(self._token)  # type: ignore[arg-type]


class _Tally:
    """Counts by attributes, read by an observable counter when the provider collects."""

    __slots__ = ("_counts", "_lock")

    def __init__(self) -> None:
        self._counts: dict[tuple[tuple[str, str], ...], int] = {}
        self._lock = threading.Lock()

    def add(self, attributes: Mapping[str, str]) -> None:
        key = tuple(attributes.items())
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            counts = list(self._counts.items())
        return [Observation(n, dict(key)) for key, n in counts]


class OpenTelemetryHooks(Tracer):
    """Traces and metrics of the jobs it observes, through OpenTelemetry.

    Args:
        tracer_provider: Where spans go; by default the application's global
            provider (``opentelemetry.trace.set_tracer_provider``).
        meter_provider: Where metrics go; by default the global one.

    Without providers set up by the application, OpenTelemetry's defaults
    record nothing, at a small cost per delivery (see
    ``docs/observability.md``).
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        from routilux import __version__

        self._tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(_SCOPE, __version__, meter_provider=meter_provider)
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._attributes: dict[tuple[tuple[str, str, str], bool], Mapping[str, str]] = {}
        # Counts are kept here and read when the provider collects (observable
        # counters): a dict increment per attempt, not an SDK measurement.
        self._deliveries = _Tally()
        self._failures = _Tally()
        self._retries = _Tally()
        self._dead_letters = _Tally()
        self._ended = _Tally()
        for name, tally, unit, description in (
            ("routilux.deliveries", self._deliveries, "{delivery}", "Delivery attempts run."),
            ("routilux.delivery.failures", self._failures, "{delivery}", "Attempts that raised."),
            ("routilux.delivery.retries", self._retries, "{delivery}", "Attempts retried."),
            ("routilux.dead_letters", self._dead_letters, "{delivery}", "Dead-lettered."),
            ("routilux.jobs.ended", self._ended, "{job}", "Jobs ended, by final status."),
        ):
            meter.create_observable_counter(
                name, callbacks=[tally.observe], unit=unit, description=description
            )
        self._duration = meter.create_histogram(
            "routilux.delivery.duration", unit="s", description="How long handlers ran."
        )
        meter.create_observable_gauge(
            "routilux.jobs",
            callbacks=[self._observe_jobs],
            unit="{job}",
            description="Jobs this process runs, by status.",
        )
        meter.create_observable_gauge(
            "routilux.deliveries.pending",
            callbacks=[self._observe_pending],
            unit="{delivery}",
            description="Deliveries waiting to run in the jobs this process runs.",
        )

    def __repr__(self) -> str:
        return f"<OpenTelemetryHooks jobs={len(self._jobs)}>"

    # -- jobs --------------------------------------------------------------------

    def job_begun(
        self, event: JobEvent, carrier: Carrier | None, progress: Callable[[], JobProgress]
    ) -> Carrier | None:
        """Start the job's span here (or keep the one it has, resumed after a pause)."""
        with self._lock:
            job = self._jobs.get(event.job_id)
            if job is None:
                job = self._jobs[event.job_id] = self._start_job(event, carrier, progress)
        if carrier is not None:
            job.span.add_event("resumed")
        return {"traceparent": job.traceparent, JOB_KEY: job.root}

    def _start_job(
        self, event: JobEvent, carrier: Carrier | None, progress: Callable[[], JobProgress]
    ) -> _Job:
        root = None if carrier is None else carrier.get(JOB_KEY)
        # A resumed job continues the trace it was started in; a new one is a
        # child of what is current where it starts (a request's span, say).
        remote = _remote(root)
        parent = None if remote is None else trace.set_span_in_context(NonRecordingSpan(remote))
        span = self._tracer.start_span(
            f"job {event.flow_id}",
            context=parent,
            kind=SpanKind.INTERNAL,
            attributes={
                "routilux.job.id": event.job_id,
                "routilux.flow.id": event.flow_id,
                "routilux.job.resumed": remote is not None,
            },
        )
        own = _traceparent(span.get_span_context())
        return _Job(
            span,
            trace.set_span_in_context(span),
            own,
            root if root and remote is not None else own,
            progress,
            event.flow_id,
        )

    def job_paused(self, event: JobEvent) -> None:
        """Note the pause on the job's span."""
        job = self._jobs.get(event.job_id)
        if job is not None:
            job.span.add_event("paused")

    def job_ended(self, event: JobEvent) -> None:
        """End the job's span, with its status; count the job."""
        self._ended.add({"routilux.flow.id": event.flow_id, "routilux.job.status": event.status})
        with self._lock:
            job = self._jobs.pop(event.job_id, None)
        if job is None:
            return
        job.span.set_attribute("routilux.job.status", event.status)
        if event.status == "failed":
            job.span.set_status(Status(StatusCode.ERROR, event.error or "failed"))
        job.span.end()

    # -- attempts ----------------------------------------------------------------

    def attempt_started(self, event: DeliveryEvent, carrier: Carrier | None) -> _Attempt:
        """Start the attempt's span: a child of its job's, linked to the emitting delivery's."""
        job = self._jobs.get(event.job_id)
        cause = None if carrier is None else carrier.get("traceparent")
        if job is not None:
            parent: otel_context.Context | None = job.context
            root: str | None = job.root
            if cause == job.traceparent:
                cause = None  # Added by the job itself (its first delivery): no link.
        else:  # Not begun here (cannot happen through the engine): its own trace.
            root = None if carrier is None else carrier.get(JOB_KEY)
            remote = _remote(root)
            parent = None if remote is None else trace.set_span_in_context(NonRecordingSpan(remote))
        caused_by = _remote(cause)
        destination = f"{event.routine_id}.{event.slot}"
        span = self._tracer.start_span(
            f"process {destination}",
            context=parent,
            kind=SpanKind.CONSUMER,
            links=() if caused_by is None else (Link(caused_by),),
            attributes={
                "messaging.system": "routilux",
                "messaging.operation.type": "process",
                "messaging.operation.name": "process",
                "messaging.destination.name": destination,
                "messaging.message.id": event.delivery_id,
                "routilux.job.id": event.job_id,
                "routilux.delivery.id": event.delivery_id,
                "routilux.routine.id": event.routine_id,
                "routilux.slot": event.slot,
                "routilux.delivery.attempt": event.attempt,
            },
        )
        return _Attempt(span, root, (event.flow_id, event.routine_id, event.slot))

    def attempt_scope(self, token: Any) -> AbstractContextManager[Any] | None:
        """The attempt's span, current while its handler runs."""
        if not isinstance(token, _Attempt):
            return None
        return _Current(trace.set_span_in_context(token.span))

    def carrier(self, token: Any) -> Carrier | None:
        """The attempt's span (and its job's first span), for the deliveries it adds."""
        if not isinstance(token, _Attempt):
            return None
        carried = {"traceparent": _traceparent(token.span.get_span_context())}
        if token.root:
            carried[JOB_KEY] = token.root
        return carried

    def attempt_ended(self, token: Any, error: BaseException | None, duration: float) -> None:
        """End the attempt's span (``ERROR`` and the exception, if it raised); count, time it."""
        if not isinstance(token, _Attempt):
            return
        span = token.span
        if error is not None:
            span.record_exception(error)
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        span.end()
        attributes = self._outcome(token.attributes, error is None)
        self._deliveries.add(attributes)
        self._duration.record(duration, attributes)

    def _outcome(self, key: tuple[str, str, str], succeeded: bool) -> Mapping[str, str]:
        """The attributes of an attempt's metrics (built once per routine, slot and outcome)."""
        cached = self._attributes.get((key, succeeded))
        if cached is None:
            flow_id, routine_id, slot = key
            cached = self._attributes[(key, succeeded)] = {
                "routilux.flow.id": flow_id,
                "routilux.routine.id": routine_id,
                "routilux.slot": slot,
                "routilux.outcome": "succeeded" if succeeded else "failed",
            }
        return cached

    # -- delivery events (metrics) --------------------------------------------------

    def delivery_failed(self, event: DeliveryEvent) -> None:
        """Count the failure (the attempt is counted when it ends)."""
        self._failures.add({**_attributes(event), "error.type": event.error_type or ""})

    def delivery_retried(self, event: DeliveryEvent) -> None:
        """Count the retry."""
        self._retries.add(_attributes(event))

    def delivery_dead_lettered(self, event: DeliveryEvent) -> None:
        """Count the dead letter."""
        self._dead_letters.add(_attributes(event))

    # -- gauges -----------------------------------------------------------------------

    def _live(self) -> list[tuple[_Job, JobProgress]]:
        with self._lock:
            jobs = list(self._jobs.values())
        return [(job, job.progress()) for job in jobs]

    def _observe_jobs(self, options: CallbackOptions) -> Iterable[Observation]:
        counts: dict[tuple[str, str], int] = {}
        for job, progress in self._live():
            key = (job.flow_id, progress.status)
            counts[key] = counts.get(key, 0) + 1
        return [
            Observation(n, {"routilux.flow.id": flow, "routilux.job.status": status})
            for (flow, status), n in counts.items()
        ]

    def _observe_pending(self, options: CallbackOptions) -> Iterable[Observation]:
        pending: dict[str, int] = {}
        for job, progress in self._live():
            pending[job.flow_id] = pending.get(job.flow_id, 0) + progress.pending
        return [Observation(n, {"routilux.flow.id": flow}) for flow, n in pending.items()]


def _attributes(event: DeliveryEvent) -> Mapping[str, str]:
    return {
        "routilux.flow.id": event.flow_id,
        "routilux.routine.id": event.routine_id,
        "routilux.slot": event.slot,
    }
