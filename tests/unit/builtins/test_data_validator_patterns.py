"""Regular expressions from flow documents cannot hang a worker.

Patterns that repeat a repetition (catastrophic backtracking) are refused when configured,
with or without the ``regex`` package; with it, every match also has a time limit."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from routilux import DefinitionError, Flow, Routine
from routilux.builtin_routines import DataValidator, SchemaValidator

CATASTROPHIC = r"(a+)+$"
#: Slow under backtracking, yet not a repeated repetition: only a time limit bounds it.
UNRECOGNISED = r"(a|a)*$"
HOSTILE_VALUE = "a" * 40 + "!"


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["data"])

    def send(self, value: str) -> None:
        self.emit("out", data={"f": value})


class Collector(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.define_slot("input", handler=self.collect)

    def collect(self, **message: Any) -> None:
        self.received.append(message)


def outcome(pattern: str, value: str) -> tuple[list[Any], list[Any]]:
    """The valid and invalid messages of a DataValidator with ``pattern`` given ``value``."""
    validator = DataValidator()
    validator.set_config(rules={"f": {"type": "str", "pattern": pattern}}, detailed_errors=True)
    flow = Flow()
    valid, invalid = Collector(), Collector()
    for routine_id, routine in [("s", Source()), ("v", validator), ("ok", valid), ("ko", invalid)]:
        flow.add_routine(routine, routine_id)
    flow.connect("s", "out", "v", "input")
    flow.connect("v", "valid", "ok", "input")
    flow.connect("v", "invalid", "ko", "input")
    flow.execute("s", {"value": value})
    return valid.received, invalid.received


@pytest.fixture(params=["with regex", "without regex"])
def regex_installed(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    if request.param == "with regex":
        pytest.importorskip("regex")
        return True
    monkeypatch.setitem(sys.modules, "regex", None)  # As if it were not installed.
    return False


@pytest.mark.usefixtures("regex_installed")
@pytest.mark.parametrize(
    "pattern", [CATASTROPHIC, r"(a*)*b", r"^(\w+\s?)+$", r"(?:x+y*)+z", r"((\.\w+)*)+"]
)
def test_a_repeated_repetition_is_refused_when_configured(pattern: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        DataValidator().set_config(rules={"f": {"pattern": pattern}})

    assert str(caught.value).startswith(
        "DataValidator rules['f']['pattern'] is refused: it repeats"
    )
    assert "catastrophic backtracking" in str(caught.value)


@pytest.mark.usefixtures("regex_installed")
@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        (r"^[\w.-]+@[\w-]+(\.[\w-]+)+$", "someone@example.co.uk"),
        (r"^(\w+\.)+com$", "a.b.com"),
        (r"(\d{1,3}\.){3}\d{1,3}", "10.0.0.1"),
        (r"^(\d{3}-){2}\d{4}$", "555-123-4567"),
        (r"^(?:a|b)+$", "abab"),
    ],
)
def test_delimited_and_bounded_repetitions_are_accepted_and_match(pattern: str, value: str) -> None:
    valid, invalid = outcome(pattern, value)

    assert (valid, invalid) == ([{"validated_data": {"f": value}}], [])


@pytest.mark.skipif(sys.version_info < (3, 11), reason="possessive quantifiers need 3.11")
@pytest.mark.usefixtures("regex_installed")
def test_a_possessive_inner_repetition_is_accepted() -> None:
    valid, invalid = outcome(r"^(\w++\s?)+$", "two words")

    assert len(valid) == 1
    assert invalid == []


def test_with_regex_a_slow_pattern_no_check_recognises_is_stopped_by_its_time_limit() -> None:
    pytest.importorskip("regex")

    valid, invalid = outcome(UNRECOGNISED, HOSTILE_VALUE)

    assert valid == []
    assert invalid[0]["errors"] == [
        {
            "field": "f",
            "rule": "pattern",
            "message": f"'f' could not be matched against {UNRECOGNISED!r} within 0.25 s (the "
            "pattern backtracks too much on this value).",
        }
    ]


def test_a_json_schema_pattern_that_repeats_a_repetition_is_refused() -> None:
    pytest.importorskip("jsonschema")
    schema = {"type": "object", "properties": {"f": {"type": "string", "pattern": CATASTROPHIC}}}

    with pytest.raises(
        DefinitionError, match=r"schema has a refused pattern at properties\.f\.pattern: it repeats"
    ):
        SchemaValidator().set_config(schema=schema)


def test_a_json_schema_pattern_property_that_repeats_a_repetition_is_refused() -> None:
    pytest.importorskip("jsonschema")
    schema = {"type": "object", "patternProperties": {CATASTROPHIC: {"type": "string"}}}

    with pytest.raises(DefinitionError, match=r"refused pattern at patternProperties: it repeats"):
        SchemaValidator().set_config(schema=schema)
