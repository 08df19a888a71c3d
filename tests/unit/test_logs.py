"""Records logged by handlers carry the job, routine and delivery that logged them."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from routilux import DefinitionError, Flow, Routine
from routilux.hooks import DeliveryEvent, Hooks
from routilux.logs import (
    MAX_KEPT_LOGS,
    TAG_NAMES,
    JobLogFilter,
    JobLogKeeper,
    JsonLogFormatter,
    current_tags,
)

LOGGER = "tests.routilux.logs"


class Capture(logging.Handler):
    """Keeps the records it is given, tagged by a JobLogFilter."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(JobLogFilter())
        self.lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self.lock_:
            self.records.append(record)

    def by_message(self) -> dict[str, logging.LogRecord]:
        return {r.getMessage(): r for r in self.records}


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.go)
        self.define_event("out")

    def go(self, **_: Any) -> None:
        logging.getLogger(LOGGER).info("source")
        self.emit("out", n=1)


class SyncSink(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("inp", handler=self.go)

    def go(self, **_: Any) -> None:
        logging.getLogger(LOGGER).info("sync sink")


class AsyncSink(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("inp", handler=self.go)

    async def go(self, **_: Any) -> None:
        logging.getLogger(LOGGER).info("async sink")


def fan_out_flow(strategy: str) -> Flow:
    flow = Flow(flow_id="logged", execution_strategy=strategy)
    flow.add_routine(Source(), "source")
    flow.add_routine(SyncSink(), "sync")
    flow.add_routine(AsyncSink(), "async")
    timed = SyncSink()
    timed.set_timeout(5.0)
    flow.add_routine(timed, "timed")
    for target in ("sync", "async", "timed"):
        flow.connect("source", "out", target, "inp")
    return flow


def tags_of(record: logging.LogRecord) -> tuple[object, ...]:
    return tuple(getattr(record, name) for name in TAG_NAMES)


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_records_are_tagged_with_their_delivery(capture: Capture, strategy: str) -> None:
    flow = fan_out_flow(strategy)
    with flow:
        job = flow.execute("source")
    assert job.status == "completed"
    records = capture.by_message()
    assert set(records) == {"source", "sync sink", "async sink"}  # "timed" is a SyncSink.
    source = records["source"]
    assert tags_of(source) == (job.job_id, "logged", "source", "trigger", f"{job.job_id}:1")
    sinks = [r for r in capture.records if r.getMessage() != "source"]
    assert sorted(r.routilux_routine_id for r in sinks) == ["async", "sync", "timed"]
    delivery_ids = {r.routilux_delivery_id for r in sinks}
    assert len(delivery_ids) == 3
    assert source.routilux_delivery_id not in delivery_ids
    for record in sinks:
        assert record.routilux_job_id == job.job_id
        assert record.routilux_flow_id == "logged"
        assert record.routilux_slot == "inp"
        assert record.routilux_delivery_id.startswith(f"{job.job_id}:")


def test_records_outside_a_delivery_are_untagged(capture: Capture) -> None:
    flow = fan_out_flow("sequential")
    logging.getLogger(LOGGER).info("before")
    with flow:
        flow.execute("source")
    logging.getLogger(LOGGER).info("after")
    records = capture.by_message()
    assert tags_of(records["before"]) == (None,) * len(TAG_NAMES)
    assert tags_of(records["after"]) == (None,) * len(TAG_NAMES)
    assert current_tags() is None


def test_a_tagged_record_keeps_its_tags(capture: Capture) -> None:
    record = logging.LogRecord(LOGGER, logging.INFO, __file__, 1, "m", None, None)
    for name in TAG_NAMES:
        setattr(record, name, "kept")
    JobLogFilter().filter(record)
    assert tags_of(record) == ("kept",) * len(TAG_NAMES)


def test_json_lines_parse_with_tags_extras_and_exceptions() -> None:
    formatter = JsonLogFormatter()
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(LOGGER, logging.ERROR, __file__, 1, "n=%d", (3,), exc_info)
    record.order = {"id": 7}
    record.odd = object()
    line = json.loads(formatter.format(record))
    assert line["message"] == "n=3"
    assert line["level"] == "ERROR"
    assert line["logger"] == LOGGER
    assert line["order"] == {"id": 7}
    assert line["odd"].startswith("<object")
    assert "ValueError: boom" in line["exception"]
    assert all(line[name] is None for name in TAG_NAMES)
    assert "\n" not in formatter.format(record)


def test_the_json_formatter_tags_untagged_records_inside_a_delivery() -> None:
    lines: list[dict[str, Any]] = []

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))

    handler = Lines()
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        flow = Flow(flow_id="plain")
        flow.add_routine(Source(), "source")
        with flow:
            job = flow.execute("source")
    finally:
        logger.removeHandler(handler)
    assert [line["routilux_routine_id"] for line in lines] == ["source"]
    assert lines[0]["routilux_job_id"] == job.job_id


class Chatty(Routine):
    """Logs ``n`` info records and one warning per delivery."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.go)

    def go(self, n: int = 1) -> None:
        for i in range(n):
            logging.getLogger(LOGGER).info("info %d", i)
        logging.getLogger(LOGGER).warning("done")


@pytest.fixture
def info_logger() -> Iterator[None]:
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(logging.NOTSET)


@pytest.mark.usefixtures("info_logger")
@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_a_flow_that_keeps_logs_keeps_its_handlers_records_with_the_job(strategy: str) -> None:
    flow = fan_out_flow(strategy)
    flow.keep_logs = True
    with flow:
        job = flow.execute("source")
    kept = job.logs
    assert sorted(entry["message"] for entry in kept) == [
        "async sink",
        "source",
        "sync sink",
        "sync sink",
    ]
    source = next(entry for entry in kept if entry["message"] == "source")
    assert source["routine_id"] == "source"
    assert source["slot"] == "trigger"
    assert source["delivery_id"] == f"{job.job_id}:1"
    assert source["level"] == "INFO"
    assert source["logger"] == LOGGER
    assert json.loads(json.dumps(kept)) == kept
    assert {entry["routine_id"] for entry in kept} == {"source", "sync", "async", "timed"}


class Watching(Hooks):
    """Hooks with one method: enough for the flow's handlers to run in a hooked frame."""

    def delivery_started(self, event: DeliveryEvent) -> None:
        """Nothing to do."""


@pytest.mark.usefixtures("info_logger")
@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_a_flow_with_hooks_keeps_and_tags_its_handlers_records(
    capture: Capture, strategy: str
) -> None:
    flow = fan_out_flow(strategy)
    flow.keep_logs = True
    flow.add_hooks(Watching())  # Its handlers run in a hooked frame, as under routilux serve.
    with flow:
        job = flow.execute("source")
    kept = sorted(entry["message"] for entry in job.logs)
    assert kept == ["async sink", "source", "sync sink", "sync sink"]
    source = capture.by_message()["source"]
    assert tags_of(source) == (job.job_id, "logged", "source", "trigger", f"{job.job_id}:1")


@pytest.mark.usefixtures("info_logger")
def test_kept_logs_start_at_the_flows_level() -> None:
    flow = Flow(keep_logs="warning")
    flow.add_routine(Chatty(), "chatty")
    with flow:
        job = flow.execute("chatty", entry_params={"n": 3})
    assert [entry["message"] for entry in job.logs] == ["done"]
    assert flow.keep_logs == logging.WARNING


@pytest.mark.usefixtures("info_logger")
def test_get_logs_filters_by_level() -> None:
    flow = Flow(keep_logs=logging.DEBUG)
    flow.add_routine(Chatty(), "chatty")
    with flow:
        job = flow.execute("chatty", entry_params={"n": 2})
    assert [entry["message"] for entry in job.get_logs()] == ["info 0", "info 1", "done"]
    assert [entry["message"] for entry in job.get_logs(logging.WARNING)] == ["done"]


@pytest.mark.usefixtures("info_logger")
def test_a_job_keeps_at_most_the_bound_and_counts_the_dropped() -> None:
    flow = Flow(keep_logs=True)
    flow.add_routine(Chatty(), "chatty")
    with flow:
        job = flow.execute("chatty", entry_params={"n": MAX_KEPT_LOGS + 4})
    kept = job.logs
    assert len(kept) == MAX_KEPT_LOGS
    assert job.logs_dropped == 5
    assert kept[0]["message"] == "info 5"
    assert kept[-1]["message"] == "done"


@pytest.mark.usefixtures("info_logger")
def test_a_flow_without_keep_logs_keeps_nothing_and_records_outside_are_not_kept() -> None:
    keeping = Flow(keep_logs=True)
    keeping.add_routine(Chatty(), "chatty")
    plain = Flow()
    plain.add_routine(Chatty(), "chatty")
    with keeping, plain:
        job = plain.execute("chatty")
        logging.getLogger(LOGGER).warning("outside")
        kept = keeping.execute("chatty")
    assert job.logs == []
    assert job.logs_dropped == 0
    assert [entry["message"] for entry in kept.logs] == ["info 0", "done"]
    assert plain.keep_logs is None


@pytest.mark.parametrize("value", [-1, "LOUD", 1.5, "", object()])
def test_keep_logs_refuses_what_is_not_a_level(value: object) -> None:
    with pytest.raises(DefinitionError, match="keep_logs"):
        Flow(keep_logs=value)  # type: ignore[arg-type]


def test_keeping_logs_leaves_the_handlers_alone() -> None:
    handlers = list(logging.getLogger().handlers)
    Flow(keep_logs=True)
    Flow(keep_logs="ERROR")
    assert logging.getLogger().handlers == handlers
    assert isinstance(logging.getLogRecordFactory(), JobLogKeeper)
