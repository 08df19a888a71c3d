"""RetryHandler: call a function, retrying on the job's clock, never sleeping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routilux import (
    DefinitionError,
    ErrorHandler,
    ErrorStrategy,
    Flow,
    FlowDocumentWarning,
    Routine,
    StoreError,
)
from routilux.builtin_routines import RetryHandler
from routilux.stores import MemoryStore
from routilux.testing import FakeClock

MakeFlow = Callable[..., Flow]
EVENTS = ("success", "retry", "exhausted")


class Throttled(ConnectionError):
    """A module-level exception class, so retry_on can name it by path."""


def double(data: Any) -> Any:
    """A module-level function, so a flow document can name it."""
    return data * 2


class Flaky:
    """Fails ``failures`` times per data value, then returns ``data * 2``."""

    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.calls: list[Any] = []

    def __call__(self, data: Any) -> Any:
        self.calls.append(data)
        if self.calls.count(data) <= self.failures:
            raise self.error(f"try {self.calls.count(data)} of {data!r} failed")
        return data * 2


class Source(Routine):
    """Emits each value of its ``values`` entry parameter as ``data``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["data"])

    def send(self, values: list[Any]) -> None:
        for value in values:
            self.emit("out", data=value)


class Collector(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.define_slot("input", handler=self.collect)

    def collect(self, **message: Any) -> None:
        self.received.append(message)


class FailingStore(MemoryStore):
    """A MemoryStore whose checkpoints fail after ``survive`` of them: a crash, to the store."""

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
        flow = Flow(execution_strategy=request.param, **options)
        flows.append(flow)
        return flow

    yield make
    for flow in flows:
        flow.shutdown()


def retry_flow(flow: Flow, **config: Any) -> tuple[Flow, RetryHandler, dict[str, Collector]]:
    handler = RetryHandler()
    handler.set_config(**config)
    flow.add_routine(Source(), "source")
    flow.add_routine(handler, "retry")
    flow.connect("source", "out", "retry", "input")
    sinks = {name: Collector() for name in EVENTS}
    for name, sink in sinks.items():
        flow.add_routine(sink, f"on_{name}")
        flow.connect("retry", name, f"on_{name}", "input")
    return flow, handler, sinks


def delays(sinks: dict[str, Collector]) -> list[float]:
    return [m["delay"] for m in sinks["retry"].received]


def test_a_first_success_emits_success_after_one_attempt(make_flow: MakeFlow) -> None:
    clock = FakeClock()
    flow, _, sinks = retry_flow(make_flow(clock=clock), function=double)
    job = flow.execute("source", {"values": [21]})
    assert job.status == "completed"
    assert sinks["success"].received == [{"result": 42, "attempts": 1}]
    assert sinks["retry"].received == sinks["exhausted"].received == []
    assert clock.monotonic() == 0.0


def test_a_flaky_function_is_retried_on_the_jobs_clock_until_it_succeeds(
    make_flow: MakeFlow,
) -> None:
    clock = FakeClock()
    flow, _, sinks = retry_flow(make_flow(clock=clock), function=Flaky(2))
    job = flow.execute("source", {"values": [5]})
    assert job.status == "completed"
    assert sinks["retry"].received == [
        {"attempt": 2, "error": "ConnectionError: try 1 of 5 failed", "delay": 1.0},
        {"attempt": 3, "error": "ConnectionError: try 2 of 5 failed", "delay": 2.0},
    ]
    assert sinks["success"].received == [{"result": 10, "attempts": 3}]
    assert clock.monotonic() == 3.0


def test_a_function_that_keeps_failing_ends_in_exhausted(make_flow: MakeFlow) -> None:
    flow, handler, sinks = retry_flow(make_flow(clock=FakeClock()), function=Flaky(99))
    job = flow.execute("source", {"values": ["x"]})
    assert job.status == "completed"
    assert job.errors == []
    assert sinks["exhausted"].received == [
        {"error": "ConnectionError: try 3 of 'x' failed", "attempts": 3, "data": "x"}
    ]
    assert sinks["success"].received == []
    assert handler.stats() == {"retries": 2, "exhausted": 1}


def test_max_attempts_one_never_retries(make_flow: MakeFlow) -> None:
    clock = FakeClock()
    flow, _, sinks = retry_flow(make_flow(clock=clock), function=Flaky(1), max_attempts=1)
    flow.execute("source", {"values": [1]})
    assert sinks["retry"].received == []
    assert [m["attempts"] for m in sinks["exhausted"].received] == [1]
    assert clock.monotonic() == 0.0


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [
        ("fixed", [2.0, 2.0, 2.0, 2.0]),
        ("linear", [2.0, 4.0, 6.0, 8.0]),
        ("exponential", [2.0, 4.0, 8.0, 16.0]),
    ],
)
def test_backoff_sets_the_delay_before_each_retry(
    make_flow: MakeFlow, backoff: str, expected: list[float]
) -> None:
    clock = FakeClock()
    flow, _, sinks = retry_flow(
        make_flow(clock=clock), function=Flaky(99), max_attempts=5, backoff=backoff, delay=2
    )
    flow.execute("source", {"values": [1]})
    assert delays(sinks) == expected
    assert clock.monotonic() == sum(expected)


def test_max_delay_caps_every_wait(make_flow: MakeFlow) -> None:
    flow, _, sinks = retry_flow(
        make_flow(clock=FakeClock()), function=Flaky(99), max_attempts=5, max_delay=3
    )
    flow.execute("source", {"values": [1]})
    assert delays(sinks) == [1.0, 2.0, 3.0, 3.0]


def test_a_huge_exponential_backoff_stays_finite() -> None:
    handler = RetryHandler()
    handler.set_config(delay=10.0, max_attempts=5000)
    assert handler.delay_before(4000) == 10.0 * 2.0**1000


@settings(max_examples=200, deadline=None)
@given(
    backoff=st.sampled_from(["fixed", "linear", "exponential"]),
    delay=st.floats(0, 1e300),
    max_delay=st.none() | st.floats(0, 1e300),
    jitter=st.booleans(),
    attempt=st.integers(2, 100_000),
)
def test_every_wait_is_finite_non_negative_and_within_max_delay(
    backoff: str, delay: float, max_delay: float | None, jitter: bool, attempt: int
) -> None:
    handler = RetryHandler()
    handler.set_config(backoff=backoff, delay=delay, max_delay=max_delay, jitter=jitter, seed=1)
    wait = handler.delay_before(attempt)
    assert 0.0 <= wait < float("inf")
    assert max_delay is None or wait <= max_delay


def test_jitter_with_a_seed_gives_the_same_delays_on_every_run(make_flow: MakeFlow) -> None:
    runs = []
    for _ in range(2):
        flow, _, sinks = retry_flow(
            make_flow(clock=FakeClock()),
            function=Flaky(99),
            max_attempts=4,
            delay=8,
            jitter=True,
            seed=42,
        )
        flow.execute("source", {"values": [1]})
        runs.append(delays(sinks))
    assert runs[0] == runs[1]
    assert runs[0] != [8.0, 16.0, 32.0]
    assert all(base / 2 <= d <= base for d, base in zip(runs[0], [8, 16, 32], strict=True))


def test_jitter_without_a_seed_stays_between_half_the_delay_and_the_delay(
    make_flow: MakeFlow,
) -> None:
    flow, _, sinks = retry_flow(
        make_flow(clock=FakeClock()), function=Flaky(99), max_attempts=6, delay=4, jitter=True
    )
    flow.execute("source", {"values": [1]})
    bases = [4, 8, 16, 32, 64]
    assert all(base / 2 <= d <= base for d, base in zip(delays(sinks), bases, strict=True))
    assert delays(sinks) != [float(b) for b in bases]


def test_an_exception_not_in_retry_on_fails_the_delivery_unchanged(make_flow: MakeFlow) -> None:
    function = Flaky(1, error=ValueError)
    flow, _, sinks = retry_flow(
        make_flow(clock=FakeClock()), function=function, retry_on=["ConnectionError"]
    )
    job = flow.execute("source", {"values": [1]})
    assert job.status == "failed"
    assert (job.errors[0].error_type, job.errors[0].message) == ("ValueError", "try 1 of 1 failed")
    assert function.calls == [1]
    assert sinks["retry"].received == sinks["exhausted"].received == []


def test_a_non_retryable_failure_goes_through_the_routines_error_policy(
    make_flow: MakeFlow,
) -> None:
    flow, handler, sinks = retry_flow(
        make_flow(clock=FakeClock()), function=Flaky(1, error=KeyError), retry_on=["OSError"]
    )
    handler.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = flow.execute("source", {"values": [1, 2]})
    assert job.status == "completed"
    assert [e.error_type for e in job.errors] == ["KeyError", "KeyError"]
    assert sinks["retry"].received == sinks["exhausted"].received == []


def test_retry_on_matches_subclasses(make_flow: MakeFlow) -> None:
    flow, _, sinks = retry_flow(
        make_flow(clock=FakeClock()), function=Flaky(1, error=Throttled), retry_on=[OSError]
    )
    flow.execute("source", {"values": [3]})
    assert sinks["success"].received == [{"result": 6, "attempts": 2}]


@pytest.mark.parametrize("name", ["test_retry_handler:Throttled", Throttled], ids=["path", "class"])
def test_retry_on_names_a_module_level_class_by_its_import_path(
    make_flow: MakeFlow, name: Any
) -> None:
    flow, handler, sinks = retry_flow(
        make_flow(clock=FakeClock()), function=Flaky(1, error=Throttled), retry_on=[name]
    )
    flow.execute("source", {"values": [3]})
    assert handler.get_config("retry_on") == ["test_retry_handler:Throttled"]
    assert [m["attempts"] for m in sinks["success"].received] == [2]


def test_retry_on_stores_builtin_classes_by_name() -> None:
    handler = RetryHandler()
    handler.set_config(retry_on=(TimeoutError, "builtins:ConnectionError"))
    assert handler.get_config("retry_on") == ["TimeoutError", "builtins:ConnectionError"]


def test_a_builtins_path_matches_like_a_bare_name(make_flow: MakeFlow) -> None:
    flow, _, sinks = retry_flow(
        make_flow(clock=FakeClock()), function=Flaky(1), retry_on="builtins:ConnectionError"
    )
    flow.execute("source", {"values": [1]})
    assert [m["attempts"] for m in sinks["success"].received] == [2]


def test_each_message_counts_its_own_attempts(make_flow: MakeFlow) -> None:
    function = Flaky(1, error=TimeoutError)
    flow, _, sinks = retry_flow(make_flow(clock=FakeClock()), function=function, max_attempts=2)
    flow.execute("source", {"values": ["a", "b"]})
    results = sorted((m["result"], m["attempts"]) for m in sinks["success"].received)
    assert results == [("aa", 2), ("bb", 2)]


def test_the_function_receives_the_whole_message_when_it_has_no_data_key(
    make_flow: MakeFlow,
) -> None:
    flow = make_flow()
    handler = RetryHandler()
    handler.set_config(function=lambda data: sorted(data))
    flow.add_routine(Relay(), "entry")
    flow.add_routine(handler, "retry")
    success = Collector()
    flow.add_routine(success, "success")
    flow.connect("entry", "out", "retry", "input")
    flow.connect("retry", "success", "success", "input")
    flow.execute("entry", {"b": 1, "a": 2})
    assert success.received == [{"result": ["a", "b"], "attempts": 1}]


class Relay(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.relay)
        self.define_event("out")

    def relay(self, **message: Any) -> None:
        self.emit("out", **message)


def test_a_none_result_and_none_data_are_passed_on(make_flow: MakeFlow) -> None:
    flow, _, sinks = retry_flow(make_flow(), function=lambda data: None)
    flow.execute("source", {"values": [None]})
    assert sinks["success"].received == [{"result": None, "attempts": 1}]


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_a_pending_retry_survives_a_crash_with_its_attempt_number(strategy: str) -> None:
    store = FailingStore(survive=2)  # The entry and attempt 1 are checkpointed; attempt 2 is not.
    first, _, _ = retry_flow(
        Flow(execution_strategy=strategy, clock=FakeClock(), store=store),
        function=Flaky(99),
    )
    # A Flaky object is no module-level function: the flow document cannot be written.
    with pytest.warns(FlowDocumentWarning, match=r"the callable is a Flaky object"):
        crashed = first.execute("source", {"values": [4]})
    first.shutdown()
    pending = store.load_job(crashed.job_id).pending
    timers = [(d.slot, d.data) for d in pending if d.routine_id == "retry"]
    assert timers == [("retry_timer", {"data": 4, "attempt": 2})]

    store.survive = 10**6
    second, _, sinks = retry_flow(
        Flow(execution_strategy=strategy, clock=FakeClock(), store=store), function=double
    )
    assert second.resume(crashed.job_id, wait=True)
    second.shutdown()
    assert sinks["success"].received == [{"result": 8, "attempts": 2}]


def test_a_wrong_attempt_number_on_the_timer_slot_fails_the_delivery() -> None:
    flow = Flow()
    handler = RetryHandler()
    handler.set_config(function=double)
    flow.add_routine(handler, "retry")
    flow.add_routine(Relay(), "entry")
    flow.connect("entry", "out", "retry", "retry_timer")
    job = flow.execute("entry", {"data": 1, "attempt": "2"})
    assert job.status == "failed"
    assert job.errors[0].error_type == "TypeError"
    assert "RetryHandler 'retry' slot 'retry_timer' needs an attempt number" in (
        job.errors[0].message
    )


def test_a_flow_without_a_function_is_refused_before_the_job_starts() -> None:
    flow, _, _ = retry_flow(Flow())
    with pytest.raises(DefinitionError, match=r"'retry'.*set_config\(function=\.\.\.\)"):
        flow.execute("source", {"values": [1]})


def test_the_defaults_are_three_exponential_attempts_on_any_exception() -> None:
    assert RetryHandler().config() == {
        "function": None,
        "max_attempts": 3,
        "backoff": "exponential",
        "delay": 1.0,
        "max_delay": None,
        "jitter": False,
        "seed": None,
        "retry_on": ["Exception"],
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"function": "double"}, "RetryHandler function must be a callable, not str"),
        ({"max_attempts": 0}, "RetryHandler max_attempts must be a positive integer, not 0"),
        ({"max_attempts": 2.0}, "RetryHandler max_attempts must be a positive integer, not 2.0"),
        ({"backoff": "random"}, "RetryHandler backoff must be 'fixed', 'linear' or 'exp"),
        ({"delay": -1}, "RetryHandler delay must be a non-negative number of seconds, not -1"),
        ({"delay": float("inf")}, "RetryHandler delay must be a non-negative number"),
        ({"delay": None}, "RetryHandler delay must be a non-negative number of seconds, not"),
        ({"max_delay": "1s"}, "RetryHandler max_delay must be .* or None, not '1s'"),
        ({"jitter": 1}, "RetryHandler jitter must be True or False, not 1"),
        ({"seed": 1.5}, "RetryHandler seed must be an int, a str or None, not 1.5"),
        ({"retry_on": []}, "RetryHandler retry_on must be a non-empty list"),
        ({"retry_on": 3}, "RetryHandler retry_on must be a non-empty list"),
        ({"retry_on": ["NoSuchError"]}, "'NoSuchError' is not a builtin exception class"),
        ({"retry_on": ["print"]}, "'print' is not a builtin exception class"),
        ({"retry_on": ["os:system"]}, "'os:system' names no Exception class in os"),
        ({"retry_on": ["__main__:Boom"]}, "'__main__:Boom' is not a builtin exception name"),
        ({"retry_on": ["a b"]}, "'a b' is not a builtin exception name or an import path"),
        ({"retry_on": [KeyboardInterrupt]}, "KeyboardInterrupt, which is not an Exception"),
    ],
)
def test_a_bad_config_is_refused_naming_the_key_and_the_expectation(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        RetryHandler().set_config(**config)


def test_retry_on_refuses_a_class_defined_inside_a_function() -> None:
    class Local(Exception):
        pass

    with pytest.raises(DefinitionError, match=r"'test_retry_handler:.*<locals>\.Local' is not"):
        RetryHandler().set_config(retry_on=[Local])


def test_a_refused_config_leaves_the_previous_one_in_force() -> None:
    handler = RetryHandler()
    handler.set_config(retry_on=["TimeoutError"], max_attempts=5)
    with pytest.raises(DefinitionError):
        handler.set_config(retry_on=["Nope"], max_attempts=2)
    assert handler.get_config("max_attempts") == 5
    assert handler.get_config("retry_on") == ["TimeoutError"]


def test_a_flow_with_a_function_and_exception_names_round_trips_and_runs_the_same(
    make_flow: MakeFlow,
) -> None:
    flow, _, sinks = retry_flow(
        make_flow(clock=FakeClock()),
        function=double,
        retry_on=[Throttled, "TimeoutError"],
        backoff="linear",
        jitter=True,
        seed="s",
    )
    document = flow.serialize()
    rebuilt = Flow(clock=FakeClock()).deserialize(document)
    try:
        assert rebuilt.serialize() == document
        flow.execute("source", {"values": [1, "z"]})
        rebuilt.execute("source", {"values": [1, "z"]})
        rebuilt_success = rebuilt.routines["on_success"]
        assert isinstance(rebuilt_success, Collector)
        assert rebuilt_success.received == sinks["success"].received
        assert len(sinks["success"].received) == 2
    finally:
        rebuilt.shutdown()
