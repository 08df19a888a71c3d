"""Schedules: each tick fires exactly one job, whatever the number of schedulers.

Two schedulers (each with its own connection, in two threads) share one
:class:`~routilux.testing.FakeClock`, moved an hour forward in steps;
two real worker processes run the jobs. The schedule's ticks are in the
future for the workers' own schedulers (which read the wall clock), so
only the test's schedulers fire them.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from worker_helpers import check_once, flow_of, statuses

from routilux import DefinitionError
from routilux.schedules import Schedule, Scheduler, add_schedule, due_ticks, list_schedules
from routilux.stores import PostgresStore, SqliteStore
from routilux.testing import FakeClock

#: A whole hour, far ahead of the wall clock: only the fake clock reaches it.
EPOCH = 4_000_000_000 - 4_000_000_000 % 3600


def _fire_together(schedulers: list[Scheduler]) -> list[str]:
    """Run ``fire_due`` of every scheduler at once, in threads; the ids they fired."""
    fired: list[str] = []
    barrier = threading.Barrier(len(schedulers))

    def fire(scheduler: Scheduler) -> None:
        barrier.wait(30)  # Bounded: both threads start within the timeout.
        fired.extend(scheduler.fire_due())

    threads = [threading.Thread(target=fire, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    return fired


def test_two_workers_run_jobs_submitted_at_once_and_sixty_of_two_schedulers_in_an_hour(
    workers: Any, flows_dir: Any, database: Any, waiter: Callable[..., None]
) -> None:
    flow = flow_of(flows_dir)
    clock = FakeClock()
    stores = [PostgresStore(database.dsn) for _ in range(2)]
    try:
        procs = [workers.start("--concurrency", "2") for _ in range(2)]
        jobs = 60  # Submitted at once: each runs exactly once.
        ids = [flow.submit(params={"tag": f"t{i}"}, store=stores[1]) for i in range(jobs)]
        add_schedule(
            stores[0], "small", "*/1 * * * *", params={"tag": "cron", "steps": 0}, start=EPOCH
        )
        schedulers = [Scheduler(s, [flow], clock=clock, epoch=EPOCH) for s in stores]
        fired: list[str] = []
        for _ in range(120):  # An hour, in steps of 30 s.
            clock.advance(30)
            fired += _fire_together(schedulers)
        assert len(fired) == 60
        assert len(set(fired)) == 60
        total = jobs + 60
        waiter(lambda: statuses(database)["completed"] == total, 120, "all completed", *procs)
        assert statuses(database) == Counter({"completed": total})
        check_once([x for x in flows_dir.lines() if x[2] != "cron"], ids, procs)
        cron_runs = Counter(x[1].split(":")[0] for x in flows_dir.lines() if x[2] == "cron")
        assert set(cron_runs) == set(fired)
        assert set(cron_runs.values()) == {2}  # Its source's start and end, once.
        (schedule,) = list_schedules(stores[0])
        assert schedule.last_tick == EPOCH + 3600
    finally:
        for store in stores:
            store.close()
    with psycopg.connect(database.dsn) as conn:
        ticks = conn.execute("SELECT count(*), min(tick), max(tick) FROM routilux.schedule_ticks")
        assert ticks.fetchone() == (60, EPOCH + 60, EPOCH + 3600)


@pytest.mark.parametrize(("missed", "expected"), [("skip", 1), ("catch-up", 10)])
def test_ticks_missed_while_no_scheduler_ran_follow_the_policy(
    flows_dir: Any, database: Any, missed: str, expected: int
) -> None:
    flow = flow_of(flows_dir)
    clock = FakeClock()
    with PostgresStore(database.dsn) as store:
        add_schedule(store, "small", "*/1 * * * *", missed=missed, start=EPOCH)
        scheduler = Scheduler(store, [flow], clock=clock, epoch=EPOCH)
        clock.advance(10 * 60 + 30)  # Ten ticks pass unseen.
        assert len(scheduler.fire_due()) == expected
        assert scheduler.fire_due() == []
        (schedule,) = list_schedules(store)
        assert schedule.last_tick == EPOCH + 600


def test_due_ticks_of_each_policy() -> None:
    every_5 = Schedule("s", "f", "*/5 * * * *", last_tick=EPOCH)
    assert due_ticks(every_5, EPOCH + 299) == []
    assert due_ticks(every_5, EPOCH + 300) == [EPOCH + 300]
    assert due_ticks(every_5, EPOCH + 1000) == [EPOCH + 900]
    catch_up = Schedule("s", "f", "*/5 * * * *", missed="catch-up", last_tick=EPOCH)
    assert due_ticks(catch_up, EPOCH + 1000) == [EPOCH + 300, EPOCH + 600, EPOCH + 900]


def test_bad_schedules_are_refused_naming_what_is_wrong(database: Any, tmp_path: Any) -> None:
    with PostgresStore(database.dsn) as store:
        with pytest.raises(DefinitionError, match="'every minute' is not a valid cron"):
            add_schedule(store, "small", "every minute")
        with pytest.raises(DefinitionError, match="missed must be one of skip, catch-up"):
            add_schedule(store, "small", "* * * * *", missed="never")
    with (
        SqliteStore(tmp_path / "jobs.db") as sqlite,
        pytest.raises(DefinitionError, match="SqliteStore cannot keep schedules"),
    ):
        add_schedule(sqlite, "small", "* * * * *")
