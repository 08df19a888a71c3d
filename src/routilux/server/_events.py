"""The live events of jobs, for ``GET /jobs/{job_id}/events`` (Server-Sent Events).

:class:`EventHub` is a :class:`~routilux.hooks.Hooks` registered on every
served flow. The engine calls it on its threads; it numbers each job's
events (1, 2, ...), keeps them in a bounded buffer per job (for a client
that connects late) and hands each one to the job's subscribers: a
subscriber is an :class:`asyncio.Queue` of the event loop of one open
stream, fed with ``call_soon_threadsafe``. Taking a job's backlog and
subscribing happen under one lock, so a stream misses no event and gets
none twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from routilux.hooks import DeliveryEvent, Hooks, JobEvent

__all__ = ["END", "EventHub", "StreamEvent", "Subscription"]

#: Events kept per job, and finished jobs whose events are kept.
MAX_EVENTS_PER_JOB = 10_000
MAX_ENDED_JOBS = 500


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of a job's stream: ``id`` (1, 2, ... per job), ``kind`` (job or delivery)."""

    id: int
    kind: str
    data: dict[str, Any]

    def encode(self) -> str:
        """The event in the text/event-stream format."""
        return f"id: {self.id}\nevent: {self.kind}\ndata: {json.dumps(self.data, default=str)}\n\n"


#: Put on a subscriber's queue when its job has ended (after its last event).
END = StreamEvent(0, "end", {})


@dataclass(eq=False, slots=True)
class Subscription:
    """One open stream of a job's events."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[StreamEvent] = field(default_factory=asyncio.Queue)

    def push(self, event: StreamEvent) -> None:
        """Hand ``event`` to the stream's event loop (from any thread)."""
        with contextlib.suppress(RuntimeError):  # A closed loop: the stream is gone.
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)


@dataclass(eq=False, slots=True)
class _Feed:
    events: deque[StreamEvent] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS_PER_JOB))
    last_id: int = 0
    ended: bool = False
    subscribers: set[Subscription] = field(default_factory=set)


def _job_data(kind: str, event: JobEvent) -> dict[str, Any]:
    return {"type": kind, "status": event.status, "error": event.error, "time": time.time()}


def _delivery_data(kind: str, event: DeliveryEvent) -> dict[str, Any]:
    return {
        "type": kind,
        "routine_id": event.routine_id,
        "slot": event.slot,
        "delivery_id": event.delivery_id,
        "attempt": event.attempt,
        "duration": event.duration,
        "error_type": event.error_type,
        "error": event.error,
        "retry_delay": event.retry_delay,
        "time": time.time(),
    }


class EventHub(Hooks):
    """Numbered, buffered events of the jobs this server runs, with their subscribers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._feeds: OrderedDict[str, _Feed] = OrderedDict()

    # -- from the engine ------------------------------------------------------------

    def job_started(self, event: JobEvent) -> None:
        self._add(event.job_id, "job", _job_data("started", event))

    def job_paused(self, event: JobEvent) -> None:
        self._add(event.job_id, "job", _job_data("paused", event))

    def job_resumed(self, event: JobEvent) -> None:
        self._add(event.job_id, "job", _job_data("resumed", event), reopen=True)

    def job_ended(self, event: JobEvent) -> None:
        self._add(event.job_id, "job", _job_data("ended", event), end=True)

    def delivery_started(self, event: DeliveryEvent) -> None:
        self._add(event.job_id, "delivery", _delivery_data("started", event))

    def delivery_succeeded(self, event: DeliveryEvent) -> None:
        self._add(event.job_id, "delivery", _delivery_data("succeeded", event))

    def delivery_failed(self, event: DeliveryEvent) -> None:
        self._add(event.job_id, "delivery", _delivery_data("failed", event))

    def delivery_retried(self, event: DeliveryEvent) -> None:
        self._add(event.job_id, "delivery", _delivery_data("retried", event))

    def delivery_skipped(self, event: DeliveryEvent) -> None:
        self._add(event.job_id, "delivery", _delivery_data("skipped", event))

    def delivery_dead_lettered(self, event: DeliveryEvent) -> None:
        self._add(event.job_id, "delivery", _delivery_data("dead_lettered", event))

    def _add(
        self,
        job_id: str,
        kind: str,
        data: dict[str, Any],
        *,
        end: bool = False,
        reopen: bool = False,
    ) -> None:
        with self._lock:
            feed = self._feed(job_id)
            feed.last_id += 1
            event = StreamEvent(feed.last_id, kind, data)
            feed.events.append(event)
            feed.ended = end or (feed.ended and not reopen)
            subscribers = list(feed.subscribers)
            if end:
                self._feeds.move_to_end(job_id)
                self._forget_old()
        for subscriber in subscribers:
            subscriber.push(event)
            if end:
                subscriber.push(END)

    def _feed(self, job_id: str) -> _Feed:
        feed = self._feeds.get(job_id)
        if feed is None:
            feed = self._feeds[job_id] = _Feed()
        return feed

    def _forget_old(self) -> None:
        ended = [job_id for job_id, feed in self._feeds.items() if feed.ended]
        for job_id in ended[: max(0, len(ended) - MAX_ENDED_JOBS)]:
            if not self._feeds[job_id].subscribers:
                del self._feeds[job_id]

    # -- from the streams ---------------------------------------------------------------

    def knows(self, job_id: str) -> bool:
        """Whether the hub has events of ``job_id``."""
        with self._lock:
            return job_id in self._feeds

    def subscribe(
        self, job_id: str, loop: asyncio.AbstractEventLoop, *, create: bool = False
    ) -> tuple[list[StreamEvent], Subscription, bool] | None:
        """The job's events so far, a subscription to the next ones, and whether it ended.

        ``None`` if the hub knows no event of the job (unless ``create``: a
        job that runs here but has reported nothing yet).
        """
        with self._lock:
            feed = self._feeds.get(job_id)
            if feed is None:
                if not create:
                    return None
                feed = self._feed(job_id)
            subscription = Subscription(loop)
            feed.subscribers.add(subscription)
            return list(feed.events), subscription, feed.ended

    def unsubscribe(self, job_id: str, subscription: Subscription) -> None:
        """Close a subscription."""
        with self._lock:
            feed = self._feeds.get(job_id)
            if feed is not None:
                feed.subscribers.discard(subscription)

    def close_all(self) -> None:
        """End every open stream (the server is stopping)."""
        with self._lock:
            subscribers = [s for feed in self._feeds.values() for s in feed.subscribers]
        for subscriber in subscribers:
            subscriber.push(END)
