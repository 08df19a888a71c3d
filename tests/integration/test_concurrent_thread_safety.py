"""Concurrent deliveries lose no stat update, shared-data write, log entry or history record."""

from __future__ import annotations

from collections.abc import Callable

from routilux import Flow, JobStatus, Routine

PATIENCE = 30.0


class Source(Routine):
    """Emits ``out`` once per number in ``range(n)``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["i"])

    def send(self, n: int) -> None:
        for i in range(n):
            self.emit("out", i=i)


class Busy(Routine):
    """Touches every shared structure for each number, and emits it twice."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.work)
        self.define_event("out", ["i"])

    def work(self, i: int) -> None:
        self.increment_stat("calls")
        self.increment_stat("total", i)
        context = self.get_execution_context()
        assert context is not None
        context.job_state.update_shared_data(f"key{i}", i)
        context.job_state.append_to_shared_log({"i": i})
        self.emit("out", i=i)
        self.emit("out", i=-i)


def busy_flow(make_flow: Callable[..., Flow], busy: Busy) -> Flow:
    busy.set_max_concurrency(None)
    flow = make_flow(execution_strategy="concurrent", max_workers=16)
    flow.add_routine(Source(), "source")
    flow.add_routine(busy, "busy")
    flow.connect("source", "out", "busy", "input")
    return flow


def run(flow: Flow, n: int) -> None:
    job = flow.start("source", {"n": n})
    assert job.wait(PATIENCE)
    assert job.status is JobStatus.COMPLETED, job.error


def test_increment_stat_from_concurrent_deliveries_loses_no_update(
    make_flow: Callable[..., Flow],
) -> None:
    busy = Busy()
    run(busy_flow(make_flow, busy), 20_000)
    assert busy.get_stat("calls") == 20_000
    assert busy.get_stat("total") == sum(range(20_000))


def test_increment_stat_from_concurrent_jobs_loses_no_update(
    make_flow: Callable[..., Flow],
) -> None:
    busy = Busy()
    flow = busy_flow(make_flow, busy)
    jobs = [flow.start("source", {"n": 2_000}) for _ in range(8)]
    assert all(job.wait(PATIENCE) for job in jobs)
    assert busy.get_stat("calls") == 16_000


def test_shared_data_written_by_concurrent_deliveries_is_complete(
    make_flow: Callable[..., Flow],
) -> None:
    flow = busy_flow(make_flow, Busy())
    job = flow.start("source", {"n": 5_000})
    assert job.wait(PATIENCE)
    assert job.shared_data == {f"key{i}": i for i in range(5_000)}


def test_shared_log_written_by_concurrent_deliveries_is_complete(
    make_flow: Callable[..., Flow],
) -> None:
    flow = busy_flow(make_flow, Busy())
    job = flow.start("source", {"n": 5_000})
    assert job.wait(PATIENCE)
    log = job.get_shared_log()
    assert sorted(entry["i"] for entry in log) == list(range(5_000))
    assert all("timestamp" in entry for entry in log)


def test_history_has_one_record_per_emit_under_concurrency(
    make_flow: Callable[..., Flow],
) -> None:
    flow = busy_flow(make_flow, Busy())
    job = flow.start("source", {"n": 5_000})
    assert job.wait(PATIENCE)
    # The source emits 5,000 times; the busy routine twice per message.
    assert len(job.execution_history) == 15_000
    values = sorted(r.data["i"] for r in job.get_execution_history("busy"))
    assert values == sorted([*range(5_000), *(-i for i in range(5_000))])


def test_routine_stats_count_every_concurrent_delivery(
    make_flow: Callable[..., Flow],
) -> None:
    flow = busy_flow(make_flow, Busy())
    job = flow.start("source", {"n": 5_000})
    assert job.wait(PATIENCE)
    assert job.routine_stats("busy").deliveries == 5_000  # type: ignore[union-attr]
    assert job.routine_stats("source").deliveries == 1  # type: ignore[union-attr]
