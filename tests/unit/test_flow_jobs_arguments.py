"""Arguments of the job half of a Flow: execute, start, pause, resume, cancel and shutdown."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from routilux import DefinitionError, Flow, JobState, JobStatus, Routine
from routilux.testing import FakeClock


class Trigger(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=lambda: None)


def one_routine_flow() -> Flow:
    flow = Flow()
    flow.add_routine(Trigger(), "r")
    return flow


@pytest.mark.parametrize("entry", [["r"], 5, None, ("r",)])
@pytest.mark.parametrize("method", ["execute", "start"])
def test_an_entry_routine_id_that_is_not_a_string_is_refused(entry: Any, method: str) -> None:
    flow = one_routine_flow()
    with pytest.raises(DefinitionError, match="entry routine id must be a string"):
        getattr(flow, method)(entry)
    assert flow.get_all_executions() == []


@pytest.mark.parametrize("job", [5, None, {"job_id": "x"}])
def test_resume_refuses_what_is_not_a_job_id_or_a_job_state(job: Any) -> None:
    flow = one_routine_flow()
    with pytest.raises(DefinitionError, match="resume expects a job id string or a JobState"):
        flow.resume(job)


# -- execute and start in the published 0.10 form ------------------------------------------


class Recorder(Routine):
    """Records the thread and the data of every message of its ``trigger`` and ``other`` slots."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, dict[str, Any]]] = []
        self.define_slot("trigger", handler=self.on_trigger)
        self.define_slot("other", handler=self.on_other)

    def on_trigger(self, **data: Any) -> None:
        self.seen.append(("trigger", threading.current_thread().name, data))

    def on_other(self, **data: Any) -> None:
        self.seen.append(("other", threading.current_thread().name, data))


def recorder_flow(**options: Any) -> tuple[Flow, Recorder]:
    flow = Flow(**options)
    recorder = Recorder()
    flow.add_routine(recorder, "r")
    return flow, recorder


@pytest.mark.parametrize("method", ["execute", "start"])
def test_entry_routine_id_names_the_entry_routine_by_keyword(method: str) -> None:
    flow, recorder = recorder_flow()
    job = getattr(flow, method)(entry_routine_id="r", entry_params={"x": 1})
    assert job.wait(5)
    assert job.status is JobStatus.COMPLETED
    assert [data for _, _, data in recorder.seen] == [{"x": 1}]


@pytest.mark.parametrize("method", ["execute", "start"])
def test_entry_id_and_entry_routine_id_together_are_refused(method: str) -> None:
    flow, _ = recorder_flow()
    with pytest.raises(DefinitionError, match="both entry_id='r' and entry_routine_id='r'"):
        getattr(flow, method)("r", entry_routine_id="r")
    assert flow.get_all_executions() == []


def test_a_third_positional_string_runs_that_job_with_that_strategy() -> None:
    flow, recorder = recorder_flow(max_workers=2)
    try:
        flow.execute("r", {"x": 1}, "concurrent")
        flow.execute("r", {"x": 2})
    finally:
        flow.shutdown()
    threads = [thread for _, thread, _ in recorder.seen]
    assert threads[0].startswith("routilux-worker")
    assert threads[1] == threading.current_thread().name
    assert flow.execution_strategy == "sequential"


def test_the_execution_strategy_keyword_applies_to_the_job_only() -> None:
    flow, recorder = recorder_flow(execution_strategy="concurrent")
    try:
        flow.execute("r", execution_strategy="sequential")
    finally:
        flow.shutdown()
    assert recorder.seen[0][1] == threading.current_thread().name


def test_a_third_positional_number_is_the_timeout() -> None:
    clock = FakeClock()

    class Slow(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.work)
            self.define_slot("again", handler=self.work)
            self.define_event("next")

        def work(self) -> None:
            clock.advance(1.0)
            self.emit("next")

    flow = Flow(clock=clock)
    flow.add_routine(Slow(), "slow")
    flow.connect("slow", "next", "slow", "again")
    job = flow.execute("slow", None, 2.5)
    assert job.status is JobStatus.FAILED
    assert job.errors[-1].error_type == "JobTimeoutError"


def test_a_timeout_given_both_third_and_by_keyword_is_refused() -> None:
    flow, _ = recorder_flow()
    with pytest.raises(DefinitionError, match="two timeouts"):
        flow.execute("r", None, 5, timeout=5)


@pytest.mark.parametrize("method", ["execute", "start"])
def test_an_unknown_strategy_for_one_job_is_refused(method: str) -> None:
    flow, _ = recorder_flow()
    with pytest.raises(DefinitionError, match="Unknown execution_strategy 'parallel'"):
        getattr(flow, method)("r", None, "parallel")
    assert flow.get_all_executions() == []


@pytest.mark.parametrize("method", ["execute", "start"])
def test_entry_slot_chooses_the_slot_that_receives_the_params(method: str) -> None:
    flow, recorder = recorder_flow()
    job = getattr(flow, method)("r", {"y": 2}, entry_slot="other")
    assert job.wait(5)
    assert [(slot, data) for slot, _, data in recorder.seen] == [("other", {"y": 2})]


def test_an_unknown_entry_slot_is_refused_naming_the_slots() -> None:
    flow, _ = recorder_flow()
    with pytest.raises(
        DefinitionError, match="no slot 'missing'; defined slots: 'trigger', 'other'"
    ):
        flow.execute("r", entry_slot="missing")


class Outputs:
    """An output handler that keeps what it is handed."""

    def __init__(self) -> None:
        self.handled: list[tuple[str, str, dict[str, Any]]] = []

    def handle(
        self, job_id: str, routine_id: str, output_type: str, data: Any, timestamp: Any = None
    ) -> None:
        self.handled.append((routine_id, output_type, dict(data)))


class Reporter(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.report)

    def report(self, value: Any) -> None:
        self.send_output("progress", value=value)


@pytest.mark.parametrize("method", ["execute", "start"])
def test_output_handler_receives_the_outputs_of_the_new_job(method: str) -> None:
    flow = Flow()
    flow.add_routine(Reporter(), "reporter")
    outputs = Outputs()
    job = getattr(flow, method)("reporter", {"value": 3}, output_handler=outputs)
    assert job.wait(5)
    assert outputs.handled == [("reporter", "progress", {"value": 3})]


# -- pause, cancel and shutdown arguments ---------------------------------------------------


def test_pause_refuses_a_reason_that_is_not_a_string_or_a_number() -> None:
    flow, _ = recorder_flow()
    job = flow.execute("r")
    with pytest.raises(DefinitionError, match="pause expects a reason string"):
        flow.pause(job, ["why"])  # type: ignore[arg-type]


def test_pause_refuses_a_timeout_given_twice() -> None:
    flow, _ = recorder_flow()
    job = flow.execute("r")
    with pytest.raises(DefinitionError, match="two timeouts"):
        flow.pause(job, 5, timeout=5)


def test_pause_refuses_a_checkpoint_that_is_not_a_mapping() -> None:
    flow, _ = recorder_flow()
    job = flow.execute("r")
    with pytest.raises(DefinitionError, match="checkpoint dict or None"):
        flow.pause(job, "why", [1])  # type: ignore[arg-type]


def test_pause_of_a_job_that_ended_returns_false_and_adds_no_pause_point() -> None:
    flow, _ = recorder_flow()
    job = flow.execute("r")
    assert flow.pause(job, 1.0) is False
    assert job.pause_points == []


@pytest.mark.parametrize("method", ["pause", "resume", "cancel"])
def test_job_control_refuses_a_job_of_another_flow(method: str) -> None:
    flow, _ = recorder_flow()
    job = JobState("another-flow")
    with pytest.raises(DefinitionError, match="belongs to flow 'another-flow'"):
        getattr(flow, method)(job)


def test_cancel_refuses_a_reason_that_is_not_a_string() -> None:
    flow, _ = recorder_flow()
    with pytest.raises(DefinitionError, match="cancel expects a reason string"):
        flow.cancel(flow.execute("r"), 3)  # type: ignore[arg-type]


def test_shutdown_refuses_a_timeout_that_is_not_a_positive_number() -> None:
    flow, _ = recorder_flow()
    with pytest.raises(DefinitionError, match="positive number of seconds"):
        flow.shutdown(timeout=-1)


def test_wait_for_completion_of_a_flow_that_ran_nothing_is_true() -> None:
    flow, _ = recorder_flow()
    assert flow.wait_for_completion(timeout=0.1) is True
