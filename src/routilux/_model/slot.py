"""Slots: the named inputs of a routine."""

from __future__ import annotations

import inspect
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from inspect import isawaitable
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from routilux._model import flow_links, slot_calls
from routilux._model.handler_call import build_invoker
from routilux.exceptions import DefinitionError, ExecutionError

if TYPE_CHECKING:
    from routilux._model.connection import Connection
    from routilux._model.event import Event
    from routilux._model.job_state import JobState
    from routilux._model.routine import Routine

__all__ = ["MergeFunction", "Slot"]

logger = logging.getLogger("routilux")

MergeFunction = Callable[[dict[str, Any], dict[str, Any]], Mapping[str, Any]]
_Invoke = Callable[[Mapping[str, Any]], Any]
#: What a merge returns: what the handler receives, the undo, and the settle.
_Merge = tuple[Mapping[str, Any], Callable[[], None], "Callable[[], None] | None"]
_NAMED_STRATEGIES = ("override", "append")
#: In an append undo: the key held a list before the delivery.
_KEEP: Any = object()
#: In an append undo: the key was absent before the delivery.
_ABSENT: Any = object()


class Slot:
    """A named input of a routine.

    A slot merges each message it receives into its data, by its merge
    strategy, then calls its handler:

    * ``"override"``: the data becomes the message; the handler receives it.
    * ``"append"``: the data keeps, per key, the list of every value received
      in arrival order; the handler receives the message just delivered.
    * a callable ``merge(old_data, message) -> dict``: its result becomes the
      data and is what the handler receives.

    Attributes:
        name: The slot's name, unique within its routine.
        routine: The routine that owns the slot.
        handler: The function called for each message, or ``None``.
        merge_strategy: ``"override"``, ``"append"`` or a merge callable.
        is_async: Whether the handler is an ``async def`` function.
    """

    __slots__ = (
        "_data",
        "_deliver",
        "_invoke",
        "_journal",
        "_lock",
        "handler",
        "is_async",
        "merge_strategy",
        "name",
        "routine",
    )

    def __init__(
        self,
        routine: Routine,
        name: str,
        handler: Callable[..., Any] | None = None,
        merge_strategy: str | MergeFunction = "override",
    ) -> None:
        where = f"slot {name!r} of routine {type(routine).__name__}"
        if not (merge_strategy in _NAMED_STRATEGIES or callable(merge_strategy)):
            raise DefinitionError(
                f"The merge strategy of {where} must be 'override', 'append' or a callable "
                f"merge(old_data, message), not {merge_strategy!r}."
            )
        self.name = name
        self.routine = routine
        self.handler = handler
        self.merge_strategy = merge_strategy
        self._data: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.is_async = handler is not None and _is_coroutine_function(handler)
        self._invoke: _Invoke | None = None
        self._journal: deque[_Journal] = deque()
        self._deliver = self._build_deliver(where)

    @property
    def data(self) -> Mapping[str, Any]:
        """A read-only view of the slot's current data."""
        return MappingProxyType(self._data)

    def deliver(self, message: Mapping[str, Any]) -> Any:
        """Merge ``message`` into the slot and call the handler.

        If the handler of an ``"append"`` or callable merge slot raises (or,
        for an ``async def`` handler, the awaitable it returned raises or is
        cancelled), the message is taken back out of the slot's data: a
        failed delivery leaves no trace in it, so a retry merges its message
        once. An ``"override"`` slot keeps the last message delivered.

        Returns:
            What the handler returned (an awaitable for ``async def`` handlers).
        """
        return self._deliver(message)

    def deliver_reporting(
        self, message: Mapping[str, Any], merged: Callable[[Callable[[], None]], None]
    ) -> Any:
        """As :meth:`deliver`, and hand the merge's undo to ``merged`` before the call.

        For a caller that may give up on the handler (a timeout): it can
        then take the message back out of the slot while the handler runs.
        The undo does something once at most, however often it is called.
        """
        passed, undo, settle = self._merge(message)
        merged(undo)
        return _call_undoing(self._invoke, passed, undo, settle)

    def deliver_through(
        self, message: Mapping[str, Any], call: Callable[[Mapping[str, Any]], Any]
    ) -> Any:
        """As :meth:`deliver`, with ``call(passed)`` instead of the handler.

        For a strategy that runs the handler elsewhere (the Ray strategy):
        the message is merged here, ``call`` gets what the handler would,
        and the merge is undone if it raises, as for :meth:`deliver`.
        """
        passed, undo, settle = self._merge(message)
        return _call_undoing(call, passed, undo, settle)

    def reset(self) -> None:
        """Forget the data merged so far."""
        self._data = {}

    def receive(
        self, data: Mapping[str, Any] | None = None, job_state: Any = None, flow: Any = None
    ) -> JobState | None:
        """Deliver ``data`` to this slot from your own code.

        What happens depends on where it is called:

        * Inside a running handler: a delivery of ``data`` straight to this
          slot is staged in the running job, like an emit (no
          ``param_mapping`` applies); it runs after the handler returns, and
          only if the handler succeeds. Returns ``None``.
        * Outside of a job, when the routine is in one flow (or ``flow`` is
          given): a new job of that flow starts at this slot (as
          ``flow.execute(routine_id, data, entry_slot=slot.name)``), and
          ``receive`` returns its :class:`JobState` once it has ended. Error
          policies apply as in any job.
        * Outside of a job, when the routine is in no flow: ``data`` is
          merged into the slot and the handler is called in this thread.
          Its exceptions propagate, and an ``emit`` from it raises
          :class:`ExecutionError`, since there is no job to deliver to.
          Returns ``None``.

        Args:
            data: The message, a mapping with string keys.
            job_state: The running job, or ``None``.
            flow: The flow to run the job in (outside of a job), or the
                running flow (inside one), or ``None``.

        Raises:
            DefinitionError: The routine is in several flows and ``flow`` is
                not given, ``flow`` does not hold the routine, or ``data`` is
                not a mapping with string keys.
            ExecutionError: ``job_state`` or ``flow`` is not the running one.
        """
        job: JobState | None = slot_calls.receive(self, data, job_state, flow)
        return job

    def call_handler(
        self, data: Mapping[str, Any] | None = None, propagate_exceptions: bool = False
    ) -> Any:
        """Merge ``data`` into this slot and call its handler now, in this thread.

        No job is started: inside a running handler, the call belongs to
        that handler's delivery (what it emits is staged with it); outside
        of a job, an ``emit`` from the handler raises :class:`ExecutionError`.

        Args:
            data: The message, a mapping with string keys.
            propagate_exceptions: Re-raise what the handler raises, with the
                message taken back out of the slot's data. Otherwise the
                failure is logged on the ``routilux`` logger and ``None`` is
                returned.

        Returns:
            What the handler returned (awaited, for an ``async def`` one).
        """
        return slot_calls.call_handler(self, data, propagate_exceptions)

    # -- wiring through the routine's flow ----------------------------------------

    def connect(self, event: Event, param_mapping: Mapping[str, str] | None = None) -> Connection:
        """Connect ``event`` to this slot: ``event.connect(slot, param_mapping)``.

        Returns:
            The new connection, one of the common flow's ``connections``.

        Raises:
            DefinitionError: ``event`` is not an Event, no flow or several
                flows hold both routines, or the flow refuses the connection.
        """
        return flow_links.connect(event, self, param_mapping)

    def disconnect(self, event: Event) -> Connection:
        """Remove the connection of ``event`` to this slot: ``event.disconnect(slot)``.

        Returns:
            The connection removed.

        Raises:
            DefinitionError: ``event`` is not an Event, no flow or several
                flows hold both routines, or the flow has no such connection.
        """
        return flow_links.disconnect(event, self)

    @property
    def connected_events(self) -> tuple[Event, ...]:
        """The events connected to this slot, read from its routine's flow.

        A tuple, in the order the connections were made, read afresh at each
        access. Empty when the routine is in no flow.

        Raises:
            DefinitionError: The routine is in several flows; read
                ``flow.connections`` of the one you mean.
        """
        return flow_links.connected_events(self)

    # -- merging ------------------------------------------------------------------
    #
    # Each merge returns what the handler receives, an undo, which takes the
    # message back out of the data, and what to call once the handler has
    # succeeded (or None). A handler may set ``slot._data`` itself (as an
    # aggregator resets it after a batch): what it set stays.

    def _merge(self, message: Mapping[str, Any]) -> _Merge:
        strategy = self.merge_strategy
        if strategy == "override":
            return (*self._merge_override(message), None)
        if strategy == "append":
            return (*self._merge_append(message), None)
        return self._merge_callable(message)

    def _merge_override(
        self, message: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], Callable[[], None]]:
        # A copy: one message object is shared by every slot it fans out to
        # and by the job's history, and ``slot._data`` is the routine's own
        # to change in place. Nothing to undo: see _override_then.
        self._data = dict(message)
        return message, _nothing

    def _merge_append(
        self, message: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], Callable[[], None]]:
        added: list[tuple[str, list[Any], Any, Any]] = []
        with self._lock:
            data = self._data
            for key, value in message.items():
                values = data.get(key)
                if type(values) is list:
                    values.append(value)
                    added.append((key, values, value, _KEEP))
                else:
                    # A value put there by hand starts the list, so nothing is lost.
                    new = data[key] = [value] if values is None else [values, value]
                    added.append((key, new, value, _ABSENT if values is None else values))

        def undo() -> None:
            with self._lock:
                if self._data is data:
                    for key, values, value, before in reversed(added):
                        _take_back(data, key, values, value, before)

        return message, _once(undo)

    def _merge_callable(self, message: Mapping[str, Any]) -> _Merge:
        # Every merge not yet settled is kept in the journal, with the data
        # before and after it: when deliveries run in parallel, a failed one
        # may have later merges on top of it, which are then merged again
        # without it (see _unmerge).
        with self._lock:
            previous = self._data
            merged = self._apply_merge(previous, message)
            data = self._data = dict(merged)
            entry = _Journal(dict(message), previous, data)
            self._journal.append(entry)
        return merged, _once(lambda: self._unmerge(entry)), lambda: self._settle(entry)

    def _apply_merge(self, data: dict[str, Any], message: Mapping[str, Any]) -> Mapping[str, Any]:
        merge = self.merge_strategy
        assert callable(merge)  # Checked in __init__.
        merged = merge(dict(data), dict(message))
        if not isinstance(merged, Mapping):
            raise ExecutionError(
                f"The merge function of {self._where()} returned {type(merged).__name__}; "
                "it must return a dict."
            )
        return merged

    def _settle(self, entry: _Journal) -> None:
        """The handler of ``entry``'s delivery succeeded: its merge stays."""
        with self._lock:
            entry.settled = True
            journal = self._journal
            while journal and journal[0].settled:
                journal.popleft()

    def _unmerge(self, entry: _Journal) -> None:
        """Take a failed delivery's message back out of a callable merge's data.

        The merges made since are done again, in order, from the data before
        it; the data becomes their result, unless a handler replaced it.
        """
        with self._lock:
            journal = self._journal
            at = next((i for i, e in enumerate(journal) if e is entry), None)
            if at is None:
                return
            ours = self._data is journal[-1].after
            later = list(journal)[at + 1 :]
            del journal[at]
            data = entry.before
            try:
                for merged in later:
                    merged.before = data
                    data = merged.after = dict(self._apply_merge(data, merged.message))
            except Exception:  # The merge function refuses now: keep the data as it is.
                logger.exception(
                    "The merge function of %s failed while taking a failed delivery's "
                    "message back out; the slot's data keeps it",
                    self._where(),
                )
                return
            if ours:
                self._data = data
            while journal and journal[0].settled:
                journal.popleft()

    # -- the delivery function ---------------------------------------------------

    def _build_deliver(self, where: str) -> _Invoke:
        invoke = (
            build_invoker(self.handler, where=where, slot_name=self.name) if self.handler else None
        )
        self._invoke = invoke
        if self.merge_strategy == "override":
            return self._override_then(invoke)
        merge = self._merge

        def deliver(message: Mapping[str, Any]) -> Any:
            passed, undo, settle = merge(message)
            return _call_undoing(invoke, passed, undo, settle)

        return deliver

    def _override_then(self, invoke: _Invoke | None) -> _Invoke:
        # The common case, on the engine's hot path. The data is the last
        # message delivered, whether its handler succeeds or not: a retry
        # delivers the same message again, so nothing is counted twice, and
        # there is nothing to undo.
        handler = getattr(invoke, "passes_every_key_to", None)
        if handler is not None:
            # No invoker in between: one call fewer.
            def deliver_keys(message: Mapping[str, Any]) -> Any:
                self._data = dict(message)  # A copy, as in _merge_override.
                return handler(**message)

            return deliver_keys

        def deliver(message: Mapping[str, Any]) -> Any:
            self._data = dict(message)
            return invoke(message) if invoke else None

        return deliver

    def _where(self) -> str:
        return f"slot {self.name!r} of routine {type(self.routine).__name__}"

    def __repr__(self) -> str:
        return f"<Slot {self.name!r} of {type(self.routine).__name__}>"


def _is_coroutine_function(handler: Callable[..., Any]) -> bool:
    call = getattr(handler, "__call__", None)  # noqa: B004 - an object with an async __call__
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)


def _nothing() -> None:
    """The undo of a merge that leaves nothing to undo."""


def _once(undo: Callable[[], None]) -> Callable[[], None]:
    """``undo``, made to run once at most however often it is called."""
    pending = [undo]

    def run() -> None:
        if pending:
            pending.pop()()

    return run


def _call_undoing(
    invoke: _Invoke | None,
    passed: Mapping[str, Any],
    undo: Callable[[], None],
    settle: Callable[[], None] | None = None,
) -> Any:
    """Call the handler with ``passed``; ``undo`` the merge if it fails, ``settle`` if not."""
    try:
        result = None if invoke is None else invoke(passed)
    except BaseException:
        undo()
        raise
    if result is not None and isawaitable(result):
        return _undo_if_raises(result, undo, settle)
    if settle is not None:
        settle()
    return result


async def _undo_if_raises(
    awaitable: Awaitable[Any], undo: Callable[[], None], settle: Callable[[], None] | None = None
) -> Any:
    try:
        result = await awaitable
    except BaseException:  # A failure or a cancellation: the delivery did not happen.
        undo()
        raise
    if settle is not None:
        settle()
    return result


class _Journal:
    """A merge of a callable merge slot, until its handler has succeeded."""

    __slots__ = ("after", "before", "message", "settled")

    def __init__(self, message: dict[str, Any], before: dict[str, Any], after: dict[str, Any]):
        self.message = message
        self.before = before
        self.after = after
        self.settled = False


def _take_back(data: dict[str, Any], key: str, values: list[Any], value: Any, before: Any) -> None:
    """Take ``value`` back out of the list ``values`` the append put it in at ``key``."""
    if data.get(key) is not values:
        return  # The handler replaced the list: what it set stays.
    for i in range(len(values) - 1, -1, -1):
        if values[i] is value:
            del values[i]
            break
    if before is _KEEP:
        return
    if before is _ABSENT:
        if not values:
            del data[key]
    elif len(values) == 1 and values[0] is before:
        data[key] = before
