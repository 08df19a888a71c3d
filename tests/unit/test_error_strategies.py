"""Error strategies: STOP, CONTINUE, SKIP, RETRY, and which policy is in force."""

from __future__ import annotations

from typing import Any

import pytest

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, Routine, RoutineStats
from routilux.testing import FakeClock


class Source(Routine):
    """Emits one message per item of its ``items`` entry param."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out")

    def send(self, items: list[Any]) -> None:
        for item in items:
            self.emit("out", item=item)


class Flaky(Routine):
    """Fails the first ``failures`` attempts for each item, emitting before it raises.

    ``failures`` may be an int (for every item) or a dict item -> int.
    """

    def __init__(self, failures: int | dict[Any, int] = 0, exc: type[Exception] = ValueError):
        super().__init__()
        self.failures = failures
        self.exc = exc
        self.attempts: list[Any] = []
        self.define_slot("input", handler=self.handle)
        self.define_event("out")

    def handle(self, item: Any) -> None:
        self.attempts.append(item)
        limit = self.failures if isinstance(self.failures, int) else self.failures.get(item, 0)
        self.emit("out", item=f"partial {item}")
        if self.attempts.count(item) <= limit:
            raise self.exc(f"attempt {self.attempts.count(item)} on {item}")
        self.emit("out", item=f"done {item}")


class Pipeline:
    """source -> flaky -> recorder, and source -> sibling (after flaky)."""

    def __init__(
        self,
        flaky: Flaky,
        *,
        routine_policy: ErrorHandler | None = None,
        flow_policy: ErrorHandler | None = None,
        with_sibling: bool = True,
        **flow_kwargs: Any,
    ) -> None:
        self.clock = FakeClock()
        self.flow = Flow(clock=self.clock, **flow_kwargs)
        self.flaky = flaky
        self.recorder = Recording()
        self.sibling = Recording()
        self.flow.add_routine(Source(), "source")
        self.flow.add_routine(flaky, "flaky")
        self.flow.add_routine(self.recorder, "recorder")
        self.flow.add_routine(self.sibling, "sibling")
        self.flow.connect("source", "out", "flaky", "input")
        if with_sibling:
            self.flow.connect("source", "out", "sibling", "input")
        self.flow.connect("flaky", "out", "recorder", "input")
        if routine_policy is not None:
            flaky.set_error_handler(routine_policy)
        if flow_policy is not None:
            self.flow.set_error_handler(flow_policy)

    def run(self, *items: Any) -> JobState:
        return self.flow.execute("source", entry_params={"items": list(items)})


class Recording(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.items: list[Any] = []
        self.define_slot("input", handler=self.receive)

    def receive(self, item: Any) -> None:
        self.items.append(item)


def actions(job: JobState) -> list[tuple[str | None, str, int]]:
    return [(e.routine_id, e.action, e.attempt) for e in job.errors]


RETRY = ErrorStrategy.RETRY


# -- STOP ------------------------------------------------------------------------------


def test_no_handler_anywhere_means_stop() -> None:
    p = Pipeline(Flaky(failures=1))
    job = p.run("a", "b")
    assert job.status == "failed"
    assert actions(job) == [("flaky", "stop", 1)]


def test_stop_drops_the_remaining_deliveries() -> None:
    p = Pipeline(Flaky(failures=1), routine_policy=ErrorHandler(strategy=ErrorStrategy.STOP))
    job = p.run("a", "b")
    assert p.flaky.attempts == ["a"]
    assert p.sibling.items == []
    assert p.recorder.items == []
    assert job.status == "failed"


def test_stop_error_explains_the_failure_and_the_dropped_deliveries() -> None:
    p = Pipeline(Flaky(failures=1))
    job = p.run("a", "b")
    assert job.error is not None
    assert "'flaky'" in job.error
    assert "ValueError: attempt 1 on a" in job.error
    # Left in the queue: sibling <- a, flaky <- b, sibling <- b.
    assert "3 pending deliveries dropped" in job.error


def test_stop_with_nothing_pending_does_not_mention_dropped_deliveries() -> None:
    p = Pipeline(Flaky(failures=1), with_sibling=False)
    job = p.run("a")
    assert job.status == "failed"
    assert job.error is not None
    assert "dropped" not in job.error


def test_error_record_describes_the_failure() -> None:
    p = Pipeline(Flaky(failures=1))
    job = p.run("a")
    [error] = job.errors
    assert error.routine_id == "flaky"
    assert error.slot == "input"
    assert error.error_type == "ValueError"
    assert error.message == "attempt 1 on a"
    assert "raise self.exc" in error.traceback
    assert error.attempt == 1
    assert error.action == "stop"
    assert isinstance(error.delivery_id, str)
    assert error.timestamp > 1_600_000_000


def test_a_failing_entry_handler_is_handled_by_its_policy() -> None:
    class Broken(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.fail)

        def fail(self) -> None:
            raise RuntimeError("entry failed")

    flow = Flow()
    broken = Broken()
    flow.add_routine(broken, "broken")
    assert flow.execute("broken").status == "failed"
    broken.set_as_optional()
    job = flow.execute("broken")
    assert job.status == "completed"
    assert actions(job) == [("broken", "continue", 1)]


# -- CONTINUE --------------------------------------------------------------------------


def test_continue_records_the_error_and_the_job_completes() -> None:
    p = Pipeline(Flaky(failures={"a": 1}), routine_policy=ErrorHandler(strategy="continue"))
    job = p.run("a", "b")
    assert job.status == "completed"
    assert actions(job) == [("flaky", "continue", 1)]
    assert p.sibling.items == ["a", "b"]


def test_continue_failing_delivery_emits_nothing_further() -> None:
    p = Pipeline(Flaky(failures={"a": 1}), routine_policy=ErrorHandler(strategy="continue"))
    p.run("a", "b")
    assert p.flaky.attempts == ["a", "b"]
    assert p.recorder.items == ["partial b", "done b"]


def test_continue_marks_the_routine_error_continued_and_counts_a_failure() -> None:
    p = Pipeline(Flaky(failures={"a": 1}), routine_policy=ErrorHandler(strategy="continue"))
    job = p.run("a", "b")
    state = {"status": "error_continued", "error": "attempt 1 on a"}
    assert job.get_routine_state("flaky") == state
    assert job.routine_stats("flaky") == RoutineStats(deliveries=2, failures=1, skips=0)
    assert job.routine_stats("flaky").status == "failed"  # type: ignore[union-attr]
    assert job.get_routine_state("sibling") is None  # It only succeeded: nothing is written.
    assert job.routine_stats("sibling") == RoutineStats(deliveries=2, failures=0, skips=0)


# -- SKIP ------------------------------------------------------------------------------


def test_skip_marks_the_routine_skipped_and_the_job_goes_on() -> None:
    p = Pipeline(Flaky(failures={"a": 1}), routine_policy=ErrorHandler(strategy="skip"))
    job = p.run("a", "b")
    assert job.status == "completed"
    assert actions(job) == [("flaky", "skip", 1)]
    assert job.get_routine_state("flaky") == {"status": "skipped", "error": "attempt 1 on a"}
    assert job.routine_stats("flaky") == RoutineStats(deliveries=2, failures=0, skips=1)
    assert p.recorder.items == ["partial b", "done b"]
    assert p.sibling.items == ["a", "b"]


# -- RETRY -----------------------------------------------------------------------------


def retry(**kwargs: Any) -> ErrorHandler:
    return ErrorHandler(strategy=RETRY, **kwargs)


def test_retry_succeeds_after_a_failed_attempt() -> None:
    p = Pipeline(Flaky(failures=1), routine_policy=retry(max_retries=3, retry_delay=1.0))
    job = p.run("a")
    assert job.status == "completed"
    assert p.flaky.attempts == ["a", "a"]
    assert actions(job) == [("flaky", "retry", 1)]
    assert job.get_routine_state("flaky") is None  # A retried failure is not an outcome.
    assert job.routine_stats("flaky") == RoutineStats(deliveries=2, failures=0, skips=0)


def test_retried_delivery_leaves_no_partial_output() -> None:
    p = Pipeline(Flaky(failures=2), routine_policy=retry(max_retries=3, retry_delay=1.0))
    job = p.run("a")
    assert p.recorder.items == ["partial a", "done a"]
    assert [r.data for r in job.get_execution_history("flaky")] == [
        {"item": "partial a"},
        {"item": "done a"},
    ]


def test_retry_keeps_the_delivery_id() -> None:
    p = Pipeline(Flaky(failures=2), routine_policy=retry(max_retries=3, retry_delay=1.0))
    job = p.run("a")
    ids = [e.delivery_id for e in job.errors]
    assert len(ids) == 2
    assert ids[0] is not None
    assert ids[0] == ids[1]


def test_different_deliveries_have_different_ids() -> None:
    p = Pipeline(Flaky(failures=1), routine_policy=retry(max_retries=1, retry_delay=1.0))
    job = p.run("a", "b")
    by_item = {e.message.rsplit(" ", 1)[1]: e.delivery_id for e in job.errors}
    assert by_item["a"] != by_item["b"]


def test_retry_waits_delay_times_backoff_to_the_power_of_n_minus_one() -> None:
    p = Pipeline(
        Flaky(failures=10), routine_policy=retry(max_retries=3, retry_delay=0.5, retry_backoff=3.0)
    )
    p.run("a")
    assert p.clock.sleeps == [0.5, 1.5, 4.5]


def test_retry_with_backoff_one_waits_the_same_delay_each_time() -> None:
    p = Pipeline(
        Flaky(failures=10), routine_policy=retry(max_retries=3, retry_delay=2.0, retry_backoff=1.0)
    )
    p.run("a")
    assert p.clock.sleeps == [2.0, 2.0, 2.0]


def test_retry_runs_after_ready_deliveries() -> None:
    trace: list[str] = []

    class Tracing(Recording):
        def __init__(self, label: str, fail_first: bool = False) -> None:
            super().__init__()
            self.label = label
            self.fail_first = fail_first

        def receive(self, item: Any) -> None:
            trace.append(self.label)
            if self.fail_first and trace.count(self.label) == 1:
                raise ConnectionError("transient")

    clock = FakeClock()
    flow = Flow(clock=clock)
    flaky, other = Tracing("flaky", fail_first=True), Tracing("other")
    flaky.set_error_handler(retry(max_retries=2, retry_delay=5.0))
    flow.add_routine(Source(), "source")
    flow.add_routine(flaky, "flaky")
    flow.add_routine(other, "other")
    flow.connect("source", "out", "flaky", "input")
    flow.connect("source", "out", "other", "input")
    job = flow.execute("source", entry_params={"items": [1]})
    assert job.status == "completed"
    assert trace == ["flaky", "other", "flaky"]
    assert clock.sleeps == [5.0]


def test_retry_exhausted_on_a_non_critical_routine_fails_the_job() -> None:
    # The published rule: once the retries are spent, RETRY acts as STOP,
    # whether the routine is critical or not.
    p = Pipeline(Flaky(failures={"a": 10}), routine_policy=retry(max_retries=2, retry_delay=1.0))
    job = p.run("a", "b")
    assert job.status == "failed"
    assert actions(job) == [
        ("flaky", "retry", 1),
        ("flaky", "retry", 2),
        ("flaky", "stop", 3),
    ]
    assert p.flaky.attempts.count("a") == 3
    assert "attempt 3" in (job.error or "")
    state = job.get_routine_state("flaky")
    assert state is not None
    assert (state["status"], state["error"]) == ("failed", "attempt 3 on a")
    assert job.routine_stats("flaky") == RoutineStats(deliveries=4, failures=1, skips=0)


def test_retry_exhausted_stops_the_job_despite_a_flow_continue() -> None:
    # The routine's own RETRY is the policy in force; the flow's CONTINUE
    # does not apply to it once its retries are spent.
    p = Pipeline(
        Flaky(failures={"a": 10}),
        routine_policy=retry(max_retries=1, retry_delay=1.0),
        flow_policy=ErrorHandler(strategy=ErrorStrategy.CONTINUE),
    )
    job = p.run("a", "b")
    assert job.status == "failed"
    assert actions(job) == [("flaky", "retry", 1), ("flaky", "stop", 2)]


def test_retry_exhausted_on_a_critical_routine_fails_the_job() -> None:
    p = Pipeline(
        Flaky(failures={"a": 10}),
        routine_policy=retry(max_retries=2, retry_delay=1.0, is_critical=True),
    )
    job = p.run("a", "b")
    assert job.status == "failed"
    assert actions(job) == [
        ("flaky", "retry", 1),
        ("flaky", "retry", 2),
        ("flaky", "stop", 3),
    ]
    assert "attempt 3" in (job.error or "")


def test_max_retries_zero_fails_at_once() -> None:
    p = Pipeline(Flaky(failures=1), routine_policy=retry(max_retries=0, is_critical=True))
    job = p.run("a")
    assert job.status == "failed"
    assert actions(job) == [("flaky", "stop", 1)]
    assert p.clock.sleeps == []


def test_retry_budget_is_per_delivery() -> None:
    p = Pipeline(
        Flaky(failures=1), routine_policy=retry(max_retries=1, retry_delay=1.0, is_critical=True)
    )
    job = p.run("a", "b", "c")
    assert job.status == "completed"
    assert sorted(p.flaky.attempts) == ["a", "a", "b", "b", "c", "c"]
    assert [e.action for e in job.errors] == ["retry", "retry", "retry"]


def test_retry_budget_is_per_job() -> None:
    p = Pipeline(
        Flaky(failures={"a": 1, "b": 1}),
        routine_policy=retry(max_retries=1, retry_delay=1.0, is_critical=True),
    )
    assert p.run("a").status == "completed"
    assert p.run("b").status == "completed"


def test_non_retryable_exception_is_not_retried_and_stops_non_critical() -> None:
    p = Pipeline(
        Flaky(failures=5, exc=ValueError),
        routine_policy=retry(retryable_exceptions=(ConnectionError,), retry_delay=1.0),
    )
    job = p.run("a")
    assert job.status == "failed"
    assert p.flaky.attempts == ["a"]
    assert actions(job) == [("flaky", "stop", 1)]
    assert p.clock.sleeps == []


def test_non_retryable_exception_is_not_retried_critical() -> None:
    p = Pipeline(
        Flaky(failures=5, exc=ValueError),
        routine_policy=retry(
            retryable_exceptions=(ConnectionError,), retry_delay=1.0, is_critical=True
        ),
    )
    job = p.run("a")
    assert job.status == "failed"
    assert p.flaky.attempts == ["a"]
    assert actions(job) == [("flaky", "stop", 1)]


def test_subclasses_of_retryable_exceptions_are_retried() -> None:
    p = Pipeline(
        Flaky(failures=1, exc=ConnectionRefusedError),
        routine_policy=retry(retryable_exceptions=(ConnectionError,), retry_delay=1.0),
    )
    job = p.run("a")
    assert job.status == "completed"
    assert p.flaky.attempts == ["a", "a"]


# -- set_as_critical / set_as_optional -------------------------------------------------


def test_set_as_critical_retries_with_its_delays_then_fails_the_job() -> None:
    p = Pipeline(Flaky(failures=10))
    p.flaky.set_as_critical()
    job = p.run("a")
    assert job.status == "failed"
    assert p.clock.sleeps == [1.0, 2.0, 4.0]
    assert [e.action for e in job.errors] == ["retry", "retry", "retry", "stop"]


def test_set_as_critical_recovers_from_a_transient_failure() -> None:
    p = Pipeline(Flaky(failures=1))
    p.flaky.set_as_critical(max_retries=3, retry_delay=0.1)
    job = p.run("a")
    assert job.status == "completed"
    assert p.clock.sleeps == [0.1]
    assert p.recorder.items == ["partial a", "done a"]


def test_set_as_optional_continues() -> None:
    p = Pipeline(Flaky(failures={"a": 1}))
    p.flaky.set_as_optional()
    job = p.run("a", "b")
    assert job.status == "completed"
    assert actions(job) == [("flaky", "continue", 1)]


def test_set_as_optional_with_skip_skips() -> None:
    p = Pipeline(Flaky(failures={"a": 1}))
    p.flaky.set_as_optional(ErrorStrategy.SKIP)
    job = p.run("a", "b")
    assert job.status == "completed"
    assert actions(job) == [("flaky", "skip", 1)]


# -- which policy is in force ----------------------------------------------------------


def test_flow_handler_applies_to_routines_without_their_own() -> None:
    p = Pipeline(Flaky(failures={"a": 1}), flow_policy=ErrorHandler(strategy="continue"))
    job = p.run("a", "b")
    assert job.status == "completed"
    assert actions(job) == [("flaky", "continue", 1)]


def test_routine_handler_takes_precedence_over_the_flow_handler() -> None:
    p = Pipeline(
        Flaky(failures={"a": 1}),
        routine_policy=ErrorHandler(strategy="stop"),
        flow_policy=ErrorHandler(strategy="continue"),
    )
    job = p.run("a", "b")
    assert job.status == "failed"
    assert actions(job) == [("flaky", "stop", 1)]


def test_routine_retry_takes_precedence_over_a_flow_stop() -> None:
    p = Pipeline(
        Flaky(failures=1),
        routine_policy=retry(max_retries=1, retry_delay=1.0),
        flow_policy=ErrorHandler(strategy="stop"),
    )
    assert p.run("a").status == "completed"


def test_critical_routine_fails_the_job_despite_a_flow_continue() -> None:
    p = Pipeline(Flaky(failures=10), flow_policy=ErrorHandler(strategy="continue"))
    p.flaky.set_as_critical(max_retries=1, retry_delay=1.0)
    job = p.run("a")
    assert job.status == "failed"


def test_clearing_the_routine_handler_falls_back_to_the_flow_handler() -> None:
    p = Pipeline(
        Flaky(failures={"a": 1}),
        routine_policy=ErrorHandler(strategy="stop"),
        flow_policy=ErrorHandler(strategy="skip"),
    )
    p.flaky.set_error_handler(None)
    job = p.run("a")
    assert actions(job) == [("flaky", "skip", 1)]


def test_errors_recorded_do_not_prevent_completion() -> None:
    p = Pipeline(Flaky(failures={"a": 1, "b": 1}), flow_policy=ErrorHandler(strategy="continue"))
    job = p.run("a", "b", "c")
    assert job.status == "completed"
    assert job.error is None
    assert len(job.errors) == 2


@pytest.mark.parametrize(
    ("strategy", "status"),
    [("stop", "failed"), ("continue", "completed"), ("skip", "completed")],
)
def test_strategy_decides_the_job_status(strategy: str, status: str) -> None:
    p = Pipeline(Flaky(failures=1), routine_policy=ErrorHandler(strategy=strategy))  # type: ignore[arg-type]
    assert p.run("a").status == status
