"""Config codecs: a built-in registers its own, and a document finds it by importing the class."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import routilux
from routilux import Flow, Routine
from routilux._serde.config_codecs import RoutesCodec, config_codec
from routilux.builtin_routines import ConditionalRouter

_CHILD = """
import json, sys
from routilux import Flow
assert "routilux.builtin_routines" not in sys.modules, "imported before the document"
document = json.loads(sys.stdin.read())
flow = Flow.deserialize(document)
assert "routilux.builtin_routines.conditional_router" in sys.modules
print(json.dumps({
    "same": flow.serialize() == document,
    "routes": [name for name, _ in flow.routines["router"].get_config("routes")],
}))
"""


def router_flow() -> Flow:
    flow = Flow(flow_id="routed")
    router = ConditionalRouter()
    router.set_config(
        routes=[("high", "data.get('value', 0) > 10"), ("vip", {"tier": "gold"})],
        default_route="low",
    )
    flow.add_routine(router, "router")
    return flow


def test_a_router_document_loads_where_the_built_ins_were_never_imported() -> None:
    src = str(Path(routilux.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(router_flow().serialize()),
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"same": True, "routes": ["high", "vip"]}


def test_the_router_codec_serves_its_subclasses() -> None:
    class Special(ConditionalRouter):
        pass

    assert isinstance(config_codec(Special), RoutesCodec)
    assert config_codec(Special) is config_codec(ConditionalRouter)


def test_a_class_without_a_codec_has_none() -> None:
    class Plain(Routine):
        pass

    assert config_codec(Plain) is None
