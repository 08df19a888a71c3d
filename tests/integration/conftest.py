"""Fixtures for the concurrency and job-control tests: flows and gates that always clean up.

A test that finds a library bug must fail, not hang, and must not leave
threads behind for the next test. So every flow made through ``make_flow`` is
torn down in a fixed order: first every gate (a ``threading.Event`` a handler
blocks on) is opened, so no handler stays blocked; then every job that has
not ended is cancelled, so ``shutdown(wait=True)`` cannot wait for ever on a
job the engine lost track of; then the flow is shut down, joining its threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from routilux import Flow

#: Seconds to wait for something that should happen at once: generous, so a
#: slow machine never fails a test, yet a deadlock fails it instead of hanging.
PATIENCE = 10.0


class Gates:
    """Events that handlers block on until the test opens them."""

    def __init__(self) -> None:
        self._events: list[threading.Event] = []

    def new(self) -> threading.Event:
        """A closed gate, opened at teardown at the latest."""
        event = threading.Event()
        self._events.append(event)
        return event

    def open_all(self) -> None:
        """Open every gate made so far."""
        for event in self._events:
            event.set()


@pytest.fixture
def gates() -> Iterator[Gates]:
    """Gates for handlers to block on; all are opened at teardown."""
    keeper = Gates()
    yield keeper
    keeper.open_all()


@pytest.fixture
def make_flow(gates: Gates) -> Iterator[Callable[..., Flow]]:
    """Make flows; at teardown, open the gates, cancel unfinished jobs, shut down."""
    flows: list[Flow] = []
    # Threads of flows that other tests made and never shut down are theirs.
    earlier = set(threading.enumerate())

    def make(**kwargs: Any) -> Flow:
        flow = Flow(**kwargs)
        flows.append(flow)
        return flow

    yield make
    gates.open_all()
    for flow in flows:
        for job in flow.get_all_executions():
            if not job.is_finished:
                flow.cancel(job)
        flow.shutdown(wait=True)
    # Threads that shutdown does not join (a handler that overran its routine
    # timeout, workers left by shutdown(wait=False)) end once the gates are
    # open. Waiting for them keeps one test's threads out of the next test's
    # thread checks; the tests that check for leaks look before this runs.
    for thread in threading.enumerate():
        if thread.name.startswith("routilux") and thread not in earlier:
            thread.join(PATIENCE)


class Overlap:
    """Counts how many handler calls run at the same moment, and the peak."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.calls = 0

    def enter(self) -> None:
        """A handler call starts."""
        with self._lock:
            self.now += 1
            self.calls += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        """A handler call ends."""
        with self._lock:
            self.now -= 1


@pytest.fixture
def overlap() -> Overlap:
    """A fresh overlap counter."""
    return Overlap()
