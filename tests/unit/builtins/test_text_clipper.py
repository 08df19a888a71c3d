"""TextClipper: whole lines, word cuts, tracebacks, messages, config and documents."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, JobState, Routine
from routilux.builtin_routines import TextClipper

Run = Callable[..., tuple[JobState, list[dict[str, Any]]]]
Clip = Callable[..., str]


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


def clipping_flow(strategy: str, **config: Any) -> Flow:
    flow = Flow(execution_strategy=strategy)
    flow.add_routine(Source(), "source")
    clipper = TextClipper()
    clipper.set_config(**config)
    flow.add_routine(clipper, "clipper")
    flow.add_routine(Recorder(), "recorder")
    flow.connect("source", "output", "clipper", "input")
    flow.connect("clipper", "output", "recorder", "input")
    in_order(flow)
    return flow


@pytest.fixture(params=["sequential", "concurrent"])
def run(request: pytest.FixtureRequest) -> Iterator[Run]:
    flows: list[Flow] = []

    def run(messages: list[dict[str, Any]], **config: Any) -> tuple[JobState, list[dict[str, Any]]]:
        flow = clipping_flow(request.param, **config)
        flows.append(flow)
        job = flow.execute("source", {"messages": messages})
        return job, received(job)

    yield run
    for flow in flows:
        flow.shutdown()


@pytest.fixture
def clip(run: Run) -> Clip:
    def clip(text: str, **config: Any) -> str:
        job, outputs = run([{"text": text}], **config)
        assert job.status == "completed", job.errors
        return str(outputs[0]["clipped_text"])

    return clip


LINES = "alpha\nbravo\ncharlie\ndelta\necho\n"  # 31 characters
TRACEBACK = (
    "Traceback (most recent call last):\n"
    + "".join(f'  File "app.py", line {n}, in step{n}\n    step{n + 1}()\n' for n in range(1, 31))
    + "ValueError: boom\n"
)


# -- texts that fit, and the emitted keys ----------------------------------------------------


def test_a_text_that_fits_passes_unchanged(run: Run) -> None:
    _, outputs = run([{"text": "short text\n"}], max_length=40)
    assert outputs == [
        {"clipped_text": "short text\n", "was_clipped": False, "original_length": 11}
    ]


def test_a_text_of_exactly_max_length_is_not_clipped(run: Run) -> None:
    _, outputs = run([{"text": "x" * 40}], max_length=40)
    assert outputs[0]["clipped_text"] == "x" * 40
    assert outputs[0]["was_clipped"] is False


def test_a_clipped_text_reports_its_original_length(run: Run) -> None:
    _, outputs = run([{"text": LINES}], max_length=20, truncation_message="")
    assert outputs[0]["was_clipped"] is True
    assert outputs[0]["original_length"] == 31


def test_the_data_key_is_read_when_there_is_no_text_key(run: Run) -> None:
    _, outputs = run([{"data": LINES}], max_length=20, truncation_message="[-{removed}]")
    assert outputs[0]["clipped_text"] == "alpha\nbravo\n[-19]"


def test_an_empty_text_passes_unchanged(run: Run) -> None:
    _, outputs = run([{"text": ""}], max_length=5, truncation_message="")
    assert outputs == [{"clipped_text": "", "was_clipped": False, "original_length": 0}]


def test_the_default_message_is_appended_in_english(clip: Clip) -> None:
    text = "".join(f"line {n}\n" for n in range(40))
    assert clip(text, max_length=80) == (
        "line 0\nline 1\nline 2\nline 3\nline 4\nline 5\n… [truncated: 268 of 310 characters]"
    )


# -- whole lines ------------------------------------------------------------------------------


def test_head_keeps_whole_lines_from_the_start(clip: Clip) -> None:
    assert clip(LINES, max_length=20, truncation_message="[-{removed}]") == "alpha\nbravo\n[-19]"


def test_tail_keeps_whole_lines_from_the_end_after_the_message(clip: Clip) -> None:
    out = clip(LINES, max_length=20, keep="tail", truncation_message="[-{removed}]")
    assert out == "[-20]\ndelta\necho\n"


def test_head_tail_keeps_both_ends_around_the_message(clip: Clip) -> None:
    out = clip(LINES, max_length=20, keep="head_tail", truncation_message="[-{removed}]")
    assert out == "alpha\n[-20]\necho\n"


def test_a_line_that_fits_alone_but_not_in_the_space_left_is_dropped(clip: Clip) -> None:
    text = "short\n" + "x" * 10 + "\nend\n"
    assert clip(text, max_length=12, truncation_message="") == "short\n"


def test_crlf_line_endings_are_kept(clip: Clip) -> None:
    out = clip("one\r\ntwo\r\nthree\r\n", max_length=12, truncation_message="[cut]")
    assert out == "one\r\n[cut]"


# -- lines longer than the limit ---------------------------------------------------------------


def test_a_line_longer_than_the_limit_is_cut_at_a_word_boundary(clip: Clip) -> None:
    assert clip("one two three four five six", max_length=15, truncation_message="") == (
        "one two three"
    )


def test_tail_cuts_a_long_line_at_a_word_boundary_from_the_end(clip: Clip) -> None:
    out = clip("one two three four five six", max_length=15, keep="tail", truncation_message="")
    assert out == "four five six"


def test_a_word_longer_than_the_limit_is_cut_where_the_limit_falls(clip: Clip) -> None:
    out = clip("abcdefghijklmnopqrstuvwxyz", max_length=10, truncation_message="")
    assert out == "abcdefghij"


@pytest.mark.parametrize("limit", [10, 20, 30])
def test_a_small_max_length_with_the_default_message_clips_without_it(
    clip: Clip, limit: int
) -> None:
    # As published programs configure it: set_config(max_length=...) alone.
    out = clip(LINES, max_length=limit)
    assert len(out) <= limit
    assert LINES.startswith(out)
    assert "truncated" not in out


def test_a_long_line_after_short_ones_fills_the_space_left(clip: Clip) -> None:
    text = "short\n" + "word " * 10 + "\nend\n"
    assert clip(text, max_length=30, truncation_message="") == "short\nword word word word word"


def test_head_tail_keeps_the_start_and_end_of_one_long_line(clip: Clip) -> None:
    out = clip("x" * 100, max_length=60, keep="head_tail", truncation_message="[cut {removed}]")
    assert out == "x" * 25 + "\n[cut 51]\n" + "x" * 24


def test_the_message_goes_on_its_own_line_after_a_cut_line(clip: Clip) -> None:
    out = clip("word " * 20, max_length=30, truncation_message="[cut]")
    assert out == "word word word word word\n[cut]"


# -- tracebacks -----------------------------------------------------------------------------


def test_a_traceback_that_fits_is_kept_whole(clip: Clip) -> None:
    short_tb = 'Traceback (most recent call last):\n  File "a.py", line 1\nKeyError: 1\n'
    text = short_tb + "after\n" * 20
    out = clip(text, max_length=len(short_tb) + 5, truncation_message="")
    assert out == short_tb


def test_a_traceback_that_does_not_fit_in_the_space_left_is_dropped_whole(clip: Clip) -> None:
    short_tb = 'Traceback (most recent call last):\n  File "a.py", line 1\nKeyError: 1\n'
    text = "intro line\n" + short_tb
    out = clip(text, max_length=len(short_tb) + 2, truncation_message="")
    assert out == "intro line\n"


def test_a_long_traceback_keeps_its_header_first_frames_last_frames_and_exception(
    clip: Clip,
) -> None:
    out = clip("start\n" + TRACEBACK + "end\n", max_length=400)
    assert out.startswith("start\nTraceback (most recent call last):\n")
    assert '  File "app.py", line 1, in step1\n    step2()\n' in out
    assert '  File "app.py", line 30, in step30\n    step31()\nValueError: boom\n' in out
    assert re.search(r"\n  … \[\d+ traceback lines omitted\]\n", out)
    assert len(out) <= 400


def test_a_shortened_traceback_counts_its_omitted_lines(clip: Clip) -> None:
    out = clip(TRACEBACK, max_length=400, truncation_message="")
    omitted = int(re.findall(r"… \[(\d+) traceback lines omitted\]", out)[0])
    assert len(out.splitlines()) - 1 + omitted == len(TRACEBACK.splitlines())


def test_a_long_traceback_is_shortened_in_tail_mode_too(clip: Clip) -> None:
    out = clip("start\n" + TRACEBACK + "end\n", max_length=300, keep="tail")
    assert out.endswith("ValueError: boom\nend\n")
    assert "Traceback (most recent call last):\n" in out
    assert "start" not in out


def test_head_tail_gives_a_long_traceback_the_space_the_ends_leave(clip: Clip) -> None:
    out = clip("start\n" + TRACEBACK + "end\n", max_length=400, keep="head_tail")
    assert out.startswith("start\nTraceback (most recent call last):\n")
    assert out.endswith("ValueError: boom\n… [truncated: 1205 of 1506 characters]\nend\n")


def test_an_indented_traceback_is_recognised(clip: Clip) -> None:
    indented = "".join("    " + line for line in TRACEBACK.splitlines(keepends=True))
    out = clip(indented, max_length=300, truncation_message="")
    assert out.startswith("    Traceback (most recent call last):\n")
    assert out.endswith("    ValueError: boom\n")
    assert "      … [" in out


# -- messages --------------------------------------------------------------------------------


def test_the_message_fields_add_up(clip: Clip) -> None:
    out = clip(LINES * 10, max_length=60, truncation_message="[{kept}+{removed}={total}]")
    kept, removed, total = map(int, re.findall(r"\[(\d+)\+(\d+)=(\d+)\]", out)[0])
    assert (kept + removed, total, kept) == (total, 310, len(out.split("[")[0]))


def test_an_empty_message_adds_nothing(clip: Clip) -> None:
    assert clip(LINES, max_length=20, truncation_message="") == "alpha\nbravo\ncharlie\n"


def test_literal_braces_in_the_message_are_kept(clip: Clip) -> None:
    out = clip(LINES, max_length=20, truncation_message="{{-{removed}}}")
    assert out == "alpha\nbravo\n{-19}"


# -- bounds -----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("ab \n\t…"), max_size=300),
    max_length=st.integers(min_value=1, max_value=120),
    keep=st.sampled_from(["head", "tail", "head_tail"]),
)
def test_the_output_is_never_longer_than_max_length_and_comes_from_the_text(
    text: str, max_length: int, keep: str
) -> None:
    flow = clipping_flow("sequential", max_length=max_length, keep=keep, truncation_message="")
    out = received(flow.execute("source", {"messages": [{"text": text}]}))[0]["clipped_text"]
    assert len(out) <= max_length
    if keep == "head":
        assert text.startswith(out)
    elif keep == "tail":
        assert text.endswith(out)
    else:
        assert any(text.startswith(out[:n]) and text.endswith(out[n:]) for n in range(len(out) + 1))


def test_unicode_is_counted_in_characters(clip: Clip) -> None:
    text = "日本語のテキスト\n" * 10 + "🙂🙂🙂\n"
    out = clip(text, max_length=30, truncation_message="[-{removed}]")
    assert out == "日本語のテキスト\n日本語のテキスト\n[-76]"


def test_a_huge_text_is_clipped_to_max_length(run: Run) -> None:
    text = "a fairly ordinary log line\n" * 200_000
    _, outputs = run([{"text": text}], max_length=1000, keep="head_tail")
    assert len(outputs[0]["clipped_text"]) <= 1000
    assert outputs[0]["original_length"] == len(text)


def test_a_message_made_too_long_by_huge_counts_is_dropped(clip: Clip) -> None:
    text = "x" * 1_000_000
    out = clip(text, max_length=12, truncation_message="[{removed} of {total}]")
    assert out == "x" * 12


def test_overlapping_deliveries_clip_independently() -> None:
    flow = clipping_flow("concurrent", max_length=8, truncation_message="")
    flow.routines["clipper"].set_max_concurrency(None)
    texts = [f"{n:04}\n" + "x" * n for n in range(50)]
    try:
        job = flow.execute("source", {"messages": [{"text": t} for t in texts]})
    finally:
        flow.shutdown()
    outputs = sorted((m["original_length"], m["clipped_text"]) for m in received(job))
    # "xxxx" lines of up to 8 characters are dropped whole; longer ones are cut.
    expected = [t if len(t) <= 8 else t[:8] if n > 8 else t[:5] for n, t in enumerate(texts)]
    assert outputs == [(len(t), e) for t, e in zip(texts, expected, strict=True)]


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ({"text": 42}, "42"),
        ({"text": None}, "{}"),
        ({"text": ["a"]}, "['a']"),
        ({"data": 4.5}, "4.5"),
        ({"content": "only key"}, "only key"),
        ({"text": {"content": "c", "text": "t"}}, "t"),
        ({"text": {"n": 1, "body": "b"}}, "b"),
        ({"text": {"n": 1}}, "{'n': 1}"),
        ({"body": "x", "n": 1}, "x"),
        ({}, "{}"),
    ],
)
def test_the_text_is_taken_from_the_message_as_published(
    run: Run, message: dict[str, Any], text: str
) -> None:
    job, outputs = run([message])
    assert job.status == "completed", job.errors
    assert [m["clipped_text"] for m in outputs] == [text]


def test_a_max_length_in_the_message_overrides_the_config(run: Run) -> None:
    _, outputs = run(
        [{"text": LINES, "max_length": 12}, {"text": LINES}],
        max_length=100,
        truncation_message="",
    )
    assert [m["clipped_text"] for m in outputs] == ["alpha\nbravo\n", LINES]


def test_a_bad_message_is_recorded_and_the_job_goes_on_under_continue() -> None:
    flow = clipping_flow("sequential", max_length=5, truncation_message="")
    flow.routines["clipper"].set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = flow.execute("source", {"messages": [{"text": "x", "max_length": "9"}, {"text": "ok"}]})
    assert job.status == "completed"
    assert [e.error_type for e in job.errors] == ["TypeError"]
    assert "a message's max_length to be a positive int" in job.errors[0].message
    assert [m["clipped_text"] for m in received(job)] == ["ok"]


# -- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"max_length": 0}, r"max_length must be a positive integer, not 0"),
        ({"max_length": "10"}, r"max_length must be a positive integer, not '10'"),
        ({"max_length": True}, r"max_length must be a positive integer, not True"),
        ({"keep": "middle"}, r"keep must be 'head', 'tail' or 'head_tail', not 'middle'"),
        ({"truncation_message": None}, r"truncation_message must be a str, not NoneType"),
        ({"truncation_message": "{0}"}, r"only use the fields.*uses \{0\}"),
        ({"truncation_message": "{}"}, r"only use the fields.*uses \{\}"),
        ({"truncation_message": "{removed!r}"}, r"no conversion.*uses \{removed!r\}"),
        ({"truncation_message": "{removed:>99999}"}, r"format spec.*\{removed:>99999\}"),
        ({"truncation_message": "{total.real}"}, r"uses \{total\.real\}"),
        ({"truncation_message": "{removed[0]}"}, r"uses \{removed\[0\]\}"),
        ({"truncation_message": "{secret}"}, r"uses \{secret\}"),
        ({"truncation_message": "cut {"}, r"not a valid template"),
        ({"preserve_tracebacks": "yes"}, r"preserve_tracebacks must be True or False"),
    ],
)
def test_a_bad_config_is_refused_naming_the_key(config: dict[str, Any], expected: str) -> None:
    with pytest.raises(DefinitionError, match=rf"TextClipper .*{expected}"):
        TextClipper().set_config(**config)


def test_a_refused_config_leaves_the_previous_one_in_force() -> None:
    clipper = TextClipper()
    clipper.set_config(max_length=50, keep="tail")
    with pytest.raises(DefinitionError):
        clipper.set_config(max_length=0)
    assert (clipper.get_config("max_length"), clipper.get_config("keep")) == (50, "tail")


def test_a_short_limit_is_accepted_with_a_short_message_in_the_same_call() -> None:
    clipper = TextClipper()
    clipper.set_config(max_length=10, truncation_message="…")
    assert clipper.get_config("max_length") == 10


def test_the_defaults_are_set_in_the_config() -> None:
    assert TextClipper().config() == {
        "max_length": 1000,
        "preserve_tracebacks": True,
        "truncation_message": "… [truncated: {removed} of {total} characters]",
        "keep": "head",
    }


# -- documents ------------------------------------------------------------------------------

REGISTRY = {"ClipperTestSource": Source, "ClipperTestRecorder": Recorder}


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_a_flow_document_round_trips_and_clips_the_same(strategy: str) -> None:
    flow = clipping_flow(
        strategy, max_length=120, keep="head_tail", truncation_message="[{removed} cut]"
    )
    document = flow.serialize(registry=REGISTRY)
    rebuilt = Flow.deserialize(document, registry=REGISTRY)
    messages = [{"text": "start\n" + TRACEBACK}, {"text": LINES}]
    try:
        assert rebuilt.serialize(registry=REGISTRY) == document
        original = received(flow.execute("source", {"messages": messages}))
        again = received(rebuilt.execute("source", {"messages": messages}))
    finally:
        flow.shutdown()
        rebuilt.shutdown()
    assert again == original
    assert original[0]["was_clipped"] is True


# -- the published interface ----------------------------------------------------------------


class PublishedSink(Routine):
    """A handler written for the published payload, with its three keys as parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, bool, int]] = []
        self.define_slot("input", handler=self.take)

    def take(self, clipped_text: str, was_clipped: bool, original_length: int) -> None:
        self.seen.append((clipped_text, was_clipped, original_length))


def test_a_flow_wired_as_the_published_docs_wire_it_gets_the_published_payload() -> None:
    from routilux.builtin_routines.text_processing import TextClipper as PublishedPath

    clipper = PublishedPath()
    clipper.set_config(max_length=20, preserve_tracebacks=True, truncation_message="...")
    flow = Flow()
    flow.add_routine(Source(), "source")
    flow.add_routine(clipper, "clipper")
    flow.add_routine(PublishedSink(), "sink")
    flow.connect("source", "output", "clipper", "input")
    flow.connect("clipper", "output", "sink", "input")
    job = flow.execute("source", {"messages": [{"text": "short"}, {"text": LINES}]})
    assert job.status == "completed"
    assert flow.routines["sink"].seen == [  # type: ignore[attr-defined]
        ("short", False, 5),
        ("alpha\nbravo\n...", True, 31),
    ]


def test_the_published_message_field_remaining_counts_the_lines_not_kept(clip: Clip) -> None:
    assert clip(LINES, max_length=26, truncation_message="({remaining})") == (
        "alpha\nbravo\ncharlie\n(2)"
    )


def test_without_preserve_tracebacks_a_traceback_is_cut_as_plain_lines(clip: Clip) -> None:
    text = "start\n" + TRACEBACK
    kept = clip(text, max_length=120, truncation_message="[cut]")
    plain = clip(text, max_length=120, truncation_message="[cut]", preserve_tracebacks=False)
    assert "omitted" in kept
    assert "omitted" not in plain
    assert plain.startswith("start\nTraceback (most recent call last):\n  File")
    assert plain.endswith("[cut]")
