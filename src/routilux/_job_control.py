"""The jobs of one flow: the engine that runs them, and the port it sees the flow through."""

from __future__ import annotations

import os
import sys
import threading
import uuid
import warnings
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from routilux._engine.engine import Engine
from routilux._engine.recovery import resume_from_store
from routilux._engine.revive import resume_in_memory
from routilux._engine.settings import EngineSettings
from routilux._engine.submission import build_submission, queueing_store, submitted_job_id
from routilux._flow_arguments import check_job_of, check_timeout, pause_arguments, pause_point
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
    from routilux._engine.plan import FlowPlan, Target
    from routilux._flow import Flow
    from routilux._model.error_policy import ErrorHandler
    from routilux._model.store import JobStore

__all__ = ["JobControl"]


class JobControl:
    """Starts, controls and resumes the jobs of one flow, on an engine made on first use.

    It is the flow's :class:`~routilux._engine.settings.FlowPort`: the
    engine reads the flow's settings, plan and document only through it.
    The flow's public job methods (``execute``, ``pause``...) check their
    arguments and call it.
    """

    def __init__(self, flow: Flow) -> None:
        # Weakly until a job starts: a flow that never ran a job is freed as
        # soon as its last reference goes (routines know which flows hold them).
        self._flow_ref = weakref.ref(flow)
        # Strongly from then on, as the engine's jobs keep running without it.
        self._held: Flow | None = None
        self._lock = threading.Lock()
        self._engine: Engine | None = None

    # -- the port -------------------------------------------------------------

    @property
    def flow(self) -> Flow:
        """The flow whose jobs these are."""
        flow = self._flow_ref()
        assert flow is not None, "the flow calls its JobControl, so it is alive"
        return flow

    def settings(self) -> EngineSettings:
        """The flow's settings now, for a job that starts."""
        flow = self.flow
        return EngineSettings(
            flow_id=flow.flow_id,
            strategy=flow.execution_strategy,
            max_workers=flow.max_workers,
            timeout=flow.execution_timeout,
            max_deliveries=flow.max_deliveries,
            max_hops=flow.max_hops,
            record_history=flow.record_history,
            history_limit=flow.history_limit,
            checkpoint_every=flow.checkpoint_every,
            max_async_in_flight=flow.max_async_in_flight,
            lease_seconds=flow.lease_seconds,
            clock=flow.clock,
            ray_address=flow.ray_address,
        )

    def plan(self) -> FlowPlan:
        """The flow's compiled plan."""
        return self.flow._compiled()

    def error_handler(self) -> ErrorHandler | None:
        """The flow-wide error policy."""
        return self.flow.error_handler

    def remember(self, job: JobState) -> None:
        """Keep ``job`` among the flow's jobs."""
        self.flow._remember(job)

    def remembers(self, job_id: str) -> bool:
        """Whether the flow still keeps the job ``job_id``."""
        return self.flow.get_execution(job_id) is not None

    def document_for(self, job_id: str) -> dict[str, Any] | None:
        """The flow's document to keep with the durable job ``job_id``, if it can be written.

        When it cannot, a :class:`FlowDocumentWarning` (at the caller's line)
        says why, and what that means for the job.
        """
        flow_id = self.flow.flow_id
        try:
            document = self.flow.serialize()
        except (SerializationError, NotImplementedError) as exc:  # A subclass may refuse.
            reason = str(exc) or f"{type(exc).__name__} from serialize()"
            warnings.warn(
                f"Job {job_id} of flow {flow_id!r} is stored without its flow document, "
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
                f"Job {job_id} of flow {flow_id!r} is stored with a flow document that names "
                f"classes of the running script ({', '.join(scripted)}): only this script can "
                "rebuild the flow, so the routilux command cannot resume this job or replay its "
                f"dead letters; resume it from this script, with flow.resume({job_id!r}, "
                "store=store). To let the command resume such jobs, define the routine classes "
                "in an importable module.",
                FlowDocumentWarning,
                stacklevel=_stacklevel_outside_routilux(),
            )
        return document

    # -- the engine -----------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The flow's engine (made on first use)."""
        engine = self._engine
        if engine is None:
            with self._lock:
                if self._engine is None:
                    self._held = self.flow
                    self._engine = Engine(self)
                engine = self._engine
        return engine

    @property
    def started(self) -> Engine | None:
        """The flow's engine, if a job has made it."""
        return self._engine

    # -- starting -------------------------------------------------------------

    def run(
        self,
        routine_id: str,
        slot: str,
        params: Mapping[str, Any] | None,
        *,
        timeout: float | None,
        store: JobStore | None,
        output_handler: Any,
        strategy: str | None,
        wait: bool,
    ) -> JobState:
        """Run a new job from ``routine_id``'s ``slot`` with ``params``; with ``wait``, to its end.

        Raises:
            DefinitionError: The entry is invalid, or a routine is not ready.
        """
        plan, entry, data, limit = self.prepare(routine_id, slot, params, timeout)
        job = self.new_job(output_handler)
        engine = self.engine
        settings = self.settings()
        chosen = self.store_for(store)
        if wait:
            return engine.execute(settings, plan, entry, data, limit, chosen, job, strategy)
        return engine.start(settings, plan, entry, data, limit, chosen, job, strategy)

    def submit(
        self,
        routine_id: str | None,
        slot: str,
        params: Mapping[str, Any] | None,
        *,
        queue: str,
        idempotency_key: str | None,
        store: JobStore | None,
    ) -> str:
        """Record a new job ``pending`` and enqueue it for a worker; return its id.

        Raises:
            DefinitionError: The entry is invalid, a routine is not ready, or
                the store cannot hand jobs to workers.
        """
        chosen = queueing_store(self.store_for(store))
        flow_id = self.flow.flow_id
        entry_id = routine_id if routine_id is not None else _only_entry(self.flow, slot)
        _, entry, data, _ = self.prepare(entry_id, slot, params, None)
        job_id = submitted_job_id(flow_id, idempotency_key) or str(uuid.uuid4())
        document = self.document_for(job_id)
        submission = build_submission(
            flow_id,
            entry.routine_id,
            entry.slot.name,
            data,
            queue=queue,
            job_id=job_id,
            flow_document=document,
        )
        chosen.submit_job(submission)
        return submission.job_id

    def prepare(
        self,
        routine_id: str,
        slot: str,
        params: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> tuple[FlowPlan, Target, dict[str, Any], float | None]:
        """The plan, the entry slot, the params and the timeout of a new job, checked."""
        if not isinstance(routine_id, str):
            raise DefinitionError(
                f"The entry routine id must be a string (the id given to add_routine), "
                f"not {type(routine_id).__name__} {routine_id!r}."
            )
        if not isinstance(slot, str):
            raise DefinitionError(f"entry_slot must be a slot name, not {slot!r}.")
        plan = self.plan()
        plan.check_routines()
        entry = plan.entry_target(routine_id, slot)
        limit = check_timeout(timeout) if timeout is not None else self.flow.execution_timeout
        return plan, entry, _check_params(params), limit

    def store_for(self, store: JobStore | None) -> JobStore | None:
        """``store`` checked, or the flow's store if ``None``."""
        if store is None:
            return self.flow.store
        return check_store(store, "The store argument")

    def new_job(self, output_handler: Any) -> JobState:
        """A new job of the flow, with ``output_handler`` set if given."""
        job = JobState(self.flow.flow_id)
        if output_handler is not None:
            job.set_output_handler(output_handler)
        return job

    # -- control --------------------------------------------------------------

    def pause(
        self,
        job_state: JobState,
        reason: str | float,
        checkpoint: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> bool:
        """``Flow.pause``: hold the job, and record its pause point if it paused."""
        job = check_job_of(self.flow.flow_id, job_state, "pause")
        reason, kept, timeout = pause_arguments(reason, checkpoint, timeout)
        paused = self.engine.pause(job, check_timeout(timeout))
        if paused:
            progress = self.progress(job)
            point = pause_point(job, reason, kept, 0 if progress is None else progress.pending)
            job.add_pause_point(point)
        return paused

    def resume(
        self, job: JobState | str, *, store: JobStore | None, wait: bool, output_handler: Any
    ) -> JobState | None:
        """``Flow.resume``: go on in memory, or from the store."""
        if not isinstance(job, (str, JobState)):
            raise DefinitionError(
                f"resume expects a job id string or a JobState, not {type(job).__name__} {job!r}."
            )
        flow_id = self.flow.flow_id
        given = None if isinstance(job, str) else check_job_of(flow_id, job, "resume")
        engine = self.engine
        job_id = job if isinstance(job, str) else job.job_id
        live = engine.run_of_id(job_id)
        target: JobState | None
        if live is not None and not live.abandoned:
            _set_output(live.job, output_handler)
            target = live.job if engine.resume(live.job) else None
        else:
            chosen = self.store_for(store)
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

    def progress(self, job_state: JobState) -> JobProgress | None:
        """How far a job this flow runs has got, or ``None`` if it runs elsewhere."""
        run = self.engine.run_of(job_state)
        return None if run is None else run.progress()

    def cancel(self, job_state: JobState, reason: object) -> bool:
        """``Flow.cancel``: end the job ``cancelled``."""
        job = check_job_of(self.flow.flow_id, job_state, "cancel")
        if not isinstance(reason, str):
            raise DefinitionError(f"cancel expects a reason string, not {type(reason).__name__}.")
        return self.engine.cancel(job, reason or None)

    def wait_settled(self, timeout: float | None) -> bool:
        """Wait until every job run here has ended or paused; False past ``timeout``."""
        engine = self._engine
        return engine is None or engine.wait_settled(timeout)

    def shutdown(self, wait: bool, timeout: float | None) -> None:
        """Stop the engine's threads, if it has started any."""
        engine = self._engine
        if engine is not None:
            engine.shutdown(wait, timeout)


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


def _only_entry(flow: Flow, slot: str) -> str:
    """The one routine of ``flow`` that has a ``slot`` slot.

    Raises:
        DefinitionError: None has, or several have.
    """
    starts = [rid for rid, routine in flow.routines.items() if slot in routine.slots]
    if len(starts) == 1:
        return starts[0]
    which = "No routine" if not starts else f"Several routines ({', '.join(starts)})"
    raise DefinitionError(
        f"{which} of flow {flow.flow_id!r} have a {slot!r} slot: name the entry routine."
    )
