"""The field rules of DataValidator: compiling rule dicts and checking values against them."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from routilux import DefinitionError
from routilux.builtin_routines._patterns import (
    MATCH_TIMEOUT,
    BoundedPattern,
    PatternTimeout,
    compile_bounded,
)

__all__ = ["FieldRule", "check_field", "check_name", "compile_rule", "error_record"]

#: Longest regular expression accepted in a ``pattern`` rule, in characters.
MAX_PATTERN_LENGTH = 1000
RULE_KEYS = (
    "type",
    "required",
    "nullable",
    "min",
    "max",
    "min_length",
    "max_length",
    "pattern",
    "choices",
    "items",
)
#: Type name -> the rules that make sense for it (besides the general ones).
_NUMERIC = frozenset({"min", "max"})
_SIZED = frozenset({"min_length", "max_length"})
TYPE_RULES: dict[str, frozenset[str]] = {
    "str": _SIZED | {"pattern"},
    "int": _NUMERIC,
    "float": _NUMERIC,
    "number": _NUMERIC,
    "bool": frozenset(),
    "list": _SIZED | {"items"},
    "dict": _SIZED,
    "any": _NUMERIC | _SIZED | {"pattern", "items"},
}
_INTEGER = re.compile(r"[+-]?[0-9]+")
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


class _Invalid(Exception):
    """One rule that a value breaks."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule, self.message = rule, message


@dataclass(frozen=True)
class FieldRule:
    """The compiled rules of one field (see DataValidator's docstring for their meaning)."""

    type: str = "any"
    required: bool = False
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: BoundedPattern | None = None
    choices: tuple[Any, ...] | None = None
    items: FieldRule | None = None


def error_record(field: str | None, rule: str, message: str) -> dict[str, Any]:
    """One entry of the ``errors`` list of the ``invalid`` event."""
    return {"field": field, "rule": rule, "message": message}


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


# -- checking values -----------------------------------------------------------


def check_field(
    value: Any, rule: FieldRule, field: str, strict: bool
) -> tuple[Any, list[dict[str, Any]]]:
    """Check ``value`` against ``rule``.

    Returns:
        The value, coerced unless ``strict``, and the errors: the first rule
        the value breaks, or those of the invalid items of a list.
    """
    if value is None and rule.nullable:
        return None, []
    try:
        value = _coerce(value, rule.type, field, strict)
        for check in _CHECKS:
            check(value, rule, field)
    except _Invalid as exc:
        return value, [error_record(field, exc.rule, exc.message)]
    if rule.items is not None and isinstance(value, (list, tuple)):
        return _check_items(value, rule.items, field, strict)
    return value, []


def _check_items(
    items: Any, rule: FieldRule, field: str, strict: bool
) -> tuple[list[Any], list[dict[str, Any]]]:
    checked: list[Any] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        value, broken = check_field(item, rule, f"{field}.{index}", strict)
        checked.append(value)
        errors.extend(broken)
    return checked, errors


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_STRICT_TYPES: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": _is_number,
    "number": _is_number,
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, (list, tuple)),
    "dict": lambda v: isinstance(v, Mapping),
    "any": lambda v: True,
}


def _coerce(value: Any, type_name: str, field: str, strict: bool) -> Any:
    if not strict:
        value = _lax(value, type_name)
    if not _STRICT_TYPES[type_name](value):
        article = "an" if type_name[0] in "aeiou" else "a"
        raise _Invalid("type", f"{field!r} must be {article} {type_name}, got {_show(value)}.")
    return value


def _lax(value: Any, type_name: str) -> Any:
    """The value coerced to ``type_name`` where the meaning is plain, else unchanged."""
    if isinstance(value, bool) or value is None:
        return value
    text = value.strip() if isinstance(value, str) else None
    if type_name in ("int", "number") and text is not None and _INTEGER.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # More digits than int() converts (sys.get_int_max_str_digits).
            return value
    if type_name == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if (type_name == "float" and isinstance(value, (int, str))) or (
        type_name == "number" and text is not None
    ):
        number = _float(value)
        return value if number is None else number
    if type_name == "bool" and (text is not None or isinstance(value, int)):
        return _BOOLS.get(str(value).strip().lower(), value)
    if type_name == "list" and isinstance(value, tuple):
        return list(value)
    return value


def _float(value: str | int) -> float | None:
    try:
        result = float(value)
    except (ValueError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def _check_bounds(value: Any, rule: FieldRule, field: str) -> None:
    for name, bound, broken in (("min", rule.min, "at least"), ("max", rule.max, "at most")):
        if bound is None:
            continue
        if not _is_number(value):
            raise _Invalid(name, f"{field!r} must be a number to compare with {name} {bound}.")
        # Written with "not" so that NaN, which compares False, is refused.
        if not (value >= bound if name == "min" else value <= bound):
            raise _Invalid(name, f"{field!r} must be {broken} {bound}, got {value!r}.")


def _check_length(value: Any, rule: FieldRule, field: str) -> None:
    limits = (
        ("min_length", rule.min_length, "at least"),
        ("max_length", rule.max_length, "at most"),
    )
    for name, bound, broken in limits:
        if bound is None:
            continue
        if not isinstance(value, (str, list, tuple, Mapping)):
            raise _Invalid(name, f"{field!r} must be a str, list or dict to have a {name}.")
        if (len(value) < bound) if name == "min_length" else (len(value) > bound):
            raise _Invalid(
                name, f"{field!r} must have a length of {broken} {bound}, got {len(value)}."
            )


def _check_pattern(value: Any, rule: FieldRule, field: str) -> None:
    if rule.pattern is None:
        return
    if not isinstance(value, str):
        raise _Invalid("pattern", f"{field!r} must be a str to match a pattern.")
    try:
        found = rule.pattern.search(value)
    except PatternTimeout:
        raise _Invalid(
            "pattern",
            f"{field!r} could not be matched against {rule.pattern.pattern!r} within "
            f"{MATCH_TIMEOUT} s (the pattern backtracks too much on this value).",
        ) from None
    if not found:
        raise _Invalid("pattern", f"{field!r} does not match {rule.pattern.pattern!r}.")


def _check_choices(value: Any, rule: FieldRule, field: str) -> None:
    if rule.choices is not None and value not in rule.choices:
        shown = ", ".join(repr(c) for c in rule.choices[:10])
        raise _Invalid("choices", f"{field!r} must be one of {shown}, got {_show(value)}.")


_CHECKS = (_check_bounds, _check_length, _check_pattern, _check_choices)


# -- compiling rules -----------------------------------------------------------


def check_name(name: Any, key: str) -> None:
    """Refuse a field name that is not a non-empty string, naming the config ``key``."""
    if not isinstance(name, str) or not name:
        raise DefinitionError(
            f"DataValidator {key} names fields by non-empty strings, not {name!r}."
        )


def compile_rule(rule: Any, where: str) -> FieldRule:
    """Compile a rule dict (or a bare type name) configured at ``where``.

    Raises:
        DefinitionError: An unknown rule or type, a rule that does not fit
            the type, or a bad value.
    """
    if isinstance(rule, str):
        rule = {"type": rule}
    if not isinstance(rule, Mapping):
        raise DefinitionError(
            f"DataValidator {where} must be a dict of rules (or a type name), "
            f"not {type(rule).__name__}."
        )
    unknown = [key for key in rule if key not in RULE_KEYS]
    if unknown:
        raise DefinitionError(
            f"DataValidator {where} has the unknown rule {unknown[0]!r}; "
            f"rules: {', '.join(RULE_KEYS)}."
        )
    type_name = rule.get("type", "any")
    if type_name not in TYPE_RULES:
        raise DefinitionError(
            f"DataValidator {where} has the unknown type {type_name!r}; "
            f"types: {', '.join(TYPE_RULES)}."
        )
    for key in rule:
        if key in _TYPED_RULES and key not in TYPE_RULES[type_name]:
            raise DefinitionError(
                f"DataValidator {where} has the rule {key!r}, which does not apply to "
                f"the type {type_name!r}."
            )
    return FieldRule(
        type=type_name,
        required=_flag(rule, "required", where),
        nullable=_flag(rule, "nullable", where),
        **_bounds(rule, where),
        pattern=_pattern(rule.get("pattern"), where),
        choices=_choices(rule.get("choices"), where),
        items=None if "items" not in rule else compile_rule(rule["items"], f"{where}['items']"),
    )


_TYPED_RULES = _NUMERIC | _SIZED | {"pattern", "items"}


def _flag(rule: Mapping[str, Any], key: str, where: str) -> bool:
    value = rule.get(key, False)
    if not isinstance(value, bool):
        raise DefinitionError(
            f"DataValidator {where}[{key!r}] must be True or False, not {value!r}."
        )
    return value


def _bounds(rule: Mapping[str, Any], where: str) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    for key in ("min", "max", "min_length", "max_length"):
        value = rule.get(key)
        if value is None:
            continue
        if key in _SIZED and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise DefinitionError(
                f"DataValidator {where}[{key!r}] must be a whole number of zero or more, "
                f"not {value!r}."
            )
        if not _is_number(value) or not math.isfinite(value):
            raise DefinitionError(
                f"DataValidator {where}[{key!r}] must be a number, not {value!r}."
            )
        bounds[key] = value
    for low, high in (("min", "max"), ("min_length", "max_length")):
        if low in bounds and high in bounds and bounds[low] > bounds[high]:
            raise DefinitionError(
                f"DataValidator {where} has {low} {bounds[low]} above {high} {bounds[high]}."
            )
    return bounds


def _pattern(pattern: Any, where: str) -> BoundedPattern | None:
    if pattern is None:
        return None
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_LENGTH:
        raise DefinitionError(
            f"DataValidator {where}['pattern'] must be a regular expression of at most "
            f"{MAX_PATTERN_LENGTH} characters, not {_show(pattern)}."
        )
    try:
        return compile_bounded(pattern)
    except re.error as exc:
        raise DefinitionError(
            f"DataValidator {where}['pattern'] is not a valid regular expression: {exc}."
        ) from None
    except ValueError as exc:  # A repeated repetition: catastrophic backtracking.
        raise DefinitionError(f"DataValidator {where}['pattern'] is refused: {exc}.") from None


def _choices(choices: Any, where: str) -> tuple[Any, ...] | None:
    if choices is None:
        return None
    if isinstance(choices, (str, bytes, Mapping)) or not isinstance(
        choices, (list, tuple, set, frozenset)
    ):
        raise DefinitionError(
            f"DataValidator {where}['choices'] must be a list of allowed values, "
            f"not {type(choices).__name__}."
        )
    if isinstance(choices, (set, frozenset)):
        # A set has no order of its own (strings iterate in an order that
        # changes from process to process): sort, so messages never vary.
        try:
            return tuple(sorted(choices))
        except TypeError:  # Values of kinds that do not compare.
            return tuple(sorted(choices, key=lambda c: (type(c).__name__, repr(c))))
    return tuple(choices)
