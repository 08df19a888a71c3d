"""Routines the Ray tests run on the cluster (sent to Ray by value: see conftest.py)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from routilux import Routine


class Source(Routine):
    """Emits ``n`` numbers on ``out``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.go)
        self.define_event("out", ["i"])

    def go(self, n: int = 3, **_: Any) -> None:
        for i in range(n):
            self.emit("out", i=i)


class Flaky(Routine):
    """Fails its first ``fail_times`` deliveries (counted in a public attribute), then passes."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("in", handler=self.take)
        self.define_event("out", ["i"])
        self.calls = 0
        self.fail_times = 0

    def take(self, i: int) -> None:
        self.calls += 1
        self.set_job_value("seen", i)
        self.emit("out", i=i)  # Discarded when the delivery fails.
        if self.calls <= self.fail_times:
            raise ValueError(f"call {self.calls} fails")


class Sink(Routine):
    """Keeps what it receives in a public list, the routine's shared state (one at a time)."""

    def __init__(self) -> None:
        super().__init__()
        self.set_max_concurrency(1)  # Its handler changes the routine's shared state.
        self.define_slot("in", handler=self.take)
        self.seen: list[Any] = []

    def take(self, **message: Any) -> None:
        self.seen.append(message.get("i"))
        self.append_job_value("got", message.get("i"))


class Counter(Routine):
    """An actor routine: a private count, kept by the job's actor between deliveries."""

    ray_actor = True

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("in", handler=self.take)
        self.define_event("out", ["count", "pid"])
        self._count = 0

    def take(self, i: int) -> None:
        self._count += 1
        self.emit("out", count=self._count, pid=os.getpid())


class Collect(Routine):
    """Keeps every message it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.set_max_concurrency(1)  # Its handler changes the routine's shared state.
        self.define_slot("in", handler=self.take)
        self.got: list[dict[str, Any]] = []

    def take(self, **message: Any) -> None:
        self.got.append(message)


class KillsItsWorker(Routine):
    """Kills its own Ray worker process with SIGKILL on its first delivery (a marker file)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("in", handler=self.take)
        self.define_event("out", ["i"])
        self.marker = ""

    def take(self, i: int) -> None:
        marker = Path(self.marker)
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        self.emit("out", i=i)


class Sleeper(Routine):
    """Sleeps ``seconds`` per delivery (longer than its timeout, in the tests)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("in", handler=self.take)
        self.seconds = 0.0

    def take(self, **_: Any) -> None:
        import time

        time.sleep(self.seconds)
