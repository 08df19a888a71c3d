"""One owner per durable job, within a process: claims, fencing and leases on a real SQLite file.

The races between processes are in ``tests/crash``; here the owner is a flow
of this process, and the rival is another flow, or the store itself, used
as another process would use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from routilux import (
    DefinitionError,
    Flow,
    JobOwnedError,
    JobStatus,
    OwnershipLostError,
    Routine,
)
from routilux.stores import MemoryStore, SqliteStore, process_owner

PATIENCE = 10.0
STRATEGIES = ["sequential", "concurrent"]
#: How often :func:`wait_until` reads the store again.
POLL = 0.01


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.emit_all)
        self.define_event("out", ["i"])

    def emit_all(self, n: int) -> None:
        for i in range(n):
            self.emit("out", i=i)


class Gate(Routine):
    """Takes messages; the one numbered ``hold`` (in config) waits for ``released``.

    The one numbered ``interrupt`` raises KeyboardInterrupt (as Ctrl-C would).
    """

    started: list[int]
    entered: threading.Event
    released: threading.Event

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)
        self.started = []
        self.entered = threading.Event()
        self.released = threading.Event()

    def take(self, i: int) -> None:
        if i == self.get_config("interrupt", -1):
            raise KeyboardInterrupt
        self.started.append(i)
        if i == self.get_config("hold", -1):
            self.entered.set()
            assert self.released.wait(PATIENCE)


def make_flow(store: Any, strategy: str = "sequential", **options: Any) -> Flow:
    flow = Flow(execution_strategy=strategy, store=store, max_workers=1, **options)
    flow.add_routine(Source(), "source")
    gate = Gate()
    flow.add_routine(gate, "gate")
    flow.connect("source", "out", "gate", "input")
    return flow


def gate_of(flow: Flow) -> Gate:
    gate = flow.routines["gate"]
    assert isinstance(gate, Gate)
    return gate


class RenewalsStore(SqliteStore):
    """A SqliteStore that tells when, and how often, a lease was renewed."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.renewals = 0
        self.last_renewal = 0.0
        self._renewed = threading.Condition()

    def renew_lease(self, job_id: str, *, claim: int, lease: float) -> None:
        super().renew_lease(job_id, claim=claim, lease=lease)
        with self._renewed:
            self.renewals += 1
            self.last_renewal = time.time()
            self._renewed.notify_all()

    def wait_for_renewal_after(self, moment: float) -> None:
        """Wait until a renewal ends after ``moment`` (seconds since the epoch)."""
        with self._renewed:
            renewed = self._renewed.wait_for(lambda: self.last_renewal > moment, PATIENCE)
        assert renewed, f"no lease renewal after {moment} (last: {self.last_renewal})"


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Read the store until ``condition`` holds: a lease runs out on the store's clock only."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"still not {what} after {PATIENCE} s"
        time.sleep(POLL)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with RenewalsStore(tmp_path / "jobs.db") as opened:
        yield opened


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_claim_taken_by_another_process_stops_the_run_before_its_next_handler(
    store: SqliteStore, strategy: str
) -> None:
    flow = make_flow(store, strategy)
    gate = gate_of(flow)
    gate.set_config(hold=2)
    try:
        job = flow.start("source", {"n": 6})
        assert gate.entered.wait(PATIENCE)
        before = store.load_job(job.job_id)
        # Another process, whose word is that this one is gone, claims the job.
        store.claim_job(job.job_id, owner="other:1", expected_claim=before.claim, lease=30)
        gate.released.set()
        assert job.wait(PATIENCE)
    finally:
        gate.released.set()
        flow.shutdown(wait=True)

    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.startswith("OwnershipLostError: ")
    assert "other:1 has claimed the job since (claim 2)" in job.error
    assert gate.started == [0, 1, 2]  # No handler after the refused write.
    after = store.load_job(job.job_id)
    assert (after.owner, after.claim) == ("other:1", 2)
    assert (after.pending, after.next_seq, after.deliveries) == (
        before.pending,
        before.next_seq,
        before.deliveries,
    )
    assert after.document == before.document  # Nothing of the old run written since.


def test_a_paused_job_whose_claim_is_taken_ends_at_its_next_lease_renewal(
    store: SqliteStore,
) -> None:
    flow = make_flow(store, lease_seconds=0.6)
    gate = gate_of(flow)
    gate.set_config(hold=1)
    try:
        job = flow.start("source", {"n": 3})
        assert gate.entered.wait(PATIENCE)
        pausing = threading.Thread(target=flow.pause, args=(job,))
        pausing.start()
        gate.released.set()
        pausing.join(PATIENCE)
        assert job.status is JobStatus.PAUSED
        claim = store.load_job(job.job_id).claim
        store.claim_job(job.job_id, owner="other:1", expected_claim=claim, lease=30)
        # The lease thread renews a third of the lease from its last renewal.
        assert job.wait(PATIENCE), "the paused job did not notice it lost the claim"
        with pytest.raises(JobOwnedError, match="running in process other:1"):
            flow.resume(job)
    finally:
        gate.released.set()
        flow.shutdown(wait=True)

    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert "OwnershipLostError" in job.error
    assert store.load_job(job.job_id).document["status"] == "paused"  # Left to its owner.


def test_a_running_job_keeps_its_lease_alive_past_its_length(store: RenewalsStore) -> None:
    flow = make_flow(store, lease_seconds=0.5)
    gate = gate_of(flow)
    gate.set_config(hold=0)
    try:
        job = flow.start("source", {"n": 2})
        assert gate.entered.wait(PATIENCE)
        first = store.load_job(job.job_id).lease_expires_at
        assert first is not None
        # Renewed in the background, until three lease lengths after the start.
        store.wait_for_renewal_after(first + 1.0)
        stored = store.load_job(job.job_id)
        gate.released.set()
        assert job.wait(PATIENCE)
    finally:
        gate.released.set()
        flow.shutdown(wait=True)

    assert stored.lease_live
    assert (stored.owner, stored.claim) == (process_owner(), 1)
    assert job.status is JobStatus.COMPLETED


def test_another_flow_of_this_process_cannot_resume_a_job_this_one_holds(
    store: SqliteStore,
) -> None:
    owner = make_flow(store)
    rival = make_flow(store)
    gate = gate_of(owner)
    gate.set_config(hold=1)
    try:
        job = owner.start("source", {"n": 3})
        assert gate.entered.wait(PATIENCE)
        with pytest.raises(JobOwnedError, match=r"\(a flow of this process\): its lease expires"):
            rival.resume(job.job_id)
        gate.released.set()
        assert job.wait(PATIENCE)
    finally:
        gate.released.set()
        owner.shutdown(wait=True)
        rival.shutdown(wait=True)

    assert job.status is JobStatus.COMPLETED
    assert rival.get_execution(job.job_id) is None
    assert gate_of(rival).started == []


def test_an_interrupted_job_gives_its_lease_up_so_another_flow_resumes_it_at_once(
    store: SqliteStore,
) -> None:
    owner = make_flow(store)
    gate_of(owner).set_config(interrupt=1)
    with pytest.raises(KeyboardInterrupt):
        owner.execute("source", {"n": 3})
    (job_id,) = [s.job_id for s in store.list_jobs()]
    stored = store.load_job(job_id)
    rival = make_flow(store)
    try:
        assert rival.resume(job_id, wait=True)
        resumed = rival.get_execution(job_id)
    finally:
        owner.shutdown(wait=True)
        rival.shutdown(wait=True)

    assert stored.document["status"] == "running"
    assert not stored.lease_live
    assert resumed is not None
    assert resumed.status is JobStatus.COMPLETED
    assert gate_of(rival).started == [1, 2]
    assert store.load_job(job_id).claim == 2


def test_a_resume_of_a_job_with_a_live_lease_on_another_host_is_refused(
    store: SqliteStore,
) -> None:
    flow = make_flow(store)
    gate = gate_of(flow)
    gate.set_config(hold=0)
    try:
        job = flow.start("source", {"n": 1})
        assert gate.entered.wait(PATIENCE)
        # A process of another machine takes the job over (on someone's word).
        claim = store.load_job(job.job_id).claim
        store.claim_job(job.job_id, owner="elsewhere:42", expected_claim=claim, lease=30)
        rival = make_flow(store)
        with pytest.raises(JobOwnedError) as refused:
            rival.resume(job.job_id)
        gate.released.set()
        assert job.wait(PATIENCE)
    finally:
        gate.released.set()
        flow.shutdown(wait=True)
        rival.shutdown(wait=True)

    message = str(refused.value)
    assert "still running in process elsewhere:42: its lease expires in" in message
    assert refused.value.owner == "elsewhere:42"
    assert refused.value.lease_expires_at is not None
    assert job.status is JobStatus.FAILED
    assert isinstance(job.error, str)
    assert job.error.startswith(OwnershipLostError.__name__)


@pytest.mark.parametrize("bad", [0, 0.1, -1, float("nan"), float("inf"), 86_401, "30", True])
def test_a_bad_lease_length_is_refused(bad: object) -> None:
    with pytest.raises(DefinitionError, match="lease_seconds must be a number of seconds"):
        Flow(lease_seconds=bad)  # type: ignore[arg-type]


def test_a_paused_job_resumed_after_shutdown_renews_its_lease_again(
    store: RenewalsStore,
) -> None:
    flow = make_flow(store, lease_seconds=0.5)
    gate = gate_of(flow)
    gate.set_config(hold=1)
    try:
        job = flow.start("source", {"n": 4})
        assert gate.entered.wait(PATIENCE)
        pausing = threading.Thread(target=flow.pause, args=(job,))
        pausing.start()
        gate.released.set()
        pausing.join(PATIENCE)
        flow.shutdown(wait=True)  # Paused jobs stay paused; nothing renews their leases.
        renewals = store.renewals
        wait_until(lambda: not store.load_job(job.job_id).lease_live, "expired")
        expired = store.load_job(job.job_id)
        assert store.renewals == renewals
        gate.entered.clear()
        gate.released.clear()
        gate.set_config(hold=3)
        assert flow.resume(job)
        assert gate.entered.wait(PATIENCE)
        first = store.load_job(job.job_id).lease_expires_at
        assert first is not None
        store.wait_for_renewal_after(first + 0.5)  # More than twice the lease from the resume.
        held = store.load_job(job.job_id)
        gate.released.set()
        assert job.wait(PATIENCE)
    finally:
        gate.released.set()
        flow.shutdown(wait=True)

    assert not expired.lease_live
    assert held.lease_live
    assert (held.owner, held.claim) == (process_owner(), 1)
    assert job.status is JobStatus.COMPLETED, job.error
    assert gate.started == [0, 1, 2, 3]


class Thief(Routine):
    """Its handler lets another process claim the job (through the store, as it would)."""

    def __init__(self, store: Any) -> None:
        super().__init__()
        self.store = store
        self.define_slot("trigger", handler=self.take)

    def take(self) -> None:
        ctx = self.get_execution_context()
        assert ctx is not None
        job_id = ctx.job_state.job_id
        claim = self.store.load_job(job_id).claim
        self.store.claim_job(job_id, owner="other:1", expected_claim=claim, lease=30)


@pytest.mark.parametrize("every", [1, 10])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_job_whose_last_write_is_refused_ends_failed_not_completed(
    store: SqliteStore, strategy: str, every: int
) -> None:
    flow = Flow(execution_strategy=strategy, store=store, checkpoint_every=every)
    flow.add_routine(Thief(store), "thief")
    try:
        job = flow.execute("thief")
        with pytest.raises(JobOwnedError, match="running in process other:1"):
            flow.resume(job.job_id)
    finally:
        flow.shutdown(wait=True)

    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.startswith("OwnershipLostError: ")
    stored = store.load_job(job.job_id)
    assert (stored.document["status"], stored.owner) == ("running", "other:1")


class LateOwnerStore(MemoryStore):
    """A store where, just before a claim, the job's old owner commits its last work."""

    before_claim: Any = None
    renewals = True

    def renew_lease(self, job_id: str, *, claim: int, lease: float) -> None:
        if self.renewals:  # Off: the old owner is stopped, its lease runs out.
            super().renew_lease(job_id, claim=claim, lease=lease)

    def claim_job(self, job_id: str, **options: Any) -> int:
        if self.before_claim is not None:
            self.before_claim()
        return super().claim_job(job_id, **options)


def test_a_resume_reads_the_job_again_once_it_holds_the_claim() -> None:
    store = LateOwnerStore()
    store.renewals = False
    old = make_flow(store, lease_seconds=0.5)
    gate = gate_of(old)
    gate.set_config(hold=0)
    new = make_flow(store)
    try:
        job = old.start("source", {"n": 2})
        assert gate.entered.wait(PATIENCE)
        wait_until(lambda: not store.load_job(job.job_id).lease_live, "expired")

        def old_owner_finishes() -> None:
            store.before_claim = None
            gate.released.set()
            assert job.wait(PATIENCE)

        store.before_claim = old_owner_finishes
        resumed = new.resume(job.job_id, wait=True)
    finally:
        gate.released.set()
        old.shutdown(wait=True)
        new.shutdown(wait=True)

    assert job.status is JobStatus.COMPLETED
    assert not resumed  # It had ended by the time the claim was held.
    assert gate_of(new).started == []  # Nothing ran twice.
    assert store.load_job(job.job_id).document["status"] == "completed"
