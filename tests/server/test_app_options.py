"""Options of ``create_app`` that change the served flows or where their jobs run."""

from __future__ import annotations

import pytest
from server_flows import make_flow

from routilux import DefinitionError
from routilux.server import create_app
from routilux.stores import MemoryStore


def test_ray_address_replaces_each_served_flows_own() -> None:
    flows = [make_flow("one"), make_flow("two")]
    flows[0].ray_address = "head:6379"
    app = create_app(MemoryStore(), flows=flows, ray_address="other:6379", rate_limit=None)
    try:
        assert [f.ray_address for f in app.state.service.flows.values()] == ["other:6379"] * 2
    finally:
        app.state.service.close()


def test_without_ray_address_the_flows_keep_theirs() -> None:
    flow = make_flow()
    flow.ray_address = "head:6379"
    app = create_app(MemoryStore(), flows=[flow], rate_limit=None)
    try:
        assert app.state.service.flows["numbers"].ray_address == "head:6379"
    finally:
        app.state.service.close()


@pytest.mark.parametrize(("option", "value"), [("ray_address", ""), ("queue", "")])
def test_a_bad_option_is_refused_naming_it(option: str, value: str) -> None:
    with pytest.raises(DefinitionError, match=option):
        create_app(MemoryStore(), flows=[make_flow()], **{option: value})
