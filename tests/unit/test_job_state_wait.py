"""JobState.wait_for_completion: ended or paused, its arguments, progress reports."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from routilux import DefinitionError, Flow, JobState, Routine
from routilux._model import job_wait

PATIENCE = 10.0


class Gate(Routine):
    """Blocks until ``release`` is set; pauses its own job first if ``pause`` is true."""

    def __init__(self, *, pause: bool = False) -> None:
        super().__init__()
        self.pause = pause
        self.started = threading.Event()
        self.release = threading.Event()
        self.define_slot("trigger", handler=self.run)
        self.define_event("out", ["n"])

    def run(self) -> None:
        self.started.set()
        assert self.release.wait(PATIENCE)
        if self.pause:
            context = self.get_execution_context()
            assert context is not None
            assert context.flow.pause(context.job_state)
        self.emit("out", n=1)


class Sink(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)

    def take(self, n: int) -> None:
        pass


def gated(strategy: str = "sequential", **gate: Any) -> tuple[Flow, Gate]:
    flow = Flow(flow_id="waits", execution_strategy=strategy)
    routine = Gate(**gate)
    flow.add_routine(routine, "gate")
    flow.add_routine(Sink(), "sink")
    flow.connect("gate", "out", "sink", "input")
    return flow, routine


def test_a_finished_job_is_waited_for_at_once() -> None:
    flow, gate = gated()
    gate.release.set()
    job = flow.execute("gate")
    assert JobState.wait_for_completion(flow, job, timeout=0) is True


def test_a_running_job_times_out_with_false() -> None:
    flow, gate = gated()
    job = flow.start("gate")
    try:
        assert gate.started.wait(PATIENCE)
        assert JobState.wait_for_completion(flow, job, timeout=0.05) is False
    finally:
        gate.release.set()
        flow.shutdown()


def test_the_wait_ends_when_the_job_ends() -> None:
    flow, gate = gated()
    job = flow.start("gate")
    threading.Timer(0.05, gate.release.set).start()
    assert JobState.wait_for_completion(flow, job, timeout=PATIENCE) is True
    assert job.status == "completed"
    flow.shutdown()


def test_a_paused_job_counts_as_done_waiting_for() -> None:
    flow, gate = gated(pause=True)
    job = flow.start("gate")
    gate.release.set()
    assert JobState.wait_for_completion(flow, job, timeout=PATIENCE) is True
    assert job.status == "paused"
    assert job.wait(timeout=0) is False  # wait() still waits for the end only.
    flow.cancel(job)
    flow.shutdown()


def test_progress_is_reported_at_the_start_and_then_periodically(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(job_wait, "PROGRESS_INTERVAL", 0.02)
    flow, gate = gated("concurrent")
    reports: list[tuple[int, int, str]] = []

    def report(pending: int, running: int, status: str) -> None:
        reports.append((pending, running, status))
        if len(reports) == 3:
            gate.release.set()

    job = flow.start("gate")
    assert gate.started.wait(PATIENCE)
    assert JobState.wait_for_completion(flow, job, PATIENCE, progress_callback=report)
    flow.shutdown()
    assert len(reports) >= 3
    assert reports[0] == (0, 1, "running")  # From flow.get_progress: the gate runs.
    assert all(isinstance(p, int) and isinstance(r, int) for p, r, _ in reports)


def test_progress_of_a_job_not_running_here_counts_its_pending_deliveries() -> None:
    job = JobState("f")
    reports: list[tuple[int, int, str]] = []
    assert (
        JobState.wait_for_completion(None, job, 0, progress_callback=lambda *a: reports.append(a))
        is False
    )
    assert reports == [(0, 0, "pending")]


def test_the_stability_arguments_are_accepted_and_ignored() -> None:
    flow, gate = gated()
    gate.release.set()
    job = flow.execute("gate")
    assert JobState.wait_for_completion(
        flow,
        job,
        timeout=1.0,
        stability_checks=1,
        check_interval=10.0,
        stability_delay=0,
    )


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"job_state": "job"}, "job_state"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": "soon"}, "timeout"),
        ({"stability_checks": 0}, "stability_checks"),
        ({"stability_checks": 2.5}, "stability_checks"),
        ({"stability_checks": True}, "stability_checks"),
        ({"check_interval": 0}, "check_interval"),
        ({"check_interval": float("nan")}, "check_interval"),
        ({"stability_delay": -0.1}, "stability_delay"),
        ({"progress_callback": "print"}, "progress_callback"),
    ],
)
def test_bad_arguments_are_refused_by_name(arguments: dict[str, Any], name: str) -> None:
    call: dict[str, Any] = {"flow": None, "job_state": JobState("f"), **arguments}
    with pytest.raises(DefinitionError, match=f"wait_for_completion: {name} must be"):
        JobState.wait_for_completion(**call)
