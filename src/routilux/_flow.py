"""Flow: routines wired together, and the jobs that run them."""

from __future__ import annotations

import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from os import PathLike
from typing import TYPE_CHECKING, Any, ClassVar

from routilux._engine.clock import Clock, SystemClock
from routilux._engine.gates import DEFAULT_MAX_ASYNC_IN_FLIGHT
from routilux._engine.hooks import HookedPlan, HookRegistry, compile_plan, hooks_wanted
from routilux._engine.job_run import DEFAULT_HISTORY_LIMIT
from routilux._engine.plan import FlowPlan
from routilux._engine.runaway import DEFAULT_MAX_HOPS
from routilux._engine.strategies import STRATEGY_NAMES
from routilux._flow_arguments import check_timeout
from routilux._flow_jobs import FlowJobs
from routilux._flow_wiring import Connections, FlowWiring
from routilux._job_control import JobControl
from routilux._model.connection import Connection
from routilux._model.dual_method import ClassOrInstanceMethod
from routilux._model.error_policy import ErrorHandler
from routilux._model.hooks import Hooks
from routilux._model.job_state import JobState
from routilux._model.ownership import DEFAULT_LEASE, MAX_LEASE, MIN_LEASE
from routilux._model.routine import Routine
from routilux._model.store import check_store
from routilux._serde.files import write_json_atomic
from routilux._serde.flow_doc import flow_from_doc, flow_to_doc
from routilux._serde.flow_files import read_flow_file, read_saved_flow
from routilux._serde.json_text import safe_repr
from routilux.exceptions import DefinitionError
from routilux.logs import keep_job_logs, kept_log_level

if TYPE_CHECKING:
    from routilux._model.store import JobStore
    from routilux.execution_tracker import ExecutionTracker

__all__ = ["Flow"]

STRATEGIES = STRATEGY_NAMES


def _flow_from_doc(*args: Any, **kwargs: Any) -> Any:
    return flow_from_doc(*args, **kwargs)


_flow_from_doc.__doc__ = """Rebuild a flow from :meth:`Flow.serialize`'s document.

``Flow.deserialize(document)`` returns a new flow; ``flow.deserialize(document)``
rebuilds into ``flow``, which must have no routines or connections yet, keeps
its clock, and returns it. Either way, nothing is changed when the document
is refused. Only the modules the document names as a routine class, merge
function, condition or exception class are imported; see
``docs/serialization.md``. Keyword arguments: ``registry`` (names for
routine classes that have no import path) and ``allowed_modules`` (if
given, the only modules, with their submodules, that may be imported:
recommended for a document from elsewhere).

Raises:
    SerializationError: The document is malformed, of another version, or
        names something it may not; the message names the place.
"""


class Flow(FlowWiring, FlowJobs):
    """Routines wired together by connections, and the jobs that run them.

    Args:
        flow_id: The flow's id; a uuid4 string by default.
        execution_strategy: ``"sequential"`` (one delivery at a time, first
            in first out, on the thread that calls :meth:`execute`),
            ``"concurrent"`` (deliveries on a pool of ``max_workers`` threads)
            or ``"ray"`` (as concurrent, with each handler run on a Ray
            cluster: see ``docs/execution.md``; needs the ``ray`` extra).
        max_workers: Threads of the concurrent strategy, from 1 to
            :attr:`MAX_WORKERS` (1,024).
        max_async_in_flight: How many ``async def`` handlers the concurrent
            strategy runs at once, across the flow's jobs (1,000 by default;
            ``None``: no bound). Deliveries over it wait, not yet started
            (their routine's timeout not yet counting), so that a burst
            queues instead of crowding the one event loop they all run on.
        execution_timeout: Default job timeout in seconds (``None``: none).
        max_deliveries: Deliveries one job may run before it is failed as a
            runaway (``None``, the default: no cap; ``max_hops`` tells a
            cycle).
        max_hops: How far a delivery may be from its job's entry delivery
            (10,000 by default): a delivery is one hop further than the
            delivery that emitted (or scheduled) it, the entry delivery being
            hop 0. A delivery past the limit fails the job as a runaway
            (:class:`RunawayJobError`), naming the cycle.
        record_history: Whether jobs record every emitted event in
            ``JobState.execution_history`` (on by default).
        history_limit: Keep at least this many of a job's latest history
            records in memory, and at most twice as many (10,000 by
            default; ``None``: all of them); older ones are dropped and
            counted in ``JobState.history_dropped``. A durable job's store
            keeps the whole history either way.
        retain_jobs: How many finished jobs :meth:`get_execution` remembers
            (the oldest are forgotten first).
        clock: Where the engine reads time and sleeps (tests pass a fake clock).
        store: Keep every job durably in this job store (see
            :mod:`routilux.stores`), checkpointed after every delivery.
        checkpoint_every: How many deliveries of a durable job go into one
            checkpoint. 1 (the default) commits each delivery as it
            finishes: after a crash, only the delivery that was running runs
            again. With ``n`` > 1, up to ``n`` finished deliveries are
            committed together (a failure, a pause and the job's end commit at
            once), which is several times cheaper per delivery; after a crash,
            up to ``n`` - 1 finished deliveries whose commit had not been
            made run again (still at least once, never lost; those that
            another delivery of the lost batch had emitted, under new
            delivery ids).
        lease_seconds: How long the lease of a durable job's owner lasts
            (30 s by default); the flow renews it in the background every
            third of that while the job is alive here. Another process may
            take over a job whose lease has expired (see
            ``docs/durability.md``). Not saved in flow documents.
        track_execution: Give every job an
            :class:`~routilux.execution_tracker.ExecutionTracker`
            (``job_state.execution_tracker``) that records each delivery
            attempt and emit (off by default: it costs time per delivery).
        keep_logs: Keep the records handlers log with :mod:`logging` with
            their job (``job_state.logs``): ``True`` from ``INFO``, or a
            level or level name; off by default (see :mod:`routilux.logs`).
            A durable job's store keeps them too (``read_job_logs``); saved
            in flow documents as a level name.
        ray_address: The Ray cluster of the ``"ray"`` strategy: ``None``
            (the default) starts a local one on the first job, unless this
            process is connected to one already; else its address, as
            ``ray.init(address=...)`` takes it. Saved in flow documents
            when set.

    Raises:
        DefinitionError: An argument is out of range.
    """

    #: Most threads ``max_workers`` may ask for. A larger pool is a mistake, not
    #: a speed-up: its threads take turns at one interpreter lock and each
    #: holds a stack; many slow waits are the work of ``async def`` handlers.
    MAX_WORKERS: ClassVar[int] = 1024

    def __init__(
        self,
        flow_id: str | None = None,
        execution_strategy: str = "sequential",
        max_workers: int = 5,
        execution_timeout: float | None = None,
        *,
        max_deliveries: int | None = None,
        max_hops: int = DEFAULT_MAX_HOPS,
        record_history: bool = True,
        history_limit: int | None = DEFAULT_HISTORY_LIMIT,
        retain_jobs: int = 100,
        clock: Clock | None = None,
        store: JobStore | None = None,
        checkpoint_every: int = 1,
        max_async_in_flight: int | None = DEFAULT_MAX_ASYNC_IN_FLIGHT,
        lease_seconds: float = DEFAULT_LEASE,
        track_execution: bool = False,
        keep_logs: bool | int | str | None = False,
        ray_address: str | None = None,
    ) -> None:
        _check_strategy(execution_strategy)
        self._check_max_workers(max_workers)
        if max_deliveries is not None:
            _check_positive_int("max_deliveries", max_deliveries)
        _check_positive_int("max_hops", max_hops)
        _check_positive_int("retain_jobs", retain_jobs)
        _check_positive_int("checkpoint_every", checkpoint_every)
        if history_limit is not None:
            _check_positive_int("history_limit", history_limit)
        if max_async_in_flight is not None:
            _check_positive_int("max_async_in_flight", max_async_in_flight)
        self.flow_id: str = flow_id if flow_id is not None else str(uuid.uuid4())
        self.execution_strategy = execution_strategy
        self.max_workers = max_workers
        self.execution_timeout = check_timeout(execution_timeout)
        self.max_deliveries = max_deliveries
        self.max_hops = max_hops
        self.record_history = record_history
        self.history_limit = history_limit
        self.max_async_in_flight = max_async_in_flight
        self.retain_jobs = retain_jobs

        self.clock: Clock = SystemClock() if clock is None else _check_clock(clock)
        self.store: JobStore | None = None if store is None else check_store(store, "Flow store")
        self.checkpoint_every = checkpoint_every
        self.lease_seconds = _check_lease(lease_seconds)
        self._track_execution = _check_bool("track_execution", track_execution)
        self.keep_logs = keep_logs
        if ray_address is not None and (not isinstance(ray_address, str) or not ray_address):
            raise DefinitionError(
                "Flow ray_address must be a non-empty string or None, not "
                f"{safe_repr(ray_address)}."
            )
        self.ray_address = ray_address
        self.routines: dict[str, Routine] = {}
        # Routine objects by id(), so that add_routine refuses one added twice in
        # constant time; rebuilt when the public dict was replaced or resized.
        self._ids: dict[int, str] = {}
        self._ids_of: tuple[int, int] = (id(self.routines), 0)
        self.connections: list[Connection] = Connections()
        # The ends of every connection, so that connect refuses a duplicate in
        # constant time (a document may hold 100,000 connections); rebuilt when
        # the public list was changed by hand (or replaced by another list).
        self._ends: set[tuple[str, str, str, str]] = set()
        self._ends_of: tuple[int, int] = (id(self.connections), 0)
        self._error_handler: ErrorHandler | None = None
        self._plan: FlowPlan | None = None
        self._hooks = HookRegistry()
        self._executions: OrderedDict[str, JobState] = OrderedDict()
        self._lock = threading.Lock()
        self._jobs = JobControl(self)

    @property
    def keep_logs(self) -> int | None:
        """The level from which the records handlers log are kept with their job (``None``: off).

        Set with ``True`` (``INFO``), a level or a level name; see :mod:`routilux.logs`.
        """
        return self._keep_logs

    @keep_logs.setter
    def keep_logs(self, keep_logs: bool | int | str | None) -> None:
        self._keep_logs = kept_log_level(keep_logs)
        if self._keep_logs is not None:
            keep_job_logs()

    def _check_max_workers(self, max_workers: object) -> None:
        _check_positive_int("max_workers", max_workers)
        assert isinstance(max_workers, int)
        if max_workers > self.MAX_WORKERS:
            raise DefinitionError(
                f"Flow max_workers must be at most {self.MAX_WORKERS}, not "
                f"{safe_repr(max_workers)}: a thread pool that large only makes threads wait for "
                "each other; for many slow waits, write the handlers as async def."
            )

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
        rid = self._routine_ids().get(id(routine))
        if rid is not None and self.routines.get(rid) is routine:
            raise DefinitionError(
                f"This {type(routine).__name__} is already in the flow as {rid!r}; "
                "create another instance to add it twice."
            )
        self.routines[routine_id] = routine
        routine._joined(self)
        self._ids[id(routine)] = routine_id
        self._ids_of = (id(self.routines), len(self.routines))
        self._plan = None
        return routine_id

    def _routine_ids(self) -> dict[int, str]:
        """The id of each routine object (rebuilt when ``routines`` was changed by hand)."""
        if self._ids_of != (id(self.routines), len(self.routines)):
            self._ids = {id(routine): rid for rid, routine in self.routines.items()}
            self._ids_of = (id(self.routines), len(self.routines))
        return self._ids

    def _free_id(self, class_name: str) -> str:
        base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", class_name).lower()
        candidate, n = base, 1
        while candidate in self.routines:
            n += 1
            candidate = f"{base}_{n}"
        return candidate

    @property
    def error_handler(self) -> ErrorHandler | None:
        """The flow-wide error policy, used by routines that have none.

        Assigning to it is :meth:`set_error_handler`.
        """
        return self._error_handler

    @error_handler.setter
    def error_handler(self, error_handler: ErrorHandler | None) -> None:
        self.set_error_handler(error_handler)

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

    @property
    def track_execution(self) -> bool:
        """Whether each job gets an execution tracker (see ``docs/execution.md``).

        Setting it applies to the jobs started afterwards.

        Raises:
            DefinitionError: Set to something other than a bool.
        """
        return self._track_execution

    @track_execution.setter
    def track_execution(self, value: bool) -> None:
        self._track_execution = _check_bool("track_execution", value)
        self._plan = None

    @property
    def execution_tracker(self) -> ExecutionTracker | None:
        """The execution tracker of the newest job the flow remembers.

        ``None`` if it remembers none, or if that job's flow had
        ``track_execution`` off when it started.
        """
        with self._lock:
            newest = next(reversed(self._executions.values()), None)
        return None if newest is None else newest.execution_tracker

    def set_execution_strategy(self, strategy: str, max_workers: int | None = None) -> None:
        """Choose how the flow's next jobs run: ``"sequential"`` or ``"concurrent"``.

        Jobs already running keep the strategy and the pool they started
        with; this never waits for them. When ``max_workers`` changes the
        size of the pool, jobs started afterwards get a new pool, and the
        old one closes once its jobs no longer use it. A single job may
        also be given its own strategy: ``execute(..., execution_strategy=...)``.

        Args:
            strategy: ``"sequential"`` or ``"concurrent"``.
            max_workers: Threads of the concurrent strategy (1 to
                :attr:`MAX_WORKERS`); ``None`` keeps the current number.
                The sequential strategy keeps it too, for a later switch.

        Raises:
            DefinitionError: An unknown strategy, or a ``max_workers`` out of range.
        """
        _check_strategy(strategy)
        if max_workers is not None:
            self._check_max_workers(max_workers)
            self.max_workers = max_workers
        self.execution_strategy = strategy
        self._plan = None

    # -- documents ----------------------------------------------------------------

    def serialize(self, *, registry: Mapping[str, type[Routine]] | None = None) -> dict[str, Any]:
        """The flow's definition as a versioned JSON-compatible document.

        See ``docs/serialization.md`` for what it holds (config, not stats or slot data).

        Args:
            registry: Names for routine classes that cannot be imported by
                path, checked before :func:`routilux.register_routine`'s.

        Raises:
            SerializationError: A handler is not a method of its routine, a
                merge strategy or condition is not a module-level function,
                a config value cannot be written, or a class has no import
                path and no registered name; the message names the place.
        """
        return flow_to_doc(self, registry=registry)

    #: ``Flow.deserialize(document, *, registry=None)`` makes a new flow;
    #: ``flow.deserialize(...)`` rebuilds into an empty ``flow`` and returns it.
    deserialize = ClassOrInstanceMethod(_flow_from_doc)

    def save(
        self, path: str | PathLike[str], *, registry: Mapping[str, type[Routine]] | None = None
    ) -> None:
        """Write :meth:`serialize`'s document to ``path`` as JSON, atomically.

        Raises:
            SerializationError: The flow cannot be serialized.
            OSError: The file cannot be written.
        """
        write_json_atomic(path, self.serialize(registry=registry))

    @classmethod
    def load(
        cls,
        path: str | PathLike[str],
        *,
        registry: Mapping[str, type[Routine]] | None = None,
        allowed_modules: Iterable[str] | None = None,
    ) -> Flow:
        """Rebuild a flow from a file that :meth:`save` wrote.

        ``registry`` and ``allowed_modules`` are as for :meth:`deserialize`.

        Raises:
            SerializationError: The file is not a valid flow document (see
                :meth:`deserialize`).
            OSError: The file cannot be read.
        """
        return flow_from_doc(
            cls, None, read_saved_flow(path), registry=registry, allowed_modules=allowed_modules
        )

    @classmethod
    def from_file(
        cls,
        path: str | PathLike[str],
        *,
        registry: Mapping[str, type[Routine]] | None = None,
        allowed_modules: Iterable[str] | None = None,
    ) -> Flow:
        """Build a flow from a flow file: a flow document written in YAML or JSON.

        The file holds what :meth:`serialize` returns, as YAML (``.yaml``,
        ``.yml``; needs PyYAML, of the ``cli`` extra) or JSON (``.json``).
        See ``docs/cli.md``. ``registry`` and ``allowed_modules`` are as for
        :meth:`deserialize`.

        Raises:
            SerializationError: The file is not valid YAML or JSON, or not a
                valid flow document; the message names the file, the line
                when known, and the place (``flow.yaml:12: routines.router...``).
            OSError: The file cannot be read.
            ImportError: A YAML file, and PyYAML is not installed.
        """
        return read_flow_file(path).build(cls, registry=registry, allowed_modules=allowed_modules)

    def check(self) -> None:
        """Check that every routine is ready to run, as :meth:`execute` does first.

        Runs each routine's :meth:`Routine.check_definition` (an aggregator
        checks it has the count it completes on, for example) without
        starting a job.

        Raises:
            DefinitionError: A routine is not ready; the message names its id.
        """
        self._compiled().check_routines()

    def to_mermaid(self, job_state: JobState | None = None) -> str:
        """The flow as a Mermaid ``flowchart`` (see ``docs/graphs.md``).

        Args:
            job_state: A job of this flow: each routine is then coloured by
                what it did in it (completed, failed, skipped, not run).

        Returns:
            The diagram's text, ending with a newline; the same flow and job
            always give the same text.
        """
        from routilux._graph import to_mermaid

        return to_mermaid(self, job_state)

    def to_dot(self, job_state: JobState | None = None) -> str:
        """The flow as a Graphviz ``digraph`` (see ``docs/graphs.md``).

        Args:
            job_state: A job of this flow: each routine is then coloured by
                what it did in it (completed, failed, skipped, not run).

        Returns:
            The graph's DOT text, ending with a newline.
        """
        from routilux._graph import to_dot

        return to_dot(self, job_state)

    def add_hooks(self, hooks: Hooks) -> None:
        """Observe this flow's jobs with ``hooks`` (see ``docs/observability.md``).

        The jobs started afterwards call it; adding it twice changes nothing.

        Raises:
            TypeError: ``hooks`` is not a :class:`~routilux.hooks.Hooks`.
        """
        self._hooks.add(hooks)

    def remove_hooks(self, hooks: Hooks) -> None:
        """Stop observing this flow's jobs with ``hooks``; nothing happens if it was not added."""
        self._hooks.remove(hooks)

    def _compiled(self) -> FlowPlan:
        plan = self._plan
        # One test per job: a hooked plan only while a hook is registered.
        if plan is None or isinstance(plan, HookedPlan) is not hooks_wanted(self._hooks):
            plan = self._plan = compile_plan(
                self.routines,
                self.connections,
                tracked=self._track_execution,
                flow_hooks=self._hooks,
            )
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


def _check_strategy(strategy: object) -> None:
    if strategy not in STRATEGIES:
        raise DefinitionError(
            f"Unknown execution_strategy {strategy!r}; use 'sequential', 'concurrent' or 'ray'."
        )


def _check_positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DefinitionError(f"Flow {name} must be a positive integer, not {safe_repr(value)}.")


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise DefinitionError(f"Flow {name} must be True or False, not {safe_repr(value)}.")
    return value


def _check_lease(value: object) -> float:
    """``value`` as a lease length in seconds.

    Raises:
        DefinitionError: It is not a finite number of seconds from 0.5 to a day.
    """
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not MIN_LEASE <= value <= MAX_LEASE
    ):
        raise DefinitionError(
            f"Flow lease_seconds must be a number of seconds from {MIN_LEASE} to {MAX_LEASE:g} "
            f"(a day), not {value!r}."
        )
    return float(value)


def _check_clock(clock: object) -> Clock:
    """``clock`` if it has the methods of a clock.

    Raises:
        DefinitionError: It lacks one of them.
    """
    missing = [
        name for name in ("monotonic", "sleep", "wait") if not callable(getattr(clock, name, None))
    ]
    if missing:
        raise DefinitionError(
            "Flow clock must be a clock (SystemClock, routilux.testing.FakeClock, or an object "
            f"with monotonic(), sleep(seconds) and wait(event, seconds)), not "
            f"{type(clock).__name__} {clock!r}: it has no {', '.join(missing)}."
        )
    return clock  # type: ignore[return-value]
