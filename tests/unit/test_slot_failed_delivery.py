"""A delivery that fails leaves the slot's data as it found it.

Retried deliveries merge their message once; a delivery that fails for good
(CONTINUE, SKIP, retries exhausted, a timeout, a cancelled async handler)
leaves nothing behind in the slot, as it leaves no emits and no job values.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from routilux import ErrorHandler, ErrorStrategy, Flow, Routine, RoutineStats
from routilux.testing import FakeClock


def running_total(old: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    return {"n": old.get("n", 0) + 1, "sum": old.get("sum", 0) + message["v"], "v": message["v"]}


class Source(Routine):
    """Emits ``{"v": v}`` for each ``v`` of its entry param ``values``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out")

    def send(self, values: list[int]) -> None:
        for v in values:
            self.emit("out", v=v)


class Flaky(Routine):
    """Fails the first ``fails[v]`` attempts of the message with value ``v``."""

    def __init__(self, merge: Any, fails: dict[int, int], *, named: bool = False) -> None:
        super().__init__()
        self.fails = dict(fails)
        self.seen: list[dict[str, Any]] = []
        handler = self.on_named if named else self.on
        self.slot = self.define_slot("input", handler=handler, merge_strategy=merge)

    def on(self, **message: Any) -> None:
        self.check(message)

    def on_named(self, v: int, n: int = 0, sum: int = 0) -> None:
        self.check({"v": v})

    def check(self, message: dict[str, Any]) -> None:
        v = message.get("v", 0)
        self.seen.append(dict(message))
        if self.fails.get(v, 0) > 0:
            self.fails[v] -= 1
            raise ConnectionError(f"flaky on {v}")


def run(sink: Routine, values: list[int], strategy: ErrorStrategy, **policy: Any) -> Any:
    flow = Flow(clock=FakeClock())
    flow.add_routine(Source(), "source")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "sink", "input")
    sink.set_error_handler(ErrorHandler(strategy=strategy, **policy))
    return flow.execute("source", entry_params={"values": values})


# Message 2 succeeds on its third attempt, after its retry delay: after 3.
MERGES = [
    pytest.param("append", {"v": [1, 3, 2]}, id="append"),
    pytest.param(running_total, {"n": 3, "sum": 6, "v": 2}, id="callable"),
    pytest.param("override", {"v": 2}, id="override"),
]


@pytest.mark.parametrize(("merge", "expected"), MERGES)
@pytest.mark.parametrize("named", [False, True], ids=["kwargs", "named"])
def test_a_retried_delivery_is_merged_once(merge: Any, expected: Any, named: bool) -> None:
    sink = Flaky(merge, {2: 2}, named=named)
    job = run(sink, [1, 2, 3], ErrorStrategy.RETRY, max_retries=3, retry_delay=0.1)
    assert job.status == "completed"
    assert dict(sink.slot.data) == expected
    assert job.routine_stats("sink") == RoutineStats(deliveries=5)  # 2 retries.


@pytest.mark.parametrize(
    ("merge", "expected"),
    [
        pytest.param("append", {"v": [1, 3]}, id="append"),
        pytest.param(running_total, {"n": 2, "sum": 4, "v": 3}, id="callable"),
        pytest.param("override", {"v": 3}, id="override"),
    ],
)
@pytest.mark.parametrize("strategy", [ErrorStrategy.CONTINUE, ErrorStrategy.SKIP])
def test_a_delivery_that_fails_for_good_leaves_no_trace(
    merge: Any, expected: Any, strategy: ErrorStrategy
) -> None:
    sink = Flaky(merge, {2: 1})
    job = run(sink, [1, 2, 3], strategy)
    assert job.status == "completed"
    assert dict(sink.slot.data) == expected
    assert [e.routine_id for e in job.errors] == ["sink"]


def test_an_override_slot_keeps_the_last_message_delivered_even_if_it_failed() -> None:
    sink = Flaky("override", {2: 1})
    run(sink, [1, 2], ErrorStrategy.CONTINUE)
    assert dict(sink.slot.data) == {"v": 2}


def test_retries_exhausted_leave_the_append_slot_without_the_message() -> None:
    sink = Flaky("append", {2: 9})
    job = run(sink, [1, 2, 3], ErrorStrategy.RETRY, max_retries=2, retry_delay=0.1)
    assert job.status == "failed"  # Its retries spent, RETRY acts as STOP (3 ran meanwhile).
    assert dict(sink.slot.data) == {"v": [1, 3]}
    assert [d.data for d in job.dead_letters] == [{"v": 2}]


def test_a_first_value_that_fails_leaves_no_empty_list() -> None:
    sink = Flaky("append", {1: 1})
    run(sink, [1], ErrorStrategy.CONTINUE)
    assert dict(sink.slot.data) == {}


def test_a_value_put_by_hand_is_kept_when_the_delivery_that_listed_it_fails() -> None:
    sink = Flaky("append", {2: 1})
    sink.slot._data = {"v": "by hand"}
    run(sink, [2], ErrorStrategy.CONTINUE)
    assert dict(sink.slot.data) == {"v": "by hand"}


class Resetter(Routine):
    """Takes the slot's lists, resets the slot, then fails."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: list[Any] = []
        self.slot = self.define_slot("input", handler=self.on, merge_strategy="append")

    def on(self, v: int) -> None:
        self.taken.append(dict(self.slot._data))
        self.slot._data = {}
        raise ValueError("after the reset")


def test_data_the_handler_set_itself_stays_when_it_fails() -> None:
    sink = Resetter()
    run(sink, [1, 2], ErrorStrategy.CONTINUE)
    assert sink.taken == [{"v": [1]}, {"v": [2]}]
    assert dict(sink.slot.data) == {}


class AsyncFlaky(Routine):
    """An async handler failing the first attempt of every message."""

    def __init__(self) -> None:
        super().__init__()
        self.attempted: set[int] = set()
        self.slot = self.define_slot("input", handler=self.on, merge_strategy="append")

    async def on(self, v: int) -> None:
        await asyncio.sleep(0)
        if v not in self.attempted:
            self.attempted.add(v)
            raise ConnectionError(f"flaky on {v}")


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_an_async_handler_that_fails_is_merged_once_when_retried(strategy: str) -> None:
    flow = Flow(execution_strategy=strategy, max_workers=4)
    sink = AsyncFlaky()
    flow.add_routine(Source(), "source")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "sink", "input")
    sink.set_error_handler(ErrorHandler(strategy="retry", max_retries=2, retry_delay=0.0))
    try:
        job = flow.execute("source", entry_params={"values": [1, 2, 3]}, timeout=10)
    finally:
        flow.shutdown()
    assert job.status == "completed"
    assert sorted(sink.slot.data["v"]) == [1, 2, 3]


class Hangs(Routine):
    """Hangs on its first message until released; returns at once after."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.calls = 0
        self.slot = self.define_slot("input", handler=self.on, merge_strategy="append")

    def on(self, v: int) -> None:
        self.calls += 1
        if self.calls == 1:
            self.release.wait(10)


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_a_timed_out_delivery_is_taken_back_out_while_its_handler_runs_on(
    strategy: str,
) -> None:
    flow = Flow(execution_strategy=strategy)
    sink = Hangs()
    sink.set_timeout(0.1)
    flow.add_routine(Source(), "source")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "sink", "input")
    sink.set_error_handler(ErrorHandler(strategy="retry", max_retries=1, retry_delay=0.0))
    try:
        job = flow.execute("source", entry_params={"values": [7]}, timeout=10)
        assert job.status == "completed"
        assert sink.calls == 2
        assert dict(sink.slot.data) == {"v": [7]}
        sink.release.set()  # The first call now returns: it must not add it again.
    finally:
        flow.shutdown()
    assert dict(sink.slot.data) == {"v": [7]}


def running_sum(old: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    return {"sum": old.get("sum", 0) + message["v"], "seen": [*old.get("seen", []), message["v"]]}


class ParallelAcc(Routine):
    """Runs two deliveries at once; the one of ``v == 1`` fails once the other has merged."""

    def __init__(self, merge: Any) -> None:
        super().__init__()
        self.other_merged = threading.Event()
        self.slot = self.define_slot("input", handler=self.on, merge_strategy=merge)
        self.set_max_concurrency(2)

    def on(self, v: int = 0, seen: list[int] | None = None, **_: Any) -> None:
        if (seen[-1] if seen else v) == 1:  # A callable's handler gets the merge.
            assert self.other_merged.wait(10)
            raise ValueError("1 fails")
        self.other_merged.set()


@pytest.mark.parametrize(
    ("merge", "expected"),
    [
        pytest.param(running_sum, {"sum": 10, "seen": [10]}, id="callable"),
        pytest.param("append", {"v": [10]}, id="append"),
    ],
)
def test_a_failed_delivery_is_taken_out_from_under_a_parallel_merge(
    merge: Any, expected: dict[str, Any]
) -> None:
    flow = Flow(execution_strategy="concurrent", max_workers=4)
    acc = ParallelAcc(merge)
    flow.add_routine(Source(), "source")
    flow.add_routine(acc, "acc")
    flow.connect("source", "out", "acc", "input")
    acc.set_error_handler(ErrorHandler(strategy="continue"))
    try:
        job = flow.execute("source", entry_params={"values": [1, 10]}, timeout=10)
    finally:
        flow.shutdown()
    assert job.status == "completed"
    assert [d.data for d in job.dead_letters] == [{"v": 1}]
    assert dict(acc.slot.data) == expected


class AsyncOverride(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.slot = self.define_slot("input", handler=self.on)

    async def on(self, v: int) -> None:
        await asyncio.sleep(0)
        if v == 2:
            raise ValueError("2 fails")


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_an_async_override_handler_that_fails_keeps_its_message_as_the_data(
    strategy: str,
) -> None:
    flow = Flow(execution_strategy=strategy)
    sink = AsyncOverride()
    flow.add_routine(Source(), "source")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "sink", "input")
    sink.set_error_handler(ErrorHandler(strategy="continue"))
    try:
        job = flow.execute("source", entry_params={"values": [1, 2]}, timeout=10)
    finally:
        flow.shutdown()
    assert job.status == "completed"
    assert dict(sink.slot.data) == {"v": 2}
