"""Hostile flow files: numbers too long to read, numbers in other bases, and files built to
cost far more to parse than their size. Each is refused with a SerializationError naming the
file, the line (YAML) and the place, as the limits are reached while the file is parsed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from routilux import Flow, SerializationError
from routilux._serde.flow_files import MAX_FILE_BYTES, MAX_YAML_BYTES_WITHOUT_LIBYAML
from routilux._serde.yaml_nodes import MAX_NODES, MAX_NODES_WITHOUT_LIBYAML, compose_yaml

HEAD = {
    "schema": "routilux.flow",
    "version": 1,
    "flow_id": "hostile",
    "execution_strategy": "sequential",
    "max_workers": 3,
    "execution_timeout": None,
    "max_deliveries": 1000000,
    "record_history": True,
    "retain_jobs": 100,
    "error_handler": None,
    "routines": {},
    "connections": [],
}
LONG = "9" * 5000


def yaml_file(tmp_path: Path, **changes: str) -> Path:
    """A flow file in YAML with top-level fields written as given (raw YAML text)."""
    lines = [f"{key}: {json.dumps(value)}" for key, value in HEAD.items() if key not in changes]
    lines += [f"{key}: {text}" for key, text in changes.items()]
    path = tmp_path / "flow.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(SerializationError) as caught:
        Flow.from_file(path)
    message = str(caught.value)
    assert "\n" not in message
    return message.replace(f"{path.parent}/", "")


def test_a_yaml_integer_too_long_to_read_is_refused_at_its_line(tmp_path: Path) -> None:
    message = refusal(yaml_file(tmp_path, max_workers=LONG))

    assert message.startswith("flow.yaml:12: max_workers: the integer '9999")
    assert message.endswith("has 5000 digits; at most 4300 are allowed.")


def test_a_json_integer_too_long_to_read_is_refused_naming_its_place(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(HEAD).replace('"max_workers": 3', f'"max_workers": {LONG}'))

    assert refusal(path) == (
        "flow.json: max_workers: is an integer of 5000 digits; at most 4300 are allowed."
    )


def test_flow_load_names_the_place_of_an_integer_too_long(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    config = f'{{"n": [1, {LONG}]}}'
    path.write_text(json.dumps(HEAD).replace('"routines": {}', f'"routines": {{"r": {config}}}'))

    with pytest.raises(SerializationError, match=r"routines\.r\.n\[1\] is an integer of 5000"):
        Flow.load(path)


@pytest.mark.parametrize(
    ("written", "decimal"),
    [("0x10", "16"), ("-0x10", "-16"), ("020", "16"), ("0b10000", "16"), ("1_6", "16")],
)
def test_a_yaml_integer_not_in_decimal_is_refused_with_its_decimal(
    tmp_path: Path, written: str, decimal: str
) -> None:
    message = refusal(yaml_file(tmp_path, max_workers=written))

    assert message.startswith(f"flow.yaml:12: max_workers: {written!r} is not a decimal integer")
    assert f"write {decimal}, or quote it" in message


@pytest.mark.parametrize("written", ["1:30", "1_000.5", "1:30.5"])
def test_other_yaml_11_number_forms_are_refused(tmp_path: Path, written: str) -> None:
    message = refusal(yaml_file(tmp_path, execution_timeout=written))

    assert message.startswith(f"flow.yaml:12: execution_timeout: {written!r} is not a decimal")


def test_quoted_numbers_in_other_bases_stay_strings(tmp_path: Path) -> None:
    flow = Flow.from_file(yaml_file(tmp_path, flow_id="'0x10'"))

    assert flow.flow_id == "0x10"


@pytest.mark.slow  # A file at the value limit: its size is the point.
def test_a_file_with_more_values_than_the_limit_is_refused_while_parsing(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    items = ",".join(["1"] * MAX_NODES)
    path.write_text(f"schema: routilux.flow\nroutines: {{r: {{config: {{items: [{items}]}}}}}}\n")

    message = refusal(path)

    assert message.startswith("flow.yaml:2: routines.r.config.items[")
    assert f"holds more than {MAX_NODES} values" in message


def test_nesting_deeper_than_a_document_may_is_refused_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text("schema: routilux.flow\nroutines:\n  r: " + "[" * 300 + "]" * 300 + "\n")

    assert refusal(path).startswith("flow.yaml:3: routines.r")
    assert "nests deeper than 210 levels" in refusal(path)


def test_a_string_longer_than_a_document_may_hold_is_refused_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(f"schema: routilux.flow\nflow_id: {'x' * 1_000_001}\n")

    assert refusal(path) == (
        "flow.yaml:2: flow_id: a string of 1000001 characters; at most 1000000 are allowed."
    )


def test_the_lines_of_a_valid_file_are_known_at_every_place() -> None:
    text = "a: 1\nb:\n  - x\n  - {c: 2,\n     d: [3, 4]}\ne: 5\n"

    document, lines = compose_yaml(text, "f.yaml")

    assert document == {"a": 1, "b": ["x", {"c": 2, "d": [3, 4]}], "e": 5}
    assert dict(lines) == {
        (): 1,
        ("a",): 1,
        ("b",): 2,
        ("b", 0): 3,
        ("b", 1): 4,
        ("b", 1, "c"): 4,
        ("b", 1, "d"): 5,
        ("b", 1, "d", 0): 5,
        ("b", 1, "d", 1): 5,
        ("e",): 6,
    }


class TestWithoutLibyaml:
    """PyYAML's pure-Python parser is some 20 times slower: smaller limits apply."""

    @pytest.fixture(autouse=True)
    def _pure_python(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(yaml, "__with_libyaml__", False)

    def test_a_file_over_the_smaller_size_limit_is_refused_before_parsing(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "flow.yaml"
        path.write_text("a: " + "x" * MAX_YAML_BYTES_WITHOUT_LIBYAML + "\n")

        assert refusal(path) == (
            f"flow.yaml: the file has {MAX_YAML_BYTES_WITHOUT_LIBYAML + 4} bytes; a YAML flow "
            f"file may have at most {MAX_YAML_BYTES_WITHOUT_LIBYAML} ({MAX_FILE_BYTES['yaml']} "
            "with a PyYAML built with libyaml, whose parser is in C; or write the file in JSON)."
        )

    @pytest.mark.slow  # The pure-Python parser over a file at the limit.
    def test_a_file_over_the_smaller_value_limit_is_refused_while_parsing(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "flow.yaml"
        path.write_text("items: [" + ",".join(["1"] * MAX_NODES_WITHOUT_LIBYAML) + "]\n")

        assert f"holds more than {MAX_NODES_WITHOUT_LIBYAML} values" in refusal(path)

    def test_a_valid_file_reads_the_same(self, tmp_path: Path) -> None:
        flow = Flow.from_file(yaml_file(tmp_path))

        assert flow.serialize()["flow_id"] == "hostile"
