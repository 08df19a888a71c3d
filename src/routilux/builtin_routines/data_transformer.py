"""DataTransformer: apply a chain of named or custom transformations to each message."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from routilux import DefinitionError, ExecutionError, Routine
from routilux.builtin_routines._callables import refuse_async
from routilux.builtin_routines._data_paths import (
    MISSING,
    PathError,
    get_path,
    parse_path,
    set_path,
)
from routilux.builtin_routines._transformations import BUILTINS, make_builtin

__all__ = ["DataTransformer"]

logger = logging.getLogger("routilux")

_NO_DATA: Any = object()
ON_ERROR = ("fail", "skip", "stop")


class _Step:
    """One compiled transformation: where it is configured, its name and its function."""

    __slots__ = ("apply", "field", "index", "name", "where")

    def __init__(self, where: str, index: int, field: str | None, spec: Any) -> None:
        self.where, self.index, self.field = where, index, field
        if isinstance(spec, str):
            try:
                self.apply: Callable[[Any], Any] = make_builtin(spec)
            except ValueError as exc:
                raise DefinitionError(f"DataTransformer {where}: {exc}.") from None
            self.name = spec
        elif callable(spec):
            refuse_async(spec, f"DataTransformer {where}")
            self.apply = spec
            self.name = getattr(spec, "__qualname__", type(spec).__name__)
        else:
            raise DefinitionError(
                f"DataTransformer {where} must be the name of a built-in transformation or a "
                f"module-level function, not {type(spec).__name__}."
            )

    def describe(self) -> dict[str, Any]:
        return {"index": self.index, "transformation": self.name, "field": self.field}


class DataTransformer(Routine):
    """Apply a chain of transformations to each message's data, or to some of its fields.

    Slot ``input`` receives ``data`` (or, without a ``data`` key, the whole
    message). The ``transformations`` run in order on the whole data; then,
    for each entry of ``fields``, its chain runs on the value at that dotted
    path (``"price"``, ``"order.total"``, ``"items.0.name"``), which
    requires the data to be a dict. A field the data lacks is left out
    silently. The input is never modified: changed dicts and lists are
    copies.

    A transformation is the name of a built-in (``strip``, ``lower``,
    ``upper``, ``title``, ``to_int``, ``to_float``, ``to_str``, ``to_bool``,
    ``round`` or ``round:N``, ``json_loads``, ``json_dumps``, ``flatten``,
    ``sort``, ``unique``, ``remove_none``, ``split`` or ``split:SEP``,
    ``join`` or ``join:SEP``; see ``docs/builtins/data-transformer.md``) or a
    callable ``f(value) -> new_value``. Callables must be module-level
    functions for the flow to be serializable.

    Events:
        output: ``data`` - the transformed data.
        error: ``data`` (the data the routine received), ``step`` (a dict:
            ``index``, ``transformation``, ``field`` - ``None`` for the whole
            data) and ``error`` (``"ExceptionType: message"``); emitted only
            when ``on_error`` is ``"skip"`` or ``"stop"``.

    Config keys:
        transformations: The chain applied to the whole data (default ``[]``).
        fields: ``{dotted_path: chain}``, applied after ``transformations``,
            in order (default ``{}``).
        on_error: What a failing step does. ``"fail"`` (default): the
            delivery fails with an ``ExecutionError`` naming the step (e.g.
            ``fields['price'][0] ('to_float')``), and the routine's error
            policy applies. ``"skip"``: emit ``error``, keep the value as it
            was before that step, skip the rest of its chain (whose steps
            expect that step's result) and go on with the next field; the
            output is emitted. ``"stop"``: emit ``error`` and nothing else
            for this message. Data that is not a dict when ``fields`` are
            set fails the delivery whatever ``on_error`` says.

    Raises:
        DefinitionError: From ``set_config``: an unknown built-in name or a
            bad parameter (``round:x``), a step that is neither a string nor
            a callable, a bad field path, an unknown ``on_error``.
    """

    config_keys = ("transformations", "fields", "on_error")

    def __init__(self) -> None:
        super().__init__()
        self._chain: list[_Step] = []
        self._fields: list[tuple[str, tuple[str, ...], list[_Step]]] = []
        self.input_slot = self.define_slot("input", handler=self.process)
        self.define_event("output", ["data"])
        self.define_event("error", ["data", "step", "error"])
        self.set_config(transformations=[], fields={}, on_error="fail")

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check and compile the chains; see the class docstring for the keys."""
        on_error = config.get("on_error", "fail")
        if on_error not in ON_ERROR:
            raise DefinitionError(
                f"DataTransformer on_error must be 'fail', 'skip' or 'stop', not {on_error!r}."
            )
        chain = _compile_chain(config.get("transformations", []), "transformations", None)
        fields = config.get("fields", {})
        if not isinstance(fields, Mapping):
            raise DefinitionError(
                f"DataTransformer fields must be a dict of field path -> list of "
                f"transformations, not {type(fields).__name__}."
            )
        compiled = [
            (field, _parse_field(field), _compile_chain(steps, f"fields[{field!r}]", field))
            for field, steps in fields.items()
        ]
        self._chain, self._fields = chain, compiled

    def process(self, data: Any = _NO_DATA, **kwargs: Any) -> None:
        """Emit ``output`` with the transformed data (or ``error``; see ``on_error``)."""
        original = kwargs if data is _NO_DATA else data
        chain, fields = self._chain, self._fields
        value, stopped = self._run(original, chain, original)
        if stopped:
            return
        if fields:
            if not isinstance(value, Mapping):
                raise ExecutionError(
                    f"DataTransformer has fields to transform, so it expects data to be a "
                    f"dict, not {type(value).__name__}."
                )
            value, stopped = self._run_fields(dict(value), fields, original)
            if stopped:
                return
        self.emit("output", data=value)

    def _run_fields(
        self,
        result: dict[str, Any],
        fields: list[tuple[str, tuple[str, ...], list[_Step]]],
        original: Any,
    ) -> tuple[Any, bool]:
        owned = {id(result)}
        for field, path, steps in fields:
            value = get_path(result, path)
            if value is MISSING:
                continue
            value, stopped = self._run(value, steps, original)
            if stopped:
                return result, True
            try:
                set_path(result, path, value, owned)
            except PathError as exc:
                raise ExecutionError(
                    f"DataTransformer cannot write the field {field!r}: {exc}."
                ) from exc
        return result, False

    def _run(self, value: Any, steps: list[_Step], original: Any) -> tuple[Any, bool]:
        """Run a chain; return the value and whether the message must stop (``"stop"``)."""
        index = 0
        try:
            for index in range(len(steps)):
                value = steps[index].apply(value)
        except Exception as exc:  # A user function or a bad value: report the step.
            # The rest of the chain is skipped: its steps expect this one's result.
            return value, self._failed(steps[index], exc, original)
        return value, False

    def _failed(self, step: _Step, exc: Exception, original: Any) -> bool:
        """Apply ``on_error`` to a failed step; return whether the message must stop."""
        on_error = self.get_config("on_error")
        text = f"{type(exc).__name__}: {exc}"
        if on_error == "fail":
            target = "the data" if step.field is None else f"the field {step.field!r}"
            raise ExecutionError(
                f"DataTransformer step {step.where} ({step.name!r}) failed on {target}: {text}"
            ) from exc
        logger.warning("DataTransformer step %s (%r) failed: %s", step.where, step.name, text)
        self.emit("error", data=original, step=step.describe(), error=text)
        return bool(on_error == "stop")


def _compile_chain(steps: Any, where: str, field: str | None) -> list[_Step]:
    if isinstance(steps, (str, bytes)) or not isinstance(steps, (list, tuple)):
        raise DefinitionError(
            f"DataTransformer {where} must be a list of transformations, "
            f"not {type(steps).__name__}; built-ins: {', '.join(BUILTINS)}."
        )
    return [_Step(f"{where}[{i}]", i, field, spec) for i, spec in enumerate(steps)]


def _parse_field(field: Any) -> tuple[str, ...]:
    try:
        return parse_path(field)
    except PathError as exc:
        raise DefinitionError(
            f"DataTransformer fields has a bad field path {field!r}: {exc}; expected "
            "segments joined by '.', such as 'price' or 'order.total'."
        ) from exc
