"""The job side of a Flow: running, controlling, resuming and replaying jobs."""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from routilux._engine.engine import Engine
from routilux._engine.plan import DRAIN_SLOT
from routilux._engine.recovery import resume_from_store
from routilux._model.durable import DeadLetter
from routilux._model.job_state import JobState
from routilux._model.records import JobProgress
from routilux.exceptions import (
    DeadLetterReplayedError,
    DefinitionError,
    FlowDocumentWarning,
    JobNotFound,
    SerializationError,
    StoreError,
)

if TYPE_CHECKING:
    from routilux._engine.clock import Clock
    from routilux._engine.plan import FlowPlan, Target
    from routilux.stores.protocol import JobStore

__all__ = ["FlowJobs", "check_timeout"]

F = TypeVar("F", bound="FlowJobs")


class FlowJobs:
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
        entry_id: str,
        entry_params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        *,
        store: JobStore | None = None,
    ) -> JobState:
        """Run one job and return its state once it has ended.

        The entry routine's ``"trigger"`` slot receives ``entry_params`` as
        keyword data; then every message the job produces is delivered until
        none is left.

        Args:
            entry_id: The routine that starts the job.
            entry_params: The data for the entry routine's trigger slot.
            timeout: Seconds the job may run (default: ``execution_timeout``);
                past it the job ends ``failed`` and its pending messages are dropped.
            store: Keep the job durably in this store, with a checkpoint after
                every delivery (default: the flow's ``store``, if any).

        Returns:
            The job's final state: ``completed``, or ``failed`` with the
            reason in ``error`` and the details in ``errors``.

        Raises:
            DefinitionError: The entry routine id is not a string, the entry
                routine, its trigger slot or the params are invalid, or a
                routine is not ready to run.
            StoreError: The store could not record the new job.
        """
        plan, entry, params, limit = self._prepare(entry_id, "trigger", entry_params, timeout)
        return self._get_engine().execute(plan, entry, params, limit, self._store(store))

    def start(
        self,
        entry_id: str,
        entry_params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        *,
        store: JobStore | None = None,
    ) -> JobState:
        """Start one job in the background and return its state at once.

        Wait for it with ``job_state.wait(timeout)``; control it with
        :meth:`pause`, :meth:`resume` and :meth:`cancel`. Arguments and
        errors are those of :meth:`execute`.
        """
        plan, entry, params, limit = self._prepare(entry_id, "trigger", entry_params, timeout)
        return self._get_engine().start(plan, entry, params, limit, self._store(store))

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
        plan = self._compiled()
        plan.check_routines()
        entry = plan.entry_target(routine_id, slot)
        limit = check_timeout(timeout) if timeout is not None else self.execution_timeout
        return plan, entry, _check_params(params), limit

    def _store(self, store: JobStore | None) -> JobStore | None:
        if store is None:
            return self.store
        from routilux.stores.protocol import check_store  # The stores import the engine.

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
            return self.serialize()
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

    # -- control ------------------------------------------------------------------

    def pause(self, job_state: JobState, timeout: float | None = None) -> bool:
        """Stop starting deliveries of ``job_state``; keep the rest as pending.

        Returns once the job's running deliveries have finished (or at once
        when called from one of its own handlers). ``job_state.status``
        becomes ``paused`` and ``job_state.pending_deliveries`` lists what
        waits. Other jobs are not touched.

        Args:
            job_state: A job this flow is running.
            timeout: Seconds to wait for running deliveries at most.

        Returns:
            Whether the job is paused (False if it had ended or is not running here).
        """
        return self._get_engine().pause(job_state, timeout)

    def resume(
        self,
        job: JobState | str,
        *,
        store: JobStore | None = None,
        wait: bool = False,
    ) -> bool:
        """Continue a paused or interrupted job exactly where it stopped.

        A job this flow paused goes on in memory. Any other job (given by
        id, or by a JobState this process does not run) is loaded from the
        store and goes on from its last checkpoint: completed deliveries do
        not run again, the one that was running when its process died does.
        The resumed job's state is ``flow.get_execution(job_id)`` (or the
        JobState passed in, brought up to date).

        Args:
            job: The job, or its id.
            store: Where the job is kept (default: the flow's ``store``).
            wait: Block until the job has ended.

        Returns:
            Whether the job was resumed (False if it had ended, or is not
            paused and not in a store).

        Raises:
            JobNotFound: The store has no such job.
            JobOwnedError: Another process owns the job: its lease has not
                expired (and it is not a process of this host that has
                ended), or it claimed the job at the same moment. Of several
                resumes of one job at once, exactly one runs it.
            DefinitionError: ``job`` is not a job id or a JobState, or the
                flow lacks a routine or slot the job needs.
        """
        if not isinstance(job, (str, JobState)):
            raise DefinitionError(
                f"resume expects a job id string or a JobState, not {type(job).__name__} {job!r}."
            )
        engine = self._get_engine()
        job_id = job if isinstance(job, str) else job.job_id
        live = engine.run_of_id(job_id)
        target: JobState | None
        if live is not None and not live.abandoned:
            resumed = engine.resume(live.job)
            target = live.job
        else:
            chosen = self._store(store)
            if chosen is None:
                return False
            given = None if isinstance(job, str) else job
            claim = None
            if live is not None and live.abandoned and live.durable is not None:
                claim = live.durable.claim
            running = resume_from_store(engine, job_id, chosen, given, abandoned_claim=claim)
            resumed, target = running is not None, running
        if resumed and wait and target is not None:
            target.wait()
        return resumed

    def get_progress(self, job_state: JobState) -> JobProgress | None:
        """How far a job this flow is running has got, or ``None`` if it runs elsewhere.

        Cheap enough to poll (a progress display does it a few times a
        second); the figures are read without stopping the job, so they may
        be a delivery apart from each other.
        """
        run = self._get_engine().run_of(job_state)
        return None if run is None else run.progress()

    def cancel(self, job_state: JobState) -> bool:
        """End ``job_state`` as ``cancelled``, dropping its pending deliveries.

        Deliveries already running finish, but their output is discarded.

        Returns:
            Whether the job was cancelled (False if it had already ended).
        """
        return self._get_engine().cancel(job_state)

    def shutdown(self, wait: bool = True) -> None:
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
        """
        engine = self._engine
        if engine is not None:
            engine.shutdown(wait)

    def __enter__(self: F) -> F:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(wait=True)

    # -- dead letters ---------------------------------------------------------------

    def replay_dead_letter(
        self,
        letter: DeadLetter | str,
        *,
        store: JobStore | None = None,
        timeout: float | None = None,
        again: bool = False,
    ) -> JobState:
        """Deliver a dead letter's message again, as a new job, and wait for it.

        The new job starts at the slot that failed, with the message it
        failed on, and runs like any job of this flow (in the store, if one
        is given or the flow has one). With a store, the letter is first
        marked as replayed by the new job, in one compare-and-set: of two
        replays of one letter at the same moment, exactly one delivers it,
        and a letter replayed already is refused unless ``again``. The
        original job's state is marked too, if this flow still remembers it.

        Args:
            letter: The dead letter, or its id (looked up in the store).
            store: Where the letter is kept (default: the flow's ``store``).
            timeout: Seconds the new job may run.
            again: Replay a letter that was replayed already.

        Returns:
            The new job's final state.

        Raises:
            DeadLetterNotFound: The store has no letter with that id.
            DeadLetterReplayedError: The letter was replayed already (and
                ``again`` is false), or is being replayed by another job.
            DefinitionError: The flow lacks the letter's routine or slot, or
                the letter is of an ``on_drain`` hook (it has no message).
        """
        chosen = self._store(store)
        if isinstance(letter, str):
            if chosen is None:
                raise DefinitionError(
                    "replay_dead_letter needs a store to look a letter up by id; pass the "
                    "DeadLetter itself, or store=..."
                )
            letter = chosen.get_dead_letter(letter)
        if letter.slot == DRAIN_SLOT:
            raise DefinitionError(
                f"Dead letter {letter.letter_id} is a failure of the on_drain hook of routine "
                f"{letter.routine_id!r}, which has no message to deliver again; what the hook "
                f"was to flush is in job {letter.job_id}'s "
                f"routine_states[{letter.routine_id!r}]['values']."
            )
        plan, entry, params, limit = self._prepare(
            letter.routine_id, letter.slot, letter.data, timeout
        )
        job = JobState(self.flow_id)
        if chosen is not None:
            _claim_letter(chosen, letter, job.job_id, again=again)
        try:
            self._get_engine().execute(plan, entry, params, limit, chosen, job)
        except BaseException:
            if chosen is not None:
                _unclaim_letter(chosen, letter, job.job_id)
            raise
        self._mark_replayed(letter, job.job_id)
        return job

    def _mark_replayed(self, letter: DeadLetter, replay_job_id: str) -> None:
        original = self.get_execution(letter.job_id)
        if original is None:
            return
        with original._lock:
            original.dead_letters = [
                replace(kept, replayed_by=replay_job_id)
                if kept.letter_id == letter.letter_id
                else kept
                for kept in original.dead_letters
            ]


def _claim_letter(store: JobStore, letter: DeadLetter, replay_job_id: str, *, again: bool) -> None:
    """Mark ``letter`` replayed by the new job, unless it was replayed (and not ``again``)."""
    if letter.replayed_by is not None and not again:
        raise DeadLetterReplayedError(
            f"Dead letter {letter.letter_id} was replayed already, by job {letter.replayed_by}; "
            "replay_dead_letter(..., again=True) (or 'routilux dead-letters replay --again') "
            "delivers it once more.",
            letter_id=letter.letter_id,
            replayed_by=letter.replayed_by,
        )
    store.mark_replayed_if(letter.letter_id, replay_job_id, expected=letter.replayed_by)


def _unclaim_letter(store: JobStore, letter: DeadLetter, replay_job_id: str) -> None:
    """Give the letter back if its replay job never reached the store (it did not start)."""
    try:
        store.load_job(replay_job_id)
    except JobNotFound:
        with contextlib.suppress(StoreError):
            store.mark_replayed_if(letter.letter_id, letter.replayed_by, expected=replay_job_id)
    except StoreError:
        pass  # Cannot tell: the letter stays marked, so it is not delivered twice.


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
