"""DataValidator: check each message's fields against per-field rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from routilux import DefinitionError, Routine
from routilux.builtin_routines._field_rules import (
    FieldRule,
    check_field,
    check_name,
    compile_rule,
    error_record,
)

__all__ = ["DataValidator"]

_NO_DATA: Any = object()


class DataValidator(Routine):
    """Check the fields of each message against rules, and route it as valid or invalid.

    Slot ``input`` receives ``data`` (or, without a ``data`` key, the whole
    message). Data that is not a dict is invalid (one error, field ``None``).
    Each top-level field named in ``rules`` is checked against its rule
    dict, whose keys are:

    * ``type``: ``"str"``, ``"int"``, ``"float"`` (an int is accepted too),
      ``"number"`` (int or float), ``"bool"``, ``"list"`` (or tuple),
      ``"dict"`` or ``"any"`` (default). ``True`` is not an int.
    * ``required`` (bool): the field must be present.
    * ``nullable`` (bool): ``None`` is accepted and skips the other rules;
      otherwise ``None`` fails every type but ``"any"``.
    * ``min`` / ``max``: bounds of a number (inclusive).
    * ``min_length`` / ``max_length``: bounds of ``len()`` of a str, list or dict.
    * ``pattern``: a regular expression the str must contain
      (``re.search``; anchor it with ``^...$`` to match the whole string).
      It is compiled once, at ``set_config``, and is at most 1000
      characters; it is only tried on a value within ``max_length``. A
      pattern that repeats a repetition (``(a+)+``), which can backtrack
      for hours, is refused; with the ``regex`` extra installed, every
      match also has a time limit (0.25 s), past which the value is
      invalid. See ``docs/builtins/data-validator.md``.
    * ``choices``: a list of the allowed values.
    * ``items``: the rule of every item of a list: a type name or a rule dict.

    Rules are checked in that order; once the type is wrong, the other
    rules of that field are not checked.

    Without ``strict`` (the default), values are coerced where the meaning
    is plain: for ``int``, a str of decimal digits (``"42"``) and a float
    with no fraction (``3.0``); for ``float``, an int or a numeric str; for
    ``number``, a numeric str; for ``bool``, ``"true"``/``"false"``,
    ``"yes"``/``"no"``, ``"1"``/``"0"`` (any case) and the ints 0 and 1;
    for ``list``, a tuple. Nothing is coerced to ``str``. ``valid`` carries
    the coerced values; ``invalid`` carries the data as received.

    Events:
        valid: ``data`` - a new dict with the coerced values.
        invalid: ``data`` (as received) and ``errors``: a list of
            ``{"field", "rule", "message"}`` dicts, in the order of
            ``rules``, then ``required``, then the extra fields (an item of
            a list is named ``"tags.2"``).

    Config keys:
        rules: ``{field: rule_dict}`` (default ``{}``).
        required: Field names that must be present, besides those whose
            rule says ``required`` (default ``[]``).
        allow_extra: When ``False``, a field not named in ``rules`` or
            ``required`` is an error (rule ``"allow_extra"``). Default ``True``.
        strict: When ``True``, no value is coerced. Default ``False``.

    Stats ``valid`` and ``invalid`` count the messages of each kind.

    Raises:
        DefinitionError: From ``set_config``: an unknown rule or type name, a
            rule that does not fit the type, a bad bound or regular expression.
    """

    config_keys = ("rules", "required", "allow_extra", "strict")

    def __init__(self) -> None:
        super().__init__()
        self._rules: dict[str, FieldRule] = {}
        self.input_slot = self.define_slot("input", handler=self.process)
        self.define_event("valid", ["data"])
        self.define_event("invalid", ["data", "errors"])
        self.set_config(rules={}, required=[], allow_extra=True, strict=False)

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check and compile the rules; see the class docstring for the keys."""
        for key, default in (("allow_extra", True), ("strict", False)):
            if not isinstance(config.get(key, default), bool):
                raise DefinitionError(
                    f"DataValidator {key} must be True or False, not {config.get(key)!r}."
                )
        required = config.get("required", [])
        if isinstance(required, (str, bytes)) or not isinstance(required, (list, tuple)):
            raise DefinitionError(
                f"DataValidator required must be a list of field names, not {required!r}."
            )
        for name in required:
            check_name(name, "required")
        rules = config.get("rules", {})
        if not isinstance(rules, Mapping):
            raise DefinitionError(
                f"DataValidator rules must be a dict of field -> rule dict, "
                f"not {type(rules).__name__}."
            )
        compiled = {}
        for field, rule in rules.items():
            check_name(field, "rules")
            compiled[field] = compile_rule(rule, f"rules[{field!r}]")
        self._rules = compiled

    def process(self, data: Any = _NO_DATA, **kwargs: Any) -> None:
        """Emit ``valid`` with the (coerced) data, or ``invalid`` with the errors."""
        message = kwargs if data is _NO_DATA else data
        if not isinstance(message, Mapping):
            error = error_record(
                None, "type", f"data must be a dict, got {type(message).__name__}."
            )
            self._emit_invalid(message, [error])
            return
        checked, errors = self._check(message)
        if errors:
            self._emit_invalid(message, errors)
            return
        self.increment_stat("valid")
        self.emit("valid", data=checked)

    def _emit_invalid(self, message: Any, errors: list[dict[str, Any]]) -> None:
        self.increment_stat("invalid")
        self.emit("invalid", data=message, errors=errors)

    def _check(self, message: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rules, strict = self._rules, self.get_config("strict")
        required = self.get_config("required")
        checked: dict[str, Any] = dict(message)
        errors: list[dict[str, Any]] = []
        for field, rule in rules.items():
            if field not in message:
                if rule.required or field in required:
                    errors.append(error_record(field, "required", f"{field!r} is required."))
                continue
            checked[field], broken = check_field(message[field], rule, field, strict)
            errors.extend(broken)
        errors.extend(
            error_record(name, "required", f"{name!r} is required.")
            for name in dict.fromkeys(required)
            if name not in message and name not in rules
        )
        if not self.get_config("allow_extra"):
            known = {*rules, *required}
            errors.extend(
                error_record(str(key), "allow_extra", f"{key!r} is not an allowed field.")
                for key in message
                if key not in known
            )
        return checked, errors
