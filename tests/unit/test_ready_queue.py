"""The sequential strategy's ready queue: deliveries kept flat, first in first out."""

from __future__ import annotations

import gc
from typing import Any

from routilux._engine.sequential import ReadyQueue


def item(seq: int) -> tuple[Any, dict[str, Any], int, int, int]:
    # Any object stands for the target: the queue never looks inside.
    return (f"target-{seq}", {"i": seq}, seq, 1, seq % 7)


def test_items_come_back_whole_and_in_order() -> None:
    queue = ReadyQueue()
    queue.append(item(1))
    queue.extend([item(2), item(3)])
    assert len(queue) == 3
    assert queue
    assert queue.first() == item(1)
    assert list(queue) == [item(1), item(2), item(3)]


def test_an_empty_queue_is_false_and_has_no_items() -> None:
    queue = ReadyQueue()
    assert not queue
    assert len(queue) == 0
    assert list(queue) == []
    queue.append(item(1))
    queue.clear()
    assert not queue
    assert list(queue) == []


def test_remove_seq_drops_only_that_delivery() -> None:
    queue = ReadyQueue()
    queue.extend([item(1), item(2), item(3)])
    assert queue.remove_seq(2)
    assert list(queue) == [item(1), item(3)]
    assert not queue.remove_seq(2)
    assert list(queue) == [item(1), item(3)]


def test_the_queue_holds_no_tuple_per_delivery() -> None:
    # Kept tuples that hold a message dict stay tracked by the garbage
    # collector forever; the queue keeps the five fields instead.
    queue = ReadyQueue()
    queue.extend(item(seq) for seq in range(100))
    assert len(queue.flat) == 500
    assert not any(type(entry) is tuple for entry in gc.get_referents(queue.flat))
    assert list(queue) == [item(seq) for seq in range(100)]
