"""(w) Workers on the PostgreSQL job queue: throughput, takeover after SIGKILL, schedules.

Each run starts a throwaway PostgreSQL server (``tests/stores/pg_server.py``:
a Unix socket, ``fsync=off``) and real ``routilux worker`` processes
(``--concurrency 2``) on one database of it. A job is the small flow of
``tests/workers/worker_routines.py``: one delivery to a source that logs
its start and end (not fsynced, except in the kill trials).

* ``w``: 2 workers; ``w-1``: 1 worker; ``w-floor``: Procrastinate's own
  workers (2 processes, concurrency 2) running as many no-op tasks, the
  floor of what the queue itself costs. The timer runs from the first
  submit (all jobs submitted at once, workers already waiting) until the
  store says every job completed; the figure is µs per job, and the
  counts check every job ran exactly once (the handlers' log).
* ``w-kill``: trials of a worker killed with SIGKILL mid-job, with a
  second worker waiting: the job must complete with every delivery ended
  exactly once and at most the in-flight one started twice; the figure is
  the seconds from the kill to the job's completion (mean of the trials).
* ``w-cron``: a ``*/1`` schedule fired by two schedulers on one fake clock
  moved forward an hour in 30-second steps, two workers running the jobs:
  exactly 60 jobs; the figure is the seconds the whole took.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

from bench.measure import Result, Timer, VerificationError, expect

__all__ = ["run_kill_trials", "run_queue_floor", "run_schedule_hour", "run_worker_throughput"]

ROOT = Path(__file__).resolve().parents[2]
PG_SERVER = ROOT / "tests" / "stores" / "pg_server.py"
ROUTINES = ROOT / "tests" / "workers" / "worker_routines.py"
#: Seconds anything may take (a server, a worker's start, a batch of jobs).
PATIENCE = 300.0
POLL = 0.01

_FLOW = """\
schema: routilux.flow
version: 2
flow_id: small
execution_strategy: sequential
max_workers: 3
execution_timeout: null
max_deliveries: 1000000
record_history: true
retain_jobs: 100
error_handler: null
routines:
  source:
    class: worker_routines:Source
    config: {{log: {log}, fsync: {fsync}}}
    slots:
      - {{name: trigger, handler: emit_all, merge_strategy: override}}
    events:
      - {{name: out, params: [tag, n]}}
    error_handler: null
    timeout: null
    max_concurrency: 1
  step:
    class: worker_routines:Step
    config: {{log: {log}, sleep: {sleep}, fsync: {fsync}}}
    slots:
      - {{name: input, handler: take, merge_strategy: override}}
    events: []
    error_handler: null
    timeout: null
    max_concurrency: 1
connections:
  - {{source: source, event: out, target: step, slot: input, param_mapping: null}}
"""

_FLOOR_WORKER = """\
import os, sys
import procrastinate
app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=os.environ["DSN"]))
@app.task(name="noop")
def noop():
    pass
print("ready", flush=True)
app.run_worker(concurrency=2, install_signal_handlers=True, fetch_job_polling_interval=1)
"""


def _load(name: str, path: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class _Site:
    """A database on a throwaway server, a flows directory, and the processes started."""

    server: Any
    dsn: str
    url: str
    work: Path
    procs: list[subprocess.Popen[bytes]]

    @property
    def log(self) -> Path:
        return self.work / "handlers.log"

    def flow(self, *, sleep: float = 0.0, fsync: bool = False) -> Any:
        flows = self.work / "flows"
        flows.mkdir(exist_ok=True)
        shutil.copy(ROUTINES, flows / "worker_routines.py")
        path = flows / "small.yaml"
        text = _FLOW.format(log=self.log, sleep=sleep, fsync=str(fsync).lower())
        path.write_text(text, encoding="utf-8")
        if str(flows) not in sys.path:
            sys.path.insert(0, str(flows))
        from routilux import Flow

        return Flow.from_file(path)

    def start(self, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a process; wait until it prints ``ready``."""
        out = self.work / f"proc{len(self.procs)}.out"
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                args, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )
        self.procs.append(proc)
        _wait(lambda: "ready" in out.read_text(errors="replace"), f"{args[:4]} to start", proc)
        return proc

    def worker(self) -> subprocess.Popen[bytes]:
        src = str(ROOT / "src")
        args = [sys.executable, "-m", "routilux", "worker", "--store", self.url]
        args += ["--flows-dir", str(self.work / "flows"), "--concurrency", "2"]
        args += ["--stalled-seconds", "2"]
        return self.start(args, {"PYTHONPATH": src})

    def count(self, sql: str) -> int:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            return int(conn.execute(sql).fetchone()[0])

    def completed(self) -> int:
        return self.count("SELECT count(*) FROM routilux.jobs WHERE status = 'completed'")

    def lines(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [line.split() for line in self.log.read_text().splitlines() if line]


@contextmanager
def _site() -> Iterator[_Site]:
    pg_server = _load("pg_server", PG_SERVER)
    with (
        pg_server.running_server() as server,
        tempfile.TemporaryDirectory(prefix="routilux-bench-w-") as work,
    ):
        import psycopg

        name = f"w_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        host = quote(str(server.socket_dir), safe="")
        url = f"postgresql://postgres@/{name}?host={host}&port={server.port}"
        site = _Site(server, server.dsn_for(name), url, Path(work), [])
        try:
            yield site
        finally:
            for proc in site.procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(PATIENCE)


def _wait(found: Callable[[], bool], what: str, *procs: subprocess.Popen[bytes]) -> None:
    """Poll until ``found()``; fail past :data:`PATIENCE` or if a process died."""
    deadline = time.monotonic() + PATIENCE
    while not found():
        dead = [p.args for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            raise VerificationError(f"waiting for {what}: " + ("ended" if dead else "timed out"))
        time.sleep(POLL)


def run_worker_throughput(n: int, *, workers: int) -> Result:
    """``n`` one-delivery jobs submitted at once to ``workers`` waiting workers; µs per job."""
    from routilux.stores import PostgresStore

    with _site() as site:
        flow = site.flow()
        procs = [site.worker() for _ in range(workers)]
        with PostgresStore(site.dsn) as store, Timer() as timer:
            for i in range(n):
                flow.submit(params={"tag": f"j{i}", "steps": 0}, store=store)
            _wait(lambda: site.completed() == n, f"{n} jobs", *procs)
        starts = Counter(line[1] for line in site.lines() if line[0] == "start")
    expect("jobs run", len(starts), n)
    expect("jobs run more than once", sum(1 for c in starts.values() if c > 1), 0)
    counts = {"jobs": n, "workers": workers, "completed": n, "ran_twice": 0}
    return Result.per_operation(timer, n, counts, {"jobs_per_s": n / timer.elapsed})


def run_queue_floor(n: int) -> Result:
    """``n`` no-op Procrastinate tasks deferred at once to 2 waiting Procrastinate workers."""
    import procrastinate
    import psycopg
    from procrastinate.schema import SchemaManager

    with _site() as site:
        # The queue's schema in the public schema of its own database: the
        # floor's workers use Procrastinate's defaults.
        with psycopg.connect(site.dsn, autocommit=True) as conn:
            conn.execute(SchemaManager.get_schema())
        env = {"DSN": site.dsn}
        procs = [site.start([sys.executable, "-c", _FLOOR_WORKER], env) for _ in range(2)]
        app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=site.dsn))
        done = "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
        with app.open(), Timer() as timer:
            deferrer = app.configure_task("noop")
            for _ in range(n):
                deferrer.defer()
            _wait(lambda: site.count(done) == n, f"{n} no-op tasks", *procs)
    counts = {"tasks": n, "succeeded": n}
    return Result.per_operation(timer, n, counts, {"tasks_per_s": n / timer.elapsed})


def run_kill_trials(trials: int) -> Result:
    """``trials`` jobs, each of whose worker is SIGKILLed mid-job; seconds to completion after."""
    from routilux.stores import PostgresStore

    takeovers: list[float] = []
    twice_total = 0
    with _site() as site:
        flow = site.flow(sleep=0.05, fsync=True)
        procs = [site.worker(), site.worker()]
        with PostgresStore(site.dsn) as store:
            for trial in range(trials):
                seconds, twice = _kill_trial(site, flow, store, procs, f"k{trial}")
                takeovers.append(seconds)
                twice_total += twice
    mean = sum(takeovers) / len(takeovers)
    counts = {"trials": trials, "completed": trials, "lost": 0}
    # How many trials ran their in-flight delivery again (it varies with where the
    # kill lands): a figure beside the time, not a count every repetition must repeat.
    secondary = {"takeover_max_s": max(takeovers), "ran_twice": float(twice_total)}
    return Result(mean, mean * 1e6, sum(takeovers), trials, counts, secondary)


def _kill_trial(
    site: _Site, flow: Any, store: Any, procs: list[subprocess.Popen[bytes]], tag: str
) -> tuple[float, int]:
    """One trial: kill the worker running a new job; seconds until it completed elsewhere.

    Replaces the killed worker in ``procs`` with a new one.
    """
    before = len(site.lines())
    job_id = flow.submit(params={"tag": tag, "steps": 8}, store=store)

    def mine() -> list[list[str]]:
        return [x for x in site.lines()[before:] if x[1].startswith(job_id)]

    _wait(lambda: sum(x[0] == "end" for x in mine()) >= 3, "two steps", *procs)
    victim = next(p for p in procs if str(p.pid) == mine()[0][4])
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(PATIENCE)
    killed = time.monotonic()
    procs.remove(victim)
    done = lambda: store.load_job(job_id).document["status"] == "completed"  # noqa: E731
    _wait(done, "the takeover", *procs)
    seconds = time.monotonic() - killed
    twice = _check_trial(mine())
    procs.append(site.worker())
    return seconds, twice


def _check_trial(lines: list[list[str]]) -> int:
    """Check one trial's deliveries; return how many started twice (0 or 1).

    Every delivery ended; at most one (the one in flight at the kill)
    started twice, and it alone may have ended twice (its handler ended,
    its checkpoint was not committed).
    """
    starts = Counter(x[1] for x in lines if x[0] == "start")
    ends = Counter(x[1] for x in lines if x[0] == "end")
    expect("deliveries ended", len(ends), 9)
    twice = {d for d, c in starts.items() if c > 1}
    if len(twice) > 1 or any(c > 2 for c in starts.values()):
        raise VerificationError(f"deliveries started more than once: {sorted(twice)}")
    ended_twice = {d for d, c in ends.items() if c > 1}
    if not ended_twice <= twice:
        raise VerificationError(f"deliveries ended twice: {sorted(ended_twice)}")
    return len(twice)


def run_schedule_hour(minutes: int) -> Result:
    """A ``*/1`` schedule, two schedulers on one fake clock moved ``minutes`` on; seconds."""
    from routilux.schedules import Scheduler, add_schedule
    from routilux.stores import PostgresStore
    from routilux.testing import FakeClock

    epoch = 4_000_000_000 - 4_000_000_000 % 3600  # Ahead of the workers' own wall clock.
    with _site() as site:
        flow = site.flow()
        procs = [site.worker(), site.worker()]
        stores = [PostgresStore(site.dsn) for _ in range(2)]
        clock = FakeClock()
        try:
            add_schedule(stores[0], "small", "*/1 * * * *", params={"steps": 0}, start=epoch)
            schedulers = [Scheduler(s, [flow], clock=clock, epoch=epoch) for s in stores]
            fired: list[str] = []
            with Timer() as timer:
                for _ in range(minutes * 2):
                    clock.advance(30)
                    fired += _fire_together(schedulers)
                _wait(lambda: site.completed() == minutes, f"{minutes} jobs", *procs)
        finally:
            for store in stores:
                store.close()
        jobs = site.count("SELECT count(*) FROM routilux.jobs")
    expect("jobs fired", len(fired), minutes)
    expect("jobs in the store", jobs, minutes)
    counts = {"minutes": minutes, "jobs": jobs, "completed": minutes}
    return Result(timer.elapsed, timer.elapsed * 1e6, timer.elapsed, 1, counts)


def _fire_together(schedulers: list[Any]) -> list[str]:
    fired: list[str] = []
    threads = [threading.Thread(target=lambda s=s: fired.extend(s.fire_due())) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    return fired
