"""The job half of Flow's public API: starting, controlling, resuming and replaying jobs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from routilux._flow_arguments import check_timeout, entry_arguments
from routilux._flow_dead_letters import replay_dead_letter
from routilux._model.job_state import JobState

if TYPE_CHECKING:
    from routilux._job_control import JobControl
    from routilux._model.durable import DeadLetter
    from routilux._model.records import JobProgress
    from routilux._model.store import JobStore

__all__ = ["FlowJobs"]

F = TypeVar("F", bound="FlowJobs")


class FlowJobs:
    """The job methods of :class:`Flow`, each handing its checked arguments to ``_jobs``.

    What they do lives in the flow's :class:`~routilux._job_control.JobControl`
    (``_jobs``), which holds the engine; this class holds no state.
    """

    _jobs: JobControl

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
        return self._jobs.run(
            routine_id,
            entry_slot,
            entry_params,
            timeout=limit,
            store=store,
            output_handler=output_handler,
            strategy=strategy,
            wait=True,
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
        return self._jobs.run(
            routine_id,
            entry_slot,
            entry_params,
            timeout=limit,
            store=store,
            output_handler=output_handler,
            strategy=strategy,
            wait=False,
        )

    def submit(
        self,
        entry: str | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        queue: str = "default",
        idempotency_key: str | None = None,
        store: JobStore | None = None,
        entry_slot: str = "trigger",
    ) -> str:
        """Hand a new job to the workers (``routilux worker``) instead of running it here.

        The job is recorded ``pending`` in the store and put on ``queue``, in
        one PostgreSQL transaction: a rollback leaves neither. Any worker
        that knows the flow (by its ``flow_id``) and takes ``queue`` claims
        it and runs it; its results, history and dead letters land in the
        store as if it had run here. See ``routilux.workers``.

        Args:
            entry: The routine that starts the job (default: the only one
                with an ``entry_slot`` slot).
            params: The data for the entry routine's slot.
            queue: The queue that carries the job to a worker.
            idempotency_key: The same key (for this flow) gives the same
                job: a second submit returns the first job's id and
                enqueues nothing.
            store: The store the workers share (default: the flow's ``store``):
                a :class:`~routilux.stores.PostgresStore`.
            entry_slot: The entry routine's slot that receives ``params``.

        Returns:
            The job's id.

        Raises:
            DefinitionError: The entry, params, queue or key are invalid, a
                routine is not ready, or the store cannot hand jobs to
                workers (a SQLite or memory store).
            SerializationError: A param cannot be stored.
            StoreError: The store or its queue failed; nothing is written.
            ImportError: Procrastinate (the ``workers`` extra) is not installed.
        """
        return self._jobs.submit(
            entry,
            entry_slot,
            params,
            queue=queue,
            idempotency_key=idempotency_key,
            store=store,
        )

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
        return self._jobs.pause(job_state, reason, checkpoint, timeout)

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
        return self._jobs.resume(job, store=store, wait=wait, output_handler=output_handler)

    def get_progress(self, job_state: JobState) -> JobProgress | None:
        """How far a job this flow is running has got, or ``None`` if it runs elsewhere.

        Cheap enough to poll (a progress display does it a few times a
        second); the figures are read without stopping the job, so they may
        be a delivery apart from each other.
        """
        return self._jobs.progress(job_state)

    def cancel(self, job_state: JobState, reason: str = "") -> bool:
        """End ``job_state`` as ``cancelled``, dropping its pending deliveries.

        Deliveries already running finish, but their output is discarded.
        ``job_state.error`` then says why, ``reason`` (``"cancelled"`` if
        empty), and how many pending deliveries were dropped:
        ``"Operator abort (3 pending deliveries dropped)"``.

        Returns:
            Whether the job was cancelled (False if it had already ended).

        Raises:
            DefinitionError: ``job_state`` belongs to another flow, or
                ``reason`` is not a string.
        """
        return self._jobs.cancel(job_state, reason)

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
        return self._jobs.wait_settled(check_timeout(timeout))

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
        self._jobs.shutdown(wait, check_timeout(timeout))

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
        return replay_dead_letter(self._jobs, letter, store=store, timeout=timeout, again=again)

    def __enter__(self: F) -> F:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(wait=True)
