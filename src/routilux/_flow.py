"""Flow: routines wired together, and the jobs that run them."""

from __future__ import annotations

import math
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from routilux._engine.clock import Clock, SystemClock
from routilux._engine.engine import Engine
from routilux._engine.plan import FlowPlan, Target
from routilux._model.connection import Connection
from routilux._model.error_policy import ErrorHandler
from routilux._model.job_state import JobState
from routilux._model.routine import Routine
from routilux.exceptions import DefinitionError

__all__ = ["Flow"]

STRATEGIES = ("sequential", "concurrent")


class Flow:
    """Routines wired together by connections, and the jobs that run them.

    Args:
        flow_id: The flow's id; a uuid4 string by default.
        execution_strategy: ``"sequential"`` (one delivery at a time, first
            in first out, on the thread that calls :meth:`execute`) or
            ``"concurrent"`` (deliveries on a pool of ``max_workers`` threads).
        max_workers: Threads of the concurrent strategy.
        execution_timeout: Default job timeout in seconds (``None``: none).
        max_deliveries: Deliveries one job may run before it is failed as a
            runaway (a cycle, usually).
        record_history: Whether jobs record every emitted event in
            ``JobState.execution_history``.
        retain_jobs: How many finished jobs :meth:`get_execution` remembers
            (the oldest are forgotten first).
        clock: Where the engine reads time and sleeps (tests pass a fake clock).

    Raises:
        DefinitionError: An argument is out of range.
    """

    def __init__(
        self,
        flow_id: str | None = None,
        execution_strategy: str = "sequential",
        max_workers: int = 5,
        execution_timeout: float | None = None,
        *,
        max_deliveries: int = 1_000_000,
        record_history: bool = True,
        retain_jobs: int = 100,
        clock: Clock | None = None,
    ) -> None:
        if execution_strategy not in STRATEGIES:
            raise DefinitionError(
                f"Unknown execution_strategy {execution_strategy!r}; use 'sequential' or "
                "'concurrent'."
            )
        _check_positive_int("max_workers", max_workers)
        _check_positive_int("max_deliveries", max_deliveries)
        _check_positive_int("retain_jobs", retain_jobs)
        self.flow_id: str = flow_id if flow_id is not None else str(uuid.uuid4())
        self.execution_strategy = execution_strategy
        self.max_workers = max_workers
        self.execution_timeout = _check_timeout(execution_timeout)
        self.max_deliveries = max_deliveries
        self.record_history = record_history
        self.retain_jobs = retain_jobs
        self.clock: Clock = clock or SystemClock()
        self.routines: dict[str, Routine] = {}
        self.connections: list[Connection] = []
        self._error_handler: ErrorHandler | None = None
        self._plan: FlowPlan | None = None
        self._executions: OrderedDict[str, JobState] = OrderedDict()
        self._lock = threading.Lock()
        self._engine: Engine | None = None

    # -- building -------------------------------------------------------------

    def add_routine(self, routine: Routine, routine_id: str | None = None) -> str:
        """Add ``routine`` to the flow under ``routine_id``.

        Args:
            routine: The routine to add.
            routine_id: Its id in the flow; by default the class name in
                snake case, numbered if taken (``"data_source_2"``).

        Returns:
            The routine's id.

        Raises:
            DefinitionError: The id is taken, the routine is already in this
                flow, or it is not an initialised :class:`Routine`.
        """
        if not isinstance(routine, Routine) or not hasattr(routine, "_slots"):
            raise DefinitionError(
                "add_routine expects a Routine whose __init__ called super().__init__(), "
                f"not a {type(routine).__name__}."
            )
        if routine_id is None:
            routine_id = self._free_id(type(routine).__name__)
        elif not isinstance(routine_id, str) or not routine_id:
            raise DefinitionError(f"A routine id must be a non-empty string, not {routine_id!r}.")
        if routine_id in self.routines:
            raise DefinitionError(f"The flow already has a routine with id {routine_id!r}.")
        for rid, existing in self.routines.items():
            if existing is routine:
                raise DefinitionError(
                    f"This {type(routine).__name__} is already in the flow as {rid!r}; "
                    "create another instance to add it twice."
                )
        self.routines[routine_id] = routine
        self._plan = None
        return routine_id

    def _free_id(self, class_name: str) -> str:
        base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", class_name).lower()
        candidate, n = base, 1
        while candidate in self.routines:
            n += 1
            candidate = f"{base}_{n}"
        return candidate

    def connect(
        self,
        source_id: str,
        event: str,
        target_id: str,
        slot: str,
        param_mapping: Mapping[str, str] | None = None,
    ) -> Connection:
        """Wire the event ``event`` of ``source_id`` to the slot ``slot`` of ``target_id``.

        Args:
            source_id: The emitting routine's id.
            event: The source's event.
            target_id: The receiving routine's id.
            slot: The target's slot.
            param_mapping: Key renames on this connection,
                ``{"source_key": "target_key"}``.

        Returns:
            The new connection.

        Raises:
            DefinitionError: A routine, event or slot does not exist (the
                message lists what does), or the connection exists already.
        """
        source = self._routine(source_id, "source")
        target = self._routine(target_id, "target")
        if event not in source._events:
            raise DefinitionError(source.describe_missing("event", event, label=_label(source_id)))
        if slot not in target._slots:
            raise DefinitionError(target.describe_missing("slot", slot, label=_label(target_id)))
        connection = Connection(source_id, event, target_id, slot, param_mapping)
        if connection in self.connections:
            raise DefinitionError(f"The flow already has the connection {connection.describe()}.")
        self.connections.append(connection)
        self._plan = None
        return connection

    def _routine(self, routine_id: str, role: str) -> Routine:
        routine = self.routines.get(routine_id)
        if routine is None:
            known = ", ".join(repr(r) for r in self.routines) or "none"
            raise DefinitionError(
                f"The flow has no {role} routine {routine_id!r}; routines: {known}."
            )
        return routine

    @property
    def error_handler(self) -> ErrorHandler | None:
        """The flow-wide error policy, used by routines that have none."""
        return self._error_handler

    def set_error_handler(self, error_handler: ErrorHandler | None) -> None:
        """Set the flow-wide error policy (``None``: STOP unless a routine says otherwise).

        Raises:
            DefinitionError: ``error_handler`` is not an :class:`ErrorHandler`.
        """
        if error_handler is not None and not isinstance(error_handler, ErrorHandler):
            raise DefinitionError(
                "Flow.set_error_handler expects an ErrorHandler or None, "
                f"not {type(error_handler).__name__}."
            )
        self._error_handler = error_handler

    def get_error_handler(self) -> ErrorHandler | None:
        """The flow-wide error policy, or ``None``."""
        return self._error_handler

    # -- running ----------------------------------------------------------------

    def execute(
        self,
        entry_id: str,
        entry_params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
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

        Returns:
            The job's final state: ``completed``, or ``failed`` with the
            reason in ``error`` and the details in ``errors``.

        Raises:
            DefinitionError: The entry routine, its trigger slot or the
                params are invalid, or a routine is not ready to run.
        """
        plan, entry, params, limit = self._prepare(entry_id, entry_params, timeout)
        return self._get_engine().execute(plan, entry, params, limit)

    def start(
        self,
        entry_id: str,
        entry_params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> JobState:
        """Start one job in the background and return its state at once.

        Wait for it with ``job_state.wait(timeout)``; control it with
        :meth:`pause`, :meth:`resume` and :meth:`cancel`. Arguments and
        errors are those of :meth:`execute`.
        """
        plan, entry, params, limit = self._prepare(entry_id, entry_params, timeout)
        return self._get_engine().start(plan, entry, params, limit)

    def _prepare(
        self, entry_id: str, entry_params: Mapping[str, Any] | None, timeout: float | None
    ) -> tuple[FlowPlan, Target, dict[str, Any], float | None]:
        plan = self._compiled()
        plan.check_routines()
        entry = plan.entry_target(entry_id)
        params = _check_params(entry_params)
        limit = _check_timeout(timeout) if timeout is not None else self.execution_timeout
        return plan, entry, params, limit

    def _get_engine(self) -> Engine:
        engine = self._engine
        if engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = Engine(self)
                engine = self._engine
        return engine

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

    def resume(self, job_state: JobState) -> bool:
        """Continue a paused job exactly where it stopped.

        Returns:
            Whether the job was paused and now runs again.
        """
        return self._get_engine().resume(job_state)

    def cancel(self, job_state: JobState) -> bool:
        """End ``job_state`` as ``cancelled``, dropping its pending deliveries.

        Deliveries already running finish, but their output is discarded.

        Returns:
            Whether the job was cancelled (False if it had already ended).
        """
        return self._get_engine().cancel(job_state)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the flow's threads; calling it again does nothing more.

        With ``wait=True``, running jobs are left to finish first and every
        thread is joined, including the threads of handlers that overran
        their routine's timeout (so this waits as long as such a handler
        runs); with ``wait=False``, running jobs are cancelled and threads
        exit after their current delivery, without being waited for. Paused jobs stay paused:
        resuming one starts the threads again, as does any new job.
        """
        engine = self._engine
        if engine is not None:
            engine.shutdown(wait)

    def __enter__(self) -> Flow:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(wait=True)

    def _compiled(self) -> FlowPlan:
        plan = self._plan
        if plan is None:
            plan = self._plan = FlowPlan(self.routines, self.connections)
        return plan

    def _remember(self, job: JobState) -> None:
        with self._lock:
            self._executions[job.job_id] = job
            while len(self._executions) > self.retain_jobs:
                self._executions.popitem(last=False)

    def get_execution(self, job_id: str) -> JobState | None:
        """The job ``job_id`` if the flow still remembers it (see ``retain_jobs``)."""
        with self._lock:
            return self._executions.get(job_id)

    def get_all_executions(self) -> list[JobState]:
        """The jobs the flow remembers, oldest first."""
        with self._lock:
            return list(self._executions.values())

    def __repr__(self) -> str:
        return (
            f"<Flow {self.flow_id!r} routines={len(self.routines)} "
            f"connections={len(self.connections)} strategy={self.execution_strategy}>"
        )


def _label(routine_id: str) -> str:
    return f"Routine {routine_id!r}"


def _check_positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DefinitionError(f"Flow {name} must be a positive integer, not {value!r}.")


def _check_timeout(value: object) -> float | None:
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
