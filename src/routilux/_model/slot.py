"""Slots: the named inputs of a routine."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from routilux._model.handler_call import build_invoker
from routilux.exceptions import DefinitionError, ExecutionError

if TYPE_CHECKING:
    from routilux._model.routine import Routine

__all__ = ["MergeFunction", "Slot"]

MergeFunction = Callable[[dict[str, Any], dict[str, Any]], Mapping[str, Any]]
_Invoke = Callable[[Mapping[str, Any]], Any]
_NAMED_STRATEGIES = ("override", "append")


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
        self._deliver = self._build_deliver(where)
        self.is_async = handler is not None and _is_coroutine_function(handler)

    @property
    def data(self) -> Mapping[str, Any]:
        """A read-only view of the slot's current data."""
        return MappingProxyType(self._data)

    def deliver(self, message: Mapping[str, Any]) -> Any:
        """Merge ``message`` into the slot and call the handler.

        Returns:
            What the handler returned (an awaitable for ``async def`` handlers).
        """
        return self._deliver(message)

    def reset(self) -> None:
        """Forget the data merged so far."""
        self._data = {}

    def _build_deliver(self, where: str) -> _Invoke:
        invoke = (
            build_invoker(self.handler, where=where, slot_name=self.name) if self.handler else None
        )
        strategy = self.merge_strategy
        if strategy == "override":
            return self._override_then(invoke)
        if strategy == "append":
            return self._append_then(invoke)
        assert callable(strategy)  # Checked in __init__.
        return self._merge_then(invoke, strategy, where)

    def _override_then(self, invoke: _Invoke | None) -> _Invoke:
        handler = getattr(invoke, "passes_every_key_to", None)
        if handler is not None:
            # The common case, on the engine's hot path: no invoker in between.
            def deliver_keys(message: Mapping[str, Any]) -> Any:
                # A copy, as below.
                self._data = dict(message)
                return handler(**message)

            return deliver_keys

        def deliver(message: Mapping[str, Any]) -> Any:
            # A copy: one message object is shared by every slot it fans out
            # to and by the job's history, and ``slot._data`` is the
            # routine's own to change in place.
            self._data = dict(message)
            return invoke(message) if invoke else None

        return deliver

    def _append_then(self, invoke: _Invoke | None) -> _Invoke:
        def deliver(message: Mapping[str, Any]) -> Any:
            with self._lock:
                data = self._data
                for key, value in message.items():
                    values = data.get(key)
                    if type(values) is list:
                        values.append(value)
                    else:
                        # A value put there by hand starts the list, so nothing is lost.
                        data[key] = [value] if values is None else [values, value]
            return invoke(message) if invoke else None

        return deliver

    def _merge_then(
        self,
        invoke: _Invoke | None,
        merge: MergeFunction,
        where: str,
    ) -> _Invoke:
        def deliver(message: Mapping[str, Any]) -> Any:
            with self._lock:
                merged = merge(dict(self._data), dict(message))
                if not isinstance(merged, Mapping):
                    raise ExecutionError(
                        f"The merge function of {where} returned {type(merged).__name__}; "
                        "it must return a dict."
                    )
                self._data = dict(merged)
            return invoke(merged) if invoke else None

        return deliver

    def __repr__(self) -> str:
        return f"<Slot {self.name!r} of {type(self.routine).__name__}>"


def _is_coroutine_function(handler: Callable[..., Any]) -> bool:
    call = getattr(handler, "__call__", None)  # noqa: B004 - an object with an async __call__
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)
