"""Routines: the units of work of a flow."""

from __future__ import annotations

import difflib
import numbers
import threading
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from routilux._model.context import CURRENT_FRAME, ExecutionContext, Frame
from routilux._model.error_policy import ErrorHandler, ErrorStrategy
from routilux._model.event import Event
from routilux._model.slot import MergeFunction, Slot
from routilux.exceptions import DefinitionError, ExecutionError

__all__ = ["Routine"]

#: How alike (difflib ratio) a key must be to a listed config key to count
#: as its misspelling when a routine accepts extra keys: 'route' and 'conditon'
#: are refused, 'default' or 'error' (of 'default_route', 'on_error') are not.
_MISSPELLED = 0.8


class Routine:
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

    def __init__(self) -> None:
        self._slots: dict[str, Slot] = {}
        self._events: dict[str, Event] = {}
        self._config: dict[str, Any] = {}
        self._stats: dict[str, Any] = {}
        self._stats_lock = threading.Lock()
        self._error_handler: ErrorHandler | None = None
        self._timeout: float | None = None
        self._max_concurrency: int | None = 1

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

    def get_slot(self, name: str) -> Slot:
        """Return the slot called ``name``.

        Raises:
            DefinitionError: There is no such slot; the message lists the slots.
        """
        try:
            return self._slots[name]
        except KeyError:
            raise DefinitionError(self.describe_missing("slot", name)) from None

    def get_event(self, name: str) -> Event:
        """Return the event called ``name``.

        Raises:
            DefinitionError: There is no such event; the message lists the events.
        """
        try:
            return self._events[name]
        except KeyError:
            raise DefinitionError(self.describe_missing("event", name)) from None

    def describe_missing(self, kind: str, name: object, *, label: str | None = None) -> str:
        """A sentence saying this routine has no slot or event ``name``, listing what exists."""
        names = self._slots if kind == "slot" else self._events
        listed = ", ".join(repr(n) for n in names) or "none"
        return f"{label or self._label()} has no {kind} {name!r}; defined {kind}s: {listed}."

    def _label(self) -> str:
        return f"Routine {type(self).__name__}"

    # -- emitting ---------------------------------------------------------

    def emit(self, event_name: str, **data: Any) -> None:
        """Send ``data`` to every slot connected to the event ``event_name``.

        Deliveries are scheduled, not run at once: each connected slot
        receives the data after this handler returns, in connection order.
        If the handler raises, what it emitted is discarded.

        Raises:
            ExecutionError: Called outside of a running job.
            DefinitionError: The routine has no such event.
        """
        frame = CURRENT_FRAME.get()
        if frame is None:
            raise ExecutionError(
                f"{self._label()} emitted {event_name!r} outside of a job; emit only "
                "works while a flow runs one of the routine's handlers."
            )
        frame.emit(self, event_name, data)

    def deliver_later(self, delay: float, slot: str, **data: Any) -> None:
        """Deliver ``data`` to this routine's own slot ``slot`` after ``delay`` seconds.

        A timer of the job, on the flow's clock: like an emit, it is staged
        and only scheduled when the handler returns without raising; while
        it waits it keeps the job running; a durable job keeps it in its
        store, with what is left of the delay, across a resume. There is no
        cancel: a handler that no longer wants a timer ignores it when it
        fires (keep a token in a job value, say).

        Raises:
            ExecutionError: Called outside of a running job.
            DefinitionError: The routine has no slot ``slot``, or ``delay``
                is negative.
        """
        frame = self._frame_or_raise("deliver_later")
        frame.deliver_later(self, self._check_delay(delay, "deliver_later"), slot, data)

    def on_drain(self) -> None:
        """Called when the job has nothing left to run; override to flush what is held.

        The engine calls it, as a delivery of the job, for every routine of
        the flow that overrides it, once nothing is queued, running or
        waiting on a timer. It may emit (a batcher flushes its remainder,
        say); the job then goes on, and routines are drained again once it
        is idle. The job completes after a round of drains that adds no new
        work. Failures go through the routine's error policy.
        """

    # -- per-job values ---------------------------------------------------------

    def get_job_value(self, key: str, default: Any = None) -> Any:
        """A value this routine keeps for the running job (``default`` if unset).

        Unlike attributes, stats and config, which every job of the routine
        shares, job values belong to one job: kept in its
        ``routine_states[routine_id]["values"]``, saved with a durable job.
        Like emits, values set by a handler take effect when it returns:
        if it raises, none of them is kept (the handler itself reads what it
        has set so far).

        Raises:
            ExecutionError: Called outside of a running job.
        """
        return self._frame_or_raise("get_job_value").get_value(self, key, default)

    def set_job_value(self, key: str, value: Any) -> None:
        """Set a value this routine keeps for the running job; see :meth:`get_job_value`.

        Raises:
            ExecutionError: Called outside of a running job.
            DefinitionError: ``key`` is not a string.
        """
        self._frame_or_raise("set_job_value").set_value(self, self._check_key(key), value)

    def append_job_value(self, key: str, item: Any) -> None:
        """Append ``item`` to the list this routine keeps for the running job under ``key``.

        A key that is not set becomes a new list. Takes effect when the
        handler returns, as :meth:`set_job_value` does. For collecting
        items one message at a time, prefer it to setting a longer list:
        a durable job stores each appended item as one row of its own, so
        collecting ``n`` items costs time in proportion to ``n``, where
        setting the whole list again at every item costs ``n`` squared.

        Raises:
            ExecutionError: Called outside of a running job, or the key's
                value is not a list.
            DefinitionError: ``key`` is not a string.
        """
        self._frame_or_raise("append_job_value").append_value(self, self._check_key(key), item)

    def _check_key(self, key: Any) -> str:
        if not isinstance(key, str):
            raise DefinitionError(
                f"{self._label()}: a job value's key must be a string, not {key!r}."
            )
        return key

    def set_timer(self, name: str, delay: float, slot: str, **data: Any) -> None:
        """Set the named timer ``name``: deliver ``data`` to the slot ``slot`` after ``delay``.

        Like :meth:`deliver_later`, but a routine has at most one pending
        timer of each name in a job: setting it again replaces the pending
        one, and :meth:`cancel_timer` drops it, so a timer that is no longer
        wanted does not keep the job running. Takes effect when the handler
        returns without raising.

        Raises:
            ExecutionError: Called outside of a running job.
            DefinitionError: The routine has no slot ``slot``, or ``delay``
                is negative.
        """
        frame = self._frame_or_raise("set_timer")
        frame.set_timer(self, name, self._check_delay(delay, "set_timer"), slot, data)

    def cancel_timer(self, name: str) -> None:
        """Cancel the named timer ``name`` of this routine in the running job, if set.

        Raises:
            ExecutionError: Called outside of a running job.
        """
        self._frame_or_raise("cancel_timer").cancel_timer(self, name)

    def _check_delay(self, delay: float, what: str) -> float:
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) or not delay >= 0:
            raise DefinitionError(
                f"{self._label()}: {what} needs a delay of zero or more seconds, not {delay!r}."
            )
        return float(delay)

    def _frame_or_raise(self, what: str) -> Frame:
        frame = CURRENT_FRAME.get()
        if frame is None:
            raise ExecutionError(
                f"{self._label()} called {what} outside of a job; it only works while a "
                "flow runs one of the routine's handlers."
            )
        return frame

    def get_execution_context(self) -> ExecutionContext | None:
        """The flow, job state and routine id of the running job, or ``None``."""
        frame = CURRENT_FRAME.get()
        return None if frame is None else frame.context_for(self)

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
        default a routine runs one delivery at a time, in arrival order, so
        handlers that update the routine's own attributes need no locks.
        Raise the limit (``None``: no limit) for handlers that are safe to
        overlap, typically I/O-bound or ``async def`` ones.

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
