"""Routine._extract_input_data: the published built-ins' way of reading a handler's input."""

from __future__ import annotations

from typing import Any

import pytest

from routilux import Flow, Routine


@pytest.mark.parametrize(
    ("data", "kwargs", "expected"),
    [
        ("text", {}, "text"),
        ("text", {"other": 1}, "text"),
        (0, {"other": 1}, 0),
        ({}, {"other": 1}, {}),
        (None, {"x": 5}, 5),
        (None, {"x": None}, None),
        (None, {"a": 1, "b": 2}, {"a": 1, "b": 2}),
        (None, {}, {}),
    ],
)
def test_the_first_rule_that_applies_gives_the_input(
    data: Any, kwargs: dict[str, Any], expected: Any
) -> None:
    assert Routine()._extract_input_data(data, **kwargs) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"data": None, "b": 2}, 2),
        ({"data": None}, {}),
        ({"data": "d", "b": 2}, "d"),
        ({"data": None, "a": 1, "b": 2}, {"a": 1, "b": 2}),
    ],
)
def test_a_data_keyword_binds_to_the_parameter(message: dict[str, Any], expected: Any) -> None:
    assert Routine()._extract_input_data(**message) == expected


def test_several_keys_give_a_new_dict() -> None:
    given = {"a": 1, "b": 2}
    result = Routine()._extract_input_data(None, **given)
    assert result == given
    assert result is not given


def test_it_reads_nothing_but_its_arguments() -> None:
    routine = Routine()
    routine.set_config(a=1)
    assert routine._extract_input_data(None) == {}
    assert routine.config() == {"a": 1}


class Reader(Routine):
    """A handler written as the published built-ins write theirs."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []
        self.define_slot("trigger", handler=self.handle)

    def handle(self, data: Any = None, **kwargs: Any) -> None:
        self.seen.append(self._extract_input_data(data, **kwargs))


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"data": [1]}, [1]),
        ({"value": 15}, 15),
        ({"value": 15, "unit": "C"}, {"value": 15, "unit": "C"}),
        ({}, {}),
    ],
)
def test_a_handler_reads_its_message_as_published(entry: dict[str, Any], expected: Any) -> None:
    flow = Flow()
    reader = Reader()
    flow.add_routine(reader, "reader")
    flow.execute("reader", entry)
    assert reader.seen == [expected]
