"""DataTransformer: built-in and custom transformations, fields, on_error, config, documents."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, JobState, Routine
from routilux.builtin_routines import DataTransformer

MakeFlow = Callable[..., Flow]


def double(value: Any) -> Any:
    """A module-level function, so a flow document can name it."""
    return value * 2


def explode(value: Any) -> Any:
    """A module-level function that always fails."""
    raise RuntimeError(f"cannot handle {value!r}")


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

    def data(self) -> list[Any]:
        """The transformed data of each ``output`` payload."""
        return [m["transformed_data"] for m in self.received]


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


def transformer_flow(flow: Flow, **config: Any) -> tuple[Flow, Collector, Collector]:
    transformer = DataTransformer()
    # Most tests here check how a step fails; the published default, "continue",
    # has tests of its own below.
    transformer.set_config(**{"on_error": "fail", **config})
    output, errors = Collector(), Collector()
    flow.add_routine(Source(), "source")
    flow.add_routine(transformer, "transformer")
    flow.add_routine(output, "output")
    flow.add_routine(errors, "errors")
    flow.connect("source", "out", "transformer", "input")
    flow.connect("transformer", "output", "output", "input")
    flow.connect("transformer", "error", "errors", "input")
    in_order(flow)
    return flow, output, errors


def run(make_flow: MakeFlow, items: list[Any], **config: Any) -> tuple[JobState, list[Any]]:
    flow, output, _ = transformer_flow(make_flow(), **config)
    job = flow.execute("source", {"items": items})
    return job, output.data()


def test_a_chain_applies_its_steps_in_order(make_flow: MakeFlow) -> None:
    job, out = run(make_flow, ["  ada LOVELACE "], transformations=["strip", "lower", "title"])
    assert job.status == "completed"
    assert out == ["Ada Lovelace"]


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("strip", " a b ", "a b"),
        ("lower", "ÀB", "àb"),
        ("upper", "straße", "STRASSE"),
        ("title", "hello world", "Hello World"),
        ("to_int", " 42 ", 42),
        ("to_int", 3.0, 3),
        ("to_int", 3.7, 3),
        ("to_int", True, 1),
        ("to_int", Decimal("7"), Decimal("7")),
        ("to_int", [1], [1]),
        ("to_float", "2.5", 2.5),
        ("to_float", 2, 2.0),
        ("to_float", "1e3", 1000.0),
        ("lowercase", "ÀB", "àb"),
        ("lowercase", 5, 5),
        ("uppercase", "straße", "STRASSE"),
        ("uppercase", 5.5, 5.5),
        ("strip_whitespace", " a b ", "a b"),
        ("strip_whitespace", [" a "], [" a "]),
        ("to_string", 3.5, "3.5"),
        ("to_string", [1], "[1]"),
        ("to_str", 12, "12"),
        ("to_str", True, "True"),
        ("to_bool", "Yes", True),
        ("to_bool", "off", False),
        ("to_bool", 0, False),
        ("round", 2.6, 3),
        ("round:2", 3.14159, 3.14),
        ("round:-1", 1234, 1230),
        ("json_loads", '{"a": [1, null]}', {"a": [1, None]}),
        ("json_dumps", {"é": [1, None]}, '{"é": [1, null]}'),
        ("flatten", [[1, 2], [3], 4, [[5]]], [1, 2, 3, 4, [5]]),
        ("sort", [3, 1, 2], [1, 2, 3]),
        ("unique", [1, 2, 1, {"a": 1}, {"a": 1}, 3], [1, 2, {"a": 1}, 3]),
        ("remove_none", {"a": None, "b": 0}, {"b": 0}),
        ("remove_none", [None, 1, None], [1]),
        ("remove_none", 3, 3),
        ("split", "a b  c", ["a", "b", "c"]),
        ("split:,", "a,b,,c", ["a", "b", "", "c"]),
        ("join", ["a", "b"], "ab"),
        ("join:, ", ["a", "b"], "a, b"),
    ],
)
def test_a_builtin_gives_the_documented_result(
    make_flow: MakeFlow, spec: str, value: Any, expected: Any
) -> None:
    _, out = run(make_flow, [value], transformations=[spec])
    assert out == [expected]
    assert type(out[0]) is type(expected)


@pytest.mark.parametrize(
    ("spec", "value", "error"),
    [
        ("strip", 5, "TypeError: strip expects a str, not int"),
        ("to_int", "4.5", "ValueError"),
        ("to_float", "abc", "ValueError"),
        ("to_str", {"a": 1}, "TypeError: to_str expects a str, a number or a bool, not dict"),
        ("to_str", [1], "TypeError"),
        ("to_bool", "maybe", "ValueError: 'maybe' is not a boolean"),
        ("round", "1.5", "TypeError: round expects a number"),
        ("json_loads", "{bad", "JSONDecodeError"),
        ("json_dumps", {1, 2}, "TypeError"),
        ("json_dumps", float("inf"), "ValueError"),
        ("sort", [1, "a"], "TypeError"),
        ("flatten", "ab", "TypeError: flatten expects a list, not str"),
        ("join", ["a", 1], "TypeError: join expects a list of str only"),
    ],
)
def test_a_builtin_refuses_a_value_of_the_wrong_kind(
    make_flow: MakeFlow, spec: str, value: Any, error: str
) -> None:
    job, out = run(make_flow, [value], transformations=[spec])
    assert job.status == "failed"
    assert out == []
    assert error in job.errors[0].message


def test_a_failure_names_the_step_the_transformation_and_the_data(make_flow: MakeFlow) -> None:
    job, _ = run(make_flow, [" x "], transformations=["strip", "to_int"])
    assert job.errors[0].error_type == "ExecutionError"
    assert job.errors[0].message.startswith(
        "DataTransformer step transformations[1] ('to_int') failed on the data: ValueError"
    )


def test_a_field_failure_names_the_field_and_its_step(make_flow: MakeFlow) -> None:
    job, _ = run(make_flow, [{"price": "abc"}], fields={"price": ["strip", "to_float"]})
    assert "step fields['price'][1] ('to_float') failed on the field 'price'" in (
        job.errors[0].message
    )


def test_a_failure_follows_the_routine_error_policy(make_flow: MakeFlow) -> None:
    flow, output, _ = transformer_flow(make_flow(), transformations=["to_int"])
    flow.routines["transformer"].set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = flow.execute("source", {"items": ["x", "5"]})
    assert job.status == "completed"
    assert [e.routine_id for e in job.errors] == ["transformer"]
    assert output.data() == [5]


def test_a_custom_function_is_a_step(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, ["7"], transformations=["to_int", double])
    assert out == [14]


def test_fields_transform_each_named_field(make_flow: MakeFlow) -> None:
    data = {"price": "9.5", "name": "  ada ", "id": 1}
    _, out = run(make_flow, [data], fields={"price": ["to_float"], "name": ["strip", "title"]})
    assert out == [{"price": 9.5, "name": "Ada", "id": 1}]


def test_a_field_path_reaches_nested_dicts_and_list_items(make_flow: MakeFlow) -> None:
    data = {"order": {"items": [{"qty": "2"}, {"qty": "3"}]}}
    _, out = run(make_flow, [data], fields={"order.items.1.qty": ["to_int"]})
    assert out == [{"order": {"items": [{"qty": "2"}, {"qty": 3}]}}]


def test_transforming_fields_does_not_modify_the_input(make_flow: MakeFlow) -> None:
    data = {"order": {"items": [{"qty": "2"}]}}
    run(make_flow, [data], fields={"order.items.0.qty": ["to_int"]})
    assert data == {"order": {"items": [{"qty": "2"}]}}


def test_a_missing_field_is_left_out(make_flow: MakeFlow) -> None:
    job, out = run(make_flow, [{"a": "x"}], fields={"b": ["to_int"], "a": ["upper"]})
    assert job.status == "completed"
    assert out == [{"a": "X"}]


def test_transformations_run_on_the_whole_data_before_fields(make_flow: MakeFlow) -> None:
    data = '{"n": "4", "gone": null}'
    _, out = run(
        make_flow, [data], transformations=["json_loads", "remove_none"], fields={"n": ["to_int"]}
    )
    assert out == [{"n": 4}]


def test_fields_need_dict_data(make_flow: MakeFlow) -> None:
    job, _ = run(make_flow, [[1, 2]], fields={"a": ["to_int"]})
    assert job.status == "failed"
    assert "expects data to be a dict, not list" in job.errors[0].message


def test_a_field_inside_a_tuple_cannot_be_written(make_flow: MakeFlow) -> None:
    job, _ = run(make_flow, [{"t": ("1", "2")}], fields={"t.0": ["to_int"]})
    assert job.status == "failed"
    assert "cannot write the field 't.0'" in job.errors[0].message


def test_skip_emits_error_and_skips_the_rest_of_that_chain_only(make_flow: MakeFlow) -> None:
    flow, output, errors = transformer_flow(
        make_flow(), fields={"n": ["to_int", double], "s": ["upper"]}, on_error="skip"
    )
    job = flow.execute("source", {"items": [{"n": "x", "s": "a"}]})
    assert job.status == "completed"
    assert output.data() == [{"n": "x", "s": "A"}]
    assert errors.received == [
        {
            "data": {"n": "x", "s": "a"},
            "step": {"index": 0, "transformation": "to_int", "field": "n"},
            "error": "ValueError: invalid literal for int() with base 10: 'x'",
        }
    ]


def test_skip_on_the_whole_data_keeps_it_as_it_was_before_the_step(make_flow: MakeFlow) -> None:
    flow, output, errors = transformer_flow(
        make_flow(), transformations=["strip", "to_int", double], on_error="skip"
    )
    flow.execute("source", {"items": [" a ", " 2 "]})
    assert output.data() == ["a", 4]
    assert [e["step"]["index"] for e in errors.received] == [1]


def test_stop_emits_error_and_no_output(make_flow: MakeFlow) -> None:
    flow, output, errors = transformer_flow(
        make_flow(), transformations=[explode, "upper"], on_error="stop"
    )
    job = flow.execute("source", {"items": ["a"]})
    assert job.status == "completed"
    assert output.received == []
    assert errors.received == [
        {
            "data": "a",
            "step": {"index": 0, "transformation": "explode", "field": None},
            "error": "RuntimeError: cannot handle 'a'",
        }
    ]


def test_stop_on_a_field_emits_no_output(make_flow: MakeFlow) -> None:
    flow, output, errors = transformer_flow(
        make_flow(), fields={"a": ["upper"], "b": ["to_int"]}, on_error="stop"
    )
    flow.execute("source", {"items": [{"a": "x", "b": "y"}, {"a": "x", "b": "1"}]})
    assert output.data() == [{"a": "X", "b": 1}]
    assert [e["step"]["field"] for e in errors.received] == ["b"]


def test_no_transformations_pass_the_data_through(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [0, {"a": 1}, ""])
    assert out == [0, {"a": 1}, ""]


def test_data_none_is_an_empty_dict_as_published(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [None])
    assert out == [{}]


def test_unique_keeps_the_first_of_a_hundred_thousand_items(make_flow: MakeFlow) -> None:
    values = [i % 1000 for i in range(100_000)]
    _, out = run(make_flow, [values], transformations=["unique"])
    assert out == [list(range(1000))]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"transformations": "strip"}, "transformations must be a list"),
        ({"transformations": ["nope"]}, r"transformations\[0\]: there is no built-in .*'nope'"),
        ({"transformations": ["strip:x"]}, "'strip' is misconfigured: it takes no parameter"),
        ({"transformations": ["round:x"]}, "whole number of digits"),
        ({"transformations": ["round:1000"]}, "whole number of digits"),
        ({"transformations": ["split:"]}, "separator must not be empty"),
        ({"transformations": [42]}, r"transformations\[0\] must be the name of a transfor"),
        ({"transformation_map": []}, "transformation_map must be a dict of name -> function"),
        ({"transformation_map": {"x": 1}}, "must map non-empty names to functions; 'x' maps"),
        ({"chain_transformations": "yes"}, "chain_transformations must be True or False"),
        ({"fields": ["a"]}, "fields must be a dict"),
        ({"fields": {"a": "strip"}}, r"fields\['a'\] must be a list"),
        ({"fields": {"a": ["upper", "bad"]}}, r"fields\['a'\]\[1\]: there is no built-in"),
        ({"fields": {"a.__dict__": ["upper"]}}, "bad field path"),
        ({"fields": {"": ["upper"]}}, "bad field path"),
        ({"on_error": "ignore"}, "on_error must be 'continue', 'fail', 'skip' or 'stop'"),
    ],
)
def test_a_bad_config_is_refused_naming_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        DataTransformer().set_config(**config)


def test_a_refused_config_leaves_the_previous_chain_in_force(make_flow: MakeFlow) -> None:
    flow, output, _ = transformer_flow(make_flow(), transformations=["upper"])
    with pytest.raises(DefinitionError):
        flow.routines["transformer"].set_config(transformations=["lower", "nope"])
    flow.execute("source", {"items": ["a"]})
    assert output.data() == ["A"]


def test_a_flow_document_round_trips_and_transforms_the_same(make_flow: MakeFlow) -> None:
    config = {
        "transformations": ["json_loads"],
        "fields": {"n": ["to_int", double], "name": ["strip", "title"]},
        "on_error": "skip",
    }
    flow, output, _ = transformer_flow(make_flow(), **config)
    document = flow.serialize()
    rebuilt = Flow.deserialize(document)
    try:
        assert rebuilt.serialize() == document
        assert rebuilt.routines["transformer"].config() == {
            **config,
            "transformation_map": {},
            "chain_transformations": True,
        }
        items = ['{"n": "21", "name": " ada "}']
        flow.execute("source", {"items": items})
        rebuilt.execute("source", {"items": items})
        rebuilt_output = rebuilt.routines["output"]
        assert isinstance(rebuilt_output, Collector)
        assert rebuilt_output.data() == output.data() == [{"n": 42, "name": "Ada"}]
    finally:
        rebuilt.shutdown()


# -- the published interface ----------------------------------------------------------------


class PublishedSink(Routine):
    """A handler written for the published payload, with its three keys as parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Any, list[str], list[str] | None]] = []
        self.define_slot("input", handler=self.take)

    def take(
        self, transformed_data: Any, transformation_applied: list[str], errors: list[str] | None
    ) -> None:
        self.seen.append((transformed_data, transformation_applied, errors))


def published_flow(transformer: DataTransformer) -> Flow:
    flow = Flow()
    flow.add_routine(Source(), "source")
    flow.add_routine(transformer, "transformer")
    flow.add_routine(PublishedSink(), "sink")
    flow.connect("source", "out", "transformer", "input")
    flow.connect("transformer", "output", "sink", "input")
    return flow


def test_a_flow_wired_as_the_published_docs_wire_it_gets_the_published_payload() -> None:
    from routilux.builtin_routines.data_processing import DataTransformer as PublishedPath

    transformer = PublishedPath()
    transformer.set_config(transformations=["lowercase", "strip_whitespace"])
    flow = published_flow(transformer)
    job = flow.execute("source", {"items": ["  Ada LOVELACE ", 7]})
    assert job.status == "completed"
    assert flow.routines["sink"].seen == [  # type: ignore[attr-defined]
        ("ada lovelace", ["lowercase", "strip_whitespace"], None),
        (7, ["lowercase", "strip_whitespace"], None),
    ]


def test_by_default_a_failing_step_is_reported_and_the_chain_goes_on() -> None:
    transformer = DataTransformer()
    transformer.set_config(transformations=["to_int", double, explode, "to_string"])
    flow = published_flow(transformer)
    job = flow.execute("source", {"items": ["x", "4"]})
    assert job.status == "completed"
    assert flow.routines["sink"].seen == [  # type: ignore[attr-defined]
        (
            "xx",
            ["double", "to_string"],
            [
                "Error applying to_int: invalid literal for int() with base 10: 'x'",
                "Error applying explode: cannot handle 'xx'",
            ],
        ),
        ("8", ["to_int", "double", "to_string"], ["Error applying explode: cannot handle 8"]),
    ]


def test_a_message_chain_replaces_the_configured_one_and_reports_what_cannot_run() -> None:
    transformer = DataTransformer()
    transformer.set_config(transformations=["uppercase"])
    flow = published_flow(transformer)
    entry = Routine()
    entry.define_slot("trigger", handler=lambda **kw: entry.emit("out", **kw))
    entry.define_event("out")
    flow.add_routine(entry, "entry")
    flow.connect("entry", "out", "transformer", "input")
    flow.execute("entry", {"data": "Ab", "transformations": ["lowercase", "nope", 5, double]})
    assert flow.routines["sink"].seen == [  # type: ignore[attr-defined]
        (
            "abab",
            ["lowercase", "double"],
            ["Unknown transformation: nope", "Invalid transformation: 5"],
        )
    ]


def test_transformation_map_adds_names_and_wins_over_a_builtin() -> None:
    transformer = DataTransformer()
    transformer.set_config(
        transformation_map={"twice": double, "upper": str.lower},
        transformations=["twice", "upper"],
    )
    flow = published_flow(transformer)
    flow.execute("source", {"items": ["Ab"]})
    assert flow.routines["sink"].seen == [  # type: ignore[attr-defined]
        ("abab", ["twice", "upper"], None)
    ]


def test_register_transformation_adds_to_the_map() -> None:
    transformer = DataTransformer()
    transformer.register_transformation("twice", double)
    transformer.set_config(transformations=["twice"])
    assert transformer.get_config("transformation_map") == {"twice": double}
    flow = published_flow(transformer)
    flow.execute("source", {"items": [3]})
    assert flow.routines["sink"].seen == [(6, ["twice"], None)]  # type: ignore[attr-defined]


def test_a_name_the_map_no_longer_has_is_refused() -> None:
    transformer = DataTransformer()
    transformer.set_config(transformation_map={"twice": double}, transformations=["twice"])
    with pytest.raises(DefinitionError, match="no built-in transformation 'twice'"):
        transformer.set_config(transformation_map={})


def test_the_published_keys_are_in_the_defaults() -> None:
    assert DataTransformer().config() == {
        "transformations": [],
        "transformation_map": {},
        "chain_transformations": True,
        "fields": {},
        "on_error": "continue",
    }


def test_a_field_step_is_named_with_its_field(make_flow: MakeFlow) -> None:
    flow, output, _ = transformer_flow(
        make_flow(), fields={"n": ["to_int"], "s": ["upper"]}, on_error="continue"
    )
    flow.execute("source", {"items": [{"n": "x", "s": "a"}]})
    assert output.received == [
        {
            "transformed_data": {"n": "x", "s": "A"},
            "transformation_applied": ["s:upper"],
            "errors": [
                "Error applying to_int to the field 'n': "
                "invalid literal for int() with base 10: 'x'"
            ],
        }
    ]
