"""The output channel: JobState.set_output_handler / send_output and Routine.send_output."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from routilux import (
    CallbackOutputHandler,
    DefinitionError,
    ErrorHandler,
    ErrorStrategy,
    ExecutionError,
    Flow,
    JobState,
    Routine,
    SerializationError,
)

UTC = timezone.utc


class Calls:
    """An output handler that keeps the keyword arguments of every call, in order."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.threads: list[int] = []

    def handle(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        self.threads.append(threading.get_ident())


class Broken:
    def handle(self, **kwargs: Any) -> None:
        raise RuntimeError("the screen is off")


class Reporter(Routine):
    """Sends a ``progress`` output per item, then a ``result``; fails once on ``fail_once``."""

    def __init__(self, fail_once: int | None = None) -> None:
        super().__init__()
        self.fail_once = fail_once
        self.define_slot("trigger", handler=self.run)

    def run(self, items: list[int]) -> None:
        for item in items:
            self.send_output("progress", item=item)
            if item == self.fail_once:
                self.fail_once = None
                raise ValueError("flaky")
        self.send_output("result", total=sum(items))


def reporter_flow(reporter: Routine | None = None) -> Flow:
    flow = Flow(flow_id="outputs")
    flow.add_routine(reporter or Reporter(), "reporter")
    return flow


# -- JobState.send_output --------------------------------------------------------------


def test_send_output_calls_the_handler_at_once_with_keywords() -> None:
    job = JobState("f")
    handler = Calls()
    job.set_output_handler(handler)
    before = datetime.now(UTC)
    job.send_output("worker", "status", {"stage": 1})
    [call] = handler.calls
    assert call.keys() == {"job_id", "routine_id", "output_type", "data", "timestamp"}
    assert (call["job_id"], call["routine_id"]) == (job.job_id, "worker")
    assert (call["output_type"], call["data"]) == ("status", {"stage": 1})
    assert call["timestamp"].utcoffset() == timedelta(0)
    assert before <= call["timestamp"] <= datetime.now(UTC)
    assert handler.threads == [threading.get_ident()]


def test_send_output_keeps_every_output_in_the_output_log() -> None:
    job = JobState("f")
    job.send_output("a", "status", {"n": 1})
    job.send_output("b", "result", {"n": 2})
    first, second = job.output_log
    assert first == {
        "routine_id": "a",
        "output_type": "status",
        "data": {"n": 1},
        "timestamp": first["timestamp"],
    }
    assert datetime.fromisoformat(first["timestamp"]).utcoffset() == timedelta(0)
    assert (second["routine_id"], second["output_type"], second["data"]) == (
        "b",
        "result",
        {"n": 2},
    )


def test_the_handler_and_the_log_get_the_same_time() -> None:
    job = JobState("f")
    handler = Calls()
    job.set_output_handler(handler)
    job.send_output("a", "status", {})
    assert handler.calls[0]["timestamp"].isoformat() == job.output_log[0]["timestamp"]


def test_send_output_copies_the_data() -> None:
    job = JobState("f")
    data = {"n": 1}
    job.send_output("a", "status", data)
    data["n"] = 2
    assert job.output_log[0]["data"] == {"n": 1}


def test_a_handler_set_to_none_receives_nothing_more() -> None:
    job = JobState("f")
    handler = Calls()
    job.set_output_handler(handler)
    job.send_output("a", "one", {})
    job.set_output_handler(None)
    job.send_output("a", "two", {})
    assert [c["output_type"] for c in handler.calls] == ["one"]
    assert [e["output_type"] for e in job.output_log] == ["one", "two"]


def test_a_failing_handler_is_logged_as_a_warning_and_the_output_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = JobState("f")
    job.set_output_handler(Broken())
    with caplog.at_level(logging.WARNING, logger="routilux"):
        job.send_output("worker", "status", {"n": 1})
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "output handler Broken failed on the 'status' output of routine 'worker'" in (
        record.getMessage()
    )
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    assert len(job.output_log) == 1


@pytest.mark.parametrize("handler", [object(), "print", 5])
def test_an_output_handler_needs_a_handle_method(handler: Any) -> None:
    job = JobState("f")
    with pytest.raises(DefinitionError, match="needs a handle"):
        job.set_output_handler(handler)
    assert job.output_handler is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((None, "t", {}), "routine_id must be a string"),
        (("r", 3, {}), "output_type must be a string"),
        (("r", "t", "text"), "data must be a mapping"),
    ],
)
def test_send_output_refuses_bad_arguments(args: tuple[Any, ...], message: str) -> None:
    job = JobState("f")
    with pytest.raises(DefinitionError, match=message):
        job.send_output(*args)
    assert job.output_log == []


def test_the_output_log_round_trips_through_a_document() -> None:
    job = JobState("f")
    job.send_output("a", "result", {"pair": (1, 2)})
    document = job.serialize()
    assert document["output_log"][0]["data"] == {"pair": {"$t": "tuple", "v": [1, 2]}}
    loaded = JobState.deserialize(document)
    assert loaded.output_log == job.output_log
    assert loaded.output_log[0]["data"]["pair"] == (1, 2)


def test_a_document_without_an_output_log_is_read_with_an_empty_one() -> None:
    document = JobState("f").serialize()
    del document["output_log"]
    assert JobState.deserialize(document).output_log == []


@pytest.mark.parametrize(
    "output_log",
    [
        {},
        ["text"],
        [{"routine_id": "r", "output_type": "t", "data": [], "timestamp": "2024-05-01"}],
        [{"routine_id": "r", "output_type": "t", "data": {}}],
    ],
)
def test_a_malformed_output_log_is_refused(output_log: Any) -> None:
    document = JobState("f").serialize()
    document["output_log"] = output_log
    with pytest.raises(SerializationError, match="output_log"):
        JobState.deserialize(document)


# -- Routine.send_output ---------------------------------------------------------------


def test_a_routine_sends_outputs_of_its_running_job() -> None:
    handler = Calls()

    class WithHandler(Reporter):
        def run(self, items: list[int]) -> None:
            context = self.get_execution_context()
            assert context is not None
            context.job_state.set_output_handler(handler)
            super().run(items)

    flow = reporter_flow(WithHandler())
    done = flow.execute("reporter", {"items": [1, 2]})
    assert [(c["routine_id"], c["output_type"], c["data"]) for c in handler.calls] == [
        ("reporter", "progress", {"item": 1}),
        ("reporter", "progress", {"item": 2}),
        ("reporter", "result", {"total": 3}),
    ]
    assert all(c["job_id"] == done.job_id for c in handler.calls)
    assert [e["output_type"] for e in done.output_log] == ["progress", "progress", "result"]


def test_a_retried_delivery_sends_its_outputs_again() -> None:
    reporter = Reporter(fail_once=2)
    reporter.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=1, retry_delay=0)
    )
    job = reporter_flow(reporter).execute("reporter", {"items": [1, 2, 3]})
    assert job.status == "completed"
    assert [e["data"] for e in job.output_log] == [
        {"item": 1},
        {"item": 2},
        {"item": 1},
        {"item": 2},
        {"item": 3},
        {"total": 6},
    ]


def test_send_output_outside_a_job_raises_a_runtime_error() -> None:
    with pytest.raises(RuntimeError, match="send_output outside of a job") as caught:
        Reporter().send_output("status", n=1)
    assert isinstance(caught.value, ExecutionError)


def test_execution_error_is_a_runtime_error() -> None:
    assert issubclass(ExecutionError, RuntimeError)


def test_a_callback_handler_set_in_the_job_sees_each_output() -> None:
    seen: list[tuple[str, str, str, dict[str, Any], datetime]] = []

    class Setter(Reporter):
        def run(self, items: list[int]) -> None:
            context = self.get_execution_context()
            assert context is not None
            context.job_state.set_output_handler(
                CallbackOutputHandler(lambda *args: seen.append(args))
            )
            super().run(items)

    job = reporter_flow(Setter()).execute("reporter", {"items": [5]})
    assert [(s[0], s[1], s[2], s[3]) for s in seen] == [
        (job.job_id, "reporter", "progress", {"item": 5}),
        (job.job_id, "reporter", "result", {"total": 5}),
    ]
