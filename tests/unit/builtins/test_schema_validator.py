"""SchemaValidator: pydantic models, JSON Schemas, missing extras, config, documents."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field, field_validator

from routilux import DefinitionError, Flow, JobState, Routine
from routilux.builtin_routines import SchemaValidator

MakeFlow = Callable[..., Flow]


class Address(BaseModel):
    city: str
    zip: str = Field(pattern=r"^\d{5}$")


class Person(BaseModel):
    """A module-level model, so a flow document can name it."""

    name: str
    age: int = Field(ge=0)
    tags: list[str] = []
    address: Address | None = None


class Strange(BaseModel):
    value: int

    @field_validator("value")
    @classmethod
    def refuse_seven(cls, value: int) -> int:
        if value == 7:
            raise ValueError("seven is not allowed")
        if value == 13:
            raise LookupError("thirteen breaks the validator itself")
        return value


ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku"],
                "properties": {"sku": {"type": "string"}},
            },
        },
    },
    "required": ["id"],
}


class Source(Routine):
    """Emits each item of its ``items`` entry parameter as ``data``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["data"])

    def send(self, items: list[Any]) -> None:
        for item in items:
            self.emit("out", data=item)


class Collector(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.define_slot("input", handler=self.collect)

    def collect(self, **message: Any) -> None:
        self.received.append(message)


@pytest.fixture(params=["sequential", "concurrent"])
def make_flow(request: pytest.FixtureRequest) -> Iterator[MakeFlow]:
    flows: list[Flow] = []

    def make(**options: Any) -> Flow:
        flow = Flow(execution_strategy=request.param, **options)
        flows.append(flow)
        return flow

    yield make
    for flow in flows:
        flow.shutdown()


def validator_flow(flow: Flow, **config: Any) -> tuple[Flow, Collector, Collector]:
    validator = SchemaValidator()
    validator.set_config(**config)
    valid, invalid = Collector(), Collector()
    flow.add_routine(Source(), "source")
    flow.add_routine(validator, "validator")
    flow.add_routine(valid, "valid")
    flow.add_routine(invalid, "invalid")
    flow.connect("source", "out", "validator", "input")
    flow.connect("validator", "valid", "valid", "input")
    flow.connect("validator", "invalid", "invalid", "input")
    return flow, valid, invalid


def run(
    make_flow: MakeFlow, items: list[Any], **config: Any
) -> tuple[JobState, list[Any], list[dict[str, Any]]]:
    flow, valid, invalid = validator_flow(make_flow(), **config)
    job = flow.execute("source", {"items": items})
    return job, [m["data"] for m in valid.received], invalid.received


# -- pydantic ------------------------------------------------------------------------


def test_a_model_emits_the_dump_of_the_validated_instance(make_flow: MakeFlow) -> None:
    job, valid, invalid = run(make_flow, [{"name": "Ada", "age": "36"}], model=Person)
    assert job.status == "completed"
    assert valid == [{"name": "Ada", "age": 36, "tags": [], "address": None}]
    assert invalid == []


def test_a_model_reports_each_error_with_its_path(make_flow: MakeFlow) -> None:
    data = {"name": "Ada", "age": -1, "tags": ["a", 2], "address": {"city": "X", "zip": "1"}}
    _, valid, invalid = run(make_flow, [data], model=Person)
    assert valid == []
    assert invalid[0]["data"] == data
    assert [e["path"] for e in invalid[0]["errors"]] == ["age", "tags.1", "address.zip"]
    assert invalid[0]["errors"][0]["message"] == "Input should be greater than or equal to 0"


def test_a_model_validator_value_error_makes_the_data_invalid(make_flow: MakeFlow) -> None:
    _, _, invalid = run(make_flow, [{"value": 7}], model=Strange)
    assert invalid[0]["errors"] == [
        {"path": "value", "message": "Value error, seven is not allowed"}
    ]


def test_a_model_validator_that_breaks_fails_the_delivery(make_flow: MakeFlow) -> None:
    job, _, invalid = run(make_flow, [{"value": 13}], model=Strange)
    assert job.status == "failed"
    assert invalid == []
    assert job.errors[0].message == (
        "SchemaValidator could not check the data: LookupError: thirteen breaks the "
        "validator itself"
    )


@pytest.mark.parametrize("data", [None, [1], "text"])
def test_data_a_model_cannot_read_is_invalid_at_the_root(make_flow: MakeFlow, data: Any) -> None:
    _, _, invalid = run(make_flow, [data], model=Person)
    assert [e["path"] for e in invalid[0]["errors"]] == [""]


@pytest.mark.parametrize("model", [dict, Person(name="a", age=1), "Person", 42])
def test_a_model_that_is_not_a_pydantic_model_class_is_refused(model: Any) -> None:
    with pytest.raises(DefinitionError, match="model must be a pydantic"):
        SchemaValidator().set_config(model=model)


# -- JSON Schema ---------------------------------------------------------------------


def test_a_schema_emits_the_data_unchanged(make_flow: MakeFlow) -> None:
    data = {"id": 3, "items": [{"sku": "A1"}], "note": "ünïcode"}
    _, valid, invalid = run(make_flow, [data], schema=ORDER_SCHEMA)
    assert valid == [data]
    assert invalid == []


def test_a_schema_reports_each_error_with_its_path(make_flow: MakeFlow) -> None:
    data = {"id": 0, "items": [{"sku": 5}, {}]}
    _, _, invalid = run(make_flow, [data], schema=ORDER_SCHEMA)
    assert invalid[0]["data"] == data
    assert invalid[0]["errors"] == [
        {"path": "id", "message": "0 is less than the minimum of 1"},
        {"path": "items.0.sku", "message": "5 is not of type 'string'"},
        {"path": "items.1", "message": "'sku' is a required property"},
    ]


def test_an_error_about_the_data_itself_has_an_empty_path(make_flow: MakeFlow) -> None:
    _, _, invalid = run(make_flow, [[1, 2]], schema=ORDER_SCHEMA)
    assert invalid[0]["errors"] == [{"path": "", "message": "[1, 2] is not of type 'object'"}]


def test_the_draft_named_by_dollar_schema_is_used(make_flow: MakeFlow) -> None:
    # Draft 4 has a boolean exclusiveMaximum; later drafts refuse it.
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "maximum": 5,
        "exclusiveMaximum": True,
    }
    _, valid, invalid = run(make_flow, [4, 5], schema=schema)
    assert valid == [4]
    assert [m["data"] for m in invalid] == [5]


def test_a_schema_over_ten_thousand_items_reports_each_bad_one(make_flow: MakeFlow) -> None:
    schema = {"type": "array", "items": {"type": "integer"}}
    data = [*range(10_000), "x", "y"]
    _, _, invalid = run(make_flow, [data], schema=schema)
    assert [e["path"] for e in invalid[0]["errors"]] == ["10000", "10001"]


def test_an_unresolvable_ref_fails_the_delivery(make_flow: MakeFlow) -> None:
    job, _, _ = run(make_flow, [1], schema={"$ref": "https://example.invalid/s.json"})
    assert job.status == "failed"
    assert "could not check the data" in job.errors[0].message


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "integr"}, r"not a valid JSON Schema: .*'integr'.* \(at type\)"),
        ({"minimum": "1"}, r"not a valid JSON Schema: .* \(at minimum\)"),
        ({"$schema": "https://example.org/mine"}, "unknown metaschema"),
        ([{"type": "object"}], "schema must be a JSON Schema dict, not list"),
    ],
)
def test_a_bad_schema_is_refused_at_set_config(schema: Any, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        SchemaValidator().set_config(schema=schema)


# -- config, extras, stats, documents ------------------------------------------------


def test_a_model_and_a_schema_together_are_refused() -> None:
    with pytest.raises(DefinitionError, match="a model or a schema, not both"):
        SchemaValidator().set_config(model=Person, schema=ORDER_SCHEMA)


def test_one_can_replace_a_model_by_a_schema(make_flow: MakeFlow) -> None:
    flow, valid, _ = validator_flow(make_flow(), model=Person)
    flow.routines["validator"].set_config(model=None, schema={"type": "integer"})
    flow.execute("source", {"items": [5]})
    assert [m["data"] for m in valid.received] == [5]


def test_a_validator_with_neither_is_refused_before_the_job_starts(make_flow: MakeFlow) -> None:
    flow, _, _ = validator_flow(make_flow())
    with pytest.raises(DefinitionError, match=r"'validator'.*neither a model nor a schema"):
        flow.execute("source", {"items": [1]})


@pytest.mark.parametrize(
    ("package", "config"), [("pydantic", {"model": Person}), ("jsonschema", {"schema": {}})]
)
def test_a_missing_package_is_refused_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, package: str, config: dict[str, Any]
) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # Makes the import fail.
    wanted = rf'extra from a clone of routilux: pip install -e "/path/to/routilux\[{package}\]"$'
    with pytest.raises(DefinitionError, match=wanted):
        SchemaValidator().set_config(**config)


def test_stats_count_valid_and_invalid_messages(make_flow: MakeFlow) -> None:
    flow, _, _ = validator_flow(make_flow(), schema={"type": "integer"})
    flow.execute("source", {"items": [1, "a", 2, None]})
    assert flow.routines["validator"].stats() == {"valid": 2, "invalid": 2}


@pytest.mark.parametrize("config", [{"model": Person}, {"schema": ORDER_SCHEMA}])
def test_a_flow_document_round_trips_and_validates_the_same(
    make_flow: MakeFlow, config: dict[str, Any]
) -> None:
    flow, valid, invalid = validator_flow(make_flow(), **config)
    document = flow.serialize()
    rebuilt = Flow.deserialize(document)
    try:
        assert rebuilt.serialize() == document
        assert rebuilt.routines["validator"].config() == {"model": None, "schema": None, **config}
        items = [{"id": 2, "name": "Ada", "age": 3}, {"id": "x", "age": -3}]
        flow.execute("source", {"items": items})
        rebuilt.execute("source", {"items": items})
        rebuilt_valid, rebuilt_invalid = rebuilt.routines["valid"], rebuilt.routines["invalid"]
        assert isinstance(rebuilt_valid, Collector)
        assert isinstance(rebuilt_invalid, Collector)
        assert len(valid.received) == len(invalid.received) == 1
        assert rebuilt_valid.received == valid.received
        assert rebuilt_invalid.received == invalid.received
    finally:
        rebuilt.shutdown()
