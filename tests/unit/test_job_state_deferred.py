"""Deferred events: JobState.add_deferred_event and Routine.emit_deferred_event."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest

from routilux import (
    DefinitionError,
    ErrorHandler,
    ErrorStrategy,
    ExecutionError,
    Flow,
    JobState,
    Routine,
    SerializationError,
)


class Planner(Routine):
    """Defers ``done`` with the count; fails after deferring on ``fail``; may name an event."""

    def __init__(self, *, fail: int = 0, event: str = "done") -> None:
        super().__init__()
        self.fail = fail
        self.event = event
        self.errors: list[Exception] = []
        self.define_slot("trigger", handler=self.plan)
        self.define_event("done", ["count"])

    def plan(self, count: int) -> None:
        try:
            self.emit_deferred_event(self.event, count=count)
        except DefinitionError as exc:
            self.errors.append(exc)
            return
        if self.fail:
            self.fail -= 1
            raise ValueError("not yet")


def planner_flow(planner: Planner) -> Flow:
    flow = Flow(flow_id="plans")
    flow.add_routine(planner, "planner")
    return flow


# -- JobState.add_deferred_event ------------------------------------------------------


def test_add_deferred_event_appends_an_entry_stamped_now_in_utc() -> None:
    job = JobState("f")
    data = {"n": 1}
    job.add_deferred_event("worker", "done", data)
    data["n"] = 2
    job.add_deferred_event("worker", "again", None)

    first, second = job.deferred_events
    assert {k: v for k, v in first.items() if k != "timestamp"} == {
        "routine_id": "worker",
        "event_name": "done",
        "data": {"n": 1},
    }
    assert datetime.fromisoformat(first["timestamp"]).utcoffset() == timedelta(0)
    assert (second["event_name"], second["data"]) == ("again", {})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1, "done", {}), "routine_id must be a string"),
        (("worker", None, {}), "event_name must be a string"),
        (("worker", "done", [1]), "data must be a mapping"),
    ],
)
def test_add_deferred_event_refuses_arguments_of_the_wrong_type(
    args: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        JobState("f").add_deferred_event(*args)


def test_deferred_events_round_trip_through_a_document() -> None:
    job = JobState("f")
    job.add_deferred_event("worker", "done", {"pair": (1, 2)})

    document = job.serialize()
    loaded = JobState.deserialize(document)

    assert document["deferred_events"][0]["data"] == {"pair": {"$t": "tuple", "v": [1, 2]}}
    assert loaded.deferred_events == job.deferred_events
    assert loaded.deferred_events[0]["data"]["pair"] == (1, 2)


def test_a_document_without_deferred_events_is_read_with_none() -> None:
    document = JobState("f").serialize()
    del document["deferred_events"]
    assert JobState.deserialize(document).deferred_events == []


@pytest.mark.parametrize(
    "deferred_events",
    [
        {},
        ["text"],
        [{"routine_id": "r", "event_name": "e", "data": [], "timestamp": "2024-05-01"}],
        [{"routine_id": "r", "event_name": 3, "data": {}, "timestamp": "2024-05-01"}],
        [{"routine_id": "r", "event_name": "e", "data": {}}],
    ],
)
def test_malformed_deferred_events_are_refused(deferred_events: Any) -> None:
    document = JobState("f").serialize()
    document["deferred_events"] = deferred_events
    with pytest.raises(SerializationError, match="deferred_events"):
        JobState.deserialize(document)


# -- Routine.emit_deferred_event -----------------------------------------------------


def test_emit_deferred_event_outside_a_job_raises_a_runtime_error() -> None:
    with pytest.raises(RuntimeError, match="emit_deferred_event outside of a job") as caught:
        Planner().emit_deferred_event("done", count=1)
    assert isinstance(caught.value, ExecutionError)


def test_emit_deferred_event_of_an_unknown_event_raises_at_once() -> None:
    planner = Planner(event="dnoe")
    job = planner_flow(planner).execute("planner", {"count": 3})

    [error] = planner.errors
    assert str(error) == "Routine Planner has no event 'dnoe'; defined events: 'done'."
    assert job.deferred_events == []


def test_a_deferred_event_is_added_to_the_job_when_its_handler_succeeds() -> None:
    job = planner_flow(Planner()).execute("planner", {"count": 3})

    [entry] = job.deferred_events
    assert (entry["routine_id"], entry["event_name"], entry["data"]) == (
        "planner",
        "done",
        {"count": 3},
    )
    assert job.execution_history == []  # Not emitted: deferred until a resume.


def test_the_deferred_events_of_a_failed_handler_are_discarded() -> None:
    planner = Planner(fail=1)
    planner.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = planner_flow(planner).execute("planner", {"count": 3})

    assert job.status == "completed"
    assert job.deferred_events == []


def test_a_retried_handler_defers_its_event_once() -> None:
    planner = Planner(fail=2)
    planner.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=2, retry_delay=0)
    )
    job = planner_flow(planner).execute("planner", {"count": 3})

    assert job.status == "completed"
    assert [e["data"] for e in job.deferred_events] == [{"count": 3}]


def test_a_job_that_completes_with_deferred_events_keeps_them_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="routilux"):
        job = planner_flow(Planner()).execute("planner", {"count": 3})

    assert job.status == "completed"
    assert len(job.deferred_events) == 1
    [record] = [r for r in caplog.records if "deferred event" in r.getMessage()]
    assert record.name == "routilux"
    assert record.levelno == logging.WARNING
    assert f"Job {job.job_id} of flow 'plans' completed with 1 deferred event(s)" in (
        record.getMessage()
    )


def test_a_job_that_completes_without_deferred_events_does_not_warn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    planner = Planner(event="none")
    with caplog.at_level(logging.WARNING, logger="routilux"):
        job = planner_flow(planner).execute("planner", {"count": 3})
    assert job.status == "completed"
    assert len(planner.errors) == 1  # The event it tried to defer does not exist.
    assert not [r for r in caplog.records if "deferred event" in r.getMessage()]
