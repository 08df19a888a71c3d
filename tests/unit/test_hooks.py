"""The event hook API: its records, registries, and the plan a flow compiles."""

from __future__ import annotations

import pytest

import routilux
from routilux import Flow, Routine
from routilux._engine.hooks import HookedPlan, HookRegistry
from routilux._engine.plan import FlowPlan
from routilux._engine.tracking import TrackedPlan
from routilux.hooks import (
    DeliveryEvent,
    EmitEvent,
    Hooks,
    JobEvent,
    add_global_hooks,
    remove_global_hooks,
)

EVENT_METHODS = [
    "job_started",
    "job_paused",
    "job_resumed",
    "job_ended",
    "delivery_started",
    "delivery_succeeded",
    "delivery_failed",
    "delivery_retried",
    "delivery_skipped",
    "delivery_dead_lettered",
    "emitted",
]


class Echo(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.go)
        self.define_event("out", ["n"])

    def go(self, n: int = 0) -> None:
        self.emit("out", n=n)


class Seen(Hooks):
    def __init__(self) -> None:
        self.started: list[str] = []

    def delivery_started(self, event: DeliveryEvent) -> None:
        self.started.append(event.routine_id)


def one_routine(**kwargs: object) -> Flow:
    flow = Flow(**kwargs)  # type: ignore[arg-type]
    flow.add_routine(Echo(), "echo")
    return flow


@pytest.mark.parametrize("method", EVENT_METHODS)
def test_every_method_does_nothing_by_default(method: str) -> None:
    assert getattr(Hooks(), method)(JobEvent("j", "f", "running")) is None


def test_the_records_are_immutable_and_slotted() -> None:
    for record in (
        JobEvent("j", "f", "running"),
        DeliveryEvent("j", "f", "r", "s", "j:1", 1),
        EmitEvent("j", "f", "r", "out", ("t",), "j:1"),
    ):
        assert not hasattr(record, "__dict__")
        with pytest.raises(AttributeError):
            record.job_id = "other"  # type: ignore[misc]


def test_the_public_names_are_exported() -> None:
    for name in ("Hooks", "JobEvent", "DeliveryEvent", "EmitEvent", "add_global_hooks"):
        assert name in routilux.__all__
        assert getattr(routilux, name) is getattr(routilux.hooks, name)


def test_a_registry_keeps_each_hooks_once_and_refuses_other_objects() -> None:
    registry, hooks = HookRegistry(), Hooks()
    registry.add(hooks)
    registry.add(hooks)
    assert registry.snapshot() == (hooks,)
    registry.remove(hooks)
    registry.remove(hooks)
    assert registry.snapshot() == ()
    with pytest.raises(TypeError, match=r"routilux\.hooks\.Hooks"):
        registry.add(object())  # type: ignore[arg-type]


def test_a_flow_without_hooks_compiles_a_plain_plan() -> None:
    flow = one_routine()
    assert type(flow._compiled()) is FlowPlan
    assert type(one_routine(track_execution=True)._compiled()) is TrackedPlan


def test_hooks_that_override_nothing_leave_the_plan_plain() -> None:
    flow = one_routine()
    flow.add_hooks(Hooks())
    assert type(flow._compiled()) is FlowPlan


def test_adding_and_removing_hooks_recompiles_the_plan() -> None:
    flow, hooks = one_routine(), Seen()
    flow.add_hooks(hooks)
    assert isinstance(flow._compiled(), HookedPlan)
    flow.remove_hooks(hooks)
    assert type(flow._compiled()) is FlowPlan


def test_global_hooks_recompile_every_flow_plan() -> None:
    flow, hooks = one_routine(), Seen()
    assert type(flow._compiled()) is FlowPlan
    add_global_hooks(hooks)
    try:
        assert isinstance(flow._compiled(), HookedPlan)
    finally:
        remove_global_hooks(hooks)
    assert type(flow._compiled()) is FlowPlan


def test_a_tracked_flow_with_hooks_tracks_and_calls_hooks() -> None:
    flow, seen = one_routine(track_execution=True), Seen()
    flow.add_hooks(seen)
    plan = flow._compiled()
    assert isinstance(plan, HookedPlan)
    assert isinstance(plan, TrackedPlan)
    job = flow.execute("echo")
    assert seen.started == ["echo"]
    assert job.execution_tracker is not None
    assert [r["status"] for r in job.execution_tracker.routine_executions["echo"]] == ["completed"]
    assert job.execution_tracker.event_flow[0]["event_name"] == "out"


def test_a_registry_lists_the_hooks_that_override_each_method() -> None:
    registry, seen, plain = HookRegistry(), Seen(), Hooks()
    registry.add(plain)
    registry.add(seen)
    assert registry.listeners == {"delivery_started": (seen,)}
    registry.remove(seen)
    assert registry.listeners == {}
