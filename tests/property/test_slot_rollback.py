"""Random failures and retries: a merge slot ends with each delivered message once.

Whatever fails, however often, and under whichever policy, an ``append``
slot holds exactly the values of the deliveries whose handler succeeded, and
a callable merge slot counted exactly those: a failed attempt leaves nothing.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from routilux import ErrorHandler, Flow, Routine
from routilux.testing import FakeClock


def tally(old: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    counts = dict(old.get("counts", {}))
    counts[message["v"]] = counts.get(message["v"], 0) + 1
    return {"counts": counts, "v": message["v"]}


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out")

    def send(self, values: list[int]) -> None:
        for v in values:
            self.emit("out", v=v)


class Flaky(Routine):
    """Fails the first ``fails[v]`` attempts at ``v``; records each success."""

    def __init__(self, merge: Any, fails: dict[int, int]) -> None:
        super().__init__()
        self.fails = dict(fails)
        self.succeeded: list[int] = []
        self.slot = self.define_slot("input", handler=self.take, merge_strategy=merge)

    def take(self, v: int, **_: Any) -> None:
        if self.fails.get(v, 0) > 0:
            self.fails[v] -= 1
            raise ConnectionError(f"flaky on {v}")
        self.succeeded.append(v)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.integers(0, 9), min_size=1, max_size=25),
    fails=st.dictionaries(st.integers(0, 9), st.integers(0, 4)),
    strategy=st.sampled_from(["retry", "continue", "skip"]),
    max_retries=st.integers(0, 3),
    merge=st.sampled_from(["append", "tally"]),
)
def test_a_merge_slot_keeps_exactly_the_successful_deliveries(
    values: list[int], fails: dict[int, int], strategy: str, max_retries: int, merge: str
) -> None:
    flow = Flow(clock=FakeClock())
    sink = Flaky("append" if merge == "append" else tally, fails)
    sink.set_error_handler(
        ErrorHandler(strategy=strategy, max_retries=max_retries, retry_delay=0.5)
    )
    flow.add_routine(Source(), "source")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "sink", "input")
    job = flow.execute("source", {"values": values})
    # RETRY acts as STOP once a delivery's retries are spent: the job fails.
    stopped = strategy == "retry" and bool(job.dead_letters)
    assert job.status == ("failed" if stopped else "completed")
    data = dict(sink.slot.data)
    if merge == "append":
        assert data.get("v", []) == sink.succeeded
    else:
        assert data.get("counts", {}) == dict(Counter(sink.succeeded))
    # Every message succeeded once, or is a dead letter, or was left pending
    # by the stop; never two of these.
    lost = Counter(values) - Counter(sink.succeeded)
    left = Counter(d.data["v"] for d in job.dead_letters)
    left.update(d.data["v"] for d in job.pending_deliveries)
    assert left == lost
