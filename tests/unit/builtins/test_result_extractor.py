"""ResultExtractor: JSON, code, key-value and list results from LLM-style text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, JobState, Routine
from routilux.builtin_routines import ResultExtractor

Run = Callable[..., tuple[JobState, list[dict[str, Any]]]]
Extract = Callable[..., dict[str, Any]]


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
    """Keeps every message it receives, with the name of its slot, in the job's shared log."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("found", handler=self.found)
        self.define_slot("missing", handler=self.missing)

    def found(self, **message: Any) -> None:
        self._log({"event": "output", **message})

    def missing(self, **message: Any) -> None:
        self._log({"event": "not_found", **message})

    def _log(self, entry: dict[str, Any]) -> None:
        context = self.get_execution_context()
        assert context is not None
        context.job_state.append_to_shared_log({"message": entry})


def received(job: JobState) -> list[dict[str, Any]]:
    return [entry["message"] for entry in job.get_shared_log()]


def extracting_flow(strategy: str, **config: Any) -> Flow:
    flow = Flow(execution_strategy=strategy)
    flow.add_routine(Source(), "source")
    extractor = ResultExtractor()
    extractor.set_config(**config)
    flow.add_routine(extractor, "extractor")
    flow.add_routine(Recorder(), "recorder")
    flow.connect("source", "output", "extractor", "input")
    flow.connect("extractor", "output", "recorder", "found")
    flow.connect("extractor", "not_found", "recorder", "missing")
    return flow


@pytest.fixture(params=["sequential", "concurrent"])
def run(request: pytest.FixtureRequest) -> Iterator[Run]:
    flows: list[Flow] = []

    def run(messages: list[dict[str, Any]], **config: Any) -> tuple[JobState, list[dict[str, Any]]]:
        flow = extracting_flow(request.param, **config)
        flows.append(flow)
        job = flow.execute("source", {"messages": messages})
        return job, received(job)

    yield run
    for flow in flows:
        flow.shutdown()


@pytest.fixture
def extract(run: Run) -> Extract:
    def extract(text: str, **config: Any) -> dict[str, Any]:
        job, outputs = run([{"text": text}], **config)
        assert job.status == "completed", job.errors
        return outputs[0]

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


# -- JSON -------------------------------------------------------------------------------------


def test_a_fenced_json_block_in_prose_is_the_result_with_full_confidence(extract: Extract) -> None:
    out = extract(ANSWER)
    assert (out["event"], out["kind"], out["result"], out["confidence"]) == (
        "output",
        "json",
        PROFILE,
        1.0,
    )


def test_the_fenced_block_is_also_a_code_candidate(extract: Extract) -> None:
    candidates = extract(ANSWER)["candidates"]
    assert candidates[0]["kind"] == "code"
    assert candidates[0]["result"]["language"] == "json"
    assert candidates[0]["confidence"] == 1.0


def test_the_output_carries_exactly_the_documented_keys(extract: Extract) -> None:
    assert sorted(extract(ANSWER)) == ["candidates", "confidence", "event", "kind", "result"]


def test_trailing_commas_are_repaired_with_lower_confidence(extract: Extract) -> None:
    text = '```json\n{"a": [1, 2,], "b": "x,]",}\n```'
    out = extract(text)
    assert (out["result"], out["confidence"]) == ({"a": [1, 2], "b": "x,]"}, 0.85)


def test_strict_mode_does_not_repair(extract: Extract) -> None:
    out = extract('```json\n{"a": [1, 2,],}\n```', strict=True, extract=["json"])
    assert out == {"event": "not_found", "text": '```json\n{"a": [1, 2,],}\n```'}


def test_a_whole_text_that_is_json_has_high_confidence(extract: Extract) -> None:
    out = extract('  {"status": "ok", "items": [1, 2]}\n')
    assert (out["result"], out["confidence"]) == ({"status": "ok", "items": [1, 2]}, 0.95)


def test_json_embedded_in_prose_is_found_whole_not_its_parts(extract: Extract) -> None:
    out = extract('The answer is {"a": {"b": [1, 2]}, "c": "}"} as requested.')
    assert (out["result"], out["confidence"]) == ({"a": {"b": [1, 2]}, "c": "}"}, 0.7)
    assert all(c["kind"] != "json" for c in out["candidates"])


def test_an_array_in_prose_has_less_confidence_than_an_object(extract: Extract) -> None:
    out = extract('The primes are [2, 3, 5] and the map is {"a": 1}.')
    assert (out["result"], out["confidence"]) == ({"a": 1}, 0.7)
    assert out["candidates"][0] == {"kind": "json", "result": [2, 3, 5], "confidence": 0.6}


def test_embedded_json_is_not_found_in_strict_mode(extract: Extract) -> None:
    out = extract('The answer is {"a": 1}.', strict=True, extract=["json"])
    assert out["event"] == "not_found"


def test_of_two_fenced_blocks_the_larger_is_the_result(extract: Extract) -> None:
    text = 'Example:\n```json\n{"a": 1}\n```\nAnswer:\n```json\n{"a": 1, "b": 2}\n```'
    out = extract(text, extract=["json"])
    assert out["result"] == {"a": 1, "b": 2}
    assert out["candidates"] == [{"kind": "json", "result": {"a": 1}, "confidence": 1.0}]


def test_a_json_fence_inside_a_markdown_fence_is_found(extract: Extract) -> None:
    text = '````markdown\nUse this:\n```json\n{"x": 1}\n```\n````\n'
    out = extract(text, extract=["json"])
    assert (out["result"], out["confidence"]) == ({"x": 1}, 1.0)


def test_a_fence_without_language_holding_json_is_json(extract: Extract) -> None:
    out = extract('Result:\n```\n[{"id": 1}]\n```', extract=["json"])
    assert (out["result"], out["confidence"]) == ([{"id": 1}], 0.9)


def test_a_json_fence_may_hold_a_scalar(extract: Extract) -> None:
    out = extract("```json\n42\n```", extract=["json"])
    assert out["result"] == 42


def test_json_inside_another_languages_fence_is_not_json(extract: Extract) -> None:
    out = extract('```python\nconfig = {"a": 1}\n```', extract=["json"])
    assert out["event"] == "not_found"


def test_a_broken_json_fence_is_searched_for_embedded_values(extract: Extract) -> None:
    out = extract('```json\n// the result\n{"a": 1}\n```', extract=["json"])
    assert (out["result"], out["confidence"]) == ({"a": 1}, 0.7)


def test_nan_and_infinity_are_not_json(extract: Extract) -> None:
    out = extract('```json\n{"a": NaN}\n```\n{"b": Infinity}', extract=["json"])
    assert out["event"] == "not_found"


def test_unicode_json_is_decoded(extract: Extract) -> None:
    out = extract('Voilà : {"ville": "Zürich", "emoji": "\\ud83d\\ude42"}')
    assert out["result"] == {"ville": "Zürich", "emoji": "🙂"}


def test_quotes_in_prose_do_not_hide_json(extract: Extract) -> None:
    out = extract('He said "here it is": {"ok": true} — "done".')
    assert out["result"] == {"ok": True}


# -- code -------------------------------------------------------------------------------------


def test_a_fenced_code_block_is_returned_with_its_language(extract: Extract) -> None:
    text = "Try this:\n\n```python\ndef f():\n    return 1\n```\n"
    out = extract(text)
    assert (out["kind"], out["result"], out["confidence"]) == (
        "code",
        {"language": "python", "code": "def f():\n    return 1"},
        1.0,
    )


def test_a_code_block_without_language_has_less_confidence(extract: Extract) -> None:
    out = extract("```\nls -la\n```", extract=["code"])
    assert (out["result"], out["confidence"]) == ({"language": None, "code": "ls -la"}, 0.9)


def test_an_unclosed_fence_runs_to_the_end_with_less_confidence(extract: Extract) -> None:
    out = extract("Here:\n```bash\necho hi\necho bye", extract=["code"])
    assert (out["result"], out["confidence"]) == (
        {"language": "bash", "code": "echo hi\necho bye"},
        0.8,
    )


def test_strict_mode_ignores_unclosed_fences(extract: Extract) -> None:
    out = extract("```bash\necho hi", extract=["code"], strict=True)
    assert out["event"] == "not_found"


def test_a_tilde_fence_and_a_longer_closing_fence_are_understood(extract: Extract) -> None:
    out = extract("~~~sql\nSELECT 1;\n~~~~\n", extract=["code"])
    assert out["result"] == {"language": "sql", "code": "SELECT 1;"}


# -- key-value and list lines -----------------------------------------------------------------


def test_key_value_lines_become_a_dict_of_strings(extract: Extract) -> None:
    out = extract("Name: Ada\n**Role:** admin\n- Team: core\n", extract=["key_value"])
    assert (out["result"], out["confidence"]) == (
        {"Name": "Ada", "Role": "admin", "Team": "core"},
        0.9,
    )


def test_key_value_confidence_falls_with_the_share_of_prose(extract: Extract) -> None:
    text = "Here is what I found.\nName: Ada\nRole: admin\nHope this helps."
    out = extract(text, extract=["key_value"])
    assert (out["result"], out["confidence"]) == ({"Name": "Ada", "Role": "admin"}, 0.7)


def test_a_later_key_value_line_overrides_an_earlier_one(extract: Extract) -> None:
    out = extract("status: draft\nstatus: final", extract=["key_value"])
    assert out["result"] == {"status": "final"}


def test_times_and_urls_are_not_key_value_lines(extract: Extract) -> None:
    out = extract("12:30\nhttps://example.com\nSee: //relative", extract=["key_value"])
    assert out["event"] == "not_found"


def test_strict_key_value_needs_the_whole_text(extract: Extract) -> None:
    out = extract("Intro.\nName: Ada", extract=["key_value"], strict=True)
    assert out["event"] == "not_found"


def test_bullets_and_numbers_become_a_list(extract: Extract) -> None:
    text = "Steps:\n1. install\n2) configure\n   with care\n- run\n\n* check\nThanks!"
    out = extract(text, extract=["list"])
    assert (out["result"], out["confidence"]) == (["install", "configure", "run", "check"], 0.79)


def test_separate_lists_are_separate_candidates(extract: Extract) -> None:
    out = extract("- a\n- b\n- c\nand\n- d", extract=["list"])
    assert out["result"] == ["a", "b", "c"]
    assert out["candidates"] == [{"kind": "list", "result": ["d"], "confidence": 0.58}]


def test_lines_inside_fences_are_not_list_items(extract: Extract) -> None:
    out = extract("```\n- not an item\n```", extract=["list"])
    assert out["event"] == "not_found"


# -- preference, candidates, not found --------------------------------------------------------


def test_extract_order_is_the_preference(extract: Extract) -> None:
    out = extract(ANSWER + "\n\n- one\n- two", extract=["list", "json"])
    assert (out["kind"], out["result"]) == ("list", ["one", "two"])
    assert out["candidates"][0]["kind"] == "json"


def test_kinds_not_listed_are_not_candidates(extract: Extract) -> None:
    out = extract(ANSWER, extract=["json"])
    assert out["candidates"] == []


def test_candidates_are_capped_at_twenty(extract: Extract) -> None:
    out = extract(" ".join(f'{{"n": {n}}}' for n in range(50)), extract=["json"])
    assert len(out["candidates"]) == 19


def test_nothing_found_emits_not_found_with_the_text(run: Run) -> None:
    _, outputs = run([{"text": "Just a plain sentence."}])
    assert outputs == [{"event": "not_found", "text": "Just a plain sentence."}]


def test_an_empty_text_is_not_found(run: Run) -> None:
    _, outputs = run([{"text": ""}])
    assert outputs == [{"event": "not_found", "text": ""}]


def test_the_data_key_is_read_when_there_is_no_text_key(run: Run) -> None:
    _, outputs = run([{"data": '{"a": 1}'}])
    assert outputs[0]["result"] == {"a": 1}


# -- bounds -----------------------------------------------------------------------------------


def test_only_the_first_max_text_length_characters_are_examined(run: Run) -> None:
    text = "x" * 1000 + '{"late": true}'
    job, outputs = run([{"text": text}], max_text_length=1000)
    assert outputs == [{"event": "not_found", "text": text}]
    assert job.status == "completed"


def test_a_truncated_text_is_counted_in_the_truncated_stat() -> None:
    flow = extracting_flow("sequential", max_text_length=10)
    flow.execute("source", {"messages": [{"text": "a" * 11}, {"text": "a" * 10}]})
    assert flow.routines["extractor"].get_stat("truncated") == 1


def test_a_huge_text_within_the_limit_is_scanned(extract: Extract) -> None:
    text = "word [1] " * 100_000 + '```json\n{"found": 1}\n```'
    out = extract(text, max_text_length=len(text), extract=["json"])
    assert out["result"] == {"found": 1}


@pytest.mark.parametrize(
    "text",
    [
        "[" * 200_000,
        "{" * 100_000 + "}" * 100_000,
        '["' * 50_000,
        "```json\n" + "[" * 5000 + "]" * 5000,
    ],
)
def test_pathological_brackets_end_quickly_without_error(extract: Extract, text: str) -> None:
    out = extract(text, max_text_length=len(text), extract=["json"])
    assert out["event"] in ("output", "not_found")


def test_json_nested_deeper_than_the_scanner_allows_yields_its_inner_part(
    extract: Extract,
) -> None:
    text = "[" * 300 + "1" + "]" * 300
    out = extract(text, extract=["json"])
    depth, value = 0, out["result"]
    while isinstance(value, list):
        depth, value = depth + 1, value[0]
    assert depth <= 256


def test_overlapping_deliveries_extract_independently() -> None:
    flow = extracting_flow("concurrent")
    flow.routines["extractor"].set_max_concurrency(None)
    try:
        job = flow.execute("source", {"messages": [{"text": f"[{n}, {n}]"} for n in range(50)]})
    finally:
        flow.shutdown()
    assert sorted(m["result"][0] for m in received(job)) == list(range(50))


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, 42, {"a": 1}])
def test_a_text_that_is_not_a_str_fails_the_delivery(run: Run, value: Any) -> None:
    job, outputs = run([{"text": value}])
    assert job.status == "failed"
    assert outputs == []
    assert job.errors[0].error_type == "TypeError"
    assert "ResultExtractor expects 'text' to be a str" in job.errors[0].message


def test_a_message_without_text_or_data_fails_naming_the_keys(run: Run) -> None:
    job, _ = run([{"answer": "x"}])
    assert job.errors[0].error_type == "HandlerArgumentsError"
    assert "'text' (or 'data')" in job.errors[0].message


def test_a_bad_message_is_recorded_and_the_job_goes_on_under_continue() -> None:
    flow = extracting_flow("sequential")
    flow.routines["extractor"].set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = flow.execute("source", {"messages": [{"text": None}, {"text": "[1, 2]"}]})
    assert job.status == "completed"
    assert len(job.errors) == 1
    assert [m["result"] for m in received(job)] == [[1, 2]]


# -- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"extract": "json"}, r"extract must be a non-empty list.*not 'json'"),
        ({"extract": []}, r"extract must be a non-empty list.*not \[\]"),
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


def test_the_defaults_are_set_in_the_config() -> None:
    assert ResultExtractor().config() == {
        "extract": ["json", "code", "key_value", "list"],
        "strict": False,
        "max_text_length": 100_000,
    }


# -- documents ------------------------------------------------------------------------------

REGISTRY = {"ExtractorTestSource": Source, "ExtractorTestRecorder": Recorder}


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_a_flow_document_round_trips_and_extracts_the_same(strategy: str) -> None:
    flow = extracting_flow(strategy, extract=["code", "json"], strict=True, max_text_length=5000)
    document = flow.serialize(registry=REGISTRY)
    rebuilt = Flow.deserialize(document, registry=REGISTRY)
    messages = [{"text": ANSWER}, {"text": "nothing"}, {"text": '{"a": 1,}'}]
    try:
        assert rebuilt.serialize(registry=REGISTRY) == document
        original = received(flow.execute("source", {"messages": messages}))
        again = received(rebuilt.execute("source", {"messages": messages}))
    finally:
        flow.shutdown()
        rebuilt.shutdown()
    assert again == original
    assert [m["event"] for m in original] == ["output", "not_found", "not_found"]
    assert original[0]["kind"] == "code"
