"""A durable pipeline that the crash tests run in subprocesses and kill with SIGKILL.

Usage::

    python tests/crash/pipeline.py start|resume --store sqlite:PATH|postgres:DSN --log LOG
        [--job JOB_ID] [--n N] [--strategy sequential|concurrent] [--workers W]
        [--sleep SECONDS] [--dead MSG_ID] [--checkpoint-every N] [--lease SECONDS]

The flow is ``source -> parse -> enrich -> sink``. ``source`` emits ``n``
messages with ids ``0..n-1``; ``parse`` has a RETRY policy and fails once,
transiently, on every id in :data:`TRANSIENT` (each of its deliveries fails
at most once across all processes: the failures are remembered in the log);
``enrich`` has a CONTINUE policy and always fails on the id given by
``--dead``, if any (its message becomes a dead letter); ``sink`` takes
every message.

The first line printed is the job id (flushed), so the parent knows it
before it kills the process; the last one is ``status <final status>``.

Every handler appends lines to the LOG file, each flushed and fsynced, so
they survive SIGKILL::

    proc <pid> <mode>                               once, when the process starts
    start <delivery_id> <msg_id> <routine> <pid>    before the handler's work
    end <delivery_id> <msg_id> <routine> <pid>      after it (the handler returns next)
    fail <delivery_id> <msg_id> <routine> <pid>     instead of end, when the handler raises

(``msg_id`` is ``-`` for the source, whose one delivery emits every message.)
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from routilux import ErrorHandler, ErrorStrategy, Flow, Routine
from routilux.stores import JobStore, PostgresStore, SqliteStore

FLOW_ID = "crash-pipeline"
#: Message ids on which ``parse`` fails once (then its retry succeeds).
TRANSIENT = frozenset(range(2, 10_000, 7))
#: The longest a process waits for its job, in seconds (the parent's bound is shorter).
JOB_PATIENCE = 600.0


class TransientError(RuntimeError):
    """A failure that goes away when the delivery is retried."""


class PermanentError(RuntimeError):
    """A failure that never goes away: its message becomes a dead letter."""


class Log:
    """The append-only log of handler runs; every line is fsynced before returning."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8")
        self.failed = self._failed_deliveries()

    def _failed_deliveries(self) -> set[str]:
        """Delivery ids that have already failed once, in this process or an earlier one."""
        with self.path.open(encoding="utf-8") as lines:
            return {line.split()[1] for line in lines if line.startswith("fail ")}

    def write(self, *fields: object) -> None:
        """Append one line and make it durable."""
        line = " ".join(str(f) for f in fields) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())

    def run(self, kind: str, delivery_id: str, msg: object, routine: str) -> None:
        """Record a step of one handler run."""
        self.write(kind, delivery_id, msg, routine, os.getpid())

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._file.close()


class Step(Routine):
    """A routine whose handler logs its runs and takes a little real time."""

    name = "step"

    def __init__(self, log: Log, sleep: float) -> None:
        super().__init__()
        self.log = log
        self.sleep = sleep

    def delivery_id(self) -> str:
        ctx = self.get_execution_context()
        if ctx is None or ctx.delivery_id is None:
            raise RuntimeError("a handler ran outside of a delivery")
        return ctx.delivery_id

    def work(self, msg: object) -> str:
        """Log the start, do the work (sleep); return the delivery id."""
        delivery_id = self.delivery_id()
        self.log.run("start", delivery_id, msg, self.name)
        time.sleep(self.sleep)
        return delivery_id


class Source(Step):
    name = "source"

    def __init__(self, log: Log, sleep: float) -> None:
        super().__init__(log, sleep)
        self.define_slot("trigger", handler=self.emit_all)
        self.define_event("out", ["msg_id"])

    def emit_all(self, n: int) -> None:
        delivery_id = self.work("-")
        for i in range(n):
            self.emit("out", msg_id=i)
        self.log.run("end", delivery_id, "-", self.name)


class Parse(Step):
    """Fails once on each id of :data:`TRANSIENT`; its RETRY policy runs it again."""

    name = "parse"

    def __init__(self, log: Log, sleep: float) -> None:
        super().__init__(log, sleep)
        self.define_slot("input", handler=self.take)
        self.define_event("out", ["msg_id", "value"])
        self.set_error_handler(
            ErrorHandler(
                strategy=ErrorStrategy.RETRY,
                max_retries=3,
                retry_delay=0.005,
                retry_backoff=1.0,
                retryable_exceptions=(TransientError,),
            )
        )

    def take(self, msg_id: int) -> None:
        delivery_id = self.work(msg_id)
        if msg_id in TRANSIENT and delivery_id not in self.log.failed:
            self.log.failed.add(delivery_id)
            self.log.run("fail", delivery_id, msg_id, self.name)
            raise TransientError(f"parse of {msg_id} failed for now")
        self.emit("out", msg_id=msg_id, value=msg_id * 2)
        self.log.run("end", delivery_id, msg_id, self.name)


class Enrich(Step):
    """Always fails on the id ``dead`` (if any); its CONTINUE policy dead-letters it."""

    name = "enrich"

    def __init__(self, log: Log, sleep: float, dead: int | None) -> None:
        super().__init__(log, sleep)
        self.dead = dead
        self.define_slot("input", handler=self.take)
        self.define_event("out", ["msg_id", "value", "tag"])
        self.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))

    def take(self, msg_id: int, value: int) -> None:
        delivery_id = self.work(msg_id)
        if msg_id == self.dead:
            self.log.run("fail", delivery_id, msg_id, self.name)
            raise PermanentError(f"enrich cannot take {msg_id}")
        self.emit("out", msg_id=msg_id, value=value, tag=f"m{msg_id}")
        self.log.run("end", delivery_id, msg_id, self.name)


class Sink(Step):
    name = "sink"

    def __init__(self, log: Log, sleep: float) -> None:
        super().__init__(log, sleep)
        self.define_slot("input", handler=self.take)

    def take(self, msg_id: int, value: int, tag: str) -> None:
        delivery_id = self.work(msg_id)
        if value != msg_id * 2 or tag != f"m{msg_id}":
            raise AssertionError(f"sink got a wrong message: {msg_id}, {value}, {tag}")
        self.log.run("end", delivery_id, msg_id, self.name)


def build_flow(
    log: Log,
    *,
    strategy: str = "sequential",
    workers: int = 3,
    sleep: float = 0.002,
    dead: int | None = None,
    checkpoint_every: int = 1,
    lease_seconds: float = 30.0,
) -> Flow:
    """The pipeline's flow; every process that runs or resumes a job builds the same one."""
    flow = Flow(
        FLOW_ID,
        execution_strategy=strategy,
        max_workers=workers,
        checkpoint_every=checkpoint_every,
        lease_seconds=lease_seconds,
    )
    flow.add_routine(Source(log, sleep), "source")
    flow.add_routine(Parse(log, sleep), "parse")
    flow.add_routine(Enrich(log, sleep, dead), "enrich")
    flow.add_routine(Sink(log, sleep), "sink")
    flow.connect("source", "out", "parse", "input")
    flow.connect("parse", "out", "enrich", "input")
    flow.connect("enrich", "out", "sink", "input")
    return flow


def open_store(spec: str) -> JobStore:
    """The store that ``sqlite:PATH`` or ``postgres:DSN`` names."""
    kind, _, where = spec.partition(":")
    if kind == "sqlite" and where:
        return SqliteStore(where)
    if kind == "postgres" and where:
        return PostgresStore(where)
    raise SystemExit(f"--store must be sqlite:PATH or postgres:DSN, not {spec!r}")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["start", "resume"])
    parser.add_argument("--store", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--job")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--strategy", choices=["sequential", "concurrent"], default="sequential")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=0.002)
    parser.add_argument("--dead", type=int)
    parser.add_argument("--checkpoint-every", type=int, default=1)
    parser.add_argument("--lease", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.mode == "resume" and not args.job:
        parser.error("resume needs --job")
    return args


def _final_status(flow: Flow, store: JobStore, job_id: str) -> tuple[str, str | None]:
    job = flow.get_execution(job_id)
    if job is not None:
        if not job.wait(JOB_PATIENCE):
            return "timeout", f"the job did not end within {JOB_PATIENCE} s"
        return job.status.value, job.error
    document: dict[str, Any] = store.load_job(job_id).document
    return str(document["status"]), document.get("error")


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    log = Log(args.log)
    log.write("proc", os.getpid(), args.mode)
    store = open_store(args.store)
    flow = build_flow(
        log,
        strategy=args.strategy,
        workers=args.workers,
        sleep=args.sleep,
        dead=args.dead,
        checkpoint_every=args.checkpoint_every,
        lease_seconds=args.lease,
    )
    try:
        if args.mode == "start":
            job = flow.start("source", {"n": args.n}, store=store)
            job_id = job.job_id
            print(job_id, flush=True)
        else:
            job_id = args.job
            print(job_id, flush=True)
            flow.resume(job_id, store=store, wait=True)
        status, error = _final_status(flow, store, job_id)
        print(f"status {status}", flush=True)
        if error:
            print(f"error {error}", flush=True)
    finally:
        flow.shutdown(wait=True)
        store.close()
        log.close()
    return 0 if status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
