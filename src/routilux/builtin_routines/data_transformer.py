"""DataTransformer: apply a chain of named or custom transformations to each message."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
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

ON_ERROR = ("continue", "fail", "skip", "stop")
#: A transformation of a message's own chain that cannot run: its error text.
_Broken = str


class _Step:
    """One compiled transformation: where it is configured, its name and its function."""

    __slots__ = ("apply", "field", "index", "name", "where")

    def __init__(
        self,
        where: str,
        index: int,
        field: str | None,
        spec: Any,
        custom: Mapping[str, Callable[[Any], Any]],
    ) -> None:
        self.where, self.index, self.field = where, index, field
        if isinstance(spec, str):
            found = custom.get(spec)
            if found is None:
                try:
                    found = make_builtin(spec)
                except ValueError as exc:
                    raise DefinitionError(f"DataTransformer {where}: {exc}.") from None
            self.apply: Callable[[Any], Any] = found
            self.name = spec
        elif callable(spec):
            refuse_async(spec, f"DataTransformer {where}")
            self.apply = spec
            self.name = getattr(spec, "__name__", "custom")
        else:
            raise DefinitionError(
                f"DataTransformer {where} must be the name of a transformation or a "
                f"module-level function, not {type(spec).__name__}."
            )

    @property
    def label(self) -> str:
        """The step's name in ``transformation_applied`` and in error texts."""
        return self.name if self.field is None else f"{self.field}:{self.name}"

    def describe(self) -> dict[str, Any]:
        return {"index": self.index, "transformation": self.name, "field": self.field}


class _Run:
    """What one message's chains did: the names applied and the errors."""

    def __init__(self, original: Any) -> None:
        self.original = original
        self.applied: list[str] = []
        self.errors: list[str] = []
        self.stopped = False


class DataTransformer(Routine):
    """Apply a chain of transformations to each message's data, or to some of its fields.

    Slot ``input`` takes the message's data as the published routines do
    (:meth:`Routine._extract_input_data`: ``data``, else the only value,
    else the whole message); a ``transformations`` list in the message, if
    not empty, replaces the configured chain for that message. The chain
    runs in order on the whole data; then, for each entry of ``fields``,
    its chain runs on the value at that dotted path (``"price"``,
    ``"order.total"``, ``"items.0.name"``), which requires the data to be a
    dict. A field the data lacks is left out silently. The input is never
    modified: changed dicts and lists are copies.

    A transformation is a name of ``transformation_map``, the name of a
    built-in (the published ``lowercase``, ``uppercase``,
    ``strip_whitespace``, ``to_string``, ``to_int``, ``to_float``,
    ``remove_none``, and ours: ``strip``, ``lower``, ``upper``, ``title``,
    ``to_str``, ``to_bool``, ``round`` or ``round:N``, ``json_loads``,
    ``json_dumps``, ``flatten``, ``sort``, ``unique``, ``split`` or
    ``split:SEP``, ``join`` or ``join:SEP``; see
    ``docs/builtins/data-transformer.md``) or a callable
    ``f(value) -> new_value``. Callables must be module-level functions for
    the flow to be serializable.

    Events:
        output: ``transformed_data``, ``transformation_applied`` (the names
            of the steps that ran, a callable by its ``__name__``; a field's
            step as ``"field:name"``) and ``errors`` (a list of texts such
            as ``"Error applying to_int: ..."``, or ``None``).
        error: ``data`` (the data the routine received), ``step`` (a dict:
            ``index``, ``transformation``, ``field`` - ``None`` for the whole
            data) and ``error`` (``"ExceptionType: message"``); emitted only
            when ``on_error`` is ``"skip"`` or ``"stop"``.

    Config keys:
        transformations: The chain applied to the whole data (default ``[]``).
        transformation_map: Transformations of your own, ``{name:
            function}`` (default ``{}``); a name here wins over a built-in.
        chain_transformations: Accepted for compatibility with the published
            routine, which never reads it; steps always run in order.
        fields: ``{dotted_path: chain}``, applied after ``transformations``,
            in order (default ``{}``).
        on_error: What a failing step does. ``"continue"`` (default, as
            published): add its error text to ``errors``, keep the value as
            it was before that step and go on with the next step.
            ``"fail"``: the delivery fails with an ``ExecutionError`` naming
            the step (e.g. ``fields['price'][0] ('to_float')``), and the
            routine's error policy applies. ``"skip"``: emit ``error``,
            keep the value as it was, skip the rest of its chain (whose
            steps expect that step's result) and go on with the next
            field; the output is emitted. ``"stop"``: emit ``error`` and
            nothing else for this message. Data that is not a dict when
            ``fields`` are set fails the delivery whatever ``on_error`` says.

    Raises:
        DefinitionError: From ``set_config``: an unknown name or a bad
            parameter (``round:x``), a step that is neither a string nor a
            callable, a bad field path, an unknown ``on_error``.
    """

    config_keys = (
        "transformations",
        "transformation_map",
        "chain_transformations",
        "fields",
        "on_error",
    )

    def __init__(self) -> None:
        super().__init__()
        self._chain: list[_Step] = []
        self._fields: list[tuple[str, tuple[str, ...], list[_Step]]] = []
        self.input_slot = self.define_slot("input", handler=self.process)
        self.define_event("output", ["transformed_data", "transformation_applied", "errors"])
        self.define_event("error", ["data", "step", "error"])
        self.set_config(
            transformations=[],
            transformation_map={},
            chain_transformations=True,
            fields={},
            on_error="continue",
        )

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check and compile the chains; see the class docstring for the keys."""
        on_error = config.get("on_error", "continue")
        if on_error not in ON_ERROR:
            raise DefinitionError(
                f"DataTransformer on_error must be 'continue', 'fail', 'skip' or 'stop', "
                f"not {on_error!r}."
            )
        if not isinstance(config.get("chain_transformations", True), bool):
            raise DefinitionError(
                f"DataTransformer chain_transformations must be True or False, "
                f"not {config.get('chain_transformations')!r}."
            )
        custom = _check_map(config.get("transformation_map", {}))
        chain = _compile_chain(config.get("transformations", []), "transformations", None, custom)
        fields = config.get("fields", {})
        if not isinstance(fields, Mapping):
            raise DefinitionError(
                f"DataTransformer fields must be a dict of field path -> list of "
                f"transformations, not {type(fields).__name__}."
            )
        compiled = [
            (
                field,
                _parse_field(field),
                _compile_chain(steps, f"fields[{field!r}]", field, custom),
            )
            for field, steps in fields.items()
        ]
        self._chain, self._fields = chain, compiled

    def register_transformation(self, name: str, func: Callable[[Any], Any]) -> None:
        """Add ``func`` to ``transformation_map`` under ``name``.

        Raises:
            DefinitionError: ``name`` is not a non-empty str or ``func`` is
                not a plain function.
        """
        self.set_config(transformation_map={**self.get_config("transformation_map"), name: func})

    def process(self, data: Any = None, transformations: Any = None, **kwargs: Any) -> None:
        """Emit ``output`` with the transformed data (or ``error``; see ``on_error``)."""
        run = _Run(self._extract_input_data(data, **kwargs))
        chain = self._message_chain(transformations) if transformations else self._chain
        value = self._run(run.original, chain, run)
        if run.stopped:
            return
        if self._fields:
            if not isinstance(value, Mapping):
                raise ExecutionError(
                    f"DataTransformer has fields to transform, so it expects data to be a "
                    f"dict, not {type(value).__name__}."
                )
            fields = self._run_fields(dict(value), run)
            if fields is None:
                return
            value = fields
        self.emit(
            "output",
            transformed_data=value,
            transformation_applied=run.applied,
            errors=run.errors or None,
        )

    def _message_chain(self, specs: Any) -> list[_Step | _Broken]:
        """A message's own chain: what cannot run becomes an error text, as published."""
        if isinstance(specs, (str, bytes)) or not isinstance(specs, (list, tuple)):
            specs = [specs]
        custom = self.get_config("transformation_map")
        chain: list[_Step | _Broken] = []
        for index, spec in enumerate(specs):
            try:
                chain.append(_Step(f"transformations[{index}]", index, None, spec, custom))
            except DefinitionError:  # noqa: PERF203 - each entry's failure is its own error text
                kind = "Unknown" if isinstance(spec, str) else "Invalid"
                chain.append(f"{kind} transformation: {spec}")
        return chain

    def _run_fields(self, result: dict[str, Any], run: _Run) -> dict[str, Any] | None:
        """Run the chains of ``fields``; ``None`` when ``on_error="stop"`` stopped them."""
        owned = {id(result)}
        for field, path, steps in self._fields:
            value = get_path(result, path)
            if value is MISSING:
                continue
            value = self._run(value, steps, run)
            if run.stopped:
                return None
            try:
                set_path(result, path, value, owned)
            except PathError as exc:
                raise ExecutionError(
                    f"DataTransformer cannot write the field {field!r}: {exc}."
                ) from exc
        return result

    def _run(self, value: Any, steps: Sequence[_Step | _Broken], run: _Run) -> Any:
        """Run a chain on ``value``, recording in ``run``; see ``on_error``."""
        for step in steps:
            if isinstance(step, str):
                run.errors.append(step)
                continue
            try:
                value = step.apply(value)
            except Exception as exc:  # A user function or a bad value: report the step.
                if not self._failed(step, exc, run):
                    # The rest of the chain is skipped: its steps expect this one's result.
                    return value
                continue
            run.applied.append(step.label)
        return value

    def _failed(self, step: _Step, exc: Exception, run: _Run) -> bool:
        """Apply ``on_error`` to a failed step; return whether its chain goes on."""
        on_error = self.get_config("on_error")
        target = "" if step.field is None else f" to the field {step.field!r}"
        run.errors.append(f"Error applying {step.name}{target}: {exc}")
        if on_error == "continue":
            return True
        text = f"{type(exc).__name__}: {exc}"
        if on_error == "fail":
            what = "the data" if step.field is None else f"the field {step.field!r}"
            raise ExecutionError(
                f"DataTransformer step {step.where} ({step.name!r}) failed on {what}: {text}"
            ) from exc
        logger.warning("DataTransformer step %s (%r) failed: %s", step.where, step.name, text)
        self.emit("error", data=run.original, step=step.describe(), error=text)
        run.stopped = on_error == "stop"
        return False


def _check_map(custom: Any) -> dict[str, Callable[[Any], Any]]:
    if not isinstance(custom, Mapping):
        raise DefinitionError(
            f"DataTransformer transformation_map must be a dict of name -> function, "
            f"not {type(custom).__name__}."
        )
    for name, function in custom.items():
        if not isinstance(name, str) or not name or not callable(function):
            raise DefinitionError(
                f"DataTransformer transformation_map must map non-empty names to functions; "
                f"{name!r} maps to {type(function).__name__}."
            )
        refuse_async(function, f"DataTransformer transformation_map[{name!r}]")
    return dict(custom)


def _compile_chain(
    steps: Any, where: str, field: str | None, custom: Mapping[str, Callable[[Any], Any]]
) -> list[_Step]:
    if isinstance(steps, (str, bytes)) or not isinstance(steps, (list, tuple)):
        raise DefinitionError(
            f"DataTransformer {where} must be a list of transformations, "
            f"not {type(steps).__name__}; built-ins: {', '.join(BUILTINS)}."
        )
    return [_Step(f"{where}[{i}]", i, field, spec, custom) for i, spec in enumerate(steps)]


def _parse_field(field: Any) -> tuple[str, ...]:
    try:
        return parse_path(field)
    except PathError as exc:
        raise DefinitionError(
            f"DataTransformer fields has a bad field path {field!r}: {exc}; expected "
            "segments joined by '.', such as 'price' or 'order.total'."
        ) from exc
