"""Config keys of the built-in routines: each lists its keys and refuses any other."""

from __future__ import annotations

import pytest

import routilux.builtin_routines as builtins
from routilux import DefinitionError, Flow, Routine, SerializationError
from routilux.builtin_routines import ConditionalRouter, Filter, Splitter, TextClipper

ALL = [getattr(builtins, name) for name in builtins.__all__]
#: The built-ins whose expressions read keys of the user's own from their config.
OPEN = {Filter, ConditionalRouter}


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_a_builtin_lists_exactly_the_keys_its_defaults_set(cls: type[Routine]) -> None:
    assert cls.config_keys is not None
    assert list(cls().config()) == list(cls.config_keys)


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_a_misspelled_key_is_refused_naming_the_routine_key_and_known_keys(
    cls: type[Routine],
) -> None:
    assert cls.config_keys is not None
    key = cls.config_keys[0]
    typo = key[:-2] + key[-1] + key[-2]  # The last two letters swapped.
    routine = cls()
    before = routine.config()
    with pytest.raises(DefinitionError) as caught:
        routine.set_config(**{typo: before[key]})
    message = str(caught.value)
    assert f"Routine {cls.__name__} has no config key {typo!r}." in message
    assert f"Did you mean {key!r}?" in message
    assert "Its config keys are: " + ", ".join(repr(k) for k in cls.config_keys) in message
    assert routine.config() == before


@pytest.mark.parametrize("cls", sorted(set(ALL) - OPEN, key=lambda c: c.__name__), ids=str)
def test_an_unrelated_key_is_refused_without_a_suggestion(cls: type[Routine]) -> None:
    with pytest.raises(
        DefinitionError, match=r"has no config key 'zzz'\. Its config keys"
    ) as caught:
        cls().set_config(zzz=1)
    assert "Did you mean" not in str(caught.value)


@pytest.mark.parametrize(
    ("make", "key", "suggestion"),
    [
        (TextClipper, "maxlength", "max_length"),
        (Splitter, "feild", "field"),
        (builtins.Debouncer, "wiat", "wait"),
        (ConditionalRouter, "route", "routes"),
        (Filter, "conditon", "condition"),
    ],
)
def test_the_audited_typos_are_refused_with_a_suggestion(
    make: type[Routine], key: str, suggestion: str
) -> None:
    with pytest.raises(DefinitionError, match=f"Did you mean {suggestion!r}"):
        make().set_config(**{key: 5})


def test_a_refused_key_leaves_the_other_keys_of_the_call_unset() -> None:
    clipper = TextClipper()
    with pytest.raises(DefinitionError, match="maxlength"):
        clipper.set_config(keep="tail", maxlength=5)
    assert clipper.get_config("keep") == "head"


@pytest.mark.parametrize("make", [Filter, ConditionalRouter], ids=lambda cls: cls.__name__)
def test_expression_routines_keep_accepting_keys_of_the_users_own(make: type[Routine]) -> None:
    routine = make()
    routine.set_config(limit=30, threshold=2, error="x", default="y")
    assert routine.get_config("limit") == 30
    assert routine.get_config("default") == "y"


def test_a_filter_refuses_a_near_miss_and_says_other_keys_are_accepted() -> None:
    with pytest.raises(DefinitionError, match="but not one this close to a config key"):
        Filter().set_config(on_eror="reject")


def test_a_subclass_of_a_builtin_can_add_keys() -> None:
    class LabelledClipper(TextClipper):
        config_keys = (*TextClipper.config_keys, "label")

    clipper = LabelledClipper()
    clipper.set_config(label="x")
    assert clipper.get_config("label") == "x"


class Source(Routine):
    """Emits each text it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("output", ["text"])

    def send(self, text: str) -> None:
        self.emit("output", text=text)


REGISTRY = {"ConfigKeysTestSource": Source}


def test_a_flow_document_with_a_misspelled_builtin_key_is_refused_naming_it() -> None:
    flow = Flow()
    flow.add_routine(Source(), "source")
    clipper = TextClipper()
    clipper.set_config(max_length=200)
    flow.add_routine(clipper, "clip")
    flow.connect("source", "output", "clip", "input")
    document = flow.serialize(registry=REGISTRY)
    assert Flow.deserialize(document, registry=REGISTRY).routines["clip"].config() == (
        clipper.config()
    )
    document["routines"]["clip"]["config"]["maxlength"] = 5
    with pytest.raises(SerializationError) as caught:
        Flow.deserialize(document, registry=REGISTRY)
    message = str(caught.value)
    assert "routines['clip'].config" in message
    assert "no config key 'maxlength'" in message
    assert "Did you mean 'max_length'?" in message
