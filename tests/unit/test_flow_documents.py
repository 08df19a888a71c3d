"""Flow documents: what each part holds, round-trip identity, the instance form, files."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

# Documents name the fixture routines by import path (tests.fixtures...), so the
# repository root must be importable however pytest was started.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.fixtures import flow_routines as fx  # noqa: E402

from routilux import (  # noqa: E402 - after the sys.path set-up above
    ErrorHandler,
    ErrorStrategy,
    Flow,
    SerializationError,
)
from routilux.builtin_routines import ConditionalRouter  # noqa: E402
from routilux.testing import FakeClock  # noqa: E402

FX = "tests.fixtures.flow_routines"
ROUTER = "routilux.builtin_routines.conditional_router:ConditionalRouter"


def rich_flow() -> Flow:
    """A flow that uses every part of the document."""
    flow = Flow(
        flow_id="rich",
        execution_strategy="concurrent",
        max_workers=3,
        execution_timeout=12.5,
        max_deliveries=500,
        record_history=False,
        retain_jobs=7,
    )
    flow.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    source = fx.Source()
    source.set_config(count=3, tag="s", extra=(1, {2, 3}, b"\x00", Decimal("1.5")))
    step = fx.Step()
    step.set_config(offset=5, fail_on=None)
    step.set_error_handler(
        ErrorHandler(
            strategy=ErrorStrategy.RETRY,
            max_retries=2,
            retry_delay=0.25,
            retry_backoff=3,
            retryable_exceptions=(fx.FixtureError, fx.Outer.InnerError, KeyError),
            is_critical=True,
        )
    )
    step.set_timeout(30)
    step.set_max_concurrency(4)
    step.define_slot("extra", handler=step.other, merge_strategy="append")
    router = ConditionalRouter()
    router.set_config(
        routes=[
            ("big", "data.get('value', 0) > 5"),
            ("tagged", {"tag": "s"}),
            ("even", fx.is_even),
        ],
        default_route="rest",
    )
    for name in ("big", "tagged", "even", "rest"):
        router.define_event(name, ["data"])
    flow.add_routine(source, "source")
    flow.add_routine(step, "step")
    flow.add_routine(router, "router")
    flow.add_routine(fx.Gather(), "gather")
    flow.connect("source", "out", "step", "input", {"value": "amount"})
    flow.connect("step", "out", "router", "input")
    flow.connect("router", "big", "gather", "input")
    flow.connect("router", "even", "step", "extra", {"data": "payload"})
    return flow


def test_header_and_flow_settings() -> None:
    doc = rich_flow().serialize()
    assert (doc["schema"], doc["version"]) == ("routilux.flow", 2)
    assert {k: doc[k] for k in list(doc)[2:9]} == {
        "flow_id": "rich",
        "execution_strategy": "concurrent",
        "max_workers": 3,
        "execution_timeout": 12.5,
        "max_deliveries": 500,
        "record_history": False,
        "retain_jobs": 7,
    }


def test_the_clock_and_jobs_are_not_saved() -> None:
    flow = Flow(clock=FakeClock())
    doc = flow.serialize()
    assert "clock" not in doc
    assert set(doc) == {
        *("schema", "version", "flow_id", "execution_strategy", "max_workers"),
        *("execution_timeout", "max_deliveries", "record_history", "retain_jobs"),
        *("error_handler", "routines", "connections"),
    }


def test_a_history_limit_round_trips_and_may_be_left_out() -> None:
    flow = Flow(history_limit=50)
    doc = flow.serialize()
    assert doc["history_limit"] == 50
    assert Flow.deserialize(doc).history_limit == 50
    assert "history_limit" not in Flow().serialize()
    del doc["history_limit"]
    assert Flow.deserialize(doc).history_limit == 10_000


def test_an_unbounded_history_is_written_as_null() -> None:
    doc = Flow(history_limit=None).serialize()
    assert doc["history_limit"] is None
    assert Flow.deserialize(doc).history_limit is None


def test_a_version_1_document_without_history_limit_keeps_all_the_history() -> None:
    # Version 1 left history_limit out at its default then, None: unbounded.
    doc = Flow().serialize()
    doc["version"] = 1
    assert "history_limit" not in doc
    assert Flow.deserialize(doc).history_limit is None
    doc["history_limit"] = 30
    assert Flow.deserialize(doc).history_limit == 30


def test_max_hops_round_trips_and_may_be_left_out() -> None:
    doc = Flow(max_hops=50).serialize()
    assert doc["max_hops"] == 50
    assert Flow.deserialize(doc).max_hops == 50
    assert "max_hops" not in Flow().serialize()
    del doc["max_hops"]
    assert Flow.deserialize(doc).max_hops == 10_000


def test_max_deliveries_is_off_by_default_and_round_trips() -> None:
    doc = Flow().serialize()
    assert doc["max_deliveries"] is None
    assert Flow.deserialize(doc).max_deliveries is None
    assert Flow.deserialize(Flow(max_deliveries=9).serialize()).max_deliveries == 9


def test_the_bound_on_async_handlers_round_trips_and_may_be_left_out() -> None:
    doc = Flow(max_async_in_flight=50).serialize()
    assert doc["max_async_in_flight"] == 50
    assert Flow.deserialize(doc).max_async_in_flight == 50
    assert "max_async_in_flight" not in Flow().serialize()
    del doc["max_async_in_flight"]
    assert Flow.deserialize(doc).max_async_in_flight == 1_000


def test_no_bound_on_async_handlers_round_trips() -> None:
    doc = Flow(max_async_in_flight=None).serialize()
    assert doc["max_async_in_flight"] is None
    assert Flow.deserialize(doc).max_async_in_flight is None


def test_a_flow_file_sets_the_bound_on_async_handlers(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(Flow(max_async_in_flight=7).serialize()), encoding="utf-8")
    assert Flow.from_file(path).max_async_in_flight == 7


@pytest.mark.parametrize("value", [0, "10", 2.5])
def test_a_document_with_a_bad_bound_on_async_handlers_is_refused(value: Any) -> None:
    doc = Flow().serialize() | {"max_async_in_flight": value}
    with pytest.raises(SerializationError, match="max_async_in_flight"):
        Flow.deserialize(doc)


def test_tracking_is_written_only_when_on_and_round_trips() -> None:
    doc = Flow(track_execution=True).serialize()
    assert doc["track_execution"] is True
    assert Flow.deserialize(doc).track_execution is True
    assert Flow().deserialize(doc).track_execution is True
    assert "track_execution" not in Flow().serialize()
    del doc["track_execution"]
    assert Flow.deserialize(doc).track_execution is False


def test_a_flow_file_turns_tracking_on(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    document = Flow().serialize() | {"track_execution": True}
    path.write_text(json.dumps(document), encoding="utf-8")  # JSON is YAML too.
    assert Flow.from_file(path).track_execution is True


@pytest.mark.parametrize("value", [1, "yes", None])
def test_a_document_with_a_bad_tracking_setting_is_refused(value: Any) -> None:
    doc = Flow().serialize() | {"track_execution": value}
    with pytest.raises(SerializationError, match="track_execution"):
        Flow.deserialize(doc)


def test_flow_error_handler() -> None:
    assert rich_flow().serialize()["error_handler"] == {
        "strategy": "continue",
        "max_retries": 3,
        "retry_delay": 1.0,
        "retry_backoff": 2.0,
        "retryable_exceptions": ["builtins:Exception"],
        "is_critical": False,
    }


def test_routine_class_is_an_import_path() -> None:
    routines = rich_flow().serialize()["routines"]
    assert {rid: r["class"] for rid, r in routines.items()} == {
        "source": f"{FX}:Source",
        "step": f"{FX}:Step",
        "router": ROUTER,
        "gather": f"{FX}:Gather",
    }


def test_config_goes_through_the_value_codec() -> None:
    config = rich_flow().serialize()["routines"]["source"]["config"]
    assert config["count"] == 3
    assert config["extra"] == {
        "$t": "tuple",
        "v": [
            1,
            {"$t": "set", "v": [2, 3]},
            {"$t": "bytes", "v": "AA=="},
            {"$t": "decimal", "v": "1.5"},
        ],
    }


def test_config_values_come_back_with_their_types() -> None:
    flow = Flow()
    source = fx.Source()
    when = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    source.set_config(extra={"when": when, "day": date(2024, 5, 1), "keys": {1: "a"}})
    flow.add_routine(source, "source")
    rebuilt = Flow.deserialize(flow.serialize()).routines["source"]
    assert rebuilt.get_config("extra") == {"when": when, "day": date(2024, 5, 1), "keys": {1: "a"}}


def test_slots_name_handler_and_merge_strategy() -> None:
    routines = rich_flow().serialize()["routines"]
    assert routines["step"]["slots"] == [
        {"name": "input", "handler": "process", "merge_strategy": "override"},
        {"name": "extra", "handler": "other", "merge_strategy": "append"},
    ]
    assert routines["gather"]["slots"] == [
        {"name": "input", "handler": "collect", "merge_strategy": f"{FX}:keep_larger"}
    ]


def test_events_name_and_params() -> None:
    routines = rich_flow().serialize()["routines"]
    assert routines["step"]["events"] == [{"name": "out", "params": ["value", "tag"]}]
    assert [e["name"] for e in routines["router"]["events"]] == [
        "output",
        "big",
        "tagged",
        "even",
        "rest",
    ]


def test_routine_error_handler_timeout_and_concurrency() -> None:
    step = rich_flow().serialize()["routines"]["step"]
    assert step["error_handler"] == {
        "strategy": "retry",
        "max_retries": 2,
        "retry_delay": 0.25,
        "retry_backoff": 3,
        "retryable_exceptions": [
            f"{FX}:FixtureError",
            f"{FX}:Outer.InnerError",
            "builtins:KeyError",
        ],
        "is_critical": True,
    }
    assert (step["timeout"], step["max_concurrency"]) == (30.0, 4)
    source = rich_flow().serialize()["routines"]["source"]
    assert (source["error_handler"], source["timeout"], source["max_concurrency"]) == (
        None,
        None,
        None,
    )


def test_connections_by_routine_id_with_param_mapping() -> None:
    assert rich_flow().serialize()["connections"] == [
        {
            "source": "source",
            "event": "out",
            "target": "step",
            "slot": "input",
            "param_mapping": {"value": "amount"},
        },
        {
            "source": "step",
            "event": "out",
            "target": "router",
            "slot": "input",
            "param_mapping": None,
        },
        {
            "source": "router",
            "event": "big",
            "target": "gather",
            "slot": "input",
            "param_mapping": None,
        },
        {
            "source": "router",
            "event": "even",
            "target": "step",
            "slot": "extra",
            "param_mapping": {"data": "payload"},
        },
    ]


def test_router_routes_keep_strings_dicts_and_function_paths() -> None:
    router = rich_flow().serialize()["routines"]["router"]
    assert router["routes"] == [
        {"name": "big", "expression": "data.get('value', 0) > 5"},
        {"name": "tagged", "fields": {"tag": "s"}},
        {"name": "even", "function": f"{FX}:is_even"},
    ]
    assert router["config"] == {"default_route": "rest", "route_priority": "first_match"}


def test_router_routes_come_back_as_conditions() -> None:
    rebuilt = Flow.deserialize(rich_flow().serialize()).routines["router"]
    assert rebuilt.get_config("routes") == [
        ("big", "data.get('value', 0) > 5"),
        ("tagged", {"tag": "s"}),
        ("even", fx.is_even),
    ]
    assert list(rebuilt.events) == ["output", "big", "tagged", "even", "rest"]


def test_document_is_json() -> None:
    doc = rich_flow().serialize()
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc


def test_round_trip_is_the_identity() -> None:
    doc = rich_flow().serialize()
    assert Flow.deserialize(doc).serialize() == doc


def test_round_trip_through_json_text_is_the_identity() -> None:
    doc = rich_flow().serialize()
    assert Flow.deserialize(json.loads(json.dumps(doc))).serialize() == doc


def test_deserialize_does_not_change_the_document() -> None:
    doc = rich_flow().serialize()
    copy = json.loads(json.dumps(doc))
    Flow.deserialize(doc)
    assert doc == copy


def history(flow: Flow, **params: Any) -> list[tuple[str, str, Any]]:
    job = flow.execute("source", entry_params=params)
    assert job.status == "completed", job.error
    return [(r.routine_id, r.event_name, r.data) for r in job.execution_history]


def test_rebuilt_flow_runs_the_same() -> None:
    original = rich_flow()
    original.execution_strategy, original.record_history = "sequential", True
    rebuilt = Flow.deserialize(original.serialize())
    assert history(rebuilt, value=4) == history(original, value=4)
    assert len(history(original, value=4)) > 5


def test_private_and_aliased_handlers_defined_by_init_round_trip() -> None:
    flow = Flow()
    flow.add_routine(fx.PrivateHandler(), "private")
    flow.add_routine(fx.AliasHandler(), "alias")
    doc = flow.serialize()
    assert doc["routines"]["private"]["slots"][0]["handler"] == "_handle"
    assert doc["routines"]["alias"]["slots"][0]["handler"] == "handle"
    assert Flow.deserialize(doc).serialize() == doc


def test_stats_and_slot_data_are_not_saved() -> None:
    flow = Flow()
    appender = fx.Appender()
    appender.set_stat("seen", 3)
    flow.add_routine(appender, "appender")
    appender.input_slot._data = {"value": [1, 2]}
    rebuilt = Flow.deserialize(flow.serialize()).routines["appender"]
    assert (rebuilt.stats(), dict(rebuilt.slots["input"].data)) == ({}, {})


# -- the instance form -------------------------------------------------------


def test_instance_form_rebuilds_into_the_instance_and_returns_it() -> None:
    doc = rich_flow().serialize()
    clock = FakeClock()
    flow = Flow(clock=clock)
    assert flow.deserialize(doc) is flow
    assert flow.clock is clock
    assert flow.serialize() == doc


def test_class_form_returns_a_new_flow() -> None:
    doc = rich_flow().serialize()
    assert isinstance(Flow.deserialize(doc), Flow)
    assert Flow.deserialize(doc) is not Flow.deserialize(doc)


def test_instance_form_refuses_a_flow_that_has_routines() -> None:
    flow = Flow()
    flow.add_routine(fx.Step(), "step")
    with pytest.raises(SerializationError, match="already has routines"):
        flow.deserialize(rich_flow().serialize())


def test_instance_is_unchanged_when_the_document_is_refused() -> None:
    doc = rich_flow().serialize()
    doc["connections"].append(
        {
            "source": "step",
            "event": "nope",
            "target": "gather",
            "slot": "input",
            "param_mapping": None,
        }
    )
    flow = Flow(flow_id="mine")
    with pytest.raises(SerializationError, match=r"connections\[4\] is refused"):
        flow.deserialize(doc)
    assert (flow.flow_id, flow.routines, flow.connections) == ("mine", {}, [])


def test_deserialize_has_a_docstring_on_the_class_and_the_instance() -> None:
    assert "Rebuild a flow" in (Flow.deserialize.__doc__ or "")
    assert "Rebuild a flow" in (Flow().deserialize.__doc__ or "")


class AuditedFlow(Flow):
    """A Flow subclass: deserialize builds one of these."""


def test_deserialize_on_a_subclass_builds_the_subclass() -> None:
    doc = rich_flow().serialize()
    assert type(AuditedFlow.deserialize(doc)) is AuditedFlow
    assert type(AuditedFlow().deserialize(doc)) is AuditedFlow
