"""A handler that leaves a value no store can write fails alone, under its own policy.

A value set with ``update_shared_data`` or appended to the shared log by a
durable job's handler is checked when the delivery's checkpoint is written.
If it cannot be stored, the delivery fails with ``SerializationError``
under its routine's policy, the value is put back as the store has it, and
the job goes on: it is never left failed in memory and running in the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from routilux import ErrorHandler, ErrorStrategy, Flow, JobStatus, Routine
from routilux.stores import SqliteStore

STRATEGIES = ["sequential", "concurrent"]


class Numbers(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.emit_all)
        self.define_event("out", ["i"])

    def emit_all(self, n: int) -> None:
        for i in range(n):
            self.emit("out", i=i)


class Keeper(Routine):
    """Shares each number; number 1 gets an object no store can write (config ``how``)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.keep)

    def keep(self, i: int) -> None:
        ctx = self.get_execution_context()
        assert ctx is not None
        job = ctx.job_state
        how = self.get_config("how", "shared")
        if i != 1:
            job.update_shared_data(f"n{i}", i)
            job.append_to_shared_log({"n": i})
        elif how == "shared":
            job.update_shared_data("n0", object())  # Over a value the store has.
            job.update_shared_data("bad", object())
        else:
            job.append_to_shared_log({"bad": object()})


def make_flow(store: SqliteStore, strategy: str, policy: ErrorStrategy, **options: Any) -> Flow:
    flow = Flow(execution_strategy=strategy, store=store, max_workers=1, **options)
    flow.add_routine(Numbers(), "numbers")
    keeper = Keeper()
    keeper.set_error_handler(ErrorHandler(strategy=policy))
    flow.add_routine(keeper, "keeper")
    flow.connect("numbers", "out", "keeper", "input")
    return flow


@pytest.mark.parametrize("every", [1, 3])
@pytest.mark.parametrize("how", ["shared", "log"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_unstorable_shared_value_fails_its_delivery_under_skip_and_the_job_goes_on(
    tmp_path: Path, strategy: str, how: str, every: int
) -> None:
    with SqliteStore(tmp_path / "jobs.db") as store:
        flow = make_flow(store, strategy, ErrorStrategy.SKIP, checkpoint_every=every)
        flow.routines["keeper"].set_config(how=how)
        try:
            job = flow.execute("numbers", {"n": 4})
        finally:
            flow.shutdown(wait=True)
        stored = store.load_job(job.job_id)

    assert job.status is JobStatus.COMPLETED, job.error
    assert stored.document["status"] == "completed"
    ((error_type, action, message),) = [(e.error_type, e.action, e.message) for e in job.errors]
    assert (error_type, action) == ("SerializationError", "skip")
    assert ("shared_data" if how == "shared" else "shared_log") in message
    assert job.shared_data == {"n0": 0, "n2": 2, "n3": 3}
    assert stored.document["shared_data"] == job.shared_data
    assert [e["n"] for e in stored.document["shared_log"]] == [0, 2, 3]
    assert [e["n"] for e in job.shared_log] == [0, 2, 3]
    assert [e["action"] for e in stored.document["errors"]] == ["skip"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_under_stop_the_job_fails_in_memory_and_in_the_store(tmp_path: Path, strategy: str) -> None:
    with SqliteStore(tmp_path / "jobs.db") as store:
        flow = make_flow(store, strategy, ErrorStrategy.STOP)
        try:
            job = flow.execute("numbers", {"n": 4})
        finally:
            flow.shutdown(wait=True)
        stored = store.load_job(job.job_id)

    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert "SerializationError" in job.error
    assert "store failed" not in job.error
    assert stored.document["status"] == "failed"
    assert "bad" not in stored.document["shared_data"]
