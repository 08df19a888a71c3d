"""Aggregator: completion by count, sources, message or timeout; drain; config; documents."""

from __future__ import annotations

import logging
import re
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
)
from routilux.builtin_routines import Aggregator
from routilux.testing import FakeClock

MakeFlow = Callable[..., Flow]
Output = tuple[list[Any], int, str]


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
    """Logs each output it receives, with the fake time, in the job's shared log."""

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


class Pair(Routine):
    """Emits its ``left`` and ``right`` values alternately on the events of those names."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("left", ["data"])
        self.define_event("right", ["data"])

    def send(self, left: list[Any], right: list[Any]) -> None:
        for index in range(max(len(left), len(right))):
            for name, values in (("left", left), ("right", right)):
                if index < len(values):
                    self.emit(name, data=values[index])


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


def aggregating(flow: Flow, **config: Any) -> Aggregator:
    """Source -> Aggregator -> Recorder, with ``config`` on the aggregator."""
    aggregator = Aggregator()
    aggregator.set_config(**config)
    flow.add_routine(Source(), "source")
    flow.add_routine(aggregator, "agg")
    flow.add_routine(Recorder(), "recorder")
    flow.connect("source", "output", "agg", "input")
    flow.connect("agg", "output", "recorder", "input")
    return aggregator


def outputs(job: JobState) -> list[Output]:
    return [
        (r.data["items"], r.data["count"], r.data["reason"])
        for r in job.get_execution_history("agg")
    ]


def timed(job: JobState) -> list[tuple[float, list[Any], str]]:
    return [(e["at"], e["items"], e["reason"]) for e in job.get_shared_log()]


def data(*values: Any) -> list[dict[str, Any]]:
    return [{"data": value} for value in values]


# -- complete_on="count" ------------------------------------------------------------------


def test_a_collection_is_emitted_once_it_holds_count_items(make_flow: MakeFlow) -> None:
    flow = make_flow()
    aggregating(flow, complete_on="count", count=3)
    job = flow.execute("source", {"messages": data("a", "b", "c")})
    assert job.status == "completed"
    assert outputs(job) == [(["a", "b", "c"], 3, "count")]


def test_each_full_collection_is_emitted_and_the_next_starts_empty(make_flow: MakeFlow) -> None:
    flow = make_flow()
    aggregating(flow, count=2)
    job = flow.execute("source", {"messages": data(1, 2, 3, 4)})
    assert outputs(job) == [([1, 2], 2, "count"), ([3, 4], 2, "count")]


def test_an_incomplete_collection_is_emitted_when_the_job_drains(make_flow: MakeFlow) -> None:
    flow = make_flow()
    aggregating(flow, count=2)
    job = flow.execute("source", {"messages": data(1, 2, 3)})
    assert job.status == "completed"
    assert outputs(job) == [([1, 2], 2, "count"), ([3], 1, "drain")]


def test_with_flush_on_drain_off_the_remainder_stays_in_the_job_values(
    make_flow: MakeFlow, caplog: pytest.LogCaptureFixture
) -> None:
    flow = make_flow()
    aggregating(flow, count=2, flush_on_drain=False)
    with caplog.at_level(logging.WARNING, logger="routilux"):
        job = flow.execute("source", {"messages": data(1, 2, 3)})
    assert outputs(job) == [([1, 2], 2, "count")]
    assert job.job_values("agg")["items"] == [3]
    assert "1 collected item(s) that are not emitted" in caplog.text


def test_a_job_without_messages_emits_nothing(make_flow: MakeFlow) -> None:
    flow = make_flow()
    aggregating(flow, count=2)
    job = flow.execute("source", {"messages": []})
    assert job.status == "completed"
    assert outputs(job) == []


def test_a_message_without_data_is_collected_whole_and_none_is_an_item(
    make_flow: MakeFlow,
) -> None:
    flow = make_flow()
    aggregating(flow, count=3)
    job = flow.execute("source", {"messages": [{"v": "é😀"}, {"data": None}, {}]})
    assert outputs(job) == [([{"v": "é😀"}, None, {}], 3, "count")]


def test_a_huge_collection_keeps_every_item_in_order() -> None:
    flow = Flow()
    aggregating(flow, count=20_000)
    job = flow.execute("source", {"messages": data(*range(20_000))})
    assert outputs(job) == [(list(range(20_000)), 20_000, "count")]


def test_jobs_that_run_at_once_keep_their_collections_apart() -> None:
    with Flow(execution_strategy="concurrent") as flow:
        aggregating(flow, count=3)
        first = flow.start("source", {"messages": data("a1", "a2")})
        second = flow.start("source", {"messages": data("b1", "b2")})
        assert first.wait(10)
        assert second.wait(10)
    assert outputs(first) == [(["a1", "a2"], 2, "drain")]
    assert outputs(second) == [(["b1", "b2"], 2, "drain")]


# -- complete_on="all_sources" ------------------------------------------------------------


def test_all_sources_completes_once_each_source_has_sent(make_flow: MakeFlow) -> None:
    flow = make_flow()
    aggregating(flow, complete_on="all_sources", sources=["east", "west"])
    messages = [
        {"data": 1, "source": "east"},
        {"data": 2, "source": "east"},
        {"data": 3, "source": "west"},
        {"data": 4, "source": "west"},
    ]
    job = flow.execute("source", {"messages": messages})
    assert outputs(job) == [([1, 2, 3], 3, "all_sources"), ([4], 1, "drain")]


def test_the_source_is_read_from_the_data_when_the_message_has_none(
    make_flow: MakeFlow,
) -> None:
    flow = make_flow()
    aggregating(flow, complete_on="all_sources", sources=["a", "b"])
    messages = [{"data": {"source": "b", "v": 1}}, {"source": "a", "v": 2}]
    job = flow.execute("source", {"messages": messages})
    assert outputs(job) == [([{"source": "b", "v": 1}, {"source": "a", "v": 2}], 2, "all_sources")]


def test_source_key_names_the_key_that_holds_the_source(make_flow: MakeFlow) -> None:
    flow = make_flow()
    aggregating(flow, complete_on="all_sources", sources=["x", "y"], source_key="from")
    messages = [{"data": 1, "from": "y", "source": "x"}, {"data": 2, "from": "x"}]
    job = flow.execute("source", {"messages": messages})
    assert outputs(job) == [([1, 2], 2, "all_sources")]


def test_a_message_without_a_source_fails_its_delivery(make_flow: MakeFlow) -> None:
    flow = make_flow()
    aggregating(flow, complete_on="all_sources", sources=["a"])
    job = flow.execute("source", {"messages": [{"data": 1}]})
    assert job.status == "failed"
    assert job.errors[0].error_type == "ExecutionError"
    assert "under 'source'" in job.errors[0].message
    assert "keys: 'data'" in job.errors[0].message


def test_a_message_from_an_unknown_source_fails_and_is_not_collected(
    make_flow: MakeFlow,
) -> None:
    flow = make_flow()
    aggregator = aggregating(flow, complete_on="all_sources", sources=["a", "b"])
    aggregator.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    messages = [{"data": 1, "source": "a"}, {"data": 2, "source": "c"}, {"data": 3, "source": "b"}]
    job = flow.execute("source", {"messages": messages})
    assert job.status == "completed"
    assert [e.routine_id for e in job.errors] == ["agg"]
    assert "source 'c', which is not one of its sources: 'a', 'b'" in job.errors[0].message
    assert outputs(job) == [([1, 3], 2, "all_sources")]


# -- complete_on="any" and "timeout" --------------------------------------------------------


def test_any_emits_a_collection_of_one_for_every_message(make_flow: MakeFlow) -> None:
    flow = make_flow()
    aggregating(flow, complete_on="any")
    job = flow.execute("source", {"messages": data("a", "b")})
    assert outputs(job) == [(["a"], 1, "any"), (["b"], 1, "any")]


def test_timeout_emits_what_arrived_since_the_first_item(make_flow: MakeFlow) -> None:
    flow = make_flow()
    aggregating(flow, complete_on="timeout", timeout=5)
    messages = [{"data": "a", "at": 1}, {"data": "b", "at": 4}, {"data": "c", "at": 7}]
    job = flow.execute("source", {"messages": messages})
    assert job.status == "completed"
    assert timed(job) == [(6.0, ["a", "b"], "timeout"), (12.0, ["c"], "timeout")]


def test_timeout_with_count_emits_a_partial_collection_at_the_timeout(
    make_flow: MakeFlow,
) -> None:
    flow = make_flow()
    aggregating(flow, count=3, timeout=10)
    messages = [{"data": "a", "at": 0}, {"data": "b", "at": 2}]
    job = flow.execute("source", {"messages": messages})
    assert timed(job) == [(10.0, ["a", "b"], "timeout")]


def test_the_timer_of_an_emitted_collection_does_not_cut_the_next_one_short(
    make_flow: MakeFlow,
) -> None:
    flow = make_flow()
    aggregating(flow, count=2, timeout=10)
    messages = [{"data": "a", "at": 0}, {"data": "b", "at": 1}, {"data": "c", "at": 5}]
    job = flow.execute("source", {"messages": messages})
    # The first collection's timer was cancelled at 1; "c" waits for its own, at 15.
    assert timed(job) == [(1.0, ["a", "b"], "count"), (15.0, ["c"], "timeout")]


@pytest.mark.parametrize(
    ("config", "messages", "reason"),
    [
        ({"count": 2}, [{"data": "a", "at": 0}, {"data": "b", "at": 1}], "count"),
        (
            {"complete_on": "all_sources", "sources": ["x", "y"]},
            [{"data": "a", "source": "x", "at": 0}, {"data": "b", "source": "y", "at": 1}],
            "all_sources",
        ),
    ],
)
def test_a_complete_collection_cancels_its_timer_so_the_job_ends_with_it(
    make_flow: MakeFlow, config: dict[str, Any], messages: list[dict[str, Any]], reason: str
) -> None:
    flow = make_flow()
    aggregating(flow, timeout=10, **config)
    job = flow.execute("source", {"messages": messages})
    assert job.status == "completed"
    assert timed(job) == [(1.0, ["a", "b"], reason)]
    assert flow.clock.monotonic() == 1.0  # Not 10: no timer was left to wait for.
    assert job.routine_timers("agg") == {}
    # Two items and the drain, but no tick: the cancelled timer never fired.
    assert job.routine_stats("agg") == RoutineStats(deliveries=3)


# A watchdog, not a measurement: a job that waited for its 30 s timer fails here.
@pytest.mark.timeout(20)
@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
@pytest.mark.parametrize(
    ("config", "messages"),
    [
        ({"count": 2}, data("a", "b")),
        (
            {"complete_on": "all_sources", "sources": ["x", "y"]},
            [{"data": "a", "source": "x"}, {"data": "b", "source": "y"}],
        ),
    ],
)
def test_on_the_real_clock_a_complete_collection_does_not_wait_for_its_timeout(
    strategy: str, config: dict[str, Any], messages: list[dict[str, Any]]
) -> None:
    flow = Flow(execution_strategy=strategy)
    aggregating(flow, timeout=30, **config)
    try:
        job = flow.execute("source", {"messages": messages})
    finally:
        flow.shutdown()
    assert job.status == "completed"
    assert [(items, reason) for items, _, reason in outputs(job)] == [
        (["a", "b"], config.get("complete_on", "count"))
    ]
    assert job.routine_timers("agg") == {}
    # Two items and the drain, but no tick: the cancelled timer never fired.
    assert job.routine_stats("agg") == RoutineStats(deliveries=3)


def test_a_tick_of_an_emitted_collection_does_not_cut_the_open_one_short(
    make_flow: MakeFlow,
) -> None:
    flow = make_flow()
    aggregator = Aggregator()
    aggregator.set_config(count=2, timeout=10)
    flow.add_routine(StaleTick(), "source")
    flow.add_routine(aggregator, "agg")
    flow.add_routine(Recorder(), "recorder")
    flow.connect("source", "output", "agg", "input")
    flow.connect("source", "tick", "agg", "tick")
    flow.connect("agg", "output", "recorder", "input")
    messages = [{"data": "a", "at": 0}, {"data": "b", "at": 1}, {"data": "c", "at": 4}]
    # At 5, a tick of the first collection (token 0), as if its cancel came too late.
    job = flow.execute("source", {"messages": messages, "tick_at": 5, "token": 0})
    assert job.status == "completed"
    assert timed(job) == [(1.0, ["a", "b"], "count"), (14.0, ["c"], "timeout")]


def test_timeout_with_all_sources_emits_what_came_before_it(make_flow: MakeFlow) -> None:
    flow = make_flow()
    aggregating(flow, complete_on="all_sources", sources=["a", "b"], timeout=3)
    job = flow.execute("source", {"messages": [{"data": 1, "source": "a", "at": 1}]})
    assert timed(job) == [(4.0, [1], "timeout")]


def test_a_bad_token_on_the_timer_slot_fails_the_delivery(make_flow: MakeFlow) -> None:
    flow = make_flow()
    aggregating(flow, count=2)
    flow.connect("source", "output", "agg", "tick")
    job = flow.execute("source", {"messages": [{"data": 1, "token": "x"}]})
    assert job.status == "failed"
    assert [e.slot for e in job.errors] == ["tick"]
    assert "its own timer" in job.errors[0].message


# -- slots ----------------------------------------------------------------------------------


def test_configured_slots_are_defined_and_collect_together(make_flow: MakeFlow) -> None:
    flow = make_flow()
    aggregator = Aggregator()
    aggregator.set_config(slots=["left", "right"], count=3)
    flow.add_routine(Pair(), "pair")
    flow.add_routine(aggregator, "agg")
    flow.connect("pair", "left", "agg", "left")
    flow.connect("pair", "right", "agg", "right")
    job = flow.execute("pair", {"left": ["l1", "l2"], "right": ["r1"]})
    assert outputs(job) == [(["l1", "r1", "l2"], 3, "count")]


def test_a_slot_stays_defined_when_the_config_no_longer_names_it() -> None:
    aggregator = Aggregator()
    aggregator.set_config(slots=["a"])
    aggregator.set_config(slots=["b"])
    assert list(aggregator.slots) == ["input", "tick", "a", "b"]


def test_a_slot_name_taken_by_another_slot_is_refused() -> None:
    with pytest.raises(DefinitionError, match=r"Aggregator slots .* 'tick' is taken"):
        Aggregator().set_config(slots=["input", "tick"])


# -- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"complete_on": "sometimes"}, "complete_on must be one of 'count'"),
        ({"count": 0}, "count must be an int of at least 1, or None, not 0"),
        ({"count": True}, "count must be an int"),
        ({"count": "3"}, "count must be an int"),
        ({"sources": []}, "sources must be a non-empty list"),
        ({"sources": "ab"}, "sources must be a non-empty list"),
        ({"sources": ["a", "a"]}, "sources must be a non-empty list of distinct source names"),
        ({"sources": [1]}, "sources must be a non-empty list of distinct source names"),
        ({"source_key": ""}, "source_key must be a non-empty string"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"timeout": -1.5}, "timeout must be a positive number"),
        ({"timeout": float("inf")}, "timeout must be a positive number"),
        ({"timeout": "5"}, "timeout must be a positive number"),
        (
            {"complete_on": "any", "timeout": 5},
            "timeout must be None with complete_on='any', which never waits, not 5.",
        ),
        ({"flush_on_drain": "yes"}, "flush_on_drain must be True or False, not 'yes'"),
        ({"slots": []}, "slots must be a non-empty list"),
        ({"slots": "input"}, "slots must be a non-empty list"),
        ({"slots": ["a", "a"]}, "slots must be a non-empty list of distinct slot names"),
        ({"slots": [""]}, "slots must be a non-empty list of distinct slot names, not ['']."),
    ],
)
def test_a_bad_config_is_refused_naming_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match="^Aggregator " + re.escape(message)):
        Aggregator().set_config(**config)


def test_a_refused_config_leaves_the_previous_one_in_force() -> None:
    aggregator = Aggregator()
    aggregator.set_config(count=4)
    with pytest.raises(DefinitionError):
        aggregator.set_config(count=-1)
    assert aggregator.get_config("count") == 4


@pytest.mark.parametrize(
    ("config", "needed"),
    [
        ({"complete_on": "count"}, "count"),
        ({"complete_on": "all_sources"}, "sources"),
        ({"complete_on": "timeout"}, "timeout"),
    ],
)
def test_a_mode_without_the_key_it_needs_is_refused_before_the_job_starts(
    config: dict[str, Any], needed: str
) -> None:
    flow = Flow()
    aggregating(flow, **config)
    with pytest.raises(DefinitionError, match=rf"'agg' is not ready.*needs {needed}"):
        flow.execute("source", {"messages": []})


def test_more_than_one_delivery_at_a_time_is_refused_before_the_job_starts() -> None:
    flow = Flow()
    aggregating(flow, count=2).set_max_concurrency(4)
    with pytest.raises(DefinitionError, match=r"one delivery at a time.*not 4"):
        flow.execute("source", {"messages": []})


# -- documents ------------------------------------------------------------------------------

REGISTRY = {"AggregatorTestSource": Source, "AggregatorTestRecorder": Recorder}


def test_a_flow_document_round_trips_with_configured_slots(make_flow: MakeFlow) -> None:
    flow = make_flow()
    aggregator = aggregating(
        flow, slots=["input", "extra"], complete_on="all_sources", sources=["a", "b"], timeout=4
    )
    aggregator.set_config(source_key="from")
    document = flow.serialize(registry=REGISTRY)
    rebuilt = Flow(clock=FakeClock(), execution_strategy=flow.execution_strategy)
    rebuilt.deserialize(document, registry=REGISTRY)
    try:
        assert rebuilt.serialize(registry=REGISTRY) == document
        assert list(rebuilt.routines["agg"].slots) == ["input", "tick", "extra"]
        messages = [{"data": 1, "from": "b", "at": 1}, {"data": 2, "from": "a", "at": 2}]
        messages.append({"data": 3, "from": "a", "at": 3})
        original = flow.execute("source", {"messages": messages})
        again = rebuilt.execute("source", {"messages": messages})
    finally:
        rebuilt.shutdown()
    assert timed(again) == timed(original) == [(2.0, [1, 2], "all_sources"), (7.0, [3], "timeout")]


class FlakyAggregator(Aggregator):
    """Fails once, after collecting its item, on the item ``flaky``; RETRY runs it again."""

    def __init__(self, flaky: Any) -> None:
        super().__init__()
        self.flaky = flaky
        self.failed = False
        self.set_error_handler(ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=2))

    def collect(self, **message: Any) -> None:
        super().collect(**message)
        if message.get("data") == self.flaky and not self.failed:
            self.failed = True
            raise ConnectionError("lost after collecting the item")


def test_an_item_whose_delivery_failed_is_not_kept_in_the_collection(
    make_flow: MakeFlow,
) -> None:
    flow = make_flow()
    aggregator = FlakyAggregator(flaky=2)
    aggregator.set_config(count=3)
    flow.add_routine(Source(), "source")
    flow.add_routine(aggregator, "agg")
    flow.add_routine(Recorder(), "recorder")
    flow.connect("source", "output", "agg", "input")
    flow.connect("agg", "output", "recorder", "input")
    job = flow.execute("source", {"messages": data(1, 2, 3, 4)})
    assert job.status == "completed"
    assert aggregator.failed
    # The failed attempt's 2 is not collected; its retry's, queued behind 3 and 4, is.
    assert outputs(job) == [([1, 3, 4], 3, "count"), ([2], 1, "drain")]
