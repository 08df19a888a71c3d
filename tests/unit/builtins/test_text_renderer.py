"""TextRenderer: XML-like tags, Markdown, tag names, depth, bad values, config, documents."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, JobState, Routine
from routilux.builtin_routines import TextRenderer
from routilux.builtin_routines.text_renderer import tag_name

Run = Callable[..., tuple[JobState, list[dict[str, Any]]]]
Render = Callable[..., str]


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


def rendering_flow(strategy: str, **config: Any) -> Flow:
    flow = Flow(execution_strategy=strategy)
    flow.add_routine(Source(), "source")
    renderer = TextRenderer()
    renderer.set_config(**config)
    flow.add_routine(renderer, "renderer")
    flow.add_routine(Recorder(), "recorder")
    flow.connect("source", "output", "renderer", "input")
    flow.connect("renderer", "output", "recorder", "input")
    in_order(flow)
    return flow


@pytest.fixture(params=["sequential", "concurrent"])
def run(request: pytest.FixtureRequest) -> Iterator[Run]:
    flows: list[Flow] = []

    def run(messages: list[dict[str, Any]], **config: Any) -> tuple[JobState, list[dict[str, Any]]]:
        flow = rendering_flow(request.param, **config)
        flows.append(flow)
        job = flow.execute("source", {"messages": messages})
        return job, received(job)

    yield run
    for flow in flows:
        flow.shutdown()


@pytest.fixture
def render(run: Run) -> Render:
    def render(data: Any, **config: Any) -> str:
        job, outputs = run([{"data": data}], **config)
        assert job.status == "completed", job.errors
        assert list(outputs[0]) == ["rendered_text", "original_type"]
        assert outputs[0]["original_type"] == type(data).__name__
        return str(outputs[0]["rendered_text"])

    return render


USER = {"name": "Ada", "roles": ["math", "poetry"], "team": {"id": 7, "lead": True}}


# -- XML ------------------------------------------------------------------------------------


def test_xml_renders_nested_dicts_as_nested_tags_in_dict_order(render: Render) -> None:
    assert render(USER) == (
        "<name>Ada</name>\n"
        "<roles>\n"
        "  <item>math</item>\n"
        "  <item>poetry</item>\n"
        "</roles>\n"
        "<team>\n"
        "  <id>7</id>\n"
        "  <lead>true</lead>\n"
        "</team>"
    )


def test_xml_wraps_the_output_in_the_root_tag(render: Render) -> None:
    assert render({"a": 1}, root="user") == "<user>\n  <a>1</a>\n</user>"


def test_xml_renders_a_top_level_list_as_items(render: Render) -> None:
    assert render([1, {"b": 2}]) == "<item>1</item>\n<item>\n  <b>2</b>\n</item>"


def test_xml_renders_a_scalar_as_escaped_text(render: Render) -> None:
    assert render("a < b") == "a &lt; b"


def test_xml_renders_a_scalar_in_the_root_tag(render: Render) -> None:
    assert render(3.5, root="value") == "<value>3.5</value>"


def test_xml_escapes_ampersands_and_angle_brackets_in_values(render: Render) -> None:
    assert render({"q": "<b> & </b>"}) == "<q>&lt;b&gt; &amp; &lt;/b&gt;</q>"


def test_xml_keeps_the_original_key_when_the_tag_name_changes(render: Render) -> None:
    assert render({'first name "x"': "Ada"}) == (
        '<first_name__x_ key="first name &quot;x&quot;">Ada</first_name__x_>'
    )


def test_xml_renders_empty_containers_and_empty_strings_as_empty_tags(render: Render) -> None:
    assert render({"a": [], "b": {}, "c": ""}) == "<a></a>\n<b></b>\n<c></c>"


def test_xml_keeps_multiline_values_as_they_are(render: Render) -> None:
    assert render({"a": {"note": "one\ntwo"}}) == "<a>\n  <note>one\ntwo</note>\n</a>"


def test_xml_indent_sets_the_spaces_per_level(render: Render) -> None:
    assert render({"a": {"b": 1}}, indent=4) == "<a>\n    <b>1</b>\n</a>"


def test_xml_indent_zero_puts_every_tag_at_the_margin(render: Render) -> None:
    assert render({"a": {"b": 1}}, indent=0) == "<a>\n<b>1</b>\n</a>"


def test_xml_summarises_containers_deeper_than_max_depth(render: Render) -> None:
    data = {"a": {"b": {"c": 1, "d": 2}, "e": [1]}}
    assert render(data, max_depth=2) == ("<a>\n  <b>… (2 keys)</b>\n  <e>… (1 item)</e>\n</a>")


@pytest.mark.parametrize(
    ("key", "tag"),
    [
        ("name", "name"),
        ("first name", "first_name"),
        ("1st", "_1st"),
        ("-x", "_-x"),
        ("a:b", "a_b"),
        ("a.b-c", "a.b-c"),
        ("", "_"),
        ("xmlns", "_xmlns"),
        ("XML_data", "_XML_data"),
        ("café", "café"),
        ("日本", "日本"),
        ("<script>", "_script_"),
    ],
)
def test_tag_name_sanitises_keys(key: str, tag: str) -> None:
    assert tag_name(key) == tag


def test_xml_renders_non_string_keys_by_their_text(render: Render) -> None:
    assert render({1: "a", None: "b"}) == '<_1 key="1">a</_1>\n<null>b</null>'


# -- Markdown ---------------------------------------------------------------------------------


def test_markdown_renders_scalars_as_bullets_and_containers_as_sections(render: Render) -> None:
    assert render(USER, format="markdown") == (
        "- **name**: Ada\n\n# roles\n\n- math\n- poetry\n\n# team\n\n- **id**: 7\n- **lead**: true"
    )


def test_markdown_puts_a_dicts_bullets_before_its_sections(render: Render) -> None:
    out = render({"team": {"id": 7}, "name": "Ada"}, format="markdown")
    assert out == "- **name**: Ada\n\n# team\n\n- **id**: 7"


def test_markdown_root_is_a_title_and_sections_start_one_level_down(render: Render) -> None:
    out = render({"a": 1, "b": {"c": {"d": 2}}}, format="markdown", root="Report")
    assert out == "# Report\n\n- **a**: 1\n\n## b\n\n### c\n\n- **d**: 2"


def test_markdown_renders_a_list_of_flat_dicts_with_the_same_keys_as_a_table(
    render: Render,
) -> None:
    rows = [{"id": 1, "name": "Ada"}, {"name": "Alan", "id": 2}]
    assert render({"people": rows}, format="markdown") == (
        "# people\n\n| id | name |\n| --- | --- |\n| 1 | Ada |\n| 2 | Alan |"
    )


def test_markdown_renders_a_top_level_table(render: Render) -> None:
    out = render([{"a": 1}, {"a": 2}], format="markdown")
    assert out == "| a |\n| --- |\n| 1 |\n| 2 |"


def test_markdown_escapes_pipes_and_joins_lines_in_table_cells(render: Render) -> None:
    out = render([{"cmd": "a | b", "note": "one\ntwo"}], format="markdown")
    assert out.splitlines()[-1] == "| a \\| b | one two |"


@pytest.mark.parametrize(
    "rows",
    [
        [{"a": 1}, {"b": 1}],
        [{"a": 1}, {"a": 1, "b": 2}],
        [{"a": [1]}, {"a": [2]}],
        [{"a": 1}, 2],
        [{}, {}],
    ],
)
def test_markdown_renders_other_lists_as_bullets(render: Render, rows: list[Any]) -> None:
    out = render(rows, format="markdown")
    assert "|" not in out
    assert out.startswith("- ")


def test_markdown_labels_container_items_of_a_bulleted_list(render: Render) -> None:
    out = render([1, {"x": 1}, [2, 3]], format="markdown")
    assert out == "- 1\n- Item 2\n  - **x**: 1\n- Item 3\n  - 2\n  - 3"


def test_markdown_indents_continuation_lines_of_a_value(render: Render) -> None:
    out = render({"note": "one\ntwo"}, format="markdown")
    assert out == "- **note**: one\n  two"


def test_markdown_falls_back_to_nested_bullets_past_six_heading_levels(render: Render) -> None:
    data: dict[str, Any] = {"leaf": 1}
    for name in "gfedcba":
        data = {name: data}
    out = render(data, format="markdown")
    assert "###### f" in out
    assert out.endswith("###### f\n\n- **g**:\n  - **leaf**: 1")


def test_markdown_summarises_containers_deeper_than_max_depth(render: Render) -> None:
    out = render({"a": {"b": [1, 2, 3]}}, format="markdown", max_depth=2)
    assert out == "# a\n\n- **b**: … (3 items)"


def test_markdown_marks_empty_containers(render: Render) -> None:
    assert render({"tags": []}, format="markdown") == "- **tags**: (empty)"


def test_markdown_indent_sets_the_nesting_of_bullets(render: Render) -> None:
    out = render([[1]], format="markdown", indent=4)
    assert out == "- Item 1\n    - 1"


# -- values and determinism -----------------------------------------------------------------


def test_scalars_have_a_fixed_text(render: Render) -> None:
    data = {
        "none": None,
        "yes": True,
        "ratio": 0.5,
        "when": datetime.date(2024, 5, 1),
        "at": datetime.datetime(2024, 5, 1, 12, 30),
        "price": Decimal("9.90"),
        "id": uuid.UUID(int=1),
    }
    assert render(data, format="markdown").splitlines() == [
        "- **none**: null",
        "- **yes**: true",
        "- **ratio**: 0.5",
        "- **when**: 2024-05-01",
        "- **at**: 2024-05-01T12:30:00",
        "- **price**: 9.90",
        "- **id**: 00000000-0000-0000-0000-000000000001",
    ]


def test_dict_order_is_kept_as_given(render: Render) -> None:
    assert render({"b": 1, "a": 2}) == "<b>1</b>\n<a>2</a>"
    assert render({"a": 2, "b": 1}) == "<a>2</a>\n<b>1</b>"


def test_tuples_render_like_lists(render: Render) -> None:
    assert render({"p": (1, 2)}) == "<p>\n  <item>1</item>\n  <item>2</item>\n</p>"


def test_a_message_without_a_data_key_is_rendered_whole(run: Run) -> None:
    _, outputs = run([{"name": "Ada", "age": 36}])
    assert outputs == [
        {"rendered_text": "<name>Ada</name>\n<age>36</age>", "original_type": "dict"}
    ]


def test_a_message_with_one_key_renders_its_value_as_published(run: Run) -> None:
    _, outputs = run([{"record": {"name": "Ada"}}])
    assert outputs == [{"rendered_text": "<name>Ada</name>", "original_type": "dict"}]


def test_an_empty_message_renders_an_empty_dict_as_published(run: Run) -> None:
    _, outputs = run([{"data": None}, {}])
    assert outputs == [{"rendered_text": "", "original_type": "dict"}] * 2


def test_none_in_data_renders_as_null(render: Render) -> None:
    assert render({"a": None}) == "<a>null</a>"


def test_an_empty_dict_renders_as_empty_text(render: Render) -> None:
    assert render({}, format="markdown") == ""


def test_a_wide_dict_renders_every_key(render: Render) -> None:
    data = {f"k{n}": n for n in range(5000)}
    assert render(data).count("\n") == 4999


def test_the_same_value_twice_in_one_tree_is_not_a_cycle(render: Render) -> None:
    shared = {"x": 1}
    assert (
        render({"a": shared, "b": shared}, indent=0) == "<a>\n<x>1</x>\n</a>\n<b>\n<x>1</x>\n</b>"
    )


def test_overlapping_deliveries_render_independently() -> None:
    flow = rendering_flow("concurrent")
    flow.routines["renderer"].set_max_concurrency(None)
    try:
        job = flow.execute("source", {"messages": [{"data": {"n": n}} for n in range(50)]})
    finally:
        flow.shutdown()
    assert sorted(m["rendered_text"] for m in received(job)) == sorted(
        f"<n>{n}</n>" for n in range(50)
    )


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xml", "markdown"])
def test_a_set_fails_the_delivery_naming_where_it_is(run: Run, fmt: str) -> None:
    job, outputs = run([{"data": {"a": [1, {"tags": {"x"}}]}}], format=fmt)
    assert job.status == "failed"
    assert outputs == []
    assert job.errors[0].error_type == "TypeError"
    assert "set at data['a'][1]['tags']" in job.errors[0].message
    assert "sorted list" in job.errors[0].message


def test_an_arbitrary_object_fails_the_delivery(run: Run) -> None:
    job, _ = run([{"data": {"a": object()}}])
    assert job.errors[0].error_type == "TypeError"
    assert "cannot render the object at data['a']" in job.errors[0].message


def test_data_that_contains_itself_fails_the_delivery() -> None:
    looped: dict[str, Any] = {"a": 1}
    looped["self"] = looped
    flow = rendering_flow("sequential", max_depth=100)
    job = flow.execute("source", {"messages": [{"data": looped}]})
    assert job.errors[0].error_type == "ValueError"
    assert "cannot render data['self']: it contains itself" in job.errors[0].message


def test_a_bad_message_is_recorded_and_the_job_goes_on_under_continue() -> None:
    flow = rendering_flow("sequential")
    flow.routines["renderer"].set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = flow.execute("source", {"messages": [{"data": {1, 2}}, {"data": {"a": 1}}]})
    assert job.status == "completed"
    assert len(job.errors) == 1
    assert received(job) == [{"rendered_text": "<a>1</a>", "original_type": "dict"}]


# -- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"tag_format": "html"}, r"tag_format must be 'xml' or 'markdown', not 'html'"),
        ({"format": "html"}, r"tag_format must be 'xml' or 'markdown', not 'html'"),
        ({"include_type_hints": "no"}, r"include_type_hints must be True or False"),
        ({"indent": "\n"}, r"indent must be a string of at most 16 characters with no line"),
        ({"indent": " " * 17}, r"indent must be a string of at most 16 characters"),
        ({"root": ""}, r"root must be None or a one-line, non-empty name, not ''"),
        ({"root": 3}, r"root must be None or a one-line, non-empty name, not 3"),
        ({"root": "a\nb", "format": "markdown"}, r"root must be None or a one-line"),
        ({"root": "my report"}, r"root 'my report' is not a valid XML tag name.*'my_report'"),
        ({"indent": -1}, r"indent must be an integer from 0 to 16, not -1"),
        ({"indent": 17}, r"indent must be an integer from 0 to 16, not 17"),
        ({"indent": 2.0}, r"indent must be an integer from 0 to 16, not 2.0"),
        ({"max_depth": 0}, r"max_depth must be an integer from 1 to 100, not 0"),
        ({"max_depth": 101}, r"max_depth must be an integer from 1 to 100, not 101"),
        ({"max_depth": True}, r"max_depth must be an integer from 1 to 100, not True"),
    ],
)
def test_a_bad_config_is_refused_naming_the_key(config: dict[str, Any], expected: str) -> None:
    with pytest.raises(DefinitionError, match=rf"TextRenderer .*{expected}"):
        TextRenderer().set_config(**config)


def test_a_markdown_root_may_be_any_title() -> None:
    renderer = TextRenderer()
    renderer.set_config(format="markdown", root="My report")
    assert renderer.get_config("root") == "My report"


def test_switching_to_xml_refuses_a_root_that_is_not_a_tag_name() -> None:
    renderer = TextRenderer()
    renderer.set_config(format="markdown", root="My report")
    with pytest.raises(DefinitionError, match="not a valid XML tag name"):
        renderer.set_config(tag_format="xml")
    assert renderer.get_config("tag_format") == "markdown"


def test_the_defaults_are_set_in_the_config() -> None:
    assert TextRenderer().config() == {
        "tag_format": "xml",
        "indent": "  ",
        "include_type_hints": False,
        "root": None,
        "max_depth": 10,
    }


# -- documents ------------------------------------------------------------------------------

REGISTRY = {"RendererTestSource": Source, "RendererTestRecorder": Recorder}


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_a_flow_document_round_trips_and_renders_the_same(strategy: str) -> None:
    flow = rendering_flow(strategy, format="markdown", root="Users", indent=4, max_depth=3)
    document = flow.serialize(registry=REGISTRY)
    rebuilt = Flow.deserialize(document, registry=REGISTRY)
    messages = [{"data": USER}, {"data": [{"a": 1}, {"a": 2}]}]
    try:
        assert rebuilt.serialize(registry=REGISTRY) == document
        original = received(flow.execute("source", {"messages": messages}))
        again = received(rebuilt.execute("source", {"messages": messages}))
    finally:
        flow.shutdown()
        rebuilt.shutdown()
    assert again == original
    assert original[0]["rendered_text"].startswith("# Users\n\n- **name**: Ada")


# -- the published interface ----------------------------------------------------------------


class PublishedSink(Routine):
    """A handler written for the published payload, with its two keys as parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str]] = []
        self.define_slot("input", handler=self.take)

    def take(self, rendered_text: str, original_type: str) -> None:
        self.seen.append((rendered_text, original_type))


def test_a_flow_wired_as_the_published_docs_wire_it_gets_the_published_payload() -> None:
    from routilux.builtin_routines.text_processing import TextRenderer as PublishedPath

    renderer = PublishedPath()
    renderer.set_config(tag_format="xml", indent="  ")
    flow = Flow()
    flow.add_routine(Source(), "source")
    flow.add_routine(renderer, "renderer")
    flow.add_routine(PublishedSink(), "sink")
    flow.connect("source", "output", "renderer", "input")
    flow.connect("renderer", "output", "sink", "input")
    job = flow.execute("source", {"messages": [{"data": {"a": {"b": 1}}}, {"data": [1]}]})
    assert job.status == "completed"
    assert flow.routines["sink"].seen == [  # type: ignore[attr-defined]
        ("<a>\n  <b>1</b>\n</a>", "dict"),
        ("<item>1</item>", "list"),
    ]


def test_a_tab_indent_nests_xml_tags(render: Render) -> None:
    assert render({"a": {"b": {"c": 1}}}, indent="\t") == ("<a>\n\t<b>\n\t\t<c>1</c>\n\t</b>\n</a>")


def test_format_is_another_name_for_tag_format() -> None:
    renderer = TextRenderer()
    renderer.set_config(format="markdown")
    assert renderer.config()["tag_format"] == "markdown"
    assert "format" not in renderer.config()


def test_include_type_hints_is_accepted_and_changes_nothing(render: Render) -> None:
    assert render(USER, include_type_hints=True) == render(USER)
