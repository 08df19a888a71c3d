"""Routines of the flow files the worker tests write; each run is logged, fsynced.

The tests copy this module next to their flow files (the worker imports it
from the flows directory). Every handler appends one line per start and
end to the file named by its ``log`` config, fsynced (unless ``fsync: false``)
so that it survives SIGKILL::

    start <delivery_id> <job_tag> <routine_id> <pid>
    end <delivery_id> <job_tag> <routine_id> <pid>

With ``say: true`` in its config, a handler also logs each line at INFO with
:mod:`logging`, to logger ``worker_plain``, which has no level of its own.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from routilux import Routine


class Logged(Routine):
    """A routine whose handler logs its runs and takes ``sleep`` seconds."""

    def write(self, kind: str, tag: object) -> None:
        """Append one fsynced line to the log."""
        if self.get_config("say", False):
            logging.getLogger("worker_plain").info("%s %s", kind, tag)
        log = self.get_config("log")
        if not log:
            return
        context = self.get_execution_context()
        line = f"{kind} {context.delivery_id} {tag} {context.routine_id} {os.getpid()}\n"
        with Path(log).open("a", encoding="utf-8") as out:
            out.write(line)
            if self.get_config("fsync", True):
                out.flush()
                os.fsync(out.fileno())


class Source(Logged):
    """Emits ``steps`` messages, each carrying the job's tag."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.emit_all)
        self.define_event("out", ["tag", "n"])

    def emit_all(self, tag: str = "-", steps: int = 1, **_: object) -> None:
        self.write("start", tag)
        for n in range(int(steps)):
            self.emit("out", tag=tag, n=n)
        self.write("end", tag)


class Step(Logged):
    """Takes ``sleep`` seconds per message."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)

    def take(self, tag: str = "-", n: int = 0, **_: object) -> None:
        self.write("start", tag)
        time.sleep(float(self.get_config("sleep", 0.0)))
        self.write("end", tag)
