"""Jobs killed with SIGKILL at random moments, resumed until done: nothing lost, nothing redone.

Each job runs ``pipeline.py`` (source -> parse -> enrich -> sink) in a
subprocess on a real store. After a random delay the process is killed;
a new process resumes the job and is killed in turn, until a resume runs it
to ``completed``. Then the handlers' log (every run's ``start`` and ``end``,
fsynced) and the store must show that:

* every message reached the sink, through exactly one delivery per routine;
* a delivery ran again only when its first run was cut by a kill before its
  checkpoint (sequential: it was the last delivery its killed process started;
  any strategy: none of the deliveries it caused had started), and no more
  of them than the kills allow (one per kill, or ``max_workers`` concurrent);
  with ``Flow(checkpoint_every=n)``, a re-run was one of the last ``n``
  deliveries its killed process started, and at most ``n`` ran again per kill;
* the store holds the job ``completed``, no pending delivery, and each
  event exactly once in its history (a re-run's events replace the lost ones).

The delays come from a seeded ``random.Random``: the seed is printed, and
``ROUTILUX_CRASH_SEED=<seed>`` replays the same kill schedule.
"""

from __future__ import annotations

import itertools
import os
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from routilux import JobState

SEED = int(os.environ.get("ROUTILUX_CRASH_SEED", random.SystemRandom().randrange(2**32)))
#: Rounds (processes) one job may take before the test gives up.
MAX_ROUNDS = 30
ROUTINES = ("parse", "enrich", "sink")
DOWNSTREAM = {"source": "parse", "parse": "enrich", "enrich": "sink"}


@dataclass(frozen=True)
class Plan:
    """How to crash jobs of one strategy."""

    strategy: str
    workers: int
    n: int  # messages per job
    sleep: float  # seconds of work per handler run
    kills_per_job: int
    min_kills: int  # kills to land in total before the test stops starting jobs
    max_jobs: int
    max_delay: float  # kill delays are uniform in [0, max_delay] seconds
    checkpoint_every: int = 1


#: Per store: at least 20 kills of the sequential plan, 50 kills in all.
PLANS = {
    # About 1.2 s of work per job: six kills of at most 0.25 s each land mid-job.
    "sequential": Plan("sequential", 1, 100, 0.003, 6, 20, 8, 0.25),
    # About 0.7 s of work per job on three workers.
    "concurrent": Plan("concurrent", 3, 150, 0.003, 5, 10, 6, 0.2),
    # Checkpoints of 10 deliveries: a kill loses up to 10, which run again.
    "sequential-batched": Plan("sequential", 1, 100, 0.003, 6, 10, 5, 0.25, 10),
    "concurrent-batched": Plan("concurrent", 3, 150, 0.003, 5, 10, 6, 0.2, 10),
}


@dataclass
class Run:
    """One run of a handler, from the log."""

    delivery_id: str
    msg: str
    routine: str
    pid: int
    position: int  # index of its start line among all start lines of the log
    outcome: str | None = None  # "end", "fail", or None when its process died first


@dataclass
class CrashedJob:
    """What the test did to one job."""

    job_id: str
    log: Path
    killed: set[int]  # pids killed mid-job
    rounds: int

    @property
    def kills(self) -> int:
        return len(self.killed)


class Failure:
    """Formats assertion messages with what is needed to reproduce a failure."""

    def __init__(self, store: str, plan: Plan, job: CrashedJob) -> None:
        self.header = (
            f"seed={SEED} (rerun with ROUTILUX_CRASH_SEED={SEED}), store={store}, "
            f"strategy={plan.strategy}, job={job.job_id}, kills={job.kills}, log={job.log}"
        )

    def __call__(self, message: str) -> str:
        return f"[{self.header}] {message}"


# -- running -----------------------------------------------------------------------


def crash_one_job(runner: Any, rng: random.Random, plan: Plan, log: Path) -> CrashedJob:
    """Start a job, kill it and its resumes at random moments, resume until it completes."""
    job_id: str | None = None
    killed: set[int] = set()
    for round_number in range(1, MAX_ROUNDS + 1):
        options = {
            "n": plan.n,
            "strategy": plan.strategy,
            "workers": plan.workers,
            "checkpoint-every": plan.checkpoint_every,
        }
        child = runner.spawn(
            "start" if job_id is None else "resume", log, job=job_id, sleep=plan.sleep, **options
        )
        first = child.read_first_line()
        if job_id is None:
            job_id = first
        assert first == job_id, f"seed={SEED}: the pipeline printed {first!r}, not the job id"
        if len(killed) < plan.kills_per_job and child.kill_after(rng.uniform(0, plan.max_delay)):
            killed.add(child.pid)
            continue
        returncode = child.wait()
        assert returncode == 0, f"seed={SEED}: the pipeline failed:\n{child.describe()}"
        assert child.status() == "completed", f"seed={SEED}: {child.describe()}"
        return CrashedJob(job_id, log, killed, round_number)
    raise AssertionError(f"seed={SEED}: job {job_id} did not complete in {MAX_ROUNDS} rounds")


# -- reading the log ---------------------------------------------------------------


def handler_runs(lines: list[list[str]], job_id: str) -> list[Run]:
    """Every handler run of the job, in log order, with how it ended."""
    runs: list[Run] = []
    running: dict[tuple[int, str], Run] = {}
    for fields in lines:
        if fields[0] == "proc":
            continue
        kind, delivery_id, msg, routine, pid_text = fields
        assert delivery_id.startswith(f"{job_id}:"), f"a foreign delivery id in {fields}"
        key = (int(pid_text), delivery_id)
        if kind == "start":
            assert key not in running, f"{delivery_id} started twice at once in process {key[0]}"
            running[key] = Run(delivery_id, msg, routine, key[0], len(runs))
            runs.append(running[key])
        else:
            assert key in running, f"{kind} without a start: {fields}"
            running.pop(key).outcome = kind
    return runs


def repeats(runs: list[Run]) -> list[tuple[Run, Run]]:
    """Pairs of successive runs of one delivery where the later one is not a retry.

    A run that failed in ``parse`` (RETRY) is followed by its retry, the same
    delivery; any other second run is a re-run after a crash.
    """
    by_delivery: defaultdict[str, list[Run]] = defaultdict(list)
    for run in runs:
        by_delivery[run.delivery_id].append(run)
    return [
        (earlier, later)
        for same in by_delivery.values()
        for earlier, later in itertools.pairwise(same)
        if not (earlier.outcome == "fail" and earlier.routine == "parse")
    ]


# -- checking ----------------------------------------------------------------------


def check_unfinished_runs_were_killed(runs: list[Run], job: CrashedJob, fail: Failure) -> None:
    for run in runs:
        if run.outcome is None:
            assert run.pid in job.killed, fail(f"{run} never ended, yet nothing killed it")


def check_every_message_passed_once(
    runs: list[Run], n: int, job: CrashedJob, plan: Plan, fail: Failure
) -> None:
    """Each message ended in every routine, through one delivery per routine.

    With batches, a delivery that a lost batch had caused is made again, under
    a new id, when the resumed job re-runs what caused it: then a message
    reaches a routine through more than one delivery, but all except one of
    them ran only in killed processes. An id never carries two messages.
    """
    deliveries: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    ended: defaultdict[str, set[str]] = defaultdict(set)
    carried: dict[str, tuple[str, str]] = {}
    for run in runs:
        deliveries[run.routine, run.msg].add(run.delivery_id)
        if run.outcome == "end":
            ended[run.routine].add(run.msg)
        what = carried.setdefault(run.delivery_id, (run.routine, run.msg))
        assert what == (run.routine, run.msg), fail(f"{run.delivery_id} carried {what} and {run}")
    assert ended["source"] == {"-"}, fail("the source never ended")
    assert len(deliveries["source", "-"]) == 1, fail(f"sources: {deliveries['source', '-']}")
    expected = {str(i) for i in range(n)}
    pids: defaultdict[str, set[int]] = defaultdict(set)
    for run in runs:
        pids[run.delivery_id].add(run.pid)
    for routine in ROUTINES:
        missing = sorted(expected - ended[routine], key=int)
        assert not missing, fail(f"{routine} never ended for the messages {missing[:20]}")
        for msg in sorted(expected, key=int):
            ids = sorted(deliveries[routine, msg])
            if plan.checkpoint_every == 1:
                assert len(ids) == 1, fail(f"message {msg} reached {routine} through {ids}")
                continue
            survivors = [i for i in ids if not pids[i] <= job.killed]
            assert len(survivors) <= 1, fail(
                f"message {msg} reached {routine} through {ids}, of which {survivors} ran "
                "in processes that were not killed"
            )


def check_repeats_were_cut_by_kills(
    runs: list[Run], job: CrashedJob, plan: Plan, fail: Failure
) -> int:
    """Re-runs only of deliveries a kill cut before their checkpoint; return how many."""
    starts: defaultdict[int, list[int]] = defaultdict(list)
    for run in runs:
        starts[run.pid].append(run.position)
    batch = plan.checkpoint_every
    per_process: Counter[int] = Counter()
    pairs = repeats(runs)
    for earlier, later in pairs:
        per_process[earlier.pid] += 1
        where = f"{earlier} ran again as {later}"
        assert earlier.pid in job.killed, fail(f"{where}, though its process was not killed")
        assert later.pid != earlier.pid, fail(f"{where} in the same process")
        if plan.strategy == "sequential":
            # Runs of its process that started after it (retries are runs too).
            after = [p for p in starts[earlier.pid] if p > earlier.position]
            assert len(after) < batch, fail(
                f"{where}, though {len(after)} later deliveries had started in its process "
                f"(so its checkpoint, of at most {batch} deliveries, was committed)"
            )
        if batch > 1:
            continue  # Deliveries it caused may have started within the same batch.
        caused = [
            run
            for run in runs
            if run.pid == earlier.pid
            and run.position > earlier.position
            and run.routine == DOWNSTREAM.get(earlier.routine)
            and (earlier.routine == "source" or run.msg == earlier.msg)
        ]
        assert not caused, fail(
            f"{where}, though {caused[0]}, which it emitted, had started (so its checkpoint "
            "was committed)"
        )
    most = plan.workers * batch
    for pid, count in per_process.items():
        assert count <= most, fail(
            f"{count} deliveries of process {pid} ran again; at most {most} can be uncommitted"
        )
    assert len(pairs) <= job.kills * most, fail(f"{len(pairs)} re-runs for the kills")
    return len(pairs)


def check_store(store: Any, runs: list[Run], job_id: str, n: int, fail: Failure) -> None:
    """The job is complete in the store, with each event exactly once."""
    stored = store.load_job(job_id)
    assert stored.document["status"] == "completed", fail(f"stored: {stored.document['status']}")
    assert stored.pending == [], fail(f"pending deliveries are left: {stored.pending[:5]}")
    job = JobState.deserialize(stored.document)
    events = Counter(
        (record.routine_id, record.event_name, record.data["msg_id"])
        for record in job.execution_history
    )
    expected = Counter(
        {(routine, "out", i): 1 for routine in ("source", "parse", "enrich") for i in range(n)}
    )
    assert events == expected, fail(
        f"the history has the extra events {sorted(events - expected)[:10]} and lacks "
        f"{sorted(expected - events)[:10]}"
    )
    sink_bound = [r.data for r in job.execution_history if r.routine_id == "enrich"]
    assert all(
        d == {"msg_id": d["msg_id"], "value": 2 * d["msg_id"], "tag": f"m{d['msg_id']}"}
        for d in sink_bound
    ), fail("a sink-bound event carries the wrong data")
    failed = {run.delivery_id for run in runs if run.outcome == "fail"}
    recorded = [error.delivery_id for error in job.errors]
    assert len(recorded) == len(set(recorded)), fail(f"an error recorded twice: {recorded}")
    for error in job.errors:
        assert (error.routine_id, error.error_type, error.action) == (
            "parse",
            "TransientError",
            "retry",
        ), fail(f"an unexpected error: {error}")
        assert error.delivery_id in failed, fail(f"an error of no failed run: {error}")
    letters = store.list_dead_letters(job_id=job_id, include_replayed=True)
    assert letters == [], fail(f"dead letters: {letters}")


# -- the test ----------------------------------------------------------------------


@pytest.mark.timeout(240)
@pytest.mark.parametrize("plan_name", sorted(PLANS))
def test_killed_jobs_resume_with_nothing_lost_or_repeated(
    plan_name: str,
    store_spec: str,
    runner: Any,
    open_store: Callable[[str], Any],
    log_reader: Callable[[Path], list[list[str]]],
    tmp_path: Path,
) -> None:
    plan = PLANS[plan_name]
    kind = store_spec.partition(":")[0]
    rng = random.Random(f"{SEED}:{kind}:{plan_name}")
    print(f"crash seed {SEED} (ROUTILUX_CRASH_SEED={SEED} replays it); store={kind} {plan_name}")
    jobs: list[CrashedJob] = []
    while sum(job.kills for job in jobs) < plan.min_kills and len(jobs) < plan.max_jobs:
        jobs.append(crash_one_job(runner, rng, plan, tmp_path / f"job{len(jobs)}.log"))

    store = open_store(store_spec)
    rerun = 0
    for job in jobs:
        fail = Failure(kind, plan, job)
        runs = handler_runs(log_reader(job.log), job.job_id)
        check_unfinished_runs_were_killed(runs, job, fail)
        check_every_message_passed_once(runs, plan.n, job, plan, fail)
        rerun += check_repeats_were_cut_by_kills(runs, job, plan, fail)
        check_store(store, runs, job.job_id, plan.n, fail)
    kills = sum(job.kills for job in jobs)
    rounds = sum(job.rounds for job in jobs)
    print(
        f"{kind} {plan_name}: {len(jobs)} jobs, {kills} kills, {rounds} processes, {rerun} re-runs"
    )
    assert kills >= plan.min_kills, f"seed={SEED}: only {kills} kills landed mid-job"
