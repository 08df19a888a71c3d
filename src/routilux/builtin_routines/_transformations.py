"""The built-in transformations of DataTransformer, by name.

Each entry is a factory: given the parameter written after a colon
(``"round:2"`` gives ``"2"``, ``"round"`` gives ``None``), it returns the
function applied to a value, or raises ``ValueError`` for a bad parameter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

__all__ = ["BUILTINS", "make_builtin"]

Transform = Callable[[Any], Any]
_Factory = Callable[[str | None], Transform]
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def _expect(value: Any, types: type | tuple[type, ...], name: str, what: str) -> None:
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
        raise TypeError(f"{name} expects {what}, not {type(value).__name__}")


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _text_method(method: str) -> Transform:
    def apply(value: Any) -> Any:
        _expect(value, str, method, "a str")
        return getattr(value, method)()

    return apply


def _to_int(value: Any) -> Any:
    # As published: int() of an int, float (3.7 gives 3) or str; anything else as it is.
    return int(value) if isinstance(value, (int, float, str)) else value


def _to_float(value: Any) -> Any:
    # As published: float() of an int, float or str; anything else as it is.
    return float(value) if isinstance(value, (int, float, str)) else value


def _on_text(method: str) -> Transform:
    """A str method applied to a str; any other value passes unchanged (published names)."""

    def apply(value: Any) -> Any:
        return getattr(value, method)() if isinstance(value, str) else value

    return apply


def _to_str(value: Any) -> str:
    _expect(value, (str, int, float, Decimal, bool), "to_str", "a str, a number or a bool")
    return str(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{value!r} is not a boolean (true/false, yes/no, on/off, 1/0)")


def _json_loads(value: Any) -> Any:
    _expect(value, (str, bytes), "json_loads", "a str or bytes")
    return json.loads(value)


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _flatten(value: Any) -> list[Any]:
    _expect(value, (list, tuple), "flatten", "a list")
    flat: list[Any] = []
    for item in value:
        if isinstance(item, (list, tuple)):
            flat.extend(item)
        else:
            flat.append(item)
    return flat


def _sort(value: Any) -> list[Any]:
    _expect(value, (list, tuple), "sort", "a list")
    return sorted(value)


def _unique(value: Any) -> list[Any]:
    _expect(value, (list, tuple), "unique", "a list")
    seen: set[Any] = set()
    unhashable: list[Any] = []
    kept: list[Any] = []
    for item in value:
        try:
            if item in seen:
                continue
            seen.add(item)
        except TypeError:  # A dict or a list: compared by equality instead.
            if item in unhashable:
                continue
            unhashable.append(item)
        kept.append(item)
    return kept


def _remove_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [v for v in value if v is not None]
    return value


def _no_param(function: Transform) -> _Factory:
    def factory(param: str | None) -> Transform:
        if param is not None:
            raise ValueError("it takes no parameter")
        return function

    return factory


def _round(param: str | None) -> Transform:
    digits = None
    if param is not None:
        if not param.lstrip("-").isdecimal() or not -100 <= int(param) <= 100:
            raise ValueError(f"its parameter must be a whole number of digits, not {param!r}")
        digits = int(param)

    def apply(value: Any) -> Any:
        _expect(value, (int, float, Decimal), "round", "a number")
        return round(value, digits)

    return apply


def _split(param: str | None) -> Transform:
    if param == "":
        raise ValueError("its separator must not be empty (use 'split' to split on whitespace)")

    def apply(value: Any) -> list[str]:
        _expect(value, str, "split", "a str")
        parts: list[str] = value.split(param)
        return parts

    return apply


def _join(param: str | None) -> Transform:
    separator = param or ""

    def apply(value: Any) -> str:
        _expect(value, (list, tuple), "join", "a list of str")
        if not all(isinstance(item, str) for item in value):
            raise TypeError("join expects a list of str only")
        return separator.join(value)

    return apply


#: Built-in transformations by name: the published ones first, then ours.
BUILTINS: dict[str, _Factory] = {
    "lowercase": _no_param(_on_text("lower")),
    "uppercase": _no_param(_on_text("upper")),
    "strip_whitespace": _no_param(_on_text("strip")),
    "to_string": _no_param(str),
    "strip": _no_param(_text_method("strip")),
    "lower": _no_param(_text_method("lower")),
    "upper": _no_param(_text_method("upper")),
    "title": _no_param(_text_method("title")),
    "to_int": _no_param(_to_int),
    "to_float": _no_param(_to_float),
    "to_str": _no_param(_to_str),
    "to_bool": _no_param(_to_bool),
    "round": _round,
    "json_loads": _no_param(_json_loads),
    "json_dumps": _no_param(_json_dumps),
    "flatten": _no_param(_flatten),
    "sort": _no_param(_sort),
    "unique": _no_param(_unique),
    "remove_none": _no_param(_remove_none),
    "split": _split,
    "join": _join,
}


def make_builtin(spec: str) -> Transform:
    """The function a built-in spec (``"strip"``, ``"round:2"``) names.

    Raises:
        ValueError: The name is unknown, or its parameter is bad.
    """
    name, colon, param = spec.partition(":")
    factory = BUILTINS.get(name)
    if factory is None:
        raise ValueError(f"there is no built-in transformation {name!r}; built-ins: {_names()}")
    try:
        return factory(param if colon else None)
    except ValueError as exc:
        raise ValueError(f"{name!r} is misconfigured: {exc}") from None


def _names() -> str:
    return ", ".join(BUILTINS)
