"""ray_address in flow documents and flow files: written when set, read strictly, located."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from routilux import Flow, SerializationError

HEADER = ["schema: routilux.flow", "version: 2", "flow_id: files"]
REST = ["execution_strategy: ray", "max_workers: 2", "execution_timeout: null"]
REST += ["max_deliveries: null", "record_history: true", "retain_jobs: 100"]
REST += ["error_handler: null", "routines: {}", "connections: []"]


def test_save_and_load_keep_the_address(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    Flow("saved", execution_strategy="ray", ray_address="10.0.0.5:6379").save(path)

    assert json.loads(path.read_text("utf-8"))["ray_address"] == "10.0.0.5:6379"
    loaded = Flow.load(path)
    assert (loaded.execution_strategy, loaded.ray_address) == ("ray", "10.0.0.5:6379")
    assert loaded.serialize() == Flow.load(path).serialize()


def test_a_yaml_flow_file_names_its_cluster(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text("\n".join([*HEADER, "ray_address: ray://head:10001", *REST]) + "\n", "utf-8")

    flow = Flow.from_file(path)

    assert (flow.execution_strategy, flow.ray_address) == ("ray", "ray://head:10001")


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("5", "ray_address: must be a string or null, not an integer"),
        ("[head]", "ray_address: must be a string or null, not a list"),
        ('""', "ray_address is refused: Flow ray_address must be a non-empty string"),
    ],
)
def test_a_flow_file_with_a_bad_ray_address_names_the_file_the_key_and_its_line(
    tmp_path: Path, written: str, problem: str
) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text("\n".join([*HEADER, f"ray_address: {written}", *REST]) + "\n", "utf-8")

    with pytest.raises(SerializationError) as caught:
        Flow.from_file(path)

    message = str(caught.value)
    assert problem in message
    assert f"{path}:4:" in message, message


def test_a_document_of_another_strategy_may_name_a_cluster_too() -> None:
    doc: dict[str, Any] = Flow("later").serialize() | {"ray_address": "auto"}

    flow = Flow.deserialize(doc)

    # Used only when the strategy is "ray" (set later, or by the CLI's options).
    assert (flow.execution_strategy, flow.ray_address) == ("sequential", "auto")
