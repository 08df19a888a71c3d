"""The stores' shortcut for plain values agrees with the full value codec."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routilux import SerializationError
from routilux._serde.values import MAX_DEPTH, encode_value, is_plain_json


class Colour(str, Enum):
    RED = "red"


class Flag(int):
    pass


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and infinities included: not plain.
    st.text(),
    st.binary(),
    st.sampled_from([Colour.RED, Flag(3), (1, 2), frozenset({1})]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=4), st.just("$t"), st.integers()), inner),
    ),
    max_leaves=20,
)


@given(VALUES)
def test_a_value_called_plain_encodes_to_itself_and_any_other_does_not(value: Any) -> None:
    try:
        encoded = encode_value(value)
    except SerializationError:
        assert not is_plain_json(value)
        return
    same_text = json.dumps(encoded, allow_nan=False) == _dumps_or_none(value)
    assert is_plain_json(value) == (same_text and _types_kept(value))


def _dumps_or_none(value: Any) -> str | None:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return None


def _types_kept(value: Any) -> bool:
    """Whether every part of ``value`` is of a type JSON reads back as that type."""
    if value is None or type(value) in (str, int, bool, float):
        return True
    if type(value) is list:
        return all(_types_kept(v) for v in value)
    if type(value) is dict:
        return "$t" not in value and all(
            type(k) is str and _types_kept(v) for k, v in value.items()
        )
    return False


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), (1,), {1: "a"}, {"$t": "x"}, Colour.RED, Flag(1), b"x"],
)
def test_values_that_need_the_codec_are_not_plain(value: Any) -> None:
    assert not is_plain_json(value)
    assert not is_plain_json({"k": [value]})


def test_nesting_beyond_the_limit_is_not_plain() -> None:
    deep: Any = 1
    for _ in range(MAX_DEPTH + 2):
        deep = [deep]
    assert not is_plain_json(deep)
    looped: list[Any] = []
    looped.append(looped)
    assert not is_plain_json(looped)
