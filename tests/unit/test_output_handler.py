"""routilux.output_handler: the abstract handler and the queue, callback and null handlers."""

from __future__ import annotations

import multiprocessing
import queue
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import routilux
from routilux import DefinitionError, JobState
from routilux.output_handler import (
    CallbackOutputHandler,
    NullOutputHandler,
    OutputHandler,
    QueueOutputHandler,
)

MOMENT = datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)


def test_the_handlers_are_exported_from_routilux_too() -> None:
    assert routilux.OutputHandler is OutputHandler
    assert routilux.QueueOutputHandler is QueueOutputHandler
    assert routilux.CallbackOutputHandler is CallbackOutputHandler
    assert routilux.NullOutputHandler is NullOutputHandler


def test_output_handler_is_abstract() -> None:
    with pytest.raises(TypeError, match="abstract"):
        OutputHandler()  # type: ignore[abstract]


def test_a_subclass_implementing_handle_is_an_output_handler() -> None:
    class Printer(OutputHandler):
        def __init__(self) -> None:
            self.seen: list[Any] = []

        def handle(
            self,
            job_id: str,
            routine_id: str,
            output_type: str,
            data: dict[str, Any],
            timestamp: datetime | None = None,
        ) -> None:
            self.seen.append((job_id, routine_id, output_type, data, timestamp))

    printer = Printer()
    job = JobState("f")
    job.set_output_handler(printer)
    job.send_output("r", "status", {"ok": True})
    [(job_id, routine_id, output_type, data, timestamp)] = printer.seen
    assert (job_id, routine_id, output_type, data) == (job.job_id, "r", "status", {"ok": True})
    assert isinstance(timestamp, datetime)


# -- QueueOutputHandler ------------------------------------------------------------------


def test_queue_handler_makes_its_own_queue_when_given_none() -> None:
    handler = QueueOutputHandler()
    assert isinstance(handler.queue, queue.Queue)
    assert QueueOutputHandler().queue is not handler.queue


def test_queue_handler_puts_a_dict_with_an_iso_timestamp() -> None:
    handler = QueueOutputHandler()
    handler.handle("job", "worker", "progress", {"done": 3}, MOMENT)
    assert handler.queue.get_nowait() == {
        "job_id": "job",
        "routine_id": "worker",
        "output_type": "progress",
        "data": {"done": 3},
        "timestamp": "2024-05-01T12:30:00+00:00",
    }


def test_queue_handler_stamps_now_in_utc_without_a_timestamp() -> None:
    handler = QueueOutputHandler()
    before = datetime.now(timezone.utc)
    handler.handle("job", "worker", "progress", {})
    stamp = datetime.fromisoformat(handler.queue.get_nowait()["timestamp"])
    assert stamp.utcoffset() == timedelta(0)
    assert before <= stamp <= datetime.now(timezone.utc)


def test_queue_handler_uses_the_queue_it_is_given() -> None:
    given: queue.SimpleQueue[Any] = queue.SimpleQueue()
    handler = QueueOutputHandler(given)
    assert handler.queue is given
    job = JobState("f")
    job.set_output_handler(handler)
    job.send_output("r", "result", {"n": 1})
    item = given.get_nowait()
    assert (item["job_id"], item["routine_id"], item["output_type"], item["data"]) == (
        job.job_id,
        "r",
        "result",
        {"n": 1},
    )
    assert item["timestamp"] == job.output_log[0]["timestamp"]


def test_queue_handler_takes_a_multiprocessing_queue() -> None:
    shared: Any = multiprocessing.Queue()
    try:
        QueueOutputHandler(shared).handle("job", "r", "t", {"n": 1}, MOMENT)
        assert shared.get(timeout=10)["data"] == {"n": 1}
    finally:
        shared.close()
        shared.join_thread()


# -- CallbackOutputHandler -------------------------------------------------------------


def test_callback_handler_calls_back_positionally() -> None:
    calls: list[tuple[Any, ...]] = []
    CallbackOutputHandler(lambda *args: calls.append(args)).handle(
        "job", "r", "status", {"a": 1}, MOMENT
    )
    assert calls == [("job", "r", "status", {"a": 1}, MOMENT)]


def test_callback_handler_passes_now_in_utc_without_a_timestamp() -> None:
    calls: list[tuple[Any, ...]] = []
    CallbackOutputHandler(lambda *args: calls.append(args)).handle("job", "r", "status", {})
    stamp = calls[0][4]
    assert isinstance(stamp, datetime)
    assert stamp.utcoffset() == timedelta(0)


def test_callback_handler_needs_a_callable() -> None:
    with pytest.raises(DefinitionError, match="needs a callable"):
        CallbackOutputHandler("print")  # type: ignore[arg-type]


# -- NullOutputHandler -----------------------------------------------------------------


def test_null_handler_does_nothing_and_the_job_still_logs() -> None:
    job = JobState("f")
    job.set_output_handler(NullOutputHandler())
    job.send_output("r", "status", {"n": 1})
    assert NullOutputHandler().handle("job", "r", "t", {}) is None
    assert [e["data"] for e in job.output_log] == [{"n": 1}]
