"""The Ray strategy on a local cluster: emits and commits, error policies, the value codec, actors.

Each test builds a small flow whose handlers run as Ray tasks (or on a
Ray actor, for ``Counter``); what they emit, the job values they set and
the routine state they change come back to this process and are
committed here, as under the other strategies.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import pytest
from ray_routines import Collect, Counter, Flaky, KillsItsWorker, Sink, Sleeper, Source

from routilux import ErrorHandler, ErrorStrategy, ExecutionError, Flow, Routine

# Slow: a local Ray cluster starts in 5 to 30 s (once per session), and each
# job's calls go to other processes.
pytestmark = [pytest.mark.usefixtures("ray_cluster"), pytest.mark.slow]


def chain(*routines: tuple[str, Routine], **options: Any) -> Flow:
    """A flow of ``routines`` connected in order, each ``out`` event to the next ``in`` slot."""
    flow = Flow(execution_strategy="ray", **{"max_workers": 2, **options})
    for rid, routine in routines:
        flow.add_routine(routine, rid)
    for (first, _), (second, _) in itertools.pairwise(routines):
        flow.connect(first, "out", second, "in")
    return flow


def test_emits_job_values_and_state_come_back_and_are_committed() -> None:
    sink = Sink()
    flow = chain(("source", Source()), ("sink", sink))
    try:
        job = flow.execute("source", {"n": 4})
    finally:
        flow.shutdown()
    assert job.status == "completed", job.error
    assert sorted(sink.seen) == [0, 1, 2, 3]  # The public list, changed on Ray workers.
    assert sorted(job.job_values("sink")["got"]) == [0, 1, 2, 3]
    assert [(r.routine_id, r.event_name) for r in job.execution_history] == [("source", "out")] * 4


@pytest.mark.parametrize(
    ("policy", "status", "calls", "sunk"),
    [
        (
            ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=3, retry_delay=0.01),
            "completed",
            3,
            [0],
        ),
        (ErrorHandler(strategy=ErrorStrategy.SKIP), "completed", 1, []),
        (ErrorHandler(strategy=ErrorStrategy.STOP), "failed", 1, []),
    ],
    ids=["retry", "skip", "stop"],
)
def test_error_policies_apply_to_handlers_that_raise_on_ray(
    policy: ErrorHandler, status: str, calls: int, sunk: list[int]
) -> None:
    flaky, sink = Flaky(), Sink()
    flaky.fail_times = 2
    flaky.set_error_handler(policy)
    flow = chain(("source", Source()), ("flaky", flaky), ("sink", sink))
    try:
        job = flow.execute("source", {"n": 1})
    finally:
        flow.shutdown()
    assert job.status == status
    assert flaky.calls == calls  # State changed by a failing call comes back too.
    assert sink.seen == sunk  # A failed attempt's emit is discarded.
    assert [e.error_type for e in job.errors] == ["ValueError"] * min(calls, 2)
    if status == "completed" and calls == 3:
        assert job.job_values("flaky") == {"seen": 0}


class Opaque:
    """A value the value codec cannot write."""


def test_a_message_the_codec_refuses_fails_its_delivery_naming_routine_slot_and_key() -> None:
    collect = Collect()
    flow = Flow(execution_strategy="ray")
    flow.add_routine(collect, "collect")
    try:
        job = flow.execute("collect", {"fine": 1, "bad": Opaque()}, entry_slot="in")
    finally:
        flow.shutdown()
    assert job.status == "failed"
    [error] = job.errors
    assert error.error_type == "RayValueError"
    assert "cannot cross to a Ray worker" in error.message
    assert "routine 'collect', slot 'in'" in error.message
    assert "['bad']: values of type Opaque are not supported" in error.message
    assert collect.got == []


def test_state_the_codec_refuses_is_named_before_ray_sees_it() -> None:
    collect = Collect()
    collect.lock = threading.Lock()  # type: ignore[attr-defined]  # Public: shared state.
    flow = Flow(execution_strategy="ray")
    flow.add_routine(collect, "collect")
    try:
        job = flow.execute("collect", {"x": 1}, entry_slot="in")
    finally:
        flow.shutdown()
    assert job.status == "failed"
    assert "routine 'collect' attribute 'lock'" in job.errors[0].message


def test_an_actor_routine_keeps_its_private_state_within_a_job_not_across_jobs() -> None:
    collect = Collect()
    flow = chain(("source", Source()), ("counter", Counter()), ("collect", collect), max_workers=4)
    try:
        first = flow.execute("source", {"n": 3})
        second = flow.execute("source", {"n": 2})
    finally:
        flow.shutdown()
    assert (first.status, second.status) == ("completed", "completed")
    counts = [m["count"] for m in collect.got]
    assert sorted(counts[:3]) == [1, 2, 3]  # One actor, its count kept between deliveries.
    assert sorted(counts[3:]) == [1, 2]  # A new job, a new actor: the count starts again.
    assert len({m["pid"] for m in collect.got[:3]}) == 1


@pytest.mark.parametrize(
    ("policy", "status"),
    [
        (ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=2, retry_delay=0.01), "completed"),
        (ErrorHandler(strategy=ErrorStrategy.STOP), "failed"),
    ],
    ids=["retry", "stop"],
)
@pytest.mark.parametrize("actor", [False, True], ids=["task", "actor"])
def test_a_ray_worker_killed_mid_handler_fails_its_delivery_under_its_policy(
    policy: ErrorHandler, status: str, actor: bool, tmp_path: Path
) -> None:
    killer, sink = KillsItsWorker(), Sink()
    killer.marker = str(tmp_path / "killed")
    killer.set_ray_actor(actor)
    killer.set_error_handler(policy)
    flow = chain(("source", Source()), ("killer", killer), ("sink", sink))
    try:
        job = flow.execute("source", {"n": 1})
    finally:
        flow.shutdown()
    assert (tmp_path / "killed").read_text().isdigit()  # The first attempt killed its process.
    assert job.status == status, job.error
    assert job.errors[0].error_type in {"WorkerCrashedError", "ActorDiedError", "RayActorError"}
    assert sink.seen == ([0] if status == "completed" else [])


def test_a_durable_job_on_sqlite_runs_under_the_ray_strategy(tmp_path: Path) -> None:
    from routilux.stores import SqliteStore

    store = SqliteStore(tmp_path / "jobs.db")
    sink = Sink()
    flow = chain(("source", Source()), ("sink", sink), store=store)
    try:
        job = flow.execute("source", {"n": 3})
        stored = store.load_job(job.job_id)
    finally:
        flow.shutdown()
        store.close()
    assert job.status == "completed"
    assert stored.document["status"] == "completed"
    assert sorted(job.job_values("sink")["got"]) == [0, 1, 2]
    assert stored.deliveries == 4


@pytest.mark.parametrize("actor", [False, True], ids=["task", "actor"])
def test_a_handler_past_its_routine_timeout_fails_with_handler_timeout_error(actor: bool) -> None:
    sleeper = Sleeper()
    sleeper.seconds = 60.0
    sleeper.set_timeout(0.5)
    sleeper.set_ray_actor(actor)
    flow = Flow(execution_strategy="ray")
    flow.add_routine(sleeper, "sleeper")
    try:
        job = flow.execute("sleeper", {}, entry_slot="in")
    finally:
        flow.shutdown()
    assert job.status == "failed"
    assert [e.error_type for e in job.errors] == ["HandlerTimeoutError"]


def test_a_routine_class_ray_workers_cannot_import_fails_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere_routines.py").write_text(
        "from routilux import Routine\n\n\n"
        "class Elsewhere(Routine):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        '        self.define_slot("trigger", handler=self.go)\n\n'
        "    def go(self, **_):\n"
        "        pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))  # Here only: not on the workers' path.
    from elsewhere_routines import Elsewhere  # type: ignore[import-not-found]

    flow = Flow(execution_strategy="ray")
    flow.add_routine(Elsewhere(), "elsewhere")
    try:
        job = flow.execute("elsewhere")
    finally:
        flow.shutdown()
    assert job.status == "failed"
    [error] = job.errors
    assert error.error_type == "ExecutionError"
    assert (
        "Routine 'elsewhere' (elsewhere_routines.Elsewhere) cannot be loaded in a Ray worker: "
        "ModuleNotFoundError: No module named 'elsewhere_routines'"
    ) in error.message


def test_the_cluster_this_process_is_connected_to_is_known_by_any_of_its_addresses(
    ray_cluster: Any,
) -> None:
    gcs = str(ray_cluster.get_runtime_context().gcs_address)
    port = gcs.rpartition(":")[2]
    # Ray's own form, the loopback one (Ray connects it as the node's address), by name.
    for address in (gcs, f"127.0.0.1:{port}", f"localhost:{port}", f"ray://{gcs}"):
        sink = Sink()
        flow = chain(("source", Source()), ("sink", sink), ray_address=address)
        try:
            jobs = [flow.execute("source", {"n": 1}) for _ in range(2)]  # Each job connects.
        finally:
            flow.shutdown()
        assert [job.status for job in jobs] == ["completed"] * 2, (address, jobs[0].error)
    other = chain(("source", Source()), ray_address="127.0.0.1:1")
    try:
        with pytest.raises(ExecutionError, match=r"connected to the Ray cluster at .*one cluster"):
            other.execute("source", {"n": 1})
    finally:
        other.shutdown()
