"""DataValidator: field rules, coercion, required and extra fields, config, documents."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from routilux import DefinitionError, Flow, JobState, Routine
from routilux.builtin_routines import DataValidator

MakeFlow = Callable[..., Flow]


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


def in_order(flow: Flow) -> None:
    """One delivery at a time per routine, so that messages arrive in the order sent."""
    for routine in flow.routines.values():
        routine.set_max_concurrency(1)


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
    validator = DataValidator()
    # The rule dicts are ours; their tests read the errors as dicts. The
    # published interface has tests of its own below.
    validator.set_config(**{"detailed_errors": True, **config})
    valid, invalid = Collector(), Collector()
    flow.add_routine(Source(), "source")
    flow.add_routine(validator, "validator")
    flow.add_routine(valid, "valid")
    flow.add_routine(invalid, "invalid")
    flow.connect("source", "out", "validator", "input")
    flow.connect("validator", "valid", "valid", "input")
    flow.connect("validator", "invalid", "invalid", "input")
    in_order(flow)
    return flow, valid, invalid


def run(
    make_flow: MakeFlow, items: list[Any], **config: Any
) -> tuple[JobState, list[Any], list[dict[str, Any]]]:
    flow, valid, invalid = validator_flow(make_flow(), **config)
    job = flow.execute("source", {"items": items})
    return job, [m["validated_data"] for m in valid.received], invalid.received


def errors_of(make_flow: MakeFlow, data: Any, **config: Any) -> list[dict[str, Any]]:
    _, valid, invalid = run(make_flow, [data], **config)
    assert valid == []
    return list(invalid[0]["errors"])


PERSON = {
    "age": {"type": "int", "min": 0, "max": 150, "required": True},
    "email": {"type": "str", "pattern": r"^[^@\s]+@[^@\s]+$", "max_length": 254},
    "tags": {"type": "list", "items": "str"},
}


def test_valid_data_is_emitted_on_valid(make_flow: MakeFlow) -> None:
    data = {"age": 36, "email": "ada@example.org", "tags": ["math"]}
    job, valid, invalid = run(make_flow, [data], rules=PERSON)
    assert job.status == "completed"
    assert valid == [data]
    assert invalid == []


def test_invalid_data_is_emitted_on_invalid_with_its_errors(make_flow: MakeFlow) -> None:
    data = {"age": -1, "email": "ada"}
    _, valid, invalid = run(make_flow, [data], rules=PERSON)
    assert valid == []
    assert invalid == [
        {
            "data": data,
            "errors": [
                {"field": "age", "rule": "min", "message": "'age' must be at least 0, got -1."},
                {
                    "field": "email",
                    "rule": "pattern",
                    "message": "'email' does not match '^[^@\\\\s]+@[^@\\\\s]+$'.",
                },
            ],
        }
    ]


@pytest.mark.parametrize(
    ("rule", "value", "broken"),
    [
        ({"type": "int"}, "x", "type"),
        ({"type": "int"}, True, "type"),
        ({"type": "str"}, 5, "type"),
        ({"type": "float"}, "x", "type"),
        ({"type": "number"}, None, "type"),
        ({"type": "bool"}, "maybe", "type"),
        ({"type": "list"}, {"a": 1}, "type"),
        ({"type": "dict"}, [1], "type"),
        ({"max": 10}, 11, "max"),
        ({"min": 1.5}, 1, "min"),
        ({"min": 0}, "5", "min"),
        ({"min_length": 2}, "a", "min_length"),
        ({"max_length": 2}, [1, 2, 3], "max_length"),
        ({"max_length": 1}, 5, "max_length"),
        ({"pattern": "^a"}, "ba", "pattern"),
        ({"pattern": "^a"}, 1, "pattern"),
        ({"choices": ["red", "green"]}, "blue", "choices"),
        ({"type": "float", "min": 0}, float("nan"), "min"),
    ],
)
def test_a_value_that_breaks_a_rule_is_reported_under_that_rule(
    make_flow: MakeFlow, rule: dict[str, Any], value: Any, broken: str
) -> None:
    errors = errors_of(make_flow, {"f": value}, rules={"f": rule}, coerce=False)
    assert [(e["field"], e["rule"]) for e in errors] == [("f", broken)]


def test_a_wrong_type_stops_the_other_rules_of_the_field(make_flow: MakeFlow) -> None:
    errors = errors_of(make_flow, {"f": "x"}, rules={"f": {"type": "int", "min": 0}})
    assert [e["rule"] for e in errors] == ["type"]
    assert errors[0]["message"] == "'f' must be an int, got str 'x'."


def test_the_pattern_is_not_tried_on_a_value_longer_than_max_length(make_flow: MakeFlow) -> None:
    rules = {"f": {"type": "str", "max_length": 5, "pattern": "^b"}}
    assert [e["rule"] for e in errors_of(make_flow, {"f": "aaaaaaaa"}, rules=rules)] == [
        "max_length"
    ]


def test_a_pattern_is_searched_anywhere_in_the_string(make_flow: MakeFlow) -> None:
    _, valid, _ = run(make_flow, [{"f": "xx42yy"}], rules={"f": {"pattern": r"\d+"}})
    assert valid == [{"f": "xx42yy"}]


def test_lengths_count_unicode_characters(make_flow: MakeFlow) -> None:
    _, valid, _ = run(make_flow, [{"n": "日本語"}], rules={"n": {"max_length": 3}})
    assert valid == [{"n": "日本語"}]


def test_a_missing_required_field_is_an_error(make_flow: MakeFlow) -> None:
    errors = errors_of(make_flow, {}, rules={"age": {"required": True}})
    assert errors == [
        {"field": "age", "rule": "required", "message": "Required field 'age' is missing"}
    ]


def test_a_missing_optional_field_is_valid(make_flow: MakeFlow) -> None:
    _, valid, _ = run(make_flow, [{}], rules={"age": {"type": "int"}})
    assert valid == [{}]


def test_the_required_list_adds_required_fields(make_flow: MakeFlow) -> None:
    errors = errors_of(make_flow, {"a": 1}, required=["a", "b"])
    assert [(e["field"], e["rule"]) for e in errors] == [("b", "required")]


def test_a_field_in_the_required_list_that_has_a_rule_is_required_too(
    make_flow: MakeFlow,
) -> None:
    errors = errors_of(make_flow, {}, rules={"age": "int", "name": "str"}, required=["age"])
    assert errors == [
        {"field": "age", "rule": "required", "message": "Required field 'age' is missing"}
    ]


def test_extra_fields_are_refused_when_allow_extra_is_false(make_flow: MakeFlow) -> None:
    errors = errors_of(
        make_flow, {"a": 1, "b": 2, "c": 3}, rules={"a": {}}, required=["b"], allow_extra=False
    )
    assert errors == [
        {"field": "c", "rule": "allow_extra_fields", "message": "Unexpected field 'c'"}
    ]


def test_extra_fields_pass_by_default(make_flow: MakeFlow) -> None:
    _, valid, _ = run(make_flow, [{"a": 1, "z": 2}], rules={"a": {"type": "int"}})
    assert valid == [{"a": 1, "z": 2}]


@pytest.mark.parametrize(
    ("type_name", "value", "coerced"),
    [
        ("int", "42", 42),
        ("int", " -7 ", -7),
        ("int", 3.0, 3),
        ("float", "2.5", 2.5),
        ("float", 2, 2.0),
        ("number", "3", 3),
        ("number", "3.5", 3.5),
        ("bool", "TRUE", True),
        ("bool", "no", False),
        ("bool", 1, True),
        ("list", (1, 2), [1, 2]),
    ],
)
def test_without_strict_plain_values_are_coerced(
    make_flow: MakeFlow, type_name: str, value: Any, coerced: Any
) -> None:
    _, valid, _ = run(make_flow, [{"f": value}], rules={"f": {"type": type_name}})
    assert valid == [{"f": coerced}]
    assert type(valid[0]["f"]) is type(coerced)


@pytest.mark.parametrize(
    ("type_name", "value"),
    [
        ("int", "4.5"),
        ("int", 4.5),
        ("int", "9" * 5000),
        ("float", "nan"),
        ("str", 5),
        ("bool", 2),
        ("int", True),
    ],
)
def test_without_strict_unclear_values_are_not_coerced(
    make_flow: MakeFlow, type_name: str, value: Any
) -> None:
    errors = errors_of(make_flow, {"f": value}, rules={"f": {"type": type_name}})
    assert [e["rule"] for e in errors] == ["type"]


def test_strict_mode_coerces_nothing(make_flow: MakeFlow) -> None:
    errors = errors_of(make_flow, {"f": "42"}, rules={"f": {"type": "int"}}, coerce=False)
    assert [e["rule"] for e in errors] == ["type"]


def test_strict_float_accepts_an_int_unchanged(make_flow: MakeFlow) -> None:
    _, valid, _ = run(make_flow, [{"f": 2}], rules={"f": {"type": "float"}}, coerce=False)
    assert valid == [{"f": 2}]
    assert type(valid[0]["f"]) is int


def test_coerced_values_are_checked_against_the_other_rules(make_flow: MakeFlow) -> None:
    errors = errors_of(make_flow, {"f": "200"}, rules={"f": {"type": "int", "max": 150}})
    assert [e["rule"] for e in errors] == ["max"]


def test_invalid_carries_the_data_as_received_and_the_input_is_unchanged(
    make_flow: MakeFlow,
) -> None:
    data = {"a": "1", "b": "x"}
    _, _, invalid = run(make_flow, [data], rules={"a": {"type": "int"}, "b": {"type": "int"}})
    assert invalid[0]["data"] == {"a": "1", "b": "x"}
    assert data == {"a": "1", "b": "x"}


def test_items_are_checked_and_named_by_index(make_flow: MakeFlow) -> None:
    errors = errors_of(make_flow, {"tags": ["a", 2, "c", None]}, rules=PERSON, coerce=False)
    assert [(e["field"], e["rule"]) for e in errors] == [
        ("age", "required"),
        ("tags.1", "type"),
        ("tags.3", "type"),
    ]


def test_items_can_have_a_rule_dict_and_are_coerced(make_flow: MakeFlow) -> None:
    rules = {"scores": {"type": "list", "items": {"type": "int", "min": 0}}}
    _, valid, _ = run(make_flow, [{"scores": ["1", 2]}], rules=rules)
    assert valid == [{"scores": [1, 2]}]


def test_nullable_accepts_none_and_skips_the_other_rules(make_flow: MakeFlow) -> None:
    rules = {"f": {"type": "int", "min": 5, "nullable": True}}
    _, valid, _ = run(make_flow, [{"f": None}], rules=rules)
    assert valid == [{"f": None}]


def test_none_fails_a_type_unless_nullable(make_flow: MakeFlow) -> None:
    errors = errors_of(make_flow, {"f": None}, rules={"f": {"type": "int"}})
    assert errors[0]["message"] == "'f' must be an int, got NoneType None."


def test_choices_are_compared_after_coercion(make_flow: MakeFlow) -> None:
    _, valid, _ = run(make_flow, [{"n": "2"}], rules={"n": {"type": "int", "choices": [1, 2]}})
    assert valid == [{"n": 2}]


def test_a_set_of_choices_is_named_in_sorted_order(make_flow: MakeFlow) -> None:
    # {8, 1} iterates as 8, 1; the message must not depend on a set's order,
    # which for strings changes from process to process.
    assert list({8, 1}) == [8, 1]
    errors = errors_of(make_flow, {"n": 5}, rules={"n": {"choices": {8, 1}}})
    assert errors[0]["message"] == "'n' must be one of 1, 8, got int 5."
    mixed = errors_of(make_flow, {"n": 5}, rules={"n": {"choices": {"b", 2, "a"}}})
    assert mixed[0]["message"] == "'n' must be one of 2, 'a', 'b', got int 5."


@pytest.mark.parametrize(
    ("data", "rules", "errors"),
    [
        ([1, "x", 3], {"items": "is_int"}, ["Field 'items[1]' failed validation"]),
        (("a", 2), {"items": {"type": "str"}}, ["'items[1]' must be a str, got int 2."]),
        ([1, "x"], {"a": "is_int"}, []),
        ("text", {"value": "is_int"}, ["Field 'value' failed validation"]),
        (3, {"value": "is_positive"}, []),
        (3, {"a": {}}, []),
    ],
)
def test_data_that_is_not_a_dict_is_checked_as_published(
    make_flow: MakeFlow, data: Any, rules: dict[str, Any], errors: list[str]
) -> None:
    job, valid, invalid = run(make_flow, [data], rules=rules, detailed_errors=False)
    assert job.status == "completed"
    if errors:
        assert invalid == [{"errors": errors, "data": data}]
    else:
        assert valid == [data]


def test_no_rules_accept_any_dict(make_flow: MakeFlow) -> None:
    _, valid, _ = run(make_flow, [{}, {"x": [1]}])
    assert valid == [{}, {"x": [1]}]


def test_stats_count_valid_and_invalid_messages(make_flow: MakeFlow) -> None:
    flow, _, _ = validator_flow(make_flow(), rules={"n": {"type": "int"}})
    flow.execute("source", {"items": [{"n": 1}, {"n": "x"}, {"n": 2}]})
    assert flow.routines["validator"].stats() == {"valid": 2, "invalid": 1}


def test_a_hundred_thousand_items_are_checked(make_flow: MakeFlow) -> None:
    values = list(range(100_000))
    rules = {"v": {"type": "list", "items": {"type": "int", "min": 1}}}
    errors = errors_of(make_flow, {"v": values}, rules=rules)
    assert [e["field"] for e in errors] == ["v.0"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"rules": [("a", {})]}, "rules must be a dict"),
        ({"rules": {"": {}}}, "non-empty strings"),
        ({"rules": {"a": 5}}, r"rules\['a'\] must be a validator name, a function, a rule"),
        ({"rules": {"a": {"size": 1}}}, "unknown rule 'size'; rules: type, required"),
        ({"rules": {"a": {"type": "integer"}}}, "unknown type 'integer'; types: str, int"),
        ({"rules": {"a": {"type": "int", "pattern": "x"}}}, "'pattern', which does not apply"),
        ({"rules": {"a": {"type": "str", "min": 1}}}, "'min', which does not apply to the type"),
        ({"rules": {"a": {"required": "yes"}}}, r"\['required'\] must be True or False"),
        ({"rules": {"a": {"min": "1"}}}, r"\['min'\] must be a number"),
        ({"rules": {"a": {"max": float("nan")}}}, r"\['max'\] must be a number"),
        ({"rules": {"a": {"min": 5, "max": 1}}}, "min 5 above max 1"),
        ({"rules": {"a": {"max_length": -1}}}, "zero or more"),
        ({"rules": {"a": {"min_length": 1.5}}}, "zero or more"),
        ({"rules": {"a": {"pattern": "(unclosed"}}}, "not a valid regular expression"),
        ({"rules": {"a": {"pattern": "x" * 1001}}}, "at most 1000 characters"),
        ({"rules": {"a": {"choices": "abc"}}}, "must be a list of allowed values"),
        ({"rules": {"a": {"type": "list", "items": "integer"}}}, r"\['items'\] has the unknown"),
        ({"required": "a"}, "required_fields must be a list"),
        ({"required_fields": [1]}, "non-empty strings"),
        ({"allow_extra": None}, "allow_extra_fields must be True or False"),
        ({"strict_mode": 1}, "strict_mode must be True or False"),
        ({"coerce": 1}, "coerce must be True or False"),
        ({"detailed_errors": "yes"}, "detailed_errors must be True or False"),
        ({"required": ["a"], "required_fields": ["b"]}, "both 'required_fields' and its other"),
    ],
)
def test_a_bad_config_is_refused_naming_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        DataValidator().set_config(**config)


def test_a_refused_config_leaves_the_previous_rules_in_force(make_flow: MakeFlow) -> None:
    flow, valid, _ = validator_flow(make_flow(), rules={"n": {"type": "int"}})
    with pytest.raises(DefinitionError):
        flow.routines["validator"].set_config(rules={"n": {"type": "str", "bad": 1}})
    flow.execute("source", {"items": [{"n": 1}]})
    assert [m["validated_data"] for m in valid.received] == [{"n": 1}]


def test_a_flow_document_round_trips_and_validates_the_same(make_flow: MakeFlow) -> None:
    config = {
        "rules": {**PERSON, "color": {"choices": {"red", "green"}}},
        "required_fields": ["id"],
        "allow_extra_fields": False,
        "coerce": True,
        "detailed_errors": True,
    }
    flow, _, invalid = validator_flow(make_flow(), **config)
    document = flow.serialize()
    rebuilt = Flow.deserialize(document)
    try:
        assert rebuilt.serialize() == document
        assert rebuilt.routines["validator"].config() == {**config, "strict_mode": False}
        items = [{"id": 1, "age": "200", "tags": ["a", 1], "color": "blue", "x": 0}]
        flow.execute("source", {"items": items})
        rebuilt.execute("source", {"items": items})
        rebuilt_invalid = rebuilt.routines["invalid"]
        assert isinstance(rebuilt_invalid, Collector)
        assert rebuilt_invalid.received == invalid.received
        assert [e["field"] for e in invalid.received[0]["errors"]] == [
            "age",
            "tags.1",
            "color",
            "x",
        ]
    finally:
        rebuilt.shutdown()


# -- the published interface ----------------------------------------------------------------


class PublishedValid(Routine):
    """Handlers written for the published payloads, with their keys as parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []
        self.define_slot("valid", handler=self.valid)
        self.define_slot("invalid", handler=self.invalid)

    def valid(self, validated_data: Any) -> None:
        self.seen.append(("valid", validated_data))

    def invalid(self, errors: list[Any], data: Any) -> None:
        self.seen.append(("invalid", errors, data))


def published_flow(validator: DataValidator) -> tuple[Flow, PublishedValid]:
    sink = PublishedValid()
    flow = Flow()
    flow.add_routine(Source(), "source")
    flow.add_routine(validator, "validator")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "validator", "input")
    flow.connect("validator", "valid", "sink", "valid")
    flow.connect("validator", "invalid", "sink", "invalid")
    return flow, sink


def test_a_flow_wired_as_the_published_docs_wire_it_gets_the_published_payload() -> None:
    from routilux.builtin_routines.data_processing import DataValidator as PublishedPath

    validator = PublishedPath()
    validator.set_config(
        rules={"age": "is_int", "name": "is_string"},
        required_fields=["name", "age"],
        strict_mode=False,
    )
    flow, sink = published_flow(validator)
    items = [{"name": "Ada", "age": 36}, {"age": "x", "extra": 1}]
    job = flow.execute("source", {"items": items})
    assert job.status == "completed"
    assert sink.seen == [
        ("valid", {"name": "Ada", "age": 36}),
        (
            "invalid",
            ["Required field 'name' is missing", "Field 'age' failed validation"],
            {"age": "x", "extra": 1},
        ),
    ]


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("not_empty", 0, ""),
        ("is_string", "a", 1),
        ("is_int", True, 1.0),
        ("is_float", 1.5, 1),
        ("is_number", 1, "1"),
        ("is_dict", {}, []),
        ("is_list", [], ()),
        ("is_positive", 0.1, 0),
        ("is_non_negative", 0, -1),
    ],
)
def test_the_published_validators(name: str, good: Any, bad: Any) -> None:
    validator = DataValidator()
    validator.set_config(rules={"f": name})
    flow, sink = published_flow(validator)
    flow.execute("source", {"items": [{"f": good}, {"f": bad}]})
    assert sink.seen == [
        ("valid", {"f": good}),
        ("invalid", ["Field 'f' failed validation"], {"f": bad}),
    ]


def _between(value: Any) -> tuple[bool, str]:
    return 0 < value < 10, f"{value} is not between 0 and 10"


def _raising(value: Any) -> bool:
    raise ValueError("no good")


def test_a_validator_function_may_return_a_bool_a_pair_or_raise() -> None:
    validator = DataValidator()
    validator.set_config(rules={"a": _between, "b": _raising, "c": len})
    flow, sink = published_flow(validator)
    flow.execute("source", {"items": [{"a": 5, "c": "x"}, {"a": 50, "b": 1, "c": ""}]})
    assert sink.seen == [
        ("valid", {"a": 5, "c": "x"}),
        (
            "invalid",
            [
                "50 is not between 0 and 10",
                "Validation error for field 'b': no good",
                "Field 'c' failed validation",
            ],
            {"a": 50, "b": 1, "c": ""},
        ),
    ]


def test_strict_mode_stops_each_pass_at_its_first_error() -> None:
    validator = DataValidator()
    validator.set_config(
        rules={"a": "is_int", "b": "is_int"},
        required_fields=["x", "y"],
        allow_extra_fields=False,
        strict_mode=True,
    )
    flow, sink = published_flow(validator)
    flow.execute("source", {"items": [{"a": "1", "b": "2", "z": 0}]})
    assert sink.seen == [
        (
            "invalid",
            ["Required field 'x' is missing", "Field 'a' failed validation"],
            {"a": "1", "b": "2", "z": 0},
        )
    ]


def test_extra_fields_are_unexpected_without_allow_extra_fields() -> None:
    validator = DataValidator()
    validator.set_config(rules={"a": "is_int"}, allow_extra_fields=False)
    flow, sink = published_flow(validator)
    flow.execute("source", {"items": [{"z": 0, "a": 1}]})
    assert sink.seen == [("invalid", ["Unexpected field 'z'"], {"z": 0, "a": 1})]


def test_register_validator_adds_a_name_checked_before_the_job() -> None:
    validator = DataValidator()
    validator.set_config(rules={"n": "is_even"})
    flow, sink = published_flow(validator)
    with pytest.raises(DefinitionError, match="unknown validator 'is_even'"):
        flow.execute("source", {"items": [{"n": 2}]})
    validator.register_validator("is_even", lambda value: value % 2 == 0)
    flow.execute("source", {"items": [{"n": 2}, {"n": 3}]})
    assert sink.seen == [
        ("valid", {"n": 2}),
        ("invalid", ["Field 'n' failed validation"], {"n": 3}),
    ]


def test_a_misspelled_validator_name_is_refused_with_a_suggestion() -> None:
    validator = DataValidator()
    validator.set_config(rules={"n": "is_strng"})
    flow, _ = published_flow(validator)
    with pytest.raises(DefinitionError, match="Did you mean 'is_string'"):
        flow.execute("source", {"items": [{"n": "a"}]})


def test_a_message_may_bring_its_own_rules() -> None:
    validator = DataValidator()
    validator.set_config(rules={"n": "is_string"})
    flow, sink = published_flow(validator)
    entry = Routine()
    entry.define_slot("trigger", handler=lambda **kw: entry.emit("out", **kw))
    entry.define_event("out")
    flow.add_routine(entry, "entry")
    flow.connect("entry", "out", "validator", "input")
    flow.execute("entry", {"data": {"n": 1, "m": 2}, "rules": {"n": "is_int", "m": "nope"}})
    flow.execute("entry", {"data": {"n": 1}, "rules": {"n": 42}})
    assert sink.seen == [
        ("invalid", ["Unknown validator: nope"], {"n": 1, "m": 2}),
        ("invalid", ["Invalid validator for field 'n'"], {"n": 1}),
    ]


def test_the_published_keys_are_in_the_defaults() -> None:
    assert DataValidator().config() == {
        "rules": {},
        "strict_mode": False,
        "required_fields": [],
        "allow_extra_fields": True,
        "coerce": True,
        "detailed_errors": False,
    }


def test_our_earlier_key_names_are_kept_as_other_names() -> None:
    validator = DataValidator()
    validator.set_config(required=["a"], allow_extra=False)
    assert validator.get_config("required_fields") == ["a"]
    assert validator.get_config("allow_extra_fields") is False
    assert "required" not in validator.config()
