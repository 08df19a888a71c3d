"""Gate and Gates: a routine's concurrency limit, a FIFO backlog, places handed over."""

from __future__ import annotations

import threading

from routilux._engine.gates import Gate, Gates

#: Seconds a thread may take to reach a point the test waits for.
PATIENCE = 10.0


def fixed(limit: int | None) -> Gate[str]:
    return Gate(lambda: limit)


def test_entries_within_the_limit_are_admitted_and_the_next_one_waits() -> None:
    gate = fixed(2)

    assert gate.enter("a")
    assert gate.enter("b")
    assert not gate.enter("c")


def test_no_limit_admits_every_entry() -> None:
    gate = fixed(None)

    assert all(gate.enter(str(i)) for i in range(1_000))
    assert gate.leave() is None


def test_leaving_hands_the_place_to_the_oldest_waiting_entry() -> None:
    gate = fixed(1)
    assert gate.enter("running")
    for name in ("first", "second", "third"):
        assert not gate.enter(name)

    handed = [gate.leave(), gate.leave(), gate.leave()]

    assert handed == ["first", "second", "third"]


def test_a_place_handed_over_stays_taken_and_a_freed_one_is_free() -> None:
    gate = fixed(1)
    gate.enter("running")
    gate.enter("waiting")

    assert gate.leave() == "waiting"  # "waiting" now holds the one place.
    assert not gate.enter("late")
    assert gate.leave() == "late"
    assert gate.leave() is None  # Nothing waits: the place is free again.
    assert gate.enter("next")


def test_the_limit_is_read_at_each_entry() -> None:
    limit = [1]
    gate: Gate[str] = Gate(lambda: limit[0])
    assert gate.enter("a")
    assert not gate.enter("b")

    limit[0] = 3

    assert gate.enter("c")  # Two running ("a", "c"), "b" still waits.
    assert gate.enter("d")
    assert not gate.enter("e")
    assert gate.leave() == "b"


def test_extract_removes_the_picked_waiting_entries_in_order() -> None:
    gate = fixed(1)
    gate.enter("running")
    for name in ("a1", "b1", "a2", "b2"):
        gate.enter(name)

    picked = gate.extract(lambda entry: entry.startswith("a"))

    assert picked == ["a1", "a2"]
    assert [gate.leave(), gate.leave(), gate.leave()] == ["b1", "b2", None]


def test_extract_of_nothing_leaves_the_backlog_alone() -> None:
    gate = fixed(1)
    gate.enter("running")
    gate.enter("waiting")

    assert gate.extract(lambda entry: False) == []
    assert gate.leave() == "waiting"


def test_threads_never_run_more_entries_than_the_limit() -> None:
    limit, threads, per_thread = 3, 8, 200
    gate = fixed(limit)
    lock = threading.Lock()
    running, peak, done = [0], [0], []
    start = threading.Barrier(threads)

    def run(entry: str) -> None:
        # Runs ``entry``, then every entry the gate hands this place to.
        current: str | None = entry
        while current is not None:
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            with lock:
                running[0] -= 1
                done.append(current)
            current = gate.leave()

    def submit(t: int) -> None:
        start.wait(PATIENCE)
        for i in range(per_thread):
            entry = f"{t}:{i}"
            if gate.enter(entry):
                run(entry)

    workers = [threading.Thread(target=submit, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(PATIENCE)
        assert not worker.is_alive(), "a submitting thread hung"

    assert 1 <= peak[0] <= limit
    assert sorted(done) == sorted(f"{t}:{i}" for t in range(threads) for i in range(per_thread))
    assert [gate.enter(name) for name in ("a", "b", "c", "over")] == [True, True, True, False]


def test_threads_entering_at_once_are_admitted_up_to_the_limit_exactly() -> None:
    gate = fixed(3)
    threads = 8
    entered = threading.Barrier(threads + 1)
    admitted: list[str] = []
    lock = threading.Lock()

    def enter(name: str) -> None:
        if gate.enter(name):
            with lock:
                admitted.append(name)
        entered.wait(PATIENCE)

    workers = [threading.Thread(target=enter, args=(str(t),)) for t in range(threads)]
    for worker in workers:
        worker.start()
    entered.wait(PATIENCE)
    for worker in workers:
        worker.join(PATIENCE)

    assert len(admitted) == 3
    waiting = [gate.leave() for _ in range(threads - 3)]
    assert sorted([*admitted, *waiting]) == sorted(str(t) for t in range(threads))
    assert [gate.leave() for _ in range(3)] == [None, None, None]


def test_gates_give_one_gate_per_routine_object() -> None:
    gates: Gates[str] = Gates()
    first, second = object(), object()

    gate = gates.of(first, lambda: 1)

    assert gates.of(first, lambda: 5) is gate  # The first limit sticks with the gate.
    assert gates.of(second, lambda: 1) is not gate
    assert gate.enter("a")
    assert not gate.enter("b")


def test_gates_made_at_once_by_many_threads_are_one_gate() -> None:
    gates: Gates[str] = Gates()
    routine = object()
    start = threading.Barrier(8)
    made: list[Gate[str]] = []
    lock = threading.Lock()

    def make() -> None:
        start.wait(PATIENCE)
        gate = gates.of(routine, lambda: 1)
        with lock:
            made.append(gate)

    workers = [threading.Thread(target=make) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(PATIENCE)

    assert len(made) == 8
    assert all(gate is made[0] for gate in made)


def test_gates_extract_from_every_gate() -> None:
    gates: Gates[str] = Gates()
    routines = (object(), object())  # Kept alive: a gate is keyed by id().
    one, two = gates.of(routines[0], lambda: 1), gates.of(routines[1], lambda: 1)
    for gate, prefix in ((one, "x"), (two, "y")):
        gate.enter(f"{prefix}-running")
        gate.enter(f"{prefix}-job1")
        gate.enter(f"{prefix}-job2")

    picked = gates.extract(lambda entry: entry.endswith("job1"))

    assert sorted(picked) == ["x-job1", "y-job1"]
    assert (one.leave(), two.leave()) == ("x-job2", "y-job2")
