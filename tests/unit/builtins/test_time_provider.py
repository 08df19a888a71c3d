"""TimeProvider: the current time, in a time zone, from an injectable source."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from routilux import DefinitionError, Flow, Routine
from routilux.builtin_routines import TimeProvider

MakeFlow = Callable[..., Flow]
# 2023-11-14 22:13:20 UTC, a Tuesday.
MOMENT = 1_700_000_000.0


class Relay(Routine):
    """Emits its entry parameters on ``out``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.relay)
        self.define_event("out")

    def relay(self, **message: Any) -> None:
        self.emit("out", **message)


class Collector(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.define_slot("input", handler=self.collect)

    def collect(self, **message: Any) -> None:
        self.received.append(message)


@pytest.fixture(params=["sequential", "concurrent"])
def make_flow(request: pytest.FixtureRequest) -> Iterator[MakeFlow]:
    flows: list[Flow] = []

    def make(**options: Any) -> Flow:
        flow = Flow(execution_strategy=request.param, **options)
        flows.append(flow)
        return flow

    yield make
    for flow in flows:
        flow.shutdown()


def time_flow(
    flow: Flow, now: Callable[[], float] = lambda: MOMENT, **config: Any
) -> tuple[Flow, TimeProvider, Collector]:
    provider = TimeProvider(now=now)
    provider.set_config(**config)
    sink = Collector()
    flow.add_routine(provider, "clock")
    flow.add_routine(sink, "sink")
    flow.connect("clock", "time", "sink", "input")
    return flow, provider, sink


def test_the_trigger_emits_the_time_in_utc(make_flow: MakeFlow) -> None:
    flow, _, sink = time_flow(make_flow())
    job = flow.execute("clock")
    assert job.status == "completed"
    assert sink.received == [
        {
            "timestamp": MOMENT,
            "iso": "2023-11-14T22:13:20+00:00",
            "date": "2023-11-14",
            "time": "22:13:20",
        }
    ]


def test_the_input_slot_emits_the_time_and_ignores_the_message(make_flow: MakeFlow) -> None:
    flow, _, sink = time_flow(make_flow())
    flow.add_routine(Relay(), "entry")
    flow.connect("entry", "out", "clock", "input")
    flow.execute("entry", {"data": "anything", "timestamp": 5})
    assert [m["timestamp"] for m in sink.received] == [MOMENT]


@pytest.mark.parametrize(
    ("zone", "iso"),
    [
        ("Europe/Paris", "2023-11-14T23:13:20+01:00"),
        ("Asia/Kolkata", "2023-11-15T03:43:20+05:30"),
        ("America/Los_Angeles", "2023-11-14T14:13:20-08:00"),
    ],
)
def test_the_timezone_sets_the_offset_date_and_time(
    make_flow: MakeFlow, zone: str, iso: str
) -> None:
    flow, _, sink = time_flow(make_flow(), timezone=zone)
    flow.execute("clock")
    [message] = sink.received
    assert message["iso"] == iso
    assert (message["date"], message["time"]) == (iso[:10], iso[11:19])
    assert message["timestamp"] == MOMENT


def test_a_zone_follows_daylight_saving_time(make_flow: MakeFlow) -> None:
    summer = 1_690_000_000.0  # 2023-07-22, when Paris is on UTC+2.
    flow, _, sink = time_flow(make_flow(), now=lambda: summer, timezone="Europe/Paris")
    flow.execute("clock")
    assert sink.received[0]["iso"] == "2023-07-22T06:26:40+02:00"


def test_format_adds_the_formatted_key(make_flow: MakeFlow) -> None:
    flow, _, sink = time_flow(make_flow(), format="%A %d %B %Y, %H:%M")
    flow.execute("clock")
    assert sink.received[0]["formatted"] == "Tuesday 14 November 2023, 22:13"


def test_a_unicode_format_is_kept(make_flow: MakeFlow) -> None:
    flow, _, sink = time_flow(make_flow(), format="%Y年%m月%d日 ⏰")
    flow.execute("clock")
    assert sink.received[0]["formatted"] == "2023年11月14日 ⏰"


def test_without_a_format_there_is_no_formatted_key(make_flow: MakeFlow) -> None:
    flow, _, sink = time_flow(make_flow())
    flow.execute("clock")
    assert "formatted" not in sink.received[0]


def test_fractions_of_a_second_show_in_iso_but_not_in_time(make_flow: MakeFlow) -> None:
    flow, _, sink = time_flow(make_flow(), now=lambda: MOMENT + 0.25)
    flow.execute("clock")
    assert sink.received[0]["iso"] == "2023-11-14T22:13:20.250000+00:00"
    assert sink.received[0]["time"] == "22:13:20"
    assert sink.received[0]["timestamp"] == MOMENT + 0.25


def test_times_before_the_epoch_are_supported(make_flow: MakeFlow) -> None:
    flow, _, sink = time_flow(make_flow(), now=lambda: -86_400.0)
    flow.execute("clock")
    assert sink.received[0]["iso"] == "1969-12-31T00:00:00+00:00"


def test_each_message_reads_the_source_of_time_again(make_flow: MakeFlow) -> None:
    readings = iter([10.0, 20.0])
    flow, _, sink = time_flow(make_flow(), now=lambda: next(readings))
    flow.execute("clock")
    flow.execute("clock")
    assert [m["timestamp"] for m in sink.received] == [10.0, 20.0]


def test_the_source_of_time_can_be_replaced_after_construction(make_flow: MakeFlow) -> None:
    flow, provider, sink = time_flow(make_flow())
    provider.now = lambda: 0.0
    flow.execute("clock")
    assert sink.received[0]["iso"] == "1970-01-01T00:00:00+00:00"


def test_the_default_source_of_time_is_the_system_clock() -> None:
    assert TimeProvider().now is time.time


def test_the_system_clock_gives_the_current_time(make_flow: MakeFlow) -> None:
    flow, _, sink = time_flow(make_flow(), now=time.time)
    before = time.time()
    flow.execute("clock")
    assert before <= sink.received[0]["timestamp"] <= time.time()


@pytest.mark.parametrize("reading", [None, "now", float("nan"), True])
def test_a_source_that_returns_no_number_fails_the_delivery(
    make_flow: MakeFlow, reading: Any
) -> None:
    flow, _, sink = time_flow(make_flow(), now=lambda: reading)
    job = flow.execute("clock")
    assert job.status == "failed"
    assert job.errors[0].error_type == "TypeError"
    assert "TimeProvider.now must return epoch seconds as a number" in job.errors[0].message
    assert sink.received == []


def test_a_timestamp_out_of_range_fails_the_delivery(make_flow: MakeFlow) -> None:
    flow, _, _ = time_flow(make_flow(), now=lambda: 1e20)
    job = flow.execute("clock")
    assert job.status == "failed"
    assert job.errors[0].routine_id == "clock"


def test_the_defaults_are_utc_and_no_format() -> None:
    assert TimeProvider().config() == {"timezone": "UTC", "format": None}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "TimeProvider timezone 'Mars/Olympus' is not a known"),
        ({"timezone": "utc"}, "TimeProvider timezone 'utc' is not a known IANA zone name"),
        ({"timezone": "../etc/passwd"}, "TimeProvider timezone '../etc/passwd' is not a known"),
        ({"timezone": ""}, "TimeProvider timezone must be 'UTC' or an IANA zone name"),
        ({"timezone": None}, "TimeProvider timezone must be 'UTC' or an IANA zone name"),
        ({"format": 5}, "TimeProvider format must be a strftime format string"),
        ({"format": "%Y" * 600}, "TimeProvider format must be a strftime format string"),
    ],
)
def test_a_bad_config_is_refused_naming_the_key_and_the_expectation(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        TimeProvider().set_config(**config)


def test_a_refused_timezone_leaves_the_previous_one_in_force(make_flow: MakeFlow) -> None:
    flow, provider, sink = time_flow(make_flow(), timezone="Europe/Paris")
    with pytest.raises(DefinitionError):
        provider.set_config(timezone="Nowhere/Special")
    flow.execute("clock")
    assert sink.received[0]["iso"].endswith("+01:00")
    assert provider.get_config("timezone") == "Europe/Paris"


def test_a_serialized_flow_round_trips_and_gives_the_same_time(make_flow: MakeFlow) -> None:
    flow, _, sink = time_flow(make_flow(), timezone="Asia/Tokyo", format="%H時")
    document = flow.serialize()
    rebuilt = Flow.deserialize(document)
    try:
        assert rebuilt.serialize() == document
        provider = rebuilt.routines["clock"]
        assert isinstance(provider, TimeProvider)
        assert provider.now is time.time  # The source of time is not saved.
        provider.now = lambda: MOMENT
        flow.execute("clock")
        rebuilt.execute("clock")
        rebuilt_sink = rebuilt.routines["sink"]
        assert isinstance(rebuilt_sink, Collector)
        assert rebuilt_sink.received == sink.received
        assert sink.received[0]["formatted"] == "07時"
    finally:
        rebuilt.shutdown()
