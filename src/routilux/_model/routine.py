"""Routines: the units of work of a flow."""

from __future__ import annotations

import difflib
import numbers
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from routilux._model.context import CURRENT_FRAME, ExecutionContext, Frame
from routilux._model.error_policy import ErrorHandler, ErrorStrategy
from routilux._model.event import Event
from routilux._model.routine_documents import RoutineDocuments
from routilux._model.routine_job import JobTools
from routilux._model.slot import MergeFunction, Slot
from routilux.exceptions import DefinitionError, ExecutionError

__all__ = ["Routine"]

#: How alike (difflib ratio) a key must be to a listed config key to count
#: as its misspelling when a routine accepts extra keys: 'route' and 'conditon'
#: are refused, 'default' or 'error' (of 'default_route', 'on_error') are not.
_MISSPELLED = 0.8


class Routine(RoutineDocuments, JobTools):
    """A unit of work with named input slots and output events.

    Subclasses call ``super().__init__()``, then define their slots and events::

        class Doubler(Routine):
            def __init__(self):
                super().__init__()
                self.define_slot("input", handler=self.double)
                self.define_event("output", ["value"])

            def double(self, value):
                self.emit("output", value=value * 2)

    Config, stats and slot data live on the routine object, so every job that
    runs the routine shares them.

    Attributes:
        config_keys: The config keys the routine accepts, or ``None`` (the
            default) for any key. A routine that lists its keys gets a
            :class:`DefinitionError` from :meth:`set_config` for any other
            key, so a misspelled key cannot silently leave a setting at its
            default; every built-in routine lists its keys.
        allow_extra_config_keys: With ``config_keys`` listed, also accept
            other keys, the user's own (values that expressions read, say),
            except one so close to a listed key that it is most likely a
            misspelling of it. ``False`` by default.
    """

    config_keys: ClassVar[tuple[str, ...] | None] = None
    allow_extra_config_keys: ClassVar[bool] = False
    #: Under the ``"ray"`` strategy, run this routine's handlers on one Ray
    #: actor per job (its private attributes kept between the deliveries of
    #: the job) instead of as Ray tasks. See :meth:`set_ray_actor`.
    ray_actor: ClassVar[bool] = False

    def __init__(self) -> None:
        self._slots: dict[str, Slot] = {}
        self._events: dict[str, Event] = {}
        self._config: dict[str, Any] = {}
        self._stats: dict[str, Any] = {}
        self._stats_lock = threading.Lock()
        self._error_handler: ErrorHandler | None = None
        self._timeout: float | None = None
        self._max_concurrency: int | None = None
        # The flows the routine was added to, weakly: a routine does not keep
        # its flows alive (see _id and Slot.receive).
        self._flow_refs: list[weakref.ref[Any]] = []
        self._serializable_fields: list[str] = []

    # -- definition -------------------------------------------------------

    def define_slot(
        self,
        name: str,
        handler: Callable[..., Any] | None = None,
        merge_strategy: str | MergeFunction = "override",
    ) -> Slot:
        """Define an input slot.

        Args:
            name: The slot's name, unique within this routine.
            handler: Called with each message the slot receives.
            merge_strategy: ``"override"`` (default), ``"append"`` or a
                callable ``merge(old_data, message) -> dict``.

        Returns:
            The new slot.

        Raises:
            DefinitionError: The name is taken or invalid, the handler is not
                callable, or the merge strategy is unknown; or the subclass's
                ``__init__`` did not call ``super().__init__()`` first.
        """
        self._require_init("define_slot")
        self._check_new_name(name, self._slots, "slot")
        slot = Slot(self, name, handler, merge_strategy)
        self._slots[name] = slot
        return slot

    def define_event(self, name: str, params: Iterable[str] | None = None) -> Event:
        """Define an output event.

        Args:
            name: The event's name, unique within this routine.
            params: The names of the keys the event carries (documentation),
                as a list or tuple of strings.

        Returns:
            The new event.

        Raises:
            DefinitionError: The name is taken or invalid, ``params`` is not
                a list of names, or the subclass's ``__init__`` did not call
                ``super().__init__()`` first.
        """
        self._require_init("define_event")
        self._check_new_name(name, self._events, "event")
        if params is not None and (
            isinstance(params, (str, bytes)) or not isinstance(params, Iterable)
        ):
            raise DefinitionError(
                f"The params of event {name!r} of {self._label()} must be a list of parameter "
                f"names (strings), not {type(params).__name__} {params!r}."
            )
        listed = tuple(params or ())
        if not all(isinstance(p, str) for p in listed):
            raise DefinitionError(
                f"The params of event {name!r} of {self._label()} must be strings, not {listed!r}."
            )
        event = Event(self, name, listed)
        self._events[name] = event
        return event

    def _require_init(self, what: str) -> None:
        # Only on definition calls, never per delivery: a subclass that skipped
        # Routine.__init__ would otherwise fail with a bare AttributeError.
        if "_slots" not in vars(self):
            cls = type(self).__name__
            raise DefinitionError(
                f"{self._label()}: {what} was called before Routine.__init__ ran; "
                f"{cls}.__init__ must call super().__init__() before defining slots, "
                "events or config."
            )

    def _check_new_name(self, name: object, taken: Mapping[str, object], kind: str) -> None:
        article = "an" if kind[0] in "aeiou" else "a"
        if not isinstance(name, str) or not name:
            raise DefinitionError(
                f"{article.capitalize()} {kind} name of {self._label()} must be a non-empty "
                f"string, not {name!r}."
            )
        if name in taken:
            raise DefinitionError(f"{self._label()} already has {article} {kind} named {name!r}.")

    @property
    def slots(self) -> Mapping[str, Slot]:
        """The routine's slots by name (read-only)."""
        return MappingProxyType(self._slots)

    @property
    def events(self) -> Mapping[str, Event]:
        """The routine's events by name (read-only)."""
        return MappingProxyType(self._events)

    def get_slot(self, name: str) -> Slot | None:
        """The slot called ``name``, or ``None`` if the routine has none of that name."""
        return self._slots.get(name)

    def get_event(self, name: str) -> Event | None:
        """The event called ``name``, or ``None`` if the routine has none of that name."""
        return self._events.get(name)

    def describe_missing(self, kind: str, name: object, *, label: str | None = None) -> str:
        """A sentence saying this routine has no slot or event ``name``, listing what exists."""
        names = self._slots if kind == "slot" else self._events
        listed = ", ".join(repr(n) for n in names) or "none"
        return f"{label or self._label()} has no {kind} {name!r}; defined {kind}s: {listed}."

    def _label(self) -> str:
        return f"Routine {type(self).__name__}"

    def _extract_input_data(self, data: Any = None, **kwargs: Any) -> Any:
        """The input of a handler called as ``handler(data=None, **kwargs)``.

        A handler that accepts any message shape calls it with what it
        received, as the published built-ins do::

            def handle(self, data=None, **kwargs):
                value = self._extract_input_data(data, **kwargs)

        Pure: it reads nothing but its arguments.

        Args:
            data: The message's ``data`` value, if any.
            **kwargs: The other keys of the message.

        Returns:
            The first that applies: ``data`` if it is not ``None``;
            ``kwargs["data"]`` if present; the only value if ``kwargs`` has
            one key; ``kwargs`` as a dict if it has several; else ``{}``.
            A ``data`` keyword always binds to the parameter, never to
            ``kwargs``, so ``_extract_input_data(**{"data": None, "b": 2})``
            gives ``2``: the second rule is kept so that the order reads as
            the published one, though no Python call reaches it.
        """
        if data is not None:
            return data
        if "data" in kwargs:
            return kwargs["data"]
        if len(kwargs) == 1:
            return next(iter(kwargs.values()))
        if kwargs:
            return dict(kwargs)
        return {}

    # -- emitting ---------------------------------------------------------

    def emit(self, event_name: str, flow: Any = None, **data: Any) -> None:
        """Send ``data`` to every slot connected to the event ``event_name``.

        Deliveries are scheduled, not run at once: each connected slot
        receives the data after this handler returns, in connection order.
        If the handler raises, what it emitted is discarded.

        ``flow`` (the second positional argument, or a keyword) and a
        ``job_state`` keyword name the running job, as the published 0.10
        API lets handlers do: a :class:`Flow` or ``None`` under ``flow``, and
        a :class:`JobState` or ``None`` under ``job_state``, are not data.
        Any other value under these names is sent as data.

        Raises:
            ExecutionError: Called outside of a running job, or given a flow
                or a job other than the ones running this handler.
            DefinitionError: The routine has no such event.
        """
        frame = CURRENT_FRAME.get()
        if frame is None:
            raise ExecutionError(
                f"{self._label()} emitted {event_name!r} outside of a job; emit only works "
                "while a flow runs one of the routine's handlers. Start a job with "
                "flow.execute(...), or deliver to a slot with slot.receive(...)."
            )
        if flow is not None or "job_state" in data:
            data = _data_without_job(self, frame, flow, data)
        frame.emit(self, event_name, data)

    def send_output(self, output_type: str, **data: Any) -> None:
        """Send an output of the running job, as ``job_state.send_output`` does.

        Calls ``job_state.send_output(routine_id, output_type, data)``: the
        job's output handler (see ``routilux.output_handler``) gets it at
        once, and the job keeps it in ``output_log``. Unlike an emit, it is
        not staged: a delivery that fails and is retried sends it again.

        Raises:
            ExecutionError: Called outside of a running job (also a
                ``RuntimeError``).
            DefinitionError: ``output_type`` is not a string.
        """
        frame = self._frame_or_raise("send_output")
        context = frame.context_for(self)
        context.job_state.send_output(context.routine_id, output_type, data)

    def on_drain(self) -> None:
        """Called when the job has nothing left to run; override to flush what is held.

        The engine calls it, as a delivery of the job, for every routine of
        the flow that overrides it, once nothing is queued, running or
        waiting on a timer. It may emit (a batcher flushes its remainder,
        say); the job then goes on, and routines are drained again once it
        is idle. The job completes after a round of drains that adds no new
        work. Failures go through the routine's error policy.
        """

    def get_execution_context(self) -> ExecutionContext | None:
        """The flow, job state and routine id of the running job, or ``None``."""
        frame = CURRENT_FRAME.get()
        return None if frame is None else frame.context_for(self)

    # -- flows ------------------------------------------------------------

    def _joined(self, flow: Any) -> None:
        """Remember, weakly, that ``flow`` holds this routine (``Flow.add_routine`` calls it)."""
        self._flow_refs = [ref for ref in self._flow_refs if ref() not in (None, flow)]
        self._flow_refs.append(weakref.ref(flow))

    def _flows_holding(self) -> list[tuple[Any, str]]:
        """Each live flow that holds this routine now, with the routine's id in it."""
        held = []
        for flow in (ref() for ref in self._flow_refs):
            rid = None if flow is None else flow._routine_ids().get(id(self))
            if rid is not None and flow is not None and flow.routines.get(rid) is self:
                held.append((flow, rid))
        return held

    @property
    def _id(self) -> str:
        """The routine's id in the one flow that holds it, else ``hex(id(self))``.

        Read-only. The published 0.10 API names routines by ``hex(id(...))``
        where ours names them by their id in the flow; code written for it
        passes ``routine._id`` to ``job_state.record_execution``.
        """
        held = self._flows_holding()
        return held[0][1] if len(held) == 1 else hex(id(self))

    def __call__(self, **kwargs: Any) -> None:
        """Do nothing: a routine runs through its slots' handlers, not by being called."""

    # -- config -----------------------------------------------------------

    def set_config(self, **config: Any) -> None:
        """Set configuration keys (merged into the existing config).

        Raises:
            DefinitionError: A key is not in :attr:`config_keys` (when the
                routine lists them), :meth:`validate_config` refused the new
                config, or the subclass's ``__init__`` did not call
                ``super().__init__()`` first.
        """
        self._require_init("set_config")
        if self.config_keys is not None:
            self._check_config_keys(config, self.config_keys)
        merged = {**self._config, **config}
        self.validate_config(merged)
        self._config = merged

    def _check_config_keys(self, config: Mapping[str, Any], known: tuple[str, ...]) -> None:
        extra = self.allow_extra_config_keys
        for key in config:
            if key in known:
                continue
            # An extra key of the user's own is refused only as a near miss.
            close = difflib.get_close_matches(key, known, n=1, cutoff=_MISSPELLED if extra else 0.6)
            if extra and not close:
                continue
            hint = f" Did you mean {close[0]!r}?" if close else ""
            listed = ", ".join(repr(k) for k in known) or "none"
            own = (
                " Other keys are accepted as your own, but not one this close to a config key."
                if extra
                else ""
            )
            raise DefinitionError(
                f"{self._label()} has no config key {key!r}.{hint} "
                f"Its config keys are: {listed}.{own}"
            )

    def get_config(self, key: str, default: Any = None) -> Any:
        """The config value of ``key``, or ``default``."""
        return self._config.get(key, default)

    def config(self) -> dict[str, Any]:
        """A copy of the whole config."""
        return dict(self._config)

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check a config before :meth:`set_config` applies it.

        Override to refuse bad values with a :class:`DefinitionError`; the
        default accepts everything.
        """

    def check_definition(self) -> None:
        """Check the routine is ready to run; called before each job starts.

        Override to raise :class:`DefinitionError` for a routine whose
        config and events do not fit together; the default accepts.
        """

    # -- stats ------------------------------------------------------------

    def set_stat(self, key: str, value: Any) -> None:
        """Set the stat ``key``."""
        self._stats[key] = value

    def get_stat(self, key: str, default: Any = None) -> Any:
        """The stat ``key``, or ``default``."""
        return self._stats.get(key, default)

    def increment_stat(self, key: str, by: int | float = 1) -> int | float:
        """Add ``by`` to the stat ``key`` (from 0) without losing concurrent updates.

        Returns:
            The new value.

        Raises:
            DefinitionError: ``by`` is not a number, or the stat holds a
                value that is not one.
        """
        given: object = by  # Typed as a number, but callers pass anything.
        if isinstance(given, bool) or not isinstance(given, numbers.Number):
            raise DefinitionError(
                f"{self._label()}: increment_stat({key!r}) needs a number for by, "
                f"not {type(by).__name__} {by!r}."
            )
        with self._stats_lock:
            current = self._stats.get(key, 0)
            try:
                value: int | float = current + by
            except TypeError:
                raise DefinitionError(
                    f"{self._label()}: increment_stat cannot add {by!r} to the stat {key!r}, "
                    f"which holds {type(current).__name__} {current!r}."
                ) from None
            self._stats[key] = value
        return value

    def stats(self) -> dict[str, Any]:
        """A copy of every stat."""
        return dict(self._stats)

    def reset_stats(self) -> None:
        """Remove every stat."""
        with self._stats_lock:
            self._stats = {}

    # -- error policy -----------------------------------------------------

    @property
    def error_handler(self) -> ErrorHandler | None:
        """The routine's own error policy, or ``None`` to use the flow's."""
        return self._error_handler

    def set_error_handler(self, error_handler: ErrorHandler | None) -> None:
        """Set the routine's error policy (``None`` falls back to the flow's).

        Raises:
            DefinitionError: ``error_handler`` is not an :class:`ErrorHandler`.
        """
        if error_handler is not None and not isinstance(error_handler, ErrorHandler):
            raise DefinitionError(
                f"{self._label()}: set_error_handler expects an ErrorHandler or None, "
                f"not {type(error_handler).__name__}."
            )
        self._error_handler = error_handler

    def get_error_handler(self) -> ErrorHandler | None:
        """The routine's own error policy, or ``None``."""
        return self._error_handler

    @property
    def timeout(self) -> float | None:
        """Seconds a handler of this routine may run, or ``None`` for no limit."""
        return self._timeout

    def set_timeout(self, seconds: float | None) -> None:
        """Limit how long each handler call of this routine may run.

        A call that runs longer fails with :class:`HandlerTimeoutError`, which
        the routine's error policy handles like any failure (a ``RETRY``
        policy retries it). The limit is on real time. A synchronous handler
        cannot be interrupted: it runs on in its thread, and whatever it
        emits afterwards is discarded; an ``async def`` handler is cancelled.

        Raises:
            DefinitionError: ``seconds`` is not a positive number or ``None``.
        """
        if seconds is not None and (
            not isinstance(seconds, (int, float))
            or isinstance(seconds, bool)
            or not seconds > 0
            or seconds == float("inf")
        ):
            raise DefinitionError(
                f"{self._label()}: set_timeout expects a positive number of seconds or None, "
                f"not {seconds!r}."
            )
        self._timeout = None if seconds is None else float(seconds)

    def get_max_concurrency(self) -> int | None:
        """How many deliveries of this routine may run at once (``None``: no limit)."""
        return self._max_concurrency

    def set_max_concurrency(self, limit: int | None) -> None:
        """Let up to ``limit`` deliveries of this routine run at once.

        Only the ``concurrent`` strategy runs deliveries in parallel. By
        default (``None``) a routine sets no limit of its own: its plain
        handlers overlap up to the flow's ``max_workers``, its ``async def``
        ones up to the flow's ``max_async_in_flight``. A handler that
        changes the routine's own attributes must then hold a lock, or the
        routine must call ``set_max_concurrency(1)``, which runs its
        deliveries one at a time, in arrival order.

        Raises:
            DefinitionError: ``limit`` is not a positive integer or ``None``.
        """
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 1
        ):
            raise DefinitionError(
                f"{self._label()}: set_max_concurrency expects a positive integer or None, "
                f"not {limit!r}."
            )
        self._max_concurrency = limit

    def set_ray_actor(self, actor: bool = True) -> None:
        """Under the ``"ray"`` strategy, run this routine on one Ray actor per job.

        Without it (the class attribute ``ray_actor``, ``False`` by
        default), each delivery is a Ray task, in a process that builds the
        routine afresh. Either way the routine's shared state (stats, slot
        data, public attributes) comes from the routine object here and goes
        back to it after each delivery. What an actor adds: the routine is
        built once per job in its own process, and its private attributes
        (a loaded model, a connection, a cache: names with a leading
        underscore) are kept between the deliveries of that job, and
        dropped when the job ends. Its deliveries run one at a time.

        Raises:
            DefinitionError: ``actor`` is not a bool.
        """
        if not isinstance(actor, bool):
            raise DefinitionError(
                f"{self._label()}: set_ray_actor expects True or False, not {actor!r}."
            )
        self._ray_actor = actor

    def is_ray_actor(self) -> bool:
        """Whether the ``"ray"`` strategy runs this routine on an actor (:meth:`set_ray_actor`)."""
        return bool(getattr(self, "_ray_actor", type(self).ray_actor))

    def set_as_critical(
        self, max_retries: int = 3, retry_delay: float = 1.0, retry_backoff: float = 2.0
    ) -> None:
        """Retry failures; when the retries are spent, fail the job."""
        self.set_error_handler(
            ErrorHandler(
                strategy=ErrorStrategy.RETRY,
                max_retries=max_retries,
                retry_delay=retry_delay,
                retry_backoff=retry_backoff,
                is_critical=True,
            )
        )

    def set_as_optional(self, strategy: ErrorStrategy = ErrorStrategy.CONTINUE) -> None:
        """Let failures of this routine never fail the job (``CONTINUE`` by default)."""
        self.set_error_handler(ErrorHandler(strategy=strategy, is_critical=False))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} slots={list(self._slots)} events={list(self._events)}>"


def _data_without_job(
    routine: Routine, frame: Frame, flow: Any, data: dict[str, Any]
) -> dict[str, Any]:
    """``data`` without the ``flow`` and ``job_state`` that name the running job.

    Raises:
        ExecutionError: They name another flow or job than the running one.
    """
    from routilux._flow import Flow  # The flow module imports this one.
    from routilux._model.job_state import JobState

    context = frame.context_for(routine)
    if flow is not None and not isinstance(flow, Flow):
        data = {**data, "flow": flow}
    elif flow is not None and flow is not context.flow:
        raise ExecutionError(
            f"Routine {context.routine_id!r} emitted with flow={flow!r}, but flow "
            f"{context.flow.flow_id!r} runs this job; pass the running flow, or none."
        )
    job = data.get("job_state", data)
    if job is None or isinstance(job, JobState):
        data = {k: v for k, v in data.items() if k != "job_state"}
        if job is not None and job is not context.job_state:
            raise ExecutionError(
                f"Routine {context.routine_id!r} emitted with job_state={job!r}, but this "
                f"handler runs in job {context.job_state.job_id}; pass the running job, or none."
            )
    return data
