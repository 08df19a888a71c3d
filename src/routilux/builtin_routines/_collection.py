"""What the collecting built-ins (Aggregator, Batcher) share: the size of an open collection."""

from __future__ import annotations

from routilux import Routine

__all__ = ["open_size"]


def open_size(routine: Routine) -> int:
    """How many items the routine's open collection holds, in the running job.

    The collection's items are appended to the job value ``"items"`` and
    counted in ``"size"``, so that adding an item never reads the whole
    list; a collection begun before sizes were kept is counted once.
    """
    size = routine.get_job_value("size")
    if isinstance(size, int) and not isinstance(size, bool):
        return size
    return len(routine.get_job_value("items") or [])
