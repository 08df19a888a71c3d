"""DataValidator: check each message's fields against per-field rules."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from routilux import DefinitionError, Routine
from routilux.builtin_routines._aliases import rename_aliases
from routilux.builtin_routines._callables import refuse_async
from routilux.builtin_routines._field_rules import (
    TYPE_RULES,
    FieldRule,
    check_field,
    check_name,
    compile_rule,
    error_record,
)

__all__ = ["DataValidator"]

Validator = Callable[[Any], Any]
#: One error: ``{"field", "rule", "message"}``.
Error = dict[str, Any]
_ALIASES = {"required": "required_fields", "allow_extra": "allow_extra_fields"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float))


#: The published validators by name (``is_int`` accepts a bool, as published).
VALIDATORS: dict[str, Validator] = {
    "not_empty": lambda value: value is not None and value != "",
    "is_string": lambda value: isinstance(value, str),
    "is_int": lambda value: isinstance(value, int),
    "is_float": lambda value: isinstance(value, float),
    "is_number": _is_number,
    "is_dict": lambda value: isinstance(value, dict),
    "is_list": lambda value: isinstance(value, list),
    "is_positive": lambda value: _is_number(value) and value > 0,
    "is_non_negative": lambda value: _is_number(value) and value >= 0,
}


class _Named:
    """A validator given by name, looked up when a message is checked."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


#: A compiled rule: one of ours, a validator name, or a function.
Rule = FieldRule | _Named | Validator


class DataValidator(Routine):
    """Check each message against per-field rules, and route it as valid or invalid.

    Slot ``input`` takes the message's data as the published routines do
    (:meth:`Routine._extract_input_data`: ``data``, else the only value,
    else the whole message); a ``rules`` dict in the message, if not empty,
    replaces the configured rules for that message.

    A rule is one of:

    * the name of a validator: ``not_empty`` (not ``None``, not ``""``),
      ``is_string``, ``is_int`` (a bool passes), ``is_float``,
      ``is_number``, ``is_dict``, ``is_list``, ``is_positive``,
      ``is_non_negative``, or one added with :meth:`register_validator`;
    * a function ``f(value)`` returning a bool, ``(ok, message)`` or any
      value taken as true or false;
    * a dict of our field rules (``type``, ``required``, ``nullable``,
      ``min``, ``max``, ``min_length``, ``max_length``, ``pattern``,
      ``choices``, ``items``), or a type name alone (``"int"``); see
      ``docs/builtins/data-validator.md``.

    Checks, for dict data: first each field of ``required_fields`` (and
    each field whose rule dict says ``required``) that is missing; then
    each field of the data, in the data's order: a field with a rule is
    checked against it, a field without one is unexpected when
    ``allow_extra_fields`` is off (unless it is required). With
    ``strict_mode``, each of the two passes stops at its first error. For
    a list or tuple, each item is checked against ``rules["items"]`` (named
    ``items[0]``, ...), and any other data against ``rules["value"]``.

    Events:
        valid: ``validated_data``: the data, with the values our rule
            dicts coerce (``"42"`` for ``int``) converted unless ``coerce``
            is off; data checked only by validators is passed unchanged.
        invalid: ``errors`` (a list of texts, such as ``"Required field
            'age' is missing"``; with ``detailed_errors``, dicts
            ``{"field", "rule", "message"}``) and ``data`` (as received).

    Config keys:
        rules: ``{field: rule}`` (default ``{}``).
        strict_mode: Stop each pass at its first error (default ``False``).
        required_fields: Field names that must be present (default ``[]``);
            also accepted as ``required``.
        allow_extra_fields: When ``False``, a field with no rule that is
            not required is an error. Default ``True``; also accepted as
            ``allow_extra``.
        coerce: Whether our rule dicts convert values where the meaning is
            plain (default ``True``).
        detailed_errors: Give each error as ``{"field", "rule", "message"}``
            (``rule`` names the rule broken: ``"required"``, ``"min"``,
            ``"validator"``...) rather than as its message (default ``False``).

    Stats ``valid`` and ``invalid`` count the messages of each kind.

    Raises:
        DefinitionError: From ``set_config``: an unknown rule or type name
            in a rule dict, a rule that does not fit the type, a bad bound
            or regular expression; before a job starts, a validator name
            that is not known.
    """

    config_keys = (
        "rules",
        "strict_mode",
        "required_fields",
        "allow_extra_fields",
        "coerce",
        "detailed_errors",
    )

    def __init__(self) -> None:
        super().__init__()
        self._rules: dict[str, Rule] = {}
        self._validators: dict[str, Validator] = dict(VALIDATORS)
        self.input_slot = self.define_slot("input", handler=self.process)
        self.define_event("valid", ["validated_data"])
        self.define_event("invalid", ["errors", "data"])
        self.set_config(
            rules={},
            strict_mode=False,
            required_fields=[],
            allow_extra_fields=True,
            coerce=True,
            detailed_errors=False,
        )

    def set_config(self, **config: Any) -> None:
        """Set config keys; ``required`` and ``allow_extra`` are other names of two keys."""
        super().set_config(**rename_aliases("DataValidator", config, _ALIASES))

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check and compile the rules; see the class docstring for the keys."""
        for key, default in (
            ("strict_mode", False),
            ("allow_extra_fields", True),
            ("coerce", True),
            ("detailed_errors", False),
        ):
            if not isinstance(config.get(key, default), bool):
                raise DefinitionError(
                    f"DataValidator {key} must be True or False, not {config.get(key)!r}."
                )
        required = config.get("required_fields", [])
        if isinstance(required, (str, bytes)) or not isinstance(required, (list, tuple)):
            raise DefinitionError(
                f"DataValidator required_fields must be a list of field names, not {required!r}."
            )
        for name in required:
            check_name(name, "required_fields")
        rules = config.get("rules", {})
        if not isinstance(rules, Mapping):
            raise DefinitionError(
                f"DataValidator rules must be a dict of field -> rule, not {type(rules).__name__}."
            )
        compiled = {}
        for field, rule in rules.items():
            check_name(field, "rules")
            compiled[field] = _compile(rule, f"rules[{field!r}]")
        self._rules = compiled

    def check_definition(self) -> None:
        """Check that every validator named in ``rules`` is known."""
        for field, rule in self._rules.items():
            if isinstance(rule, _Named) and rule.name not in self._validators:
                close = difflib.get_close_matches(rule.name, self._validators, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise DefinitionError(
                    f"DataValidator rules[{field!r}] names the unknown validator "
                    f"{rule.name!r}.{hint} Validators: {', '.join(self._validators)}; add "
                    "one with register_validator, or use a rule dict."
                )

    def register_validator(self, name: str, func: Validator) -> None:
        """Make ``func`` usable as a rule under ``name``.

        Raises:
            DefinitionError: ``name`` is not a non-empty str, or ``func`` is
                not a plain function.
        """
        check_name(name, "register_validator")
        if not callable(func):
            raise DefinitionError(
                f"DataValidator register_validator needs a function, not {type(func).__name__}."
            )
        refuse_async(func, f"DataValidator validator {name!r}")
        self._validators[name] = func

    def process(self, data: Any = None, rules: Any = None, **kwargs: Any) -> None:
        """Emit ``valid`` with the (coerced) data, or ``invalid`` with the errors."""
        value = self._extract_input_data(data, **kwargs)
        compiled = _message_rules(rules) if rules else self._rules
        if isinstance(value, Mapping):
            checked, errors = self._check_dict(value, compiled)
        elif isinstance(value, (list, tuple)):
            checked, errors = self._check_items(value, compiled)
        else:
            checked, errors = value, []
            if "value" in compiled:
                checked, errors = self._check(value, compiled["value"], "value")
        if errors:
            self.increment_stat("invalid")
            shown = errors if self.get_config("detailed_errors") else [e["message"] for e in errors]
            self.emit("invalid", errors=shown, data=value)
            return
        self.increment_stat("valid")
        self.emit("valid", validated_data=checked)

    def _check_dict(
        self, value: Mapping[str, Any], rules: Mapping[str, Rule | str]
    ) -> tuple[dict[str, Any], list[Error]]:
        strict = self.get_config("strict_mode")
        ruled = [f for f, r in rules.items() if isinstance(r, FieldRule) and r.required]
        required = list(dict.fromkeys([*self.get_config("required_fields"), *ruled]))
        errors: list[Error] = []
        for field in required:
            if field not in value:
                message = f"Required field '{field}' is missing"
                errors.append(error_record(field, "required", message))
                if strict:
                    break
        checked = dict(value)
        extra_ok = self.get_config("allow_extra_fields")
        for field, item in value.items():
            broken: list[Error] = []
            if field in rules:
                checked[field], broken = self._check(item, rules[field], str(field))
            elif not extra_ok and field not in required:
                unexpected = f"Unexpected field '{field}'"
                broken = [error_record(str(field), "allow_extra_fields", unexpected)]
            errors.extend(broken)
            if broken and strict:
                break
        return checked, errors

    def _check_items(
        self, value: list[Any] | tuple[Any, ...], rules: Mapping[str, Rule | str]
    ) -> tuple[Any, list[Error]]:
        if "items" not in rules:
            return value, []
        checked: list[Any] = []
        errors: list[Error] = []
        for index, item in enumerate(value):
            item, broken = self._check(item, rules["items"], f"items[{index}]")
            checked.append(item)
            errors.extend(broken)
            if broken and self.get_config("strict_mode"):
                break
        return (checked if isinstance(value, list) else tuple(checked)), errors

    def _check(self, value: Any, rule: Rule | str, field: str) -> tuple[Any, list[Error]]:
        """Check one value; return it (coerced by a rule dict) and its errors."""
        if isinstance(rule, str):  # A message's rule that could not be compiled.
            return value, [error_record(field, "validator", rule.format(field=field))]
        if isinstance(rule, FieldRule):
            return check_field(value, rule, field, not self.get_config("coerce"))
        if not isinstance(rule, _Named):
            return value, _call(rule, value, field)
        found = self._validators.get(rule.name)
        if found is None:
            return value, [error_record(field, "validator", f"Unknown validator: {rule.name}")]
        return value, _call(found, value, field)


def _call(function: Validator, value: Any, field: str) -> list[Error]:
    """Run a validator function as the published routine does."""
    try:
        result = function(value)
    except Exception as exc:  # A user validator: its failure is this field's error.
        return [error_record(field, "validator", f"Validation error for field '{field}': {exc}")]
    if isinstance(result, tuple) and len(result) == 2:
        ok, message = result
        return [] if ok else [error_record(field, "validator", message)]
    failed = f"Field '{field}' failed validation"
    return [] if result else [error_record(field, "validator", failed)]


def _compile(rule: Any, where: str) -> Rule:
    if isinstance(rule, str) and rule not in TYPE_RULES:
        return _Named(rule)
    if isinstance(rule, (str, Mapping)):
        return compile_rule(rule, where)
    if callable(rule):
        refuse_async(rule, f"DataValidator {where}")
        return rule  # type: ignore[no-any-return]  # callable() narrows to Callable[..., object].
    raise DefinitionError(
        f"DataValidator {where} must be a validator name, a function, a rule dict or a type "
        f"name, not {type(rule).__name__}."
    )


def _message_rules(rules: Any) -> dict[str, Rule | str]:
    """A message's own rules; one that cannot be compiled becomes its error text.

    Raises:
        TypeError: ``rules`` is not a dict.
    """
    if not isinstance(rules, Mapping):
        raise TypeError(f"DataValidator expects a message's rules to be a dict, not {rules!r}.")
    compiled: dict[str, Rule | str] = {}
    for field, rule in rules.items():
        try:
            compiled[str(field)] = _compile(rule, f"rules[{field!r}]")
        except DefinitionError:  # noqa: PERF203 - each rule's failure is its own error text
            compiled[str(field)] = "Invalid validator for field '{field}'"
    return compiled
