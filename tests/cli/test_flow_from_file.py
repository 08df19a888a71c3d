"""``Flow.from_file``: flow files read in-process, with located errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from routilux import Flow, SerializationError


def test_yaml_and_json_files_build_the_same_flow(
    write_flow: Callable[..., Path], workdir: Path
) -> None:
    path = write_flow()
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    (workdir / "flow.json").write_text(json.dumps(document), encoding="utf-8")
    from_yaml = Flow.from_file(path)
    from_json = Flow.from_file(workdir / "flow.json")
    assert from_yaml.serialize() == from_json.serialize() == document


def test_a_yml_file_is_yaml(write_flow: Callable[..., Path]) -> None:
    flow = Flow.from_file(write_flow("flow.yml"))
    assert list(flow.routines) == ["source", "step", "sink"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "flow.yaml:1: the file holds no YAML document"),
        ("a: 1\n---\nb: 2\n", "flow.yaml:2: invalid YAML: but found another document"),
        ("- 1\n- 2\n", "flow.yaml:1: A flow document must be an object, not a list."),
        ("schema: other\n", "flow.yaml:1: schema: Not a flow document: its schema is 'other'"),
        ("a: .nan\n", "flow.yaml:1: a: '.nan' is not a JSON number"),
        ("a: !!binary aGk=\n", "flow.yaml:1: a: 'aGk=' is YAML binary data"),
        ("a: !!set {x: null}\n", "flow.yaml:1: a: this mapping has the YAML tag '!!set'"),
        ("1: x\n", "flow.yaml:1: the key 1 is not a string; quote it."),
        ("? [a]\n: x\n", "flow.yaml:1: a mapping key must be a plain string."),
        ("a: &x [1]\nb: *x\n", "flow.yaml:2: b: YAML aliases (*name) are not supported"),
        ("a: {<<: {b: 1}}\n", "flow.yaml:1: a: '<<' is a YAML merge key"),
    ],
)
def test_yaml_that_json_cannot_hold_is_refused_at_its_line(
    workdir: Path, text: str, message: str
) -> None:
    path = workdir / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SerializationError) as caught:
        Flow.from_file(path)
    assert str(caught.value).replace(str(workdir) + "/", "").startswith(message)


def test_a_json_key_twice_is_refused(workdir: Path) -> None:
    path = workdir / "flow.json"
    path.write_text('{"a": 1, "a": 2}', encoding="utf-8")
    with pytest.raises(SerializationError, match="the key 'a' appears twice in one object"):
        Flow.from_file(path)


def test_non_utf8_text_is_refused_with_its_line(workdir: Path) -> None:
    path = workdir / "flow.yaml"
    path.write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(SerializationError, match=r"flow.yaml:2: the file is not UTF-8 text"):
        Flow.from_file(path)


def test_the_original_error_is_the_cause(write_flow: Callable[..., Path], workdir: Path) -> None:
    path = write_flow()
    bad = workdir / "bad.yaml"
    bad.write_text(path.read_text().replace("max_workers: 3", "max_workers: -1"))
    with pytest.raises(SerializationError) as caught:
        Flow.from_file(bad)
    assert str(caught.value) == (
        f"{bad}:5: max_workers: the flow's setting max_workers is refused: Flow max_workers "
        "must be a positive integer, not -1."
    )
    assert isinstance(caught.value.__cause__, SerializationError)
    assert str(caught.value.__cause__).startswith("Flow document: the flow's setting")


def test_a_refused_setting_whose_message_does_not_name_it_is_located(
    write_flow: Callable[..., Path], workdir: Path
) -> None:
    path = write_flow()
    bad = workdir / "bad.yaml"
    text = path.read_text()
    assert "execution_timeout: null" in text
    bad.write_text(text.replace("execution_timeout: null", "execution_timeout: -5"))
    line = 1 + text.splitlines().index("execution_timeout: null")
    with pytest.raises(SerializationError) as caught:
        Flow.from_file(bad)
    assert str(caught.value).startswith(
        f"{bad}:{line}: execution_timeout: the flow's setting execution_timeout is refused: "
        "A timeout must be"
    )


@pytest.mark.parametrize(
    ("where", "line_of"),
    [("top", "extra: 1"), ("routine", "    colour: red")],
)
def test_an_unknown_field_is_located_at_the_field_itself(
    write_flow: Callable[..., Path], workdir: Path, where: str, line_of: str
) -> None:
    text = write_flow().read_text()
    lines = text.splitlines()
    if where == "top":
        lines.append(line_of)
        place = "extra"
    else:
        first = next(
            i
            for i, line in enumerate(lines)
            if line.startswith("  ") and line.endswith(":") and lines[i - 1] == "routines:"
        )
        lines.insert(first + 1, line_of)
        place = f"routines.{lines[first].strip()[:-1]}.colour"
    bad = workdir / "bad.yaml"
    bad.write_text("\n".join(lines) + "\n")
    line = 1 + lines.index(line_of)
    with pytest.raises(SerializationError) as caught:
        Flow.from_file(bad)
    assert str(caught.value).startswith(f"{bad}:{line}: {place}: "), str(caught.value)
