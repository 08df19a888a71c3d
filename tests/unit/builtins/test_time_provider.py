"""TimeProvider: the current time, in a time zone, from an injectable source."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
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


def in_order(flow: Flow) -> None:
    """One delivery at a time per routine, so that messages arrive in the order sent."""
    for routine in flow.routines.values():
        routine.set_max_concurrency(1)


def time_flow(
    flow: Flow, now: Callable[[], float] = lambda: MOMENT, **config: Any
) -> tuple[Flow, TimeProvider, Collector]:
    provider = TimeProvider(now=now)
    provider.set_config(**{"timezone": "UTC", **config})
    sink = Collector()
    flow.add_routine(provider, "clock")
    flow.add_routine(sink, "sink")
    flow.connect("clock", "time", "sink", "input")
    in_order(flow)
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


def output_flow(
    flow: Flow, now: Callable[[], float] = lambda: MOMENT, **config: Any
) -> tuple[Flow, TimeProvider, Collector]:
    """The provider's published event ``output`` connected to a collector."""
    provider = TimeProvider(now=now)
    provider.set_config(**{"timezone": "UTC", **config})
    sink = Collector()
    flow.add_routine(provider, "clock")
    flow.add_routine(sink, "sink")
    flow.connect("clock", "output", "sink", "input")
    in_order(flow)
    return flow, provider, sink


def test_custom_format_sets_the_formatted_key(make_flow: MakeFlow) -> None:
    flow, _, sink = output_flow(make_flow(), custom_format="%A %d %B %Y, %H:%M")
    flow.execute("clock")
    assert sink.received[0]["formatted"] == "Tuesday 14 November 2023, 22:13"


def test_a_unicode_format_is_kept(make_flow: MakeFlow) -> None:
    flow, _, sink = output_flow(make_flow(), format="custom", custom_format="%Y年%m月%d日 ⏰")
    flow.execute("clock")
    assert sink.received[0]["formatted"] == "2023年11月14日 ⏰"
    assert sink.received[0]["time_string"] == "2023年11月14日 ⏰"


def test_the_time_event_has_no_formatted_key(make_flow: MakeFlow) -> None:
    flow, _, sink = time_flow(make_flow())
    flow.execute("clock")
    assert set(sink.received[0]) == {"timestamp", "iso", "date", "time"}


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


def test_the_defaults_are_the_published_ones_and_local_time() -> None:
    assert TimeProvider().config() == {
        "format": "iso",
        "custom_format": "%Y-%m-%d %H:%M:%S",
        "include_weekday": True,
        "locale": "zh_CN",
        "timezone": None,
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "TimeProvider timezone 'Mars/Olympus' is not a known"),
        ({"timezone": "utc"}, "TimeProvider timezone 'utc' is not a known IANA zone name"),
        ({"timezone": "../etc/passwd"}, "TimeProvider timezone '../etc/passwd' is not a known"),
        ({"timezone": ""}, "TimeProvider timezone must be None, 'UTC' or an IANA zone name"),
        ({"timezone": 5}, "TimeProvider timezone must be None, 'UTC' or an IANA zone name"),
        ({"format": "%H:%M"}, "format must be 'iso', .*set format='custom' and custom_format"),
        ({"format": None}, "TimeProvider format must be 'iso', 'formatted', 'timestamp' or"),
        ({"custom_format": 5}, "TimeProvider custom_format must be a strftime format string"),
        ({"custom_format": "%Y" * 600}, "custom_format must be a strftime format string"),
        ({"include_weekday": "yes"}, "TimeProvider include_weekday must be True or False"),
        ({"locale": None}, "TimeProvider locale must be a str"),
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
    flow, _, sink = output_flow(
        make_flow(), timezone="Asia/Tokyo", format="custom", custom_format="%H時"
    )
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


class PublishedSink(Routine):
    """A handler written for the published payload, with its four keys as parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, float, str, str]] = []
        self.define_slot("input", handler=self.take)

    def take(self, time_string: str, timestamp: float, datetime: str, formatted: str) -> None:
        self.seen.append((time_string, timestamp, datetime, formatted))


def test_a_flow_wired_as_the_published_docs_wire_it_gets_the_published_payload() -> None:
    from routilux.builtin_routines.utils import TimeProvider as PublishedPath

    provider = PublishedPath(now=lambda: MOMENT)
    provider.set_config(format="iso", locale="zh_CN")
    flow = Flow()
    flow.add_routine(Relay(), "entry")
    flow.add_routine(provider, "time_provider")
    flow.add_routine(PublishedSink(), "sink")
    flow.connect("entry", "out", "time_provider", "request")
    flow.connect("time_provider", "output", "sink", "input")
    assert provider.trigger_slot is provider.slots["request"]
    job = flow.execute("entry", {})
    assert job.status == "completed"
    local = datetime.fromtimestamp(MOMENT)  # Naive local time, as published.
    assert flow.routines["sink"].seen == [  # type: ignore[attr-defined]
        (local.isoformat(), MOMENT, local.isoformat(), local.strftime("%Y-%m-%d %H:%M:%S"))
    ]


@pytest.mark.parametrize(
    ("config", "time_string"),
    [
        ({"format": "iso"}, "2023-11-14T22:13:20+00:00"),
        ({"format": "timestamp"}, "1700000000.0"),
        ({"format": "custom", "custom_format": "%d/%m/%Y"}, "14/11/2023"),
        ({"format": "formatted"}, "2023年11月14日，星期二，22:13:20"),  # noqa: RUF001
        ({"format": "formatted", "locale": "en_US"}, "Tuesday, November 14, 2023 22:13:20"),
        ({"format": "formatted", "include_weekday": False}, "2023-11-14 22:13:20"),
    ],
)
def test_format_chooses_the_time_string(
    make_flow: MakeFlow, config: dict[str, Any], time_string: str
) -> None:
    flow, _, sink = output_flow(make_flow(), **config)
    flow.execute("clock")
    assert sink.received[0]["time_string"] == time_string
    assert sink.received[0]["formatted"] == "2023-11-14 22:13:20" or "custom_format" in config


@pytest.mark.parametrize(
    ("message", "time_string"),
    [
        ({"format": "timestamp"}, "1700000000.0"),
        ({"data": {"format": "timestamp"}}, "1700000000.0"),
        ({"data": {"format": "timestamp"}, "format": "custom"}, "1700000000.0"),
        ({"data": {"other": 1}, "format": "timestamp"}, "2023-11-14T22:13:20+00:00"),
        ({"format": ""}, "2023-11-14T22:13:20+00:00"),
        ({"format": "unheard-of"}, "2023-11-14T22:13:20+00:00"),
    ],
)
def test_a_message_may_choose_the_format_as_published(
    make_flow: MakeFlow, message: dict[str, Any], time_string: str
) -> None:
    flow, _, sink = output_flow(make_flow())
    flow.add_routine(Relay(), "entry")
    flow.connect("entry", "out", "clock", "request")
    flow.execute("entry", message)
    assert [m["time_string"] for m in sink.received] == [time_string]


@pytest.mark.parametrize("slot", ["request", "trigger", "input"])
def test_every_slot_emits_both_events(make_flow: MakeFlow, slot: str) -> None:
    flow, _, sink = output_flow(make_flow())
    flow.connect("clock", "time", "sink", "input")
    flow.add_routine(Relay(), "entry")
    flow.connect("entry", "out", "clock", slot)
    in_order(flow)
    flow.execute("entry", {})
    assert [sorted(m) for m in sink.received] == [
        ["datetime", "formatted", "time_string", "timestamp"],
        ["date", "iso", "time", "timestamp"],
    ]


def test_without_a_timezone_the_time_is_naive_local_time(make_flow: MakeFlow) -> None:
    flow, _, sink = output_flow(make_flow(), timezone=None)
    flow.execute("clock")
    assert sink.received[0]["datetime"] == datetime.fromtimestamp(MOMENT).isoformat()
