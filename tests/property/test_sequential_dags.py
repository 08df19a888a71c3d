"""Random DAG flows in the sequential strategy: deterministic, and no message lost or doubled."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routilux import Flow, JobState, Routine, RoutineStats
from routilux.stores import MemoryStore

#: Deliveries a generated flow may need; bigger ones are scaled down, not run.
MAX_MESSAGES = 3000


@dataclass(frozen=True)
class Edge:
    source: int
    target: int
    mapping: dict[str, str] | None


@dataclass(frozen=True)
class Spec:
    """A DAG flow: routine ``i`` emits ``fans[i]`` messages per delivery."""

    fans: tuple[int, ...]
    edges: tuple[Edge, ...]


class Node(Routine):
    """Records what it receives; emits ``fan`` messages derived from it."""

    def __init__(self, index: int, fan: int) -> None:
        super().__init__()
        self.index = index
        self.fan = fan
        self.received: list[dict[str, Any]] = []
        self.define_slot("trigger", handler=self.receive)
        self.define_slot("input", handler=self.receive)
        self.define_event("out", ["v", "hop"])

    def receive(self, **message: Any) -> None:
        self.received.append(message)
        # Derived from the message, so a different delivery order shows in the data.
        digest = hashlib.sha1(repr(sorted(message.items())).encode()).hexdigest()[:10]
        for k in range(self.fan):
            self.emit("out", v=f"n{self.index}#{len(self.received)}:{digest}", hop=k)


MAPPINGS = st.sampled_from(
    [
        None,
        {"v": "v"},
        {"hop": "hop", "v": "v"},
        {"v": "value"},
        {"v": "renamed", "hop": "depth"},
        {"hop": "v", "v": "hop"},
    ]
)


@st.composite
def dag_specs(draw: st.DrawFn) -> Spec:
    n = draw(st.integers(min_value=2, max_value=8))
    fans = tuple(draw(st.integers(min_value=1, max_value=3)) for _ in range(n))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
    edges = tuple(Edge(i, j, draw(MAPPINGS)) for i, j in sorted(chosen))
    return Spec(fans, edges)


def expected_messages(spec: Spec) -> int:
    """How many deliveries the job runs (to keep the examples small)."""
    n = len(spec.fans)
    received = [1] + [0] * (n - 1)
    for i in range(n):
        for edge in spec.edges:
            if edge.source == i:
                received[edge.target] += received[i] * spec.fans[i]
    return sum(received)


def shrink(spec: Spec) -> Spec:
    """Lower fan-outs to 1 until the flow needs at most MAX_MESSAGES deliveries."""
    fans = list(spec.fans)
    while max(fans) > 1 and expected_messages(Spec(tuple(fans), spec.edges)) > MAX_MESSAGES:
        fans[fans.index(max(fans))] -= 1
    return Spec(tuple(fans), spec.edges)


def build(spec: Spec) -> tuple[Flow, list[Node]]:
    flow = Flow()
    nodes = [Node(i, fan) for i, fan in enumerate(spec.fans)]
    for node in nodes:
        flow.add_routine(node, f"r{node.index}")
    for edge in spec.edges:
        flow.connect(f"r{edge.source}", "out", f"r{edge.target}", "input", edge.mapping)
    return flow, nodes


def run(spec: Spec) -> tuple[JobState, list[Node]]:
    flow, nodes = build(spec)
    job = flow.execute("r0", entry_params={"v": "start", "hop": 0})
    return job, nodes


def history_without_timestamps(job: JobState) -> list[tuple[str, str, dict[str, Any]]]:
    return [(r.routine_id, r.event_name, r.data) for r in job.execution_history]


def remap(data: dict[str, Any], mapping: dict[str, str] | None) -> dict[str, Any]:
    if not mapping:
        return dict(data)
    return {mapping.get(k, k): v for k, v in data.items()}


def freeze(message: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(message.items()))


SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@SETTINGS
@given(dag_specs())
def test_a_random_dag_gives_the_same_result_on_every_run(spec: Spec) -> None:
    spec = shrink(spec)
    first_job, first_nodes = run(spec)
    second_job, second_nodes = run(spec)
    assert first_job.status == second_job.status == "completed"
    assert history_without_timestamps(first_job) == history_without_timestamps(second_job)
    assert [n.received for n in first_nodes] == [n.received for n in second_nodes]


@SETTINGS
@given(dag_specs())
def test_every_emitted_message_reaches_each_connected_slot_exactly_once(spec: Spec) -> None:
    spec = shrink(spec)
    job, nodes = run(spec)
    assert job.status == "completed"
    expected: dict[int, Counter[tuple[tuple[str, Any], ...]]] = {n.index: Counter() for n in nodes}
    for record in job.execution_history:
        source = int(record.routine_id[1:])
        for edge in spec.edges:
            if edge.source == source:
                expected[edge.target][freeze(remap(record.data, edge.mapping))] += 1
    expected[0][freeze({"v": "start", "hop": 0})] += 1
    received = {n.index: Counter(freeze(m) for m in n.received) for n in nodes}
    assert received == expected


@SETTINGS
@given(dag_specs())
def test_delivery_counts_match_the_history(spec: Spec) -> None:
    spec = shrink(spec)
    job, nodes = run(spec)
    emitted = Counter(record.routine_id for record in job.execution_history)
    for node in nodes:
        incoming = sum(emitted[f"r{e.source}"] for e in spec.edges if e.target == node.index)
        expected = incoming + (1 if node.index == 0 else 0)
        assert len(node.received) == expected
        assert emitted[f"r{node.index}"] == expected * node.fan
        stats = job.routine_stats(f"r{node.index}")
        assert stats == (RoutineStats(deliveries=expected) if expected else None)
        # Only the entry routine has a state: its status, as routilux 0.10 wrote it.
        state = job.get_routine_state(f"r{node.index}")
        assert state == ({"status": "completed"} if node.index == 0 else None)


def stored(spec: Spec, checkpoint_every: int) -> dict[str, Any]:
    """Run ``spec`` on a MemoryStore; what the store holds of the job, timestamps left out."""
    flow, _ = build(spec)
    store = MemoryStore()
    flow.store = store
    flow.checkpoint_every = checkpoint_every
    job = flow.execute("r0", entry_params={"v": "start", "hop": 0})
    assert job.status == "completed"
    kept = store.load_job(job.job_id)
    loaded = JobState.deserialize(kept.document)
    return {
        "status": kept.document["status"],
        "pending": kept.pending,
        "deliveries": kept.deliveries,
        "history": history_without_timestamps(loaded),
        "routine_states": kept.document["routine_states"],
        "routine_stats": kept.document["routine_stats"],
    }


@SETTINGS
@given(dag_specs(), st.integers(min_value=2, max_value=40))
def test_batched_checkpoints_store_what_a_checkpoint_per_delivery_stores(
    spec: Spec, every: int
) -> None:
    spec = shrink(spec)
    assert stored(spec, every) == stored(spec, 1)
