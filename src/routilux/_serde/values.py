"""Encoding message values as JSON, without losing their types.

JSON has no tuples, sets, bytes or dates, and its objects have only string
keys. Values of those kinds are written as tagged objects ``{"$t": kind,
"v": ...}``; a user dict that happens to have a ``"$t"`` key is tagged too,
so decoding is never ambiguous. Anything else is refused with the path of
the offending value: nothing is converted silently.

Flow documents also write functions and classes in routine config, as
references ``{"$t": "ref", "v": "package.module:QualName"}``. The codec
itself knows nothing about code: the caller passes ``refs=``, which turns an
object into its import path (when writing) or a path into an object (when
reading). Without ``refs`` (job documents, stores) a function is refused
when writing and a reference is refused when reading: their values are data.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from routilux._serde.json_text import safe_repr
from routilux.exceptions import SerializationError

__all__ = [
    "MAX_DEPTH",
    "REF_KIND",
    "ReadRef",
    "WriteRef",
    "decode_value",
    "encode_value",
    "is_plain_json",
]

#: Deepest nesting a document may have; deeper values are refused.
MAX_DEPTH = 200
#: The tag of a reference to a function or class: ``{"$t": "ref", "v": "module:QualName"}``.
REF_KIND = "ref"
_TAG = "$t"

#: Writes a function or class as its import path: ``(obj, where) -> path``.
WriteRef = Callable[[Any, str], str]
#: Reads an import path back: ``(path, where) -> obj``; ``path`` is unchecked document data.
ReadRef = Callable[[Any, str], Any]

_SCALAR_ENCODERS: dict[type, Callable[[Any], tuple[str, Any]]] = {
    bytes: lambda v: ("bytes", base64.b64encode(v).decode("ascii")),
    datetime: lambda v: ("datetime", v.isoformat()),
    date: lambda v: ("date", v.isoformat()),
    Decimal: lambda v: ("decimal", str(v)),
    uuid.UUID: lambda v: ("uuid", str(v)),
}

_SCALAR_DECODERS: dict[str, Callable[[Any], Any]] = {
    "bytes": lambda v: base64.b64decode(_text(v), validate=True),
    "datetime": lambda v: datetime.fromisoformat(_text(v)),
    "date": lambda v: date.fromisoformat(_text(v)),
    "decimal": lambda v: Decimal(_text(v)),
    "uuid": lambda v: uuid.UUID(_text(v)),
    "float": lambda v: float(_text(v)),
}

_SEQUENCE_TYPES: dict[str, Callable[[list[Any]], Any]] = {
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
}


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def encode_value(value: Any, where: str = "value", *, refs: WriteRef | None = None) -> Any:
    """Return a JSON-compatible form of ``value``.

    Args:
        value: The value to encode.
        where: Names the value in error messages (``"shared_data['k']"``).
        refs: Writes a class or callable found in ``value`` as an import
            path (and raises SerializationError for one that has none).
            Without it, they are refused like any other unsupported value.

    Raises:
        SerializationError: The value, or one inside it, has a type that
            cannot be written, or it nests deeper than :data:`MAX_DEPTH`.
    """
    return _encode(value, where, 0, refs)


def is_plain_json(value: Any, depth: int = 0) -> bool:
    """Whether :func:`encode_value` would return ``value`` unchanged.

    True for ``None``, ``str``, ``int``, ``bool`` (exactly those types),
    finite floats, and lists and dicts of them (dict keys strings, no
    ``"$t"`` key) nested at most :data:`MAX_DEPTH` deep. It builds no path
    strings, so checking a plain value this way and writing it as it is
    costs a fraction of encoding it; anything else takes the full walk,
    which names the bad value in its error.
    """
    if depth > MAX_DEPTH:
        return False
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(is_plain_json(v, depth + 1) for v in value)
    if kind is dict:
        return _TAG not in value and all(
            type(k) is str and is_plain_json(v, depth + 1) for k, v in value.items()
        )
    return False


def _encode(value: Any, where: str, depth: int, refs: WriteRef | None) -> Any:
    if depth > MAX_DEPTH:
        raise SerializationError(f"{where} nests deeper than {MAX_DEPTH} levels (or is a cycle).")
    if value is None or type(value) in (str, int, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # A str subclass (a str enum, say) is written as its text.
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {_TAG: "float", "v": repr(float(value))}
    if isinstance(value, list):
        return [_encode(v, f"{where}[{i}]", depth + 1, refs) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return _encode_dict(value, where, depth, refs)
    return _encode_other(value, where, depth, refs)


def _encode_dict(value: dict[Any, Any], where: str, depth: int, refs: WriteRef | None) -> Any:
    if _TAG not in value and all(type(k) is str for k in value):
        return {k: _encode(v, f"{where}[{k!r}]", depth + 1, refs) for k, v in value.items()}
    items = [
        [
            _encode(k, f"{where} key {safe_repr(k)}", depth + 1, refs),
            _encode(v, f"{where}[{safe_repr(k)}]", depth + 1, refs),
        ]
        for k, v in value.items()
    ]
    return {_TAG: "dict", "v": items}


def _encode_other(value: Any, where: str, depth: int, refs: WriteRef | None) -> Any:
    for kind, factory in _SEQUENCE_TYPES.items():
        if type(value) is factory:
            items = [_encode(v, f"{where}[{i}]", depth + 1, refs) for i, v in enumerate(value)]
            if kind != "tuple":
                # A set's iteration order is not its identity: write a canonical
                # order so equal sets give equal documents.
                items.sort(key=lambda item: json.dumps(item, sort_keys=True))
            return {_TAG: kind, "v": items}
    for cls, encoder in _SCALAR_ENCODERS.items():
        if type(value) is cls:
            kind, encoded = encoder(value)
            return {_TAG: kind, "v": encoded}
    if refs is not None and (isinstance(value, type) or callable(value)):
        return {_TAG: REF_KIND, "v": refs(value, where)}
    raise SerializationError(
        f"Cannot serialize {where}: values of type {type(value).__qualname__} are not "
        "supported; use JSON types (dict, list, str, int, float, bool, None) or tuple, set, "
        "frozenset, bytes, datetime, date, Decimal, UUID."
    )


def decode_value(value: Any, where: str = "value", *, refs: ReadRef | None = None) -> Any:
    """Rebuild a value that :func:`encode_value` wrote.

    Args:
        value: The document's JSON value.
        where: Names the value in error messages.
        refs: Reads a reference's payload (as the document holds it: check
            it) into the object it names. Without it, a reference is refused.

    Raises:
        SerializationError: The document holds something no encoder writes,
            or a reference where none may be (or one ``refs`` refuses).
    """
    return _decode(value, where, 0, refs)


def _decode(value: Any, where: str, depth: int, refs: ReadRef | None) -> Any:
    if depth > MAX_DEPTH:
        raise SerializationError(f"{where} nests deeper than {MAX_DEPTH} levels.")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, f"{where}[{i}]", depth + 1, refs) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        raise SerializationError(f"{where} holds a {type(value).__name__}, which JSON cannot.")
    if _TAG not in value:
        return {k: _decode(v, f"{where}[{k!r}]", depth + 1, refs) for k, v in value.items()}
    return _decode_tagged(value, where, depth, refs)


def _decode_tagged(value: dict[str, Any], where: str, depth: int, refs: ReadRef | None) -> Any:
    kind, payload = value.get(_TAG), value.get("v")
    if set(value) != {_TAG, "v"}:
        raise SerializationError(f"{where} is a tagged value with unexpected keys {sorted(value)}.")
    if kind == REF_KIND:
        if refs is None:
            raise SerializationError(
                f"{where} is a reference to code ({safe_repr(payload)}); only the config of a "
                "routine in a flow document may hold references, other documents hold data."
            )
        return refs(payload, where)
    if kind == "dict" or kind in _SEQUENCE_TYPES:
        if not isinstance(payload, list):
            raise SerializationError(f"{where} is a {kind!r} whose items are not a list.")
        items = [_decode(v, f"{where}[{i}]", depth + 1, refs) for i, v in enumerate(payload)]
        return _build_container(kind, items, where)
    decoder = _SCALAR_DECODERS.get(kind) if isinstance(kind, str) else None
    if decoder is None:
        raise SerializationError(f"{where} has the unknown value tag {safe_repr(kind)}.")
    try:
        return decoder(payload)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise SerializationError(f"{where} is not a valid {kind}: {exc}.") from None


def _build_container(kind: str, items: list[Any], where: str) -> Any:
    try:
        if kind == "dict":
            return {k: v for k, v in items}  # noqa: C416 - pairs are checked by the except
        return _SEQUENCE_TYPES[kind](items)
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"{where} is not a valid {kind}: {exc}.") from None
