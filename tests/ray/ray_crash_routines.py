"""Routines of the flow file the Ray crash test writes; each handler run is logged, fsynced.

The test copies this module next to its flow file: the ``routilux``
commands import it from there, and so do Ray's workers (Ray puts the
driver's working directory on their path). A handler runs on a Ray
worker, where the job's context stays on the driver, so each line names
the Ray job (one per driver process) instead of the delivery::

    start <routine> <msg_id> <ray_job_id> <pid>
    end <routine> <msg_id> <ray_job_id> <pid>

Each line is flushed and fsynced, so it survives the kill of its process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import ray
from routilux import Routine


class Logged(Routine):
    """A routine whose handler logs its runs and takes ``sleep`` seconds."""

    def write(self, kind: str, msg: object) -> None:
        """Append one fsynced line to the log."""
        job = ray.get_runtime_context().get_job_id()
        line = f"{kind} {self.get_config('name')} {msg} {job} {os.getpid()}\n"
        with Path(self.get_config("log")).open("a", encoding="utf-8") as log:
            log.write(line)
            log.flush()
            os.fsync(log.fileno())

    def work(self, msg: object) -> None:
        """Log the start and take a little real time."""
        self.write("start", msg)
        time.sleep(float(self.get_config("sleep", 0.0)))


class Source(Logged):
    """Emits ``n`` messages, ``msg_id`` 0 to n - 1."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.emit_all)
        self.define_event("out", ["msg_id"])

    def emit_all(self, n: int = 5) -> None:
        """Emit the messages."""
        for i in range(n):
            self.emit("out", msg_id=i)


class Step(Logged):
    """Passes each message on, after ``sleep`` seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)
        self.define_event("out", ["msg_id"])

    def take(self, msg_id: int) -> None:
        """Pass the message on."""
        self.work(msg_id)
        self.emit("out", msg_id=msg_id)
        self.write("end", msg_id)


class Sink(Logged):
    """Takes every message."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)

    def take(self, msg_id: int) -> None:
        """Log the message."""
        self.work(msg_id)
        self.write("end", msg_id)
