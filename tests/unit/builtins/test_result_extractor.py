"""ResultExtractor: the published extractors, strategies and payload, and our text kinds."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, JobState, Routine
from routilux.builtin_routines import ResultExtractor

Run = Callable[..., tuple[JobState, list[dict[str, Any]]]]
Extract = Callable[..., dict[str, Any]]
KEYS = ["extracted_result", "format", "metadata", "confidence", "extraction_path"]


class Source(Routine):
    """Emits each of ``messages`` on ``output``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("output")

    def send(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.emit("output", **message)


class Recorder(Routine):
    """Keeps every message it receives in the job's shared log."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.record)

    def record(self, **message: Any) -> None:
        context = self.get_execution_context()
        assert context is not None
        context.job_state.append_to_shared_log({"message": message})


def received(job: JobState) -> list[dict[str, Any]]:
    return [entry["message"] for entry in job.get_shared_log()]


def in_order(flow: Flow) -> None:
    """One delivery at a time per routine, so that messages arrive in the order sent."""
    for routine in flow.routines.values():
        routine.set_max_concurrency(1)


def extracting_flow(
    execution: str, extractor: ResultExtractor | None = None, /, **config: Any
) -> Flow:
    flow = Flow(execution_strategy=execution)
    flow.add_routine(Source(), "source")
    extractor = extractor or ResultExtractor()
    extractor.set_config(**config)
    flow.add_routine(extractor, "extractor")
    flow.add_routine(Recorder(), "recorder")
    flow.connect("source", "output", "extractor", "input")
    flow.connect("extractor", "output", "recorder", "input")
    in_order(flow)
    return flow


@pytest.fixture(params=["sequential", "concurrent"])
def run(request: pytest.FixtureRequest) -> Iterator[Run]:
    flows: list[Flow] = []

    def run(
        messages: list[dict[str, Any]], extractor: ResultExtractor | None = None, /, **config: Any
    ) -> tuple[JobState, list[dict[str, Any]]]:
        flow = extracting_flow(request.param, extractor, **config)
        flows.append(flow)
        job = flow.execute("source", {"messages": messages})
        return job, received(job)

    yield run
    for flow in flows:
        flow.shutdown()


@pytest.fixture
def extract(run: Run) -> Extract:
    def extract(data: Any, extractor: ResultExtractor | None = None, /, **config: Any) -> Any:
        job, outputs = run([{"data": data}], extractor, **config)
        assert job.status == "completed", job.errors
        [output] = outputs
        assert list(output) == KEYS
        return output

    return extract


ANSWER = """Sure! Here is the profile you asked for:

```json
{
  "name": "Ada Lovelace",
  "born": 1815,
  "interests": ["mathematics", "poetry"]
}
```

Let me know if you need anything else."""

PROFILE = {"name": "Ada Lovelace", "born": 1815, "interests": ["mathematics", "poetry"]}


# -- the published extractors ---------------------------------------------------------------


def test_a_json_code_block_is_the_result(extract: Extract) -> None:
    assert extract(ANSWER) == {
        "extracted_result": PROFILE,
        "format": "json",
        "metadata": {
            "extraction_method": "json_code_block",
            "block_count": 1,
            "block_index": 0,
            "extractor": "json_code_block",
            "strategy": "auto",
        },
        "confidence": 0.8999999999999999,
        "extraction_path": ["json_code_block"],
    }


def test_the_last_json_block_that_parses_wins(extract: Extract) -> None:
    text = '```json\n{"a": 1}\n```\n```json\n{"b": 2}\n```\n```JSON\nnot json\n```'
    out = extract(text)
    assert out["extracted_result"] == {"b": 2}
    assert (out["metadata"]["block_count"], out["metadata"]["block_index"]) == (3, 1)


def test_a_json_string_is_parsed(extract: Extract) -> None:
    out = extract('  {"status": "ok"}\n')
    assert (out["extracted_result"], out["format"], out["confidence"]) == (
        {"status": "ok"},
        "json",
        0.7999999999999999,
    )
    assert out["extraction_path"] == ["json_string"]


def test_a_code_block_of_a_listed_language_is_returned_raw(extract: Extract) -> None:
    out = extract("Try this:\n\n```python\ndef f():\n    return 1\n```\n")
    assert (out["extracted_result"], out["format"], out["confidence"]) == (
        "def f():\n    return 1\n",
        "python",
        0.6,
    )
    assert out["metadata"]["extraction_method"] == "python_code_block"


def test_interpreter_output_is_joined_into_lines(extract: Extract) -> None:
    outputs = [
        {"format": "output", "content": "hello"},
        {"format": "code", "content": "print(1)"},
        {"format": "output", "content": "  "},
        "more",
    ]
    out = extract(outputs)
    assert (out["extracted_result"], out["format"], out["confidence"]) == (
        "hello\nmore",
        "interpreter_output",
        0.5,
    )
    assert (out["metadata"]["output_count"], out["metadata"]["line_count"]) == (2, 2)


@pytest.mark.parametrize(
    ("data", "form", "confidence", "count"),
    [
        ({"a": 1}, "dict", 0.7, {"key_count": 1}),
        ([1, 2], "list", 0.7, {"item_count": 2}),
        ([], "list", 0.39999999999999997, {"item_count": 0}),
    ],
)
def test_dicts_and_lists_pass_through(
    extract: Extract, data: Any, form: str, confidence: float, count: dict[str, int]
) -> None:
    out = extract(data)
    assert (out["extracted_result"], out["format"], out["confidence"]) == (data, form, confidence)
    assert out["metadata"] == {
        "extraction_method": "direct",
        **count,
        "extractor": f"{form}_extractor",
        "strategy": "auto",
    }


def test_yaml_and_xml_blocks_are_read_when_turned_on(extract: Extract) -> None:
    yaml_out = extract("```yaml\na: 1\n```", extract_yaml_blocks=True)
    assert (yaml_out["extracted_result"], yaml_out["format"]) == ({"a": 1}, "yaml")
    assert yaml_out["confidence"] == 0.8999999999999999
    xml_out = extract("```xml\n<a/>\n```", extract_xml_blocks=True, extract=[])
    assert (xml_out["extracted_result"], xml_out["format"]) == ("<a/>\n", "xml")


def test_turned_off_extractors_do_not_run(extract: Extract) -> None:
    out = extract(ANSWER, extract_json_blocks=False, extract=[])
    assert out["extraction_path"] == []


# -- failure --------------------------------------------------------------------------------


def test_when_nothing_is_found_the_data_itself_is_the_result(extract: Extract) -> None:
    assert extract("Just a plain sentence.", extract=[]) == {
        "extracted_result": "Just a plain sentence.",
        "format": "str",
        "metadata": {"extraction_method": "none", "errors": [], "original_type": "str"},
        "confidence": 0.0,
        "extraction_path": [],
    }


def test_an_empty_message_is_an_empty_text(run: Run) -> None:
    _, outputs = run([{}])
    assert outputs[0]["extracted_result"] == ""
    assert outputs[0]["format"] == "str"


def test_without_return_original_on_failure_the_delivery_fails(run: Run) -> None:
    job, outputs = run([{"data": "plain"}], return_original_on_failure=False)
    assert job.status == "failed"
    assert outputs == []
    assert job.errors[0].error_type == "ValueError"
    assert "All extractors failed. Errors: []" in job.errors[0].message


def _boom(data: Any, config: Mapping[str, Any]) -> None:
    raise RuntimeError("kaput")


def test_a_raising_extractor_is_recorded_logged_and_skipped(
    extract: Extract, caplog: pytest.LogCaptureFixture
) -> None:
    extractor = ResultExtractor()
    extractor.register_extractor("boom", _boom)
    with caplog.at_level(logging.WARNING, logger="routilux"):
        out = extract("plain", extractor)
    assert out["metadata"]["errors"] == [
        {"extractor": "boom", "error": "Extractor 'boom' failed: kaput"}
    ]
    assert "Extractor 'boom' failed: kaput" in caplog.text


def test_without_continue_on_error_a_raising_extractor_ends_the_search(extract: Extract) -> None:
    extractor = ResultExtractor()
    extractor.register_extractor("boom", _boom)
    out = extract(ANSWER, extractor, extractor_priority=["boom"], continue_on_error=False)
    assert out["extraction_path"] == []
    assert out["metadata"]["errors"][0]["extractor"] == "boom"


# -- strategies, priority, custom extractors --------------------------------------------------


def test_strategy_all_gathers_every_success(extract: Extract) -> None:
    out = extract(ANSWER, strategy="all")
    assert out["format"] == "multi"
    assert out["extraction_path"] == ["json_code_block", "json_in_text", "code_in_text"]
    assert out["extracted_result"][:2] == [PROFILE, PROFILE]
    assert out["metadata"]["count"] == 3
    assert out["confidence"] == 0.8999999999999999


def test_strategy_best_takes_the_highest_confidence(extract: Extract) -> None:
    text = "```python\nx = 1\n```"
    assert extract(text)["extraction_path"] == ["code_block"]
    out = extract(text, strategy="best")
    assert (out["extraction_path"], out["confidence"]) == (["code_in_text"], 0.7)
    assert out["extracted_result"] == {"language": "python", "code": "x = 1"}


def test_extractor_priority_runs_the_named_extractors_first(extract: Extract) -> None:
    out = extract(ANSWER, extractor_priority=["code_in_text", "json_code_block"])
    assert out["extraction_path"] == ["code_in_text"]
    assert out["extracted_result"]["language"] == "json"


def _prefixed(data: Any, config: Mapping[str, Any]) -> tuple[Any, str, dict[str, Any]] | None:
    if isinstance(data, str) and data.startswith("CUSTOM:"):
        return data[7:], "custom", {"method": "prefix"}
    return None


def test_a_registered_extractor_runs_after_the_built_in_ones(extract: Extract) -> None:
    extractor = ResultExtractor()
    extractor.register_extractor("custom", _prefixed)
    assert extract("CUSTOM:hello", extractor) == {
        "extracted_result": "hello",
        "format": "custom",
        "metadata": {"method": "prefix", "extractor": "custom", "strategy": "auto"},
        "confidence": 0.5,
        "extraction_path": ["custom"],
    }


def test_register_extractor_refuses_what_is_not_a_plain_function() -> None:
    extractor = ResultExtractor()
    with pytest.raises(DefinitionError, match="must be a function"):
        extractor.register_extractor("x", 5)  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="names are strings"):
        extractor.register_extractor("", _prefixed)


# -- our kinds, after the published extractors -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "result"),
    [
        ('The answer is {"a": 1} as asked.', "json_in_text", {"a": 1}),
        ("~~~sql\nSELECT 1;\n~~~\n", "code_in_text", {"language": "sql", "code": "SELECT 1;"}),
        ("Name: Ada\nRole: admin", "key_value_in_text", {"Name": "Ada", "Role": "admin"}),
        ("Steps:\n1. install\n2. run", "list_in_text", ["install", "run"]),
    ],
)
def test_our_kinds_find_what_the_published_extractors_miss(
    extract: Extract, text: str, path: str, result: Any
) -> None:
    out = extract(text)
    assert (out["extraction_path"], out["extracted_result"]) == ([path], result)
    assert out["metadata"]["extraction_method"] == path


def test_extract_orders_and_selects_our_kinds(extract: Extract) -> None:
    text = "Name: Ada\n\n- one\n- two"
    assert extract(text, extract=["list", "key_value"])["extraction_path"] == ["list_in_text"]
    assert extract(text, extract=["key_value"])["extraction_path"] == ["key_value_in_text"]


def test_strict_applies_to_our_kinds(extract: Extract) -> None:
    text = 'The answer is {"a": 1}.'
    assert extract(text, extract=["json"])["extraction_path"] == ["json_in_text"]
    assert extract(text, strict=True, extract=["json"])["extraction_path"] == []


# -- input and bounds -------------------------------------------------------------------------


def test_the_text_key_is_taken_as_published_when_it_is_the_only_key(run: Run) -> None:
    _, outputs = run([{"text": '{"a": 1}'}])
    assert outputs[0]["extracted_result"] == {"a": 1}


def test_only_the_first_max_text_length_characters_are_examined(run: Run) -> None:
    text = "x" * 1000 + '{"late": true}'
    job, outputs = run([{"data": text}], max_text_length=1000)
    assert job.status == "completed"
    assert (outputs[0]["extracted_result"], outputs[0]["extraction_path"]) == (text, [])


def test_a_truncated_text_is_counted_in_the_truncated_stat() -> None:
    flow = extracting_flow("sequential", max_text_length=10)
    flow.execute("source", {"messages": [{"data": "a" * 11}, {"data": "a" * 10}]})
    assert flow.routines["extractor"].get_stat("truncated") == 1


def test_overlapping_deliveries_extract_independently() -> None:
    flow = extracting_flow("concurrent")
    flow.routines["extractor"].set_max_concurrency(None)
    try:
        job = flow.execute("source", {"messages": [{"data": f"[{n}, {n}]"} for n in range(50)]})
    finally:
        flow.shutdown()
    assert sorted(m["extracted_result"][0] for m in received(job)) == list(range(50))


def test_a_failing_delivery_is_recorded_and_the_job_goes_on_under_continue() -> None:
    flow = extracting_flow("sequential", return_original_on_failure=False)
    flow.routines["extractor"].set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = flow.execute("source", {"messages": [{"data": "plain"}, {"data": "[1, 2]"}]})
    assert job.status == "completed"
    assert len(job.errors) == 1
    assert [m["extracted_result"] for m in received(job)] == [[1, 2]]


# -- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"strategy": "fastest"}, r"strategy must be one of 'auto'.*not 'fastest'"),
        ({"extractor_priority": "json_string"}, r"extractor_priority must be a list of non-em"),
        ({"code_block_languages": [""]}, r"code_block_languages must be a list of non-empty"),
        ({"log_errors": "yes"}, r"log_errors must be True or False, not 'yes'"),
        ({"extract_yaml_blocks": 1}, r"extract_yaml_blocks must be True or False"),
        ({"extract": "json"}, r"extract must be a list of distinct kinds.*not 'json'"),
        ({"extract": ["yaml"]}, r"among 'json', 'code', 'key_value' and 'list', not \['yaml'\]"),
        ({"extract": ["json", "json"]}, r"distinct kinds"),
        ({"strict": "yes"}, r"strict must be True or False, not 'yes'"),
        ({"max_text_length": 0}, r"max_text_length must be a positive integer, not 0"),
        ({"max_text_length": 1.5}, r"max_text_length must be a positive integer, not 1.5"),
    ],
)
def test_a_bad_config_is_refused_naming_the_key(config: dict[str, Any], expected: str) -> None:
    with pytest.raises(DefinitionError, match=rf"ResultExtractor .*{expected}"):
        ResultExtractor().set_config(**config)


def test_the_defaults_are_the_published_ones_then_ours() -> None:
    assert ResultExtractor().config() == {
        "strategy": "auto",
        "extractor_priority": [],
        "extract_json_blocks": True,
        "extract_code_blocks": True,
        "extract_yaml_blocks": False,
        "extract_xml_blocks": False,
        "code_block_languages": ["json", "python", "output", "yaml", "xml"],
        "format_interpreter_output": True,
        "parse_json_strings": True,
        "parse_yaml_strings": False,
        "detect_nested_structures": True,
        "continue_on_error": True,
        "return_original_on_failure": True,
        "log_errors": True,
        "extract": ["json", "code", "key_value", "list"],
        "strict": False,
        "max_text_length": 100_000,
    }


# -- the published wiring and documents ---------------------------------------------------------


class PublishedSink(Routine):
    """A handler written for the published payload, with its five keys as parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Any, str, float, list[str]]] = []
        self.define_slot("input", handler=self.take)

    def take(
        self,
        extracted_result: Any,
        format: str,
        metadata: dict[str, Any],
        confidence: float,
        extraction_path: list[str],
    ) -> None:
        self.seen.append((extracted_result, format, confidence, extraction_path))


def test_a_flow_wired_as_the_published_docs_wire_it_gets_the_published_payload() -> None:
    from routilux.builtin_routines.text_processing import ResultExtractor as PublishedPath

    extractor = PublishedPath()
    extractor.set_config(strategy="auto", extract_json_blocks=True, extract_code_blocks=True)
    flow = Flow()
    flow.add_routine(Source(), "source")
    flow.add_routine(extractor, "extractor")
    flow.add_routine(PublishedSink(), "sink")
    flow.connect("source", "output", "extractor", "input")
    flow.connect("extractor", "output", "sink", "input")
    job = flow.execute("source", {"messages": [{"data": ANSWER}, {"data": '["x"]'}]})
    assert job.status == "completed"
    assert flow.routines["sink"].seen == [  # type: ignore[attr-defined]
        (PROFILE, "json", 0.8999999999999999, ["json_code_block"]),
        (["x"], "json", 0.7999999999999999, ["json_string"]),
    ]


REGISTRY = {"ExtractorTestSource": Source, "ExtractorTestRecorder": Recorder}


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_a_flow_document_round_trips_and_extracts_the_same(strategy: str) -> None:
    flow = extracting_flow(
        strategy, None, strategy="all", extract=["code", "json"], strict=True, max_text_length=5000
    )
    document = flow.serialize(registry=REGISTRY)
    rebuilt = Flow.deserialize(document, registry=REGISTRY)
    messages = [{"data": ANSWER}, {"data": "nothing"}, {"data": '{"a": 1,}'}]
    try:
        assert rebuilt.serialize(registry=REGISTRY) == document
        original = received(flow.execute("source", {"messages": messages}))
        again = received(rebuilt.execute("source", {"messages": messages}))
    finally:
        flow.shutdown()
        rebuilt.shutdown()
    assert again == original
    assert [m["extraction_path"] for m in original] == [
        ["json_code_block", "code_in_text", "json_in_text"],
        [],
        [],
    ]
