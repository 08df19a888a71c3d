"""The jobs the service starts and controls, on its flows and its store.

A job started here runs in this process, on the served flow of its
``flow_id`` (which has the service's store): :class:`ServedJobs` remembers
the live :class:`~routilux.JobState` of each, to pause, resume and cancel it.
A job of the store that does not run here can be resumed (if its flow is
served and no live process owns it) or cancelled (the same condition); it
cannot be paused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from routilux import (
    DeadLetterReplayedError,
    DefinitionError,
    Flow,
    JobNotFound,
    JobOwnedError,
    JobState,
    JobStatus,
    cancel_stored_job,
)
from routilux.flow_files import entry_routine
from routilux.server._problems import ApiError, bad_request, conflict, not_found
from routilux.server._tables import ServerTables
from routilux.stores import JobStore

__all__ = ["STOP_REASON", "ServedJobs", "job_id_of"]

logger = logging.getLogger("routilux.server")

#: The reason of the pause of the jobs a server pauses as it stops.
STOP_REASON = "the server stopped"
#: How long a pause waits for the job's running deliveries at most.
PAUSE_WAIT = 30.0
#: How long a replay may take to mark its letter before the request gives up waiting.
REPLAY_WAIT = 30.0


def job_id_of(job: JobState | str) -> str:
    """The id of a job started here (its state) or handed to the workers (its id)."""
    return job.job_id if isinstance(job, JobState) else job


def body_hash(body: Mapping[str, Any]) -> str:
    """A hash of a request body, to tell a repeated request from another one."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ServedJobs:
    """Start, find and control the jobs of the served flows."""

    def __init__(
        self,
        store: JobStore,
        flows: Mapping[str, Flow],
        tables: ServerTables,
        queue: str | None = None,
    ) -> None:
        self.store = store
        self.flows = flows
        #: The queue of the jobs started without one of their own (``None``: run here).
        self.queue = queue
        self._tables = tables
        self._lock = threading.Lock()
        self._live: dict[str, tuple[Flow, JobState]] = {}
        # Requests with one idempotency key wait for each other (in this process;
        # the store's unique key settles it between processes): one of a fixed
        # set of locks per key, so the set does not grow with the keys.
        self._key_locks = [threading.Lock() for _ in range(64)]

    def flow(self, flow_id: str) -> Flow:
        """The served flow ``flow_id`` (404 if none)."""
        flow = self.flows.get(flow_id)
        if flow is None:
            raise not_found(f"No flow {flow_id!r} is served here.")
        return flow

    def live(self, job_id: str) -> tuple[Flow, JobState] | None:
        """The flow and live state of a job started or resumed here, if any."""
        with self._lock:
            found = self._live.get(job_id)
        if found is not None:
            return found
        for flow in self.flows.values():  # A replay's job, started by the flow itself.
            job = flow.get_execution(job_id)
            if job is not None:
                return flow, job
        return None

    def running_here(self) -> list[tuple[Flow, JobState]]:
        """The jobs of this process that have not ended."""
        with self._lock:
            return [(f, j) for f, j in self._live.values() if not j.status.is_terminal]

    def _remember(self, flow: Flow, job: JobState) -> None:
        with self._lock:
            self._live[job.job_id] = (flow, job)
            if len(self._live) > 10_000:  # Forget the oldest ended jobs.
                for job_id, (_, old) in list(self._live.items())[:1000]:
                    if old.status.is_terminal:
                        del self._live[job_id]

    # -- starting -------------------------------------------------------------------

    def start(
        self, flow_id: str, body: Mapping[str, Any], idempotency_key: str | None
    ) -> tuple[JobState | str, bool]:
        """Start a job of ``flow_id``; return it (or the id a key started) and whether it is new.

        With a ``queue`` (the body's, else the service's), the job is handed
        to the workers (``flow.submit``) and its id returned instead.

        Raises:
            ApiError: 404 (no such flow), 400 (bad entry, slot or params),
                409 (the key was used with another body, or is being used now).
        """
        flow = self.flow(flow_id)
        if idempotency_key is None:
            return self._start(flow, body, None), True
        with self._key_lock(flow_id, idempotency_key):
            digest = body_hash(body)
            found = self._tables.reserve(flow_id, idempotency_key, digest)
            if not found.new:
                if found.body_hash != digest:
                    raise conflict(
                        f"Idempotency key {idempotency_key!r} was used for flow {flow_id!r} "
                        "with another request body."
                    )
                if found.job_id is None:
                    raise conflict(
                        f"A request with idempotency key {idempotency_key!r} is starting its "
                        "job now; try again in a moment."
                    )
                return found.job_id, False
            try:
                job = self._start(flow, body, idempotency_key)
            except BaseException:
                self._tables.settle(flow_id, idempotency_key, None)
                raise
            self._tables.settle(flow_id, idempotency_key, job_id_of(job))
            return job, True

    def _key_lock(self, flow_id: str, key: str) -> threading.Lock:
        return self._key_locks[hash((flow_id, key)) % len(self._key_locks)]

    def _start(self, flow: Flow, body: Mapping[str, Any], key: str | None) -> JobState | str:
        """Run the job here, or hand it to the workers when it has a queue; return it or its id."""
        queue = body.get("queue") or self.queue
        try:
            entry = entry_routine(flow, body.get("entry"), option="entry")
            slot = body.get("slot") or "trigger"
            if slot not in flow.routines[entry].slots:
                raise DefinitionError(f"slot: routine {entry!r} has no slot {slot!r}.")
            params = body.get("params") or {}
            if queue is not None:
                # The key makes the job's id: a request repeated after a crash of
                # this server between the enqueue and the key's record finds it.
                return flow.submit(
                    entry,
                    params,
                    queue=queue,
                    idempotency_key=key,
                    store=self.store,
                    entry_slot=slot,
                )
            job = flow.start(entry, params, entry_slot=slot, store=self.store)
        except (DefinitionError, ImportError) as exc:
            raise bad_request(str(exc)) from None
        self._remember(flow, job)
        return job

    # -- control --------------------------------------------------------------------------

    def status(self, job_id: str) -> str:
        """The job's status (live if it runs here, else as stored)."""
        live = self.live(job_id)
        if live is not None:
            return live[1].status.value
        return str(self.store.load_job(job_id).document["status"])

    def pause(self, job_id: str) -> str:
        """Pause a job running here; return its status."""
        live = self._running_here(job_id, "paused")
        flow, job = live
        if job.status is JobStatus.PAUSED:
            return str(job.status.value)
        if not flow.pause(job, "paused via the HTTP API", timeout=PAUSE_WAIT):
            raise conflict(f"Job {job_id} could not be paused: it is {job.status.value}.")
        return str(job.status.value)

    def _running_here(self, job_id: str, what: str) -> tuple[Flow, JobState]:
        live = self.live(job_id)
        if live is None:
            status = self.status(job_id)  # 404 for an unknown job.
            raise conflict(
                f"Job {job_id} ({status}) is not running in this server; only its jobs can be "
                f"{what}."
            )
        if live[1].status.is_terminal:
            raise conflict(f"Job {job_id} has ended ({live[1].status.value}).")
        return live

    def resume(self, job_id: str) -> str:
        """Resume a paused job, or a job of the store that no live process runs."""
        live = self.live(job_id)
        if live is not None and live[1].status is JobStatus.RUNNING:
            raise conflict(f"Job {job_id} is running; there is nothing to resume.")
        flow = live[0] if live is not None else self._flow_of_stored(job_id)
        target: JobState | str = live[1] if live is not None else job_id
        try:
            job = flow.resume(target, store=self.store)
        except JobOwnedError as exc:
            raise conflict(str(exc)) from None
        if job is None:
            raise conflict(f"Job {job_id} has ended ({self.status(job_id)}); nothing to resume.")
        self._remember(flow, job)
        return str(job.status.value)

    def _flow_of_stored(self, job_id: str) -> Flow:
        flow_id = str(self.store.load_job(job_id).document["flow_id"])
        flow = self.flows.get(flow_id)
        if flow is None:
            raise conflict(
                f"Job {job_id} is of flow {flow_id!r}, which this server does not serve."
            )
        return flow

    def pause_for_stop(self, timeout: float) -> list[str]:
        """Pause the jobs running here, as the server stops; remember them for the next one."""
        paused = []
        for flow, job in self.running_here():
            try:
                done = flow.pause(job, STOP_REASON, timeout=timeout)
            except Exception:  # Stopping goes on for the other jobs.
                logger.exception("Could not pause job %s while stopping", job.job_id)
                continue
            if done:
                self._tables.note_stopped(job.job_id, flow.flow_id)
                paused.append(job.job_id)
        return paused

    def resume_interrupted(self) -> list[str]:
        """Resume the jobs of the served flows that a stopped server left, or a crash.

        Those a server paused as it stopped (:meth:`pause_for_stop`), and
        those still ``running`` in the store whose owner is gone (a process of
        this host that has ended, or whose lease expired). A job another live
        process owns is left alone. Returns the ids of the jobs resumed.
        """
        wanted = dict(self._tables.stopped_jobs())
        for summary in self.store.list_jobs(status="running", limit=1_000_000):
            wanted.setdefault(summary.job_id, summary.flow_id)
        resumed = []
        for job_id, flow_id in wanted.items():
            flow = self.flows.get(flow_id)
            if flow is None:
                continue
            try:
                job = flow.resume(job_id, store=self.store)
            except JobOwnedError:
                continue  # A live process runs it.
            except JobNotFound:
                job = None
            self._tables.forget_stopped(job_id)
            if job is not None:
                self._remember(flow, job)
                resumed.append(job_id)
        return resumed

    def cancel(self, job_id: str) -> str:
        """Cancel a job running here, or a job of the store that no live process runs."""
        live = self.live(job_id)
        if live is not None and not live[1].status.is_terminal:
            live[0].cancel(live[1], "cancelled via the HTTP API")
            return live[1].status.value
        try:
            dropped = cancel_stored_job(self.store, job_id)
        except JobOwnedError as exc:
            raise conflict(str(exc)) from None
        if dropped is None:
            raise conflict(f"Job {job_id} has already ended ({self.status(job_id)}).")
        return JobStatus.CANCELLED.value

    def replay(self, letter_id: str, again: bool) -> str:
        """Replay a dead letter as a new job of its (served) flow; return the new job's id."""
        letter = self.store.get_dead_letter(letter_id)
        if letter.replayed_by is not None and not again:
            raise conflict(
                f"Dead letter {letter_id} was replayed already, by job {letter.replayed_by}; "
                'send {"again": true} to replay it again.'
            )
        flow = self.flows.get(letter.flow_id)
        if flow is None:
            raise conflict(
                f"Dead letter {letter_id} is of flow {letter.flow_id!r}, not served here."
            )
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["job"] = flow.replay_dead_letter(letter, store=self.store, again=again)
            except BaseException as exc:  # Handed to the request below.
                outcome["error"] = exc

        thread = threading.Thread(target=run, name=f"replay-{letter_id}", daemon=True)
        thread.start()
        return self._replay_job(letter_id, letter.replayed_by, thread, outcome)

    def _replay_job(
        self, letter_id: str, before: str | None, thread: threading.Thread, outcome: dict[str, Any]
    ) -> str:
        # The letter names its new job as soon as the replay claimed it, before the
        # job runs; poll for that (every 20 ms, for REPLAY_WAIT seconds at most).
        deadline = time.monotonic() + REPLAY_WAIT
        while time.monotonic() < deadline:
            thread.join(0.02)
            if "error" in outcome:
                error = outcome["error"]
                if isinstance(error, DeadLetterReplayedError):
                    raise conflict(str(error))
                if isinstance(error, DefinitionError):
                    raise conflict(str(error))
                raise error
            if "job" in outcome:
                return str(outcome["job"].job_id)
            replayed_by = self.store.get_dead_letter(letter_id).replayed_by
            if replayed_by is not None and replayed_by != before:
                return replayed_by
        raise ApiError(500, f"The replay of dead letter {letter_id} did not start in time.")
