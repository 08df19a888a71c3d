"""The job side of a Flow: running, controlling, resuming and replaying jobs."""

from __future__ import annotations

import math
import os
import sys
import threading
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from routilux._engine.engine import Engine
from routilux._engine.recovery import resume_from_store
from routilux._engine.revive import resume_in_memory
from routilux._flow_arguments import (
    check_job_of,
    entry_arguments,
    pause_arguments,
    pause_point,
)
from routilux._flow_dead_letters import FlowDeadLetters
from routilux._model.job_state import JobState
from routilux._model.records import JobProgress
from routilux._model.status import JobStatus
from routilux._model.store import check_store
from routilux.exceptions import (
    DefinitionError,
    FlowDocumentWarning,
    JobNotFound,
    SerializationError,
)

if TYPE_CHECKING:
    from routilux._engine.clock import Clock
    from routilux._engine.plan import FlowPlan, Target
    from routilux._model.store import JobStore

__all__ = ["FlowJobs", "check_timeout"]

F = TypeVar("F", bound="FlowJobs")


class FlowJobs(FlowDeadLetters):
    """Running and controlling the jobs of a flow (the job half of :class:`Flow`)."""

    flow_id: str
    execution_timeout: float | None
    clock: Clock
    store: JobStore | None
    _engine: Engine | None
    _lock: threading.Lock

    def _compiled(self) -> FlowPlan:
        raise NotImplementedError

    def get_execution(self, job_id: str) -> JobState | None:
        raise NotImplementedError

    def serialize(self) -> dict[str, Any]:
        raise NotImplementedError

    # -- starting -----------------------------------------------------------------

    def execute(
        self,
        entry_id: str | None = None,
        entry_params: Mapping[str, Any] | None = None,
        execution_strategy: str | float | None = None,
        timeout: float | None = None,
        *,
        entry_routine_id: str | None = None,
        store: JobStore | None = None,
        output_handler: Any = None,
        entry_slot: str = "trigger",
    ) -> JobState:
        """Run one job and return its state once it has ended.

        The entry routine's ``entry_slot`` (``"trigger"``) receives
        ``entry_params`` as keyword data; then every message the job
        produces is delivered until none is left.

        Both ``execute(entry_id, entry_params, timeout)`` and the published
        0.10 form ``execute(entry_routine_id, entry_params,
        execution_strategy, timeout)`` work: a third positional argument
        that is a string is the strategy, a number is the timeout.

        Args:
            entry_id: The routine that starts the job.
            entry_params: The data for the entry routine's slot.
            execution_strategy: ``"sequential"`` or ``"concurrent"`` for this
                job only (default: the flow's ``execution_strategy``).
            timeout: Seconds the job may run (default: ``execution_timeout``);
                past it the job ends ``failed`` and its pending messages are dropped.
            entry_routine_id: Another name for ``entry_id``.
            store: Keep the job durably in this store, with a checkpoint after
                every delivery (default: the flow's ``store``, if any).
            output_handler: Set as the job's output handler
                (``JobState.set_output_handler``) before it starts.
            entry_slot: The entry routine's slot that receives ``entry_params``.

        Returns:
            The job's final state: ``completed``, or ``failed`` with the
            reason in ``error`` and the details in ``errors``.

        Raises:
            DefinitionError: The entry routine id is missing, given twice or
                not a string; the entry routine, its slot, the params, the
                strategy or the timeout are invalid; or a routine is not
                ready to run.
            StoreError: The store could not record the new job.
        """
        routine_id, strategy, limit = entry_arguments(
            "execute", entry_id, entry_routine_id, execution_strategy, timeout
        )
        plan, entry, params, limit = self._prepare(routine_id, entry_slot, entry_params, limit)
        job = self._new_job(output_handler)
        return self._get_engine().execute(
            plan, entry, params, limit, self._store(store), job, strategy
        )

    def start(
        self,
        entry_id: str | None = None,
        entry_params: Mapping[str, Any] | None = None,
        execution_strategy: str | float | None = None,
        timeout: float | None = None,
        *,
        entry_routine_id: str | None = None,
        store: JobStore | None = None,
        output_handler: Any = None,
        entry_slot: str = "trigger",
    ) -> JobState:
        """Start one job in the background and return its state at once.

        Wait for it with ``job_state.wait(timeout)``; control it with
        :meth:`pause`, :meth:`resume` and :meth:`cancel`. Arguments and
        errors are those of :meth:`execute`.
        """
        routine_id, strategy, limit = entry_arguments(
            "start", entry_id, entry_routine_id, execution_strategy, timeout
        )
        plan, entry, params, limit = self._prepare(routine_id, entry_slot, entry_params, limit)
        job = self._new_job(output_handler)
        return self._get_engine().start(
            plan, entry, params, limit, self._store(store), job, strategy
        )

    def _new_job(self, output_handler: Any) -> JobState:
        job = JobState(self.flow_id)
        if output_handler is not None:
            job.set_output_handler(output_handler)
        return job

    def _prepare(
        self,
        routine_id: str,
        slot: str,
        params: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> tuple[FlowPlan, Target, dict[str, Any], float | None]:
        if not isinstance(routine_id, str):
            raise DefinitionError(
                f"The entry routine id must be a string (the id given to add_routine), "
                f"not {type(routine_id).__name__} {routine_id!r}."
            )
        if not isinstance(slot, str):
            raise DefinitionError(f"entry_slot must be a slot name, not {slot!r}.")
        plan = self._compiled()
        plan.check_routines()
        entry = plan.entry_target(routine_id, slot)
        limit = check_timeout(timeout) if timeout is not None else self.execution_timeout
        return plan, entry, _check_params(params), limit

    def _store(self, store: JobStore | None) -> JobStore | None:
        if store is None:
            return self.store
        return check_store(store, "The store argument")

    def _get_engine(self) -> Engine:
        engine = self._engine
        if engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = Engine(self)
                engine = self._engine
        return engine

    def _document_or_none(self, job_id: str) -> dict[str, Any] | None:
        """The flow's document to keep with the durable job ``job_id``, if it can be written.

        When it cannot, a :class:`FlowDocumentWarning` (at the caller's line)
        says why, and what that means for the job.
        """
        try:
            document = self.serialize()
        except (SerializationError, NotImplementedError) as exc:
            reason = str(exc) or f"{type(exc).__name__} from serialize()"
            warnings.warn(
                f"Job {job_id} of flow {self.flow_id!r} is stored without its flow document, "
                f"because the flow cannot be serialized: {reason} So the routilux command "
                "cannot resume this job or replay its dead letters; resume it from a program "
                f"that builds the flow, with flow.resume({job_id!r}, store=store). To let the "
                "command resume such jobs, define the routine classes in an importable module.",
                FlowDocumentWarning,
                stacklevel=_stacklevel_outside_routilux(),
            )
            return None
        scripted = sorted(
            {
                r["class"]
                for r in document["routines"].values()
                if r["class"].startswith("__main__:")
            }
        )
        if scripted:
            warnings.warn(
                f"Job {job_id} of flow {self.flow_id!r} is stored with a flow document that names "
                f"classes of the running script ({', '.join(scripted)}): only this script can "
                "rebuild the flow, so the routilux command cannot resume this job or replay its "
                f"dead letters; resume it from this script, with flow.resume({job_id!r}, "
                "store=store). To let the command resume such jobs, define the routine classes "
                "in an importable module.",
                FlowDocumentWarning,
                stacklevel=_stacklevel_outside_routilux(),
            )
        return document

    # -- control ------------------------------------------------------------------

    def pause(
        self,
        job_state: JobState,
        reason: str | float = "",
        checkpoint: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> bool:
        """Stop starting deliveries of ``job_state``; keep the rest as pending.

        Returns once the job's running deliveries have finished (or at once
        when called from one of its own handlers). ``job_state.status``
        becomes ``paused`` and ``job_state.pending_deliveries`` lists what
        waits. Other jobs are not touched. A pause that takes appends one
        entry to ``job_state.pause_points``: ``{"timestamp"`` (ISO-8601,
        UTC), ``"reason"``, ``"checkpoint"`` (a copy, ``{}`` if none),
        ``"current_routine_id"``, ``"pending_count"}``.

        Args:
            job_state: A job of this flow.
            reason: Why the job is paused (kept in its pause point). A
                number given here is read as ``timeout``, as in
                ``pause(job_state, 5)``.
            checkpoint: Data to keep with the pause point (copied).
            timeout: Seconds to wait for running deliveries at most.

        Returns:
            Whether the job is paused (False if it had ended or is not running here).

        Raises:
            DefinitionError: ``job_state`` belongs to another flow, or an
                argument is of the wrong kind.
        """
        job = check_job_of(self.flow_id, job_state, "pause")
        reason, kept, timeout = pause_arguments(reason, checkpoint, timeout)
        paused = self._get_engine().pause(job, check_timeout(timeout))
        if paused:
            progress = self.get_progress(job)
            point = pause_point(job, reason, kept, 0 if progress is None else progress.pending)
            with job._lock:
                job.pause_points.append(point)
        return paused

    def resume(
        self,
        job: JobState | str,
        *,
        store: JobStore | None = None,
        wait: bool = False,
        output_handler: Any = None,
    ) -> JobState | None:
        """Continue a paused or interrupted job exactly where it stopped.

        A job this flow paused goes on in memory. Any other job (given by
        id, or by a JobState this process does not run) is loaded from the
        store and goes on from its last checkpoint: completed deliveries do
        not run again, the one that was running when its process died does.
        A paused JobState that no store keeps (one deserialized from a
        saved document, say) goes on in memory from its
        ``pending_deliveries``, which keep their ids, attempts and what was
        left of their delays, and the flow remembers it (``get_execution``).

        Args:
            job: The job, or its id.
            store: Where the job is kept (default: the flow's ``store``).
            wait: Block until the job has ended.
            output_handler: Set as the job's output handler
                (``JobState.set_output_handler``).

        Returns:
            The resumed job's state: the live JobState (the one passed in,
            brought up to date, or ``flow.get_execution(job_id)``); or
            ``None`` if the job had ended, or is not paused and not in a
            store. So ``if flow.resume(job):`` reads as whether it resumed.

        Raises:
            JobNotFound: The store has no such job.
            JobOwnedError: Another process owns the job: its lease has not
                expired (and it is not a process of this host that has
                ended), or it claimed the job at the same moment. Of several
                resumes of one job at once, exactly one runs it.
            DefinitionError: ``job`` is not a job id or a JobState, belongs
                to another flow, or the flow lacks a routine or slot the job
                needs.
        """
        if not isinstance(job, (str, JobState)):
            raise DefinitionError(
                f"resume expects a job id string or a JobState, not {type(job).__name__} {job!r}."
            )
        given = None if isinstance(job, str) else check_job_of(self.flow_id, job, "resume")
        engine = self._get_engine()
        job_id = job if isinstance(job, str) else job.job_id
        live = engine.run_of_id(job_id)
        target: JobState | None
        if live is not None and not live.abandoned:
            _set_output(live.job, output_handler)
            target = live.job if engine.resume(live.job) else None
        else:
            chosen = self._store(store)
            if given is not None and given.status is JobStatus.PAUSED and not _kept(chosen, job_id):
                _set_output(given, output_handler)
                target = resume_in_memory(engine, given)
            elif chosen is None:
                return None
            else:
                claim = None
                if live is not None and live.abandoned and live.durable is not None:
                    claim = live.durable.claim
                target = resume_from_store(engine, job_id, chosen, given, abandoned_claim=claim)
                _set_output(target, output_handler)
        if wait and target is not None:
            target.wait()
        return target

    def get_progress(self, job_state: JobState) -> JobProgress | None:
        """How far a job this flow is running has got, or ``None`` if it runs elsewhere.

        Cheap enough to poll (a progress display does it a few times a
        second); the figures are read without stopping the job, so they may
        be a delivery apart from each other.
        """
        run = self._get_engine().run_of(job_state)
        return None if run is None else run.progress()

    def cancel(self, job_state: JobState, reason: str = "") -> bool:
        """End ``job_state`` as ``cancelled``, dropping its pending deliveries.

        Deliveries already running finish, but their output is discarded.
        ``job_state.error`` then says why, ``reason`` (``"Cancelled"`` if
        empty), and how many pending deliveries were dropped:
        ``"Operator abort (3 pending deliveries dropped)"``.

        Returns:
            Whether the job was cancelled (False if it had already ended).

        Raises:
            DefinitionError: ``job_state`` belongs to another flow, or
                ``reason`` is not a string.
        """
        job = check_job_of(self.flow_id, job_state, "cancel")
        if not isinstance(reason, str):
            raise DefinitionError(f"cancel expects a reason string, not {type(reason).__name__}.")
        return self._get_engine().cancel(job, reason or None)

    def wait_for_completion(
        self, timeout: float | None = None, job_state: JobState | None = None
    ) -> bool:
        """Wait until the flow's jobs in this process have ended or paused.

        With ``job_state``, as ``JobState.wait_for_completion(flow,
        job_state, timeout)``. Without, every job this flow runs in this
        process (started by :meth:`start`, or by :meth:`execute` in other
        threads, including jobs started during the wait) is waited for
        until it has ended or is paused; ``timeout`` bounds the whole wait.

        Returns:
            Whether none of them is still running.

        Raises:
            DefinitionError: ``timeout`` is not a positive number or ``None``.
        """
        if job_state is not None:
            return JobState.wait_for_completion(self, job_state, timeout)
        limit = check_timeout(timeout)
        engine = self._engine
        return engine is None or engine.wait_settled(limit)

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        """Stop the flow's threads; calling it again does nothing more.

        With ``wait=True``, running jobs are left to finish first and the
        flow's threads are joined; with ``wait=False``, running jobs are
        cancelled and threads exit after their current delivery, without
        being waited for. Either way, the thread of a handler abandoned when
        it overran its routine's timeout is never waited for: it runs on as
        a daemon thread (it does not keep the process alive), and
        ``wait=True`` logs a warning on the ``routilux`` logger naming each
        such handler's routine and slot. Paused jobs stay paused: resuming
        one starts the threads again, as does any new job.

        With a ``timeout``, ``wait=True`` waits that many seconds at most
        for the running jobs, then goes on as ``wait=False`` does (the jobs
        still running are cancelled).

        Raises:
            DefinitionError: ``timeout`` is not a positive number or ``None``.
        """
        limit = check_timeout(timeout)
        engine = self._engine
        if engine is not None:
            engine.shutdown(wait, limit)

    def __enter__(self: F) -> F:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(wait=True)


def _set_output(job: JobState | None, handler: Any) -> None:
    if job is not None and handler is not None:
        job.set_output_handler(handler)


def _kept(store: JobStore | None, job_id: str) -> bool:
    """Whether ``store`` keeps the job ``job_id``."""
    if store is None:
        return False
    try:
        store.load_job(job_id)
    except JobNotFound:
        return False
    return True


def check_timeout(value: object) -> float | None:
    """``value`` as a timeout in seconds, or ``None``.

    Raises:
        DefinitionError: It is not ``None`` or a positive finite number.
    """
    if value is None:
        return None
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise DefinitionError(f"A timeout must be a positive number of seconds, not {value!r}.")
    return float(value)


def _check_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise DefinitionError(f"entry_params must be a mapping with string keys, not {params!r}.")
    return dict(params)


#: The directory of routilux's modules, as their code objects name their files.
_PACKAGE = os.path.join(os.path.dirname(__file__), "")


def _stacklevel_outside_routilux() -> int:
    """The ``stacklevel`` of the first frame outside routilux, for its caller's warning."""
    level, frame = 1, sys._getframe(1)  # stacklevel 1 is the caller's own frame.
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back
    return level
