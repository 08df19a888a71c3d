"""Running one submitted job in a worker: by id, with the flows the worker knows.

The queue delivers at least once (a worker thought stalled has its jobs
handed to another while it may still run them), so running a job is
resuming it from its store: the store's single-owner claim lets exactly
one process run it, and fencing stops a process that lost it before its
next handler. What is left to the queue is to keep offering the job until
one process has run it to its end.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from routilux._engine.stored_jobs import fail_stored_job
from routilux._flow import Flow
from routilux._model.job_state import JobState
from routilux._model.ownership import process_owner
from routilux._model.status import JobStatus
from routilux._model.store import JobStore
from routilux.exceptions import JobNotFound, JobOwnedError

__all__ = ["JobRunner", "Outcome", "Verdict"]

logger = logging.getLogger("routilux.workers")

#: Seconds between two looks at a running job's status (for a drain's pause).
_LOOK = 0.05
#: Seconds after which a job owned by a process without a lease is offered again.
_RETRY_UNLEASED = 5.0
#: Seconds after a drain's pause before the job is offered again: the
#: draining worker has exited by then, so a worker of its host takes it at once.
_AFTER_DRAIN = 1.0


class Verdict(enum.Enum):
    """What the queue should do with its entry once the job has been looked at."""

    DONE = "done"  # The job has ended (here or elsewhere), or cannot run: nothing more.
    AGAIN = "again"  # Offer it again at ``Outcome.at``: another process holds it, or it paused.


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one delivery of a queue entry.

    Attributes:
        verdict: What the queue should do.
        at: For ``AGAIN``, when (seconds since the epoch, on the store's clock).
        reason: A line for the worker's log.
    """

    verdict: Verdict
    at: float = 0.0
    reason: str = ""


class JobRunner:
    """Runs submitted jobs of ``flows`` from ``store``, one per call of :meth:`run`.

    Args:
        flows: The flows the worker knows, by flow id.
        open_store: Opens a store for the calling thread (one per thread, so
            that the jobs of several threads do not share one connection).
        source: Where the flows come from, for the message of an unknown one.
    """

    def __init__(
        self, flows: Mapping[str, Flow], open_store: Callable[[], JobStore], source: str
    ) -> None:
        self.flows = dict(flows)
        self._open_store = open_store
        self._source = source
        self._local = threading.local()
        self._stores: list[JobStore] = []
        self._lock = threading.Lock()
        self.draining = threading.Event()
        self._running: dict[str, tuple[Flow, JobState]] = {}

    def store(self) -> JobStore:
        """The calling thread's store."""
        store: JobStore | None = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = self._open_store()
            with self._lock:
                self._stores.append(store)
        return store

    def run(self, job_id: str) -> Outcome:
        """Claim the job ``job_id`` and run it to its end (or until a drain pauses it)."""
        store = self.store()
        try:
            stored = store.load_job(job_id)
        except JobNotFound:
            return Outcome(Verdict.DONE, reason=f"job {job_id} is not in the store (deleted)")
        flow_id = str(stored.document["flow_id"])
        flow = self.flows.get(flow_id)
        if flow is None:
            return self._unknown(store, job_id, flow_id)
        try:
            job = flow.resume(job_id, store=store)
        except JobOwnedError as exc:
            at = exc.lease_expires_at or time.time() + _RETRY_UNLEASED
            return Outcome(Verdict.AGAIN, at=at, reason=f"job {job_id} is owned by {exc.owner}")
        if job is None:
            return Outcome(Verdict.DONE, reason=f"job {job_id} had already ended")
        with self._lock:
            self._running[job_id] = (flow, job)
        try:
            while not job.wait(_LOOK):
                if self.draining.is_set() and job.status is JobStatus.PAUSED:
                    return Outcome(
                        Verdict.AGAIN, at=time.time() + _AFTER_DRAIN, reason="paused by a drain"
                    )
        finally:
            with self._lock:
                self._running.pop(job_id, None)
        return Outcome(Verdict.DONE, reason=f"job {job_id} ended {job.status.value}")

    def _unknown(self, store: JobStore, job_id: str, flow_id: str) -> Outcome:
        known = ", ".join(repr(f) for f in sorted(self.flows)) or "none"
        error = (
            f"No worker knows flow {flow_id!r}: worker {process_owner()} runs the flows of "
            f"{self._source} ({known}). Add the flow's file there, or submit it to a queue "
            "whose workers know it."
        )
        try:
            fail_stored_job(store, job_id, error)
        except JobOwnedError as exc:
            return Outcome(Verdict.AGAIN, at=exc.lease_expires_at or time.time() + 5.0)
        return Outcome(Verdict.DONE, reason=error)

    def pause_all(self, timeout: float) -> int:
        """Pause every job running here (a drain's deadline); return how many paused."""
        self.draining.set()
        with self._lock:
            running = list(self._running.values())
        paused = 0
        for flow, job in running:
            paused += flow.pause(job, "worker draining", timeout=timeout)
        return paused

    @property
    def running(self) -> int:
        """How many jobs run here now."""
        with self._lock:
            return len(self._running)

    def close(self) -> None:
        """Shut the flows down and close the stores."""
        for flow in self.flows.values():
            flow.shutdown(wait=False)
        with self._lock:
            stores, self._stores = self._stores, []
        for store in stores:
            store.close()
