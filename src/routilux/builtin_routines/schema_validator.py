"""SchemaValidator: check each message against a pydantic model or a JSON Schema."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from routilux import DefinitionError, ExecutionError, Routine
from routilux.builtin_routines._patterns import compile_bounded

__all__ = ["SchemaValidator"]

_NO_DATA: Any = object()
#: Checks one value: returns the data to emit on ``valid`` and the errors.
_Checker = Callable[[Any], tuple[Any, list[dict[str, str]]]]


class SchemaValidator(Routine):
    """Check each message against a pydantic model or a JSON Schema.

    Slot ``input`` receives ``data`` (or, without a ``data`` key, the whole
    message). Exactly one of the config keys ``model`` and ``schema`` must be
    set before a job starts.

    * ``model``: a pydantic (v2) model class, at module level so that the
      flow can be serialized. The data is checked with
      ``model.model_validate(data)``, which converts it the way the model
      says (pydantic's lax mode, unless the model is configured strict);
      ``valid`` carries ``instance.model_dump()``. Needs the optional
      ``pydantic`` extra (installed from a clone: see the README).
    * ``schema``: a JSON Schema, as a dict. It is checked against its
      metaschema at ``set_config`` (the draft its ``$schema`` names, else
      the latest one the ``jsonschema`` package knows); ``valid`` carries
      the data unchanged. ``format`` is not asserted and remote ``$ref``
      are not fetched. A ``pattern`` that repeats a repetition
      (``(a+)+$``) is refused, as DataValidator refuses it. Needs the
      optional ``jsonschema`` extra.

    Events:
        valid: ``data`` - the data (for a model, its ``model_dump()``).
        invalid: ``data`` (as received) and ``errors``: a list of
            ``{"path", "message"}`` dicts, where ``path`` is the place of the
            error in the data, its keys and indexes joined by ``.``
            (``"items.0.sku"``; ``""`` for the data itself).

    Config keys:
        model: A pydantic model class, or ``None`` (default).
        schema: A JSON Schema dict, or ``None`` (default).

    Stats ``valid`` and ``invalid`` count the messages of each kind.

    Invalid data goes to ``invalid``; the delivery fails (under the error
    policy) with an ``ExecutionError`` only when the check itself breaks: a
    model validator raising an exception pydantic does not catch, or a
    ``$ref`` that cannot be resolved.

    Raises:
        DefinitionError: From ``set_config``: both keys set, a ``model`` that
            is not a pydantic model class, a ``schema`` that is not a valid
            JSON Schema, or the package it needs is missing (the message
            names the ``pip install`` command). Before a job starts: neither
            key set.
    """

    config_keys = ("model", "schema")

    def __init__(self) -> None:
        super().__init__()
        self._checker: _Checker | None = None
        self.input_slot = self.define_slot("input", handler=self.process)
        self.define_event("valid", ["data"])
        self.define_event("invalid", ["data", "errors"])
        self.set_config(model=None, schema=None)

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check the model or schema and prepare the checker; see the class docstring."""
        model, schema = config.get("model"), config.get("schema")
        if model is not None and schema is not None:
            raise DefinitionError(
                "SchemaValidator takes a model or a schema, not both; set the other to None."
            )
        if model is not None:
            self._checker = _model_checker(model)
        elif schema is not None:
            self._checker = _schema_checker(schema)
        else:
            self._checker = None

    def check_definition(self) -> None:
        """Check that a model or a schema is set."""
        if self._checker is None:
            raise DefinitionError(
                "SchemaValidator has neither a model nor a schema; set one with "
                "set_config(model=YourModel) or set_config(schema={...})."
            )

    def process(self, data: Any = _NO_DATA, **kwargs: Any) -> None:
        """Emit ``valid`` with the data, or ``invalid`` with the errors."""
        message = kwargs if data is _NO_DATA else data
        checker = self._checker
        if checker is None:
            raise ExecutionError("SchemaValidator has neither a model nor a schema.")
        try:
            result, errors = checker(message)
        except Exception as exc:  # A model's own validator, or an unresolvable $ref.
            raise ExecutionError(
                f"SchemaValidator could not check the data: {type(exc).__name__}: {exc}"
            ) from exc
        if errors:
            self.increment_stat("invalid")
            self.emit("invalid", data=message, errors=errors)
        else:
            self.increment_stat("valid")
            self.emit("valid", data=result)


def _require(package: str, key: str) -> ModuleType:
    # Plain import statements, one per optional package: nothing is imported by a
    # name that comes from anywhere else.
    try:
        if package == "pydantic":
            import pydantic

            return pydantic
        import jsonschema  # type: ignore[import-untyped]  # jsonschema ships no type hints.

        module: ModuleType = jsonschema
        return module
    except ImportError as exc:
        raise DefinitionError(
            f"SchemaValidator needs the {package} package for its {key!r} config key; "
            f"install the {package} extra from a clone of routilux: "
            f'pip install -e "/path/to/routilux[{package}]"'
        ) from exc


def _path(parts: Iterable[Any]) -> str:
    return ".".join(str(part) for part in parts)


def _model_checker(model: Any) -> _Checker:
    pydantic = _require("pydantic", "model")
    if not (
        isinstance(model, type)
        and issubclass(model, pydantic.BaseModel)
        and hasattr(model, "model_validate")
    ):
        raise DefinitionError(
            f"SchemaValidator model must be a pydantic (v2) model class, a subclass of "
            f"pydantic.BaseModel, not {model!r}."
        )
    validation_error: type[Exception] = pydantic.ValidationError

    def check(data: Any) -> tuple[Any, list[dict[str, str]]]:
        try:
            instance = model.model_validate(data)
        except validation_error as exc:
            failure: Any = exc  # A pydantic.ValidationError, imported lazily.
            errors = failure.errors()
            return None, [{"path": _path(e["loc"]), "message": e["msg"]} for e in errors]
        return instance.model_dump(), []

    return check


def _schema_checker(schema: Any) -> _Checker:
    jsonschema = _require("jsonschema", "schema")
    if not isinstance(schema, Mapping):
        raise DefinitionError(
            f"SchemaValidator schema must be a JSON Schema dict, not {type(schema).__name__}."
        )
    validators = jsonschema.validators
    if "$schema" in schema:
        validator_class = validators.validator_for(schema, default=None)
        if validator_class is None:
            raise DefinitionError(
                f"SchemaValidator schema names the unknown metaschema {schema['$schema']!r} "
                "in '$schema'; use a draft URI the jsonschema package knows, such as "
                "'https://json-schema.org/draft/2020-12/schema', or leave '$schema' out."
            )
    else:
        validator_class = validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        where = _path(exc.absolute_path) or "the schema itself"
        raise DefinitionError(
            f"SchemaValidator schema is not a valid JSON Schema: {exc.message} (at {where})."
        ) from None
    _check_patterns(schema)
    validator = validator_class(schema)

    def check(data: Any) -> tuple[Any, list[dict[str, str]]]:
        errors = validator.iter_errors(data)
        return data, [{"path": _path(e.absolute_path), "message": e.message} for e in errors]

    return check


def _check_patterns(schema: Mapping[str, Any]) -> None:
    """Refuse a ``pattern`` (or ``patternProperties`` key) that can backtrack catastrophically.

    jsonschema matches them with Python's ``re``; see ``_patterns`` for the check.
    """
    stack: list[tuple[str, Any]] = [("", schema)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, Mapping):
            patterns = [(f"{where}.pattern", value.get("pattern"))]
            properties = value.get("patternProperties")
            if isinstance(properties, Mapping):
                patterns += [(f"{where}.patternProperties", key) for key in properties]
            for place, pattern in patterns:
                _check_pattern(place.lstrip("."), pattern)
            stack.extend((f"{where}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}.{i}", item) for i, item in enumerate(value))


def _check_pattern(where: str, pattern: Any) -> None:
    if not isinstance(pattern, str):
        return
    try:
        compile_bounded(pattern)
    except (re.error, ValueError) as exc:
        raise DefinitionError(
            f"SchemaValidator schema has a refused pattern at {where}: {exc}."
        ) from None
