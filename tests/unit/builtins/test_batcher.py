"""Batcher: batches by size and by max_wait, the remainder at drain, config, documents."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from routilux import (
    DefinitionError,
    ErrorHandler,
    ErrorStrategy,
    Flow,
    JobState,
    Routine,
    RoutineStats,
    StoreError,
)
from routilux.builtin_routines import Batcher
from routilux.stores import MemoryStore
from routilux.testing import FakeClock

MakeFlow = Callable[..., Flow]


class Source(Routine):
    """Emits each message of ``messages`` at once, or at fake time ``at`` when given."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.plan)
        self.define_slot("send", handler=self.send)
        self.define_event("output")

    def plan(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            if "at" in message:
                self.deliver_later(message["at"], "send", **message)
            else:
                self.emit("output", **message)

    def send(self, **message: Any) -> None:
        message.pop("at")
        self.emit("output", **message)


class Recorder(Routine):
    """Logs each batch it receives, with the fake time, in the job's shared log."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.record)

    def record(self, **message: Any) -> None:
        context = self.get_execution_context()
        assert context is not None
        context.job_state.append_to_shared_log({"at": context.flow.clock.monotonic(), **message})


class StaleTick(Source):
    """A Source that also sends a ``tick`` with ``token`` at fake time ``tick_at``.

    The tick stands for a timer that was already firing when it was cancelled.
    """

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("stale", handler=self.stale)
        self.define_event("tick", ["token"])

    def plan(self, messages: list[dict[str, Any]], tick_at: float = 0, token: int = 0) -> None:
        super().plan(messages)
        self.deliver_later(tick_at, "stale", token=token)

    def stale(self, token: int) -> None:
        self.emit("tick", token=token)


class CrashingStore(MemoryStore):
    """A MemoryStore that fails after ``survive`` checkpoints: a crash, as the store sees it."""

    def __init__(self, survive: int) -> None:
        super().__init__()
        self.survive = survive

    def checkpoint(self, checkpoint: Any) -> None:
        if self.survive <= 0:
            raise StoreError("the disk is gone")
        self.survive -= 1
        super().checkpoint(checkpoint)


@pytest.fixture(params=["sequential", "concurrent"])
def make_flow(request: pytest.FixtureRequest) -> Iterator[MakeFlow]:
    flows: list[Flow] = []

    def make(**options: Any) -> Flow:
        flow = Flow(execution_strategy=request.param, clock=FakeClock(), **options)
        flows.append(flow)
        return flow

    yield make
    for flow in flows:
        flow.shutdown()


def batching(flow: Flow, **config: Any) -> Batcher:
    """Source -> Batcher -> Recorder, with ``config`` on the batcher."""
    batcher = Batcher()
    batcher.set_config(**config)
    flow.add_routine(Source(), "source")
    flow.add_routine(batcher, "batcher")
    flow.add_routine(Recorder(), "recorder")
    flow.connect("source", "output", "batcher", "input")
    flow.connect("batcher", "batch", "recorder", "input")
    return batcher


def batches(job: JobState) -> list[tuple[list[Any], int, str]]:
    return [
        (r.data["items"], r.data["size"], r.data["reason"])
        for r in job.get_execution_history("batcher")
    ]


def timed(job: JobState) -> list[tuple[float, list[Any], str]]:
    return [(e["at"], e["items"], e["reason"]) for e in job.get_shared_log()]


def data(*values: Any) -> list[dict[str, Any]]:
    return [{"data": value} for value in values]


# -- batch_size ----------------------------------------------------------------------------


def test_a_batch_is_emitted_when_it_holds_batch_size_items(make_flow: MakeFlow) -> None:
    flow = make_flow()
    batching(flow, batch_size=2)
    job = flow.execute("source", {"messages": data(1, 2, 3, 4)})
    assert job.status == "completed"
    assert batches(job) == [([1, 2], 2, "size"), ([3, 4], 2, "size")]


def test_the_remainder_is_emitted_when_the_job_drains(make_flow: MakeFlow) -> None:
    flow = make_flow()
    batching(flow, batch_size=3)
    job = flow.execute("source", {"messages": data(1, 2, 3, 4, 5)})
    assert batches(job) == [([1, 2, 3], 3, "size"), ([4, 5], 2, "drain")]


def test_a_batch_size_of_one_emits_every_item_alone(make_flow: MakeFlow) -> None:
    flow = make_flow()
    batching(flow, batch_size=1)
    job = flow.execute("source", {"messages": data("a", "b")})
    assert batches(job) == [(["a"], 1, "size"), (["b"], 1, "size")]


def test_a_job_without_messages_emits_no_batch(make_flow: MakeFlow) -> None:
    flow = make_flow()
    batching(flow, batch_size=2, max_wait=1)
    job = flow.execute("source", {"messages": []})
    assert job.status == "completed"
    assert batches(job) == []


def test_a_message_without_data_is_batched_whole_and_none_is_an_item(
    make_flow: MakeFlow,
) -> None:
    flow = make_flow()
    batching(flow, batch_size=3)
    job = flow.execute("source", {"messages": [{"text": "naïve ☃"}, {"data": None}, {}]})
    assert batches(job) == [([{"text": "naïve ☃"}, None, {}], 3, "size")]


def test_a_huge_input_is_cut_into_full_batches_in_order() -> None:
    flow = Flow()
    batching(flow, batch_size=1000)
    job = flow.execute("source", {"messages": data(*range(10_500))})
    found = batches(job)
    assert [size for _, size, _ in found] == [1000] * 10 + [500]
    assert [item for items, _, _ in found for item in items] == list(range(10_500))
    assert found[-1][2] == "drain"


def test_jobs_that_run_at_once_keep_their_batches_apart() -> None:
    with Flow(execution_strategy="concurrent") as flow:
        batching(flow, batch_size=3)
        first = flow.start("source", {"messages": data("a1", "a2")})
        second = flow.start("source", {"messages": data("b1", "b2")})
        assert first.wait(10)
        assert second.wait(10)
    assert batches(first) == [(["a1", "a2"], 2, "drain")]
    assert batches(second) == [(["b1", "b2"], 2, "drain")]


# -- max_wait -------------------------------------------------------------------------------


def test_max_wait_emits_a_partial_batch_before_the_job_completes(make_flow: MakeFlow) -> None:
    flow = make_flow()
    batching(flow, batch_size=10, max_wait=5)
    job = flow.execute("source", {"messages": data("a", "b")})
    assert job.status == "completed"
    assert timed(job) == [(5.0, ["a", "b"], "max_wait")]


def test_max_wait_counts_from_the_first_item_of_each_batch(make_flow: MakeFlow) -> None:
    flow = make_flow()
    batching(flow, max_wait=5)
    messages = [{"data": d, "at": at} for d, at in (("a", 1), ("b", 3), ("c", 6), ("d", 8))]
    job = flow.execute("source", {"messages": messages})
    assert timed(job) == [(6.0, ["a", "b"], "max_wait"), (11.0, ["c", "d"], "max_wait")]


def test_the_timer_of_a_full_batch_does_not_cut_the_next_one_short(make_flow: MakeFlow) -> None:
    flow = make_flow()
    batching(flow, batch_size=2, max_wait=10)
    messages = [{"data": d, "at": at} for d, at in (("a", 0), ("b", 1), ("c", 4))]
    job = flow.execute("source", {"messages": messages})
    assert timed(job) == [(1.0, ["a", "b"], "size"), (14.0, ["c"], "max_wait")]


def test_a_full_batch_cancels_its_timer_so_the_job_ends_with_it(make_flow: MakeFlow) -> None:
    flow = make_flow()
    batching(flow, batch_size=2, max_wait=10)
    messages = [{"data": d, "at": at} for d, at in (("a", 0), ("b", 1))]
    job = flow.execute("source", {"messages": messages})
    assert job.status == "completed"
    assert timed(job) == [(1.0, ["a", "b"], "size")]
    assert flow.clock.monotonic() == 1.0  # Not 10: no timer was left to wait for.
    assert job.routine_timers("batcher") == {}
    # Two items and the drain, but no tick: the cancelled timer never fired.
    assert job.routine_stats("batcher") == RoutineStats(deliveries=3)


# A watchdog, not a measurement: a job that waited for its 30 s timer fails here.
@pytest.mark.timeout(20)
@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_on_the_real_clock_a_batch_full_by_size_does_not_wait_for_max_wait(
    strategy: str,
) -> None:
    flow = Flow(execution_strategy=strategy)
    batching(flow, batch_size=2, max_wait=30)
    try:
        job = flow.execute("source", {"messages": data("a", "b")})
    finally:
        flow.shutdown()
    assert job.status == "completed"
    assert batches(job) == [(["a", "b"], 2, "size")]
    assert job.routine_timers("batcher") == {}
    # Two items and the drain, but no tick: the cancelled timer never fired.
    assert job.routine_stats("batcher") == RoutineStats(deliveries=3)


def test_a_tick_of_an_emitted_batch_does_not_cut_the_open_one_short(
    make_flow: MakeFlow,
) -> None:
    flow = make_flow()
    batcher = Batcher()
    batcher.set_config(batch_size=2, max_wait=10)
    flow.add_routine(StaleTick(), "source")
    flow.add_routine(batcher, "batcher")
    flow.add_routine(Recorder(), "recorder")
    flow.connect("source", "output", "batcher", "input")
    flow.connect("source", "tick", "batcher", "tick")
    flow.connect("batcher", "batch", "recorder", "input")
    messages = [{"data": d, "at": at} for d, at in (("a", 0), ("b", 1), ("c", 4))]
    # At 5, a tick of the first batch (token 0), as if its cancel came too late.
    job = flow.execute("source", {"messages": messages, "tick_at": 5, "token": 0})
    assert job.status == "completed"
    assert timed(job) == [(1.0, ["a", "b"], "size"), (14.0, ["c"], "max_wait")]


def test_a_bad_token_on_the_timer_slot_fails_the_delivery(make_flow: MakeFlow) -> None:
    flow = make_flow()
    batching(flow, batch_size=2)
    flow.connect("source", "output", "batcher", "tick")
    job = flow.execute("source", {"messages": [{"data": 1, "token": 1.5}]})
    assert job.status == "failed"
    assert [e.slot for e in job.errors] == ["tick"]
    assert "its own timer" in job.errors[0].message


# -- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"batch_size": 0}, r"batch_size must be an int of at least 1, or None, not 0\."),
        ({"batch_size": 2.5}, "batch_size must be an int"),
        ({"batch_size": True}, "batch_size must be an int"),
        ({"batch_size": "10"}, "batch_size must be an int"),
        ({"max_wait": 0}, r"max_wait must be a positive number of seconds, or None, not 0\."),
        ({"max_wait": -1}, "max_wait must be a positive number"),
        ({"max_wait": float("nan")}, "max_wait must be a positive number"),
        ({"max_wait": "5"}, "max_wait must be a positive number"),
    ],
)
def test_a_bad_config_is_refused_naming_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=rf"^Batcher {message}"):
        Batcher().set_config(**config)


def test_a_batcher_with_neither_size_nor_wait_is_refused_before_the_job_starts() -> None:
    flow = Flow()
    batching(flow)
    with pytest.raises(DefinitionError, match=r"'batcher' is not ready.*batch_size, max_wait"):
        flow.execute("source", {"messages": []})


def test_more_than_one_delivery_at_a_time_is_refused_before_the_job_starts() -> None:
    flow = Flow()
    batching(flow, batch_size=2).set_max_concurrency(None)
    with pytest.raises(DefinitionError, match=r"one delivery at a time.*not None"):
        flow.execute("source", {"messages": []})


# -- documents and durability ---------------------------------------------------------------

REGISTRY = {"BatcherTestSource": Source, "BatcherTestRecorder": Recorder}


def test_a_flow_document_round_trips_and_the_rebuilt_flow_batches_alike(
    make_flow: MakeFlow,
) -> None:
    flow = make_flow()
    batching(flow, batch_size=3, max_wait=2.5)
    document = flow.serialize(registry=REGISTRY)
    rebuilt = Flow(clock=FakeClock()).deserialize(document, registry=REGISTRY)
    try:
        assert rebuilt.serialize(registry=REGISTRY) == document
        messages = [{"data": n, "at": at} for n, at in enumerate((0, 1, 1, 1, 2, 9))]
        original = flow.execute("source", {"messages": messages})
        again = rebuilt.execute("source", {"messages": messages})
    finally:
        rebuilt.shutdown()
    expected = [(1.0, [0, 1, 2], "size"), (3.5, [3, 4], "max_wait"), (11.5, [5], "max_wait")]
    assert timed(again) == timed(original) == expected


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_a_resumed_durable_job_keeps_its_open_batch_and_timer(strategy: str) -> None:
    store = CrashingStore(survive=3)  # The entry delivery and two items are checkpointed.
    first = Flow(execution_strategy=strategy, clock=FakeClock(), store=store, max_workers=1)
    batching(first, batch_size=10, max_wait=5)
    crashed = first.execute("source", {"messages": data("a", "b", "c")})
    first.shutdown()
    assert crashed.status == "failed"
    assert store.load_job(crashed.job_id).document["job_values"]["batcher"]["items"] == ["a", "b"]
    store.survive = 10**6
    second = Flow(execution_strategy=strategy, clock=FakeClock(), store=store)
    batching(second, batch_size=10, max_wait=5)
    assert second.resume(crashed.job_id, wait=True)
    job = second.get_execution(crashed.job_id)
    second.shutdown()
    assert job is not None
    assert job.status == "completed"
    found = batches(job)
    assert [item for items, _, _ in found for item in items] == ["a", "b", "c"]
    # On a fake clock the concurrent engine may fire the restored timer before it
    # redelivers "c" (it arms timers first), so "c" may get a batch of its own.
    assert found[0][0][:2] == ["a", "b"]
    assert {reason for _, _, reason in found} == {"max_wait"}


class FlakyBatcher(Batcher):
    """Fails once, after adding its item, on the item ``flaky``; RETRY runs it again."""

    def __init__(self, flaky: Any) -> None:
        super().__init__()
        self.flaky = flaky
        self.failed = False
        self.set_error_handler(ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=2))

    def add(self, **message: Any) -> None:
        super().add(**message)
        if message.get("data") == self.flaky and not self.failed:
            self.failed = True
            raise ConnectionError("lost after adding the item")


def test_an_item_whose_delivery_failed_is_not_kept_in_the_batch(make_flow: MakeFlow) -> None:
    flow = make_flow()
    batcher = FlakyBatcher(flaky=2)
    batcher.set_config(batch_size=3)
    flow.add_routine(Source(), "source")
    flow.add_routine(batcher, "batcher")
    flow.add_routine(Recorder(), "recorder")
    flow.connect("source", "output", "batcher", "input")
    flow.connect("batcher", "batch", "recorder", "input")
    job = flow.execute("source", {"messages": data(1, 2, 3, 4)})
    assert job.status == "completed"
    assert batcher.failed
    # The failed attempt's 2 is not in the batch; its retry's, queued behind 3 and 4, is.
    assert batches(job) == [([1, 3, 4], 3, "size"), ([2], 1, "drain")]
