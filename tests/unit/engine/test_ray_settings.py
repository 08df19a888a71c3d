"""The Ray strategy's settings and classification, checked without a Ray cluster."""

from __future__ import annotations

import socket
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from routilux import Flow, Routine
from routilux._engine.ray_cluster import _probe, _same_endpoint, import_ray
from routilux._engine.ray_remote import read_state, write_state
from routilux.exceptions import DefinitionError, ExecutionError, SerializationError


class Plain(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("in", handler=self.take)
        self.count = 0
        self._cache: Any = object()  # Private: stays in each process.

    def take(self, **_: Any) -> None:
        self.count += 1


class Declared(Plain):
    ray_actor = True


def test_ray_is_a_strategy_and_ray_address_a_string_or_none() -> None:
    flow = Flow(execution_strategy="ray", ray_address="ray://head:10001")
    assert flow._jobs.settings().strategy == "ray"
    assert flow._jobs.settings().ray_address == "ray://head:10001"
    assert Flow().ray_address is None
    for bad in (3, ""):
        with pytest.raises(DefinitionError, match="ray_address must be a non-empty string"):
            Flow(execution_strategy="ray", ray_address=bad)  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="'sequential', 'concurrent' or 'ray'"):
        Flow(execution_strategy="rays")


def test_a_flow_document_keeps_the_strategy_and_the_address_when_set() -> None:
    document = Flow(execution_strategy="ray", ray_address="ray://head:10001").serialize()
    assert (document["execution_strategy"], document["ray_address"]) == ("ray", "ray://head:10001")
    again = Flow.deserialize(document)
    assert (again.execution_strategy, again.ray_address) == ("ray", "ray://head:10001")
    unset = Flow(execution_strategy="ray").serialize()
    assert "ray_address" not in unset  # Written only when set, like keep_logs.
    assert Flow.deserialize(unset).ray_address is None
    assert Flow.deserialize({**unset, "ray_address": None}).ray_address is None


def test_a_routines_actor_setting_round_trips_in_documents() -> None:
    flow = Flow("actors", execution_strategy="ray")
    set_on, set_off, plain = Plain(), Declared(), Plain()
    set_on.set_ray_actor(True)
    set_off.set_ray_actor(False)
    for rid, routine in (("on", set_on), ("off", set_off), ("plain", plain), ("cls", Declared())):
        flow.add_routine(routine, rid)
    entries = flow.serialize()["routines"]
    # Written when it runs on an actor, or its class says so but it was set not to.
    assert {rid: entry.get("ray_actor") for rid, entry in entries.items()} == {
        "on": True,
        "off": False,
        "plain": None,
        "cls": True,
    }
    again = Flow.deserialize(flow.serialize())
    assert {rid: r.is_ray_actor() for rid, r in again.routines.items()} == {
        "on": True,
        "off": False,
        "plain": False,
        "cls": True,
    }


def test_a_routine_is_a_ray_actor_when_its_class_or_itself_says_so() -> None:
    assert not Plain().is_ray_actor()
    assert Declared().is_ray_actor()
    declared_off = Declared()
    declared_off.set_ray_actor(False)
    assert not declared_off.is_ray_actor()
    plain_on = Plain()
    plain_on.set_ray_actor()
    assert plain_on.is_ray_actor()
    with pytest.raises(DefinitionError, match="set_ray_actor expects True or False"):
        plain_on.set_ray_actor("yes")  # type: ignore[arg-type]


def test_shared_state_is_stats_slot_data_and_public_attributes() -> None:
    routine = Plain()
    routine.count = 4
    routine.set_stat("n", 2)
    routine._slots["in"]._data = {"k": (1, 2)}
    state = write_state(routine, "routine 'p'")
    assert set(state) == {"stats", "slots", "count"}  # Not _cache, nor the slots' objects.
    copy = Plain()
    read_state(copy, state, "routine 'p'")
    assert (copy.count, copy.stats(), dict(copy.slots["in"].data)) == (4, {"n": 2}, {"k": (1, 2)})


def test_a_public_attribute_the_codec_refuses_is_named() -> None:
    routine = Plain()
    routine.count = object()  # type: ignore[assignment]
    with pytest.raises(SerializationError, match="routine 'p' attribute 'count'"):
        write_state(routine, "routine 'p'")


def test_without_ray_the_error_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # An import of it now fails.
    with pytest.raises(
        ExecutionError, match=r"needs Ray, which is not installed: pip install .*\[ray\]"
    ):
        import_ray()


def test_an_address_where_nothing_listens_is_refused_before_ray_is_asked() -> None:
    with socket.socket() as unused:  # A port that was free a moment ago: nothing listens.
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}", f"[::1]:{port}"):
        with pytest.raises(ExecutionError, match=r"Could not reach the Ray cluster at '.*': "):
            _probe(address)
    for left_to_ray in (None, "auto", "head", "local"):
        _probe(left_to_ray)  # No port: Ray reads the address itself.


class _NodeOf:
    """Stands for the ``ray`` module where only this node's address is read."""

    def __init__(self, node_ip: str) -> None:
        self.util = SimpleNamespace(get_node_ip_address=lambda: node_ip)


@pytest.mark.parametrize(
    ("given", "connected", "node", "same"),
    [
        ("10.0.0.5:6379", "10.0.0.5:6379", "10.9.9.9", True),
        ("10.0.0.5:6380", "10.0.0.5:6379", "10.0.0.5", False),  # Another port.
        ("127.0.0.1:6379", "10.9.9.9:6379", "10.9.9.9", True),  # Ray's own loopback form.
        ("localhost:6379", "10.9.9.9:6379", "10.9.9.9", True),
        ("127.0.0.1:6379", "10.0.0.5:6379", "10.9.9.9", False),  # A cluster elsewhere.
        ("[::1]:6379", "127.0.0.1:6379", "10.9.9.9", True),
        ("head", "10.0.0.5:6379", "10.9.9.9", False),  # No port.
    ],
)
def test_an_address_names_the_connected_cluster_by_its_port_and_host(
    given: str, connected: str, node: str, same: bool
) -> None:
    assert _same_endpoint(given, connected, _NodeOf(node)) is same
