"""Routines of the flow files the CLI tests write; each run is logged, fsynced.

The tests copy this module next to their flow files, so that the flow
files can name its classes (``cli_routines:Source``) and the subprocesses
running ``routilux`` import it from the flow file's directory.

Every handler appends lines to the file named by its ``log`` config, each
flushed and fsynced so that it survives SIGKILL::

    start <delivery_id> <msg_id> <routine_id> <pid>
    end <delivery_id> <msg_id> <routine_id> <pid>
    fail <delivery_id> <msg_id> <routine_id> <pid>

With ``say: true`` in its config, a handler also logs each line with
:mod:`logging` (logger ``cli_routines``, at INFO, a failure at WARNING), so a
flow with ``keep_logs`` keeps them with its job. With ``say: plain`` it logs
them to logger ``cli_plain`` instead, which has no level of its own (the root
logger's decides which records are made), each after a DEBUG record
``detail <kind> <routine_id> <msg>``.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from routilux import Routine

logger = logging.getLogger("cli_routines")
logger.setLevel(logging.INFO)  # Made even when the root logger is at WARNING (the default).
plain = logging.getLogger("cli_plain")


class Logged(Routine):
    """A routine whose handler logs its runs and takes ``sleep`` seconds."""

    def write(self, kind: str, msg: object) -> None:
        """Append one fsynced line to the log."""
        context = self.get_execution_context()
        line = f"{kind} {context.delivery_id} {msg} {context.routine_id} {os.getpid()}\n"
        with Path(self.get_config("log")).open("a", encoding="utf-8") as log:
            log.write(line)
            log.flush()
            os.fsync(log.fileno())
        say = self.get_config("say", False)
        if say == "plain":
            plain.debug("detail %s %s %s", kind, context.routine_id, msg)
        if say:
            level = logging.WARNING if kind == "fail" else logging.INFO
            (plain if say == "plain" else logger).log(
                level, "%s %s %s", kind, context.routine_id, msg
            )

    def work(self, msg: object) -> None:
        """Log the start and take a little real time."""
        self.write("start", msg)
        time.sleep(float(self.get_config("sleep", 0.0)))

    def failed_before(self, msg: object) -> bool:
        """Whether this routine's handler already failed on ``msg``, in any process."""
        me = self.get_execution_context().routine_id
        path = Path(self.get_config("log"))
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return any(
            parts[0] == "fail" and parts[2] == str(msg) and parts[3] == me
            for parts in (line.split() for line in lines)
        )


class Source(Logged):
    """Emits ``n`` messages, ``msg_id`` 0 to n - 1."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.emit_all)
        self.define_event("out", ["msg_id"])

    def emit_all(self, n: int = 5) -> None:
        """Emit the messages."""
        self.work("-")
        for i in range(n):
            self.emit("out", msg_id=i)
        self.write("end", "-")


class Step(Logged):
    """Passes messages on; fails the first time it sees an id of ``fail_once``,
    and every time on an id of ``fail_always``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)
        self.define_event("out", ["msg_id"])

    def take(self, msg_id: int) -> None:
        """Pass the message on, or fail."""
        self.work(msg_id)
        once = msg_id in self.get_config("fail_once", []) and not self.failed_before(msg_id)
        if once or msg_id in self.get_config("fail_always", []):
            self.write("fail", msg_id)
            raise RuntimeError(f"step cannot take {msg_id}")
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
