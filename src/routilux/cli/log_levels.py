"""The root logger's level while a command runs handlers: low enough to make what is wanted.

A record is made only if its logger's effective level lets it through, and
a flow's ``keep_logs`` keeps only records that were made (see
:class:`routilux.logs.JobLogKeeper`). Python's root logger is at
``WARNING``, so a command that runs handlers lowers it to the lowest level
its flows keep: what is *printed* is left to the handlers' own levels
(Python's last-resort handler prints ``WARNING`` and above only).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager

from routilux import Flow

__all__ = ["kept_logs_made", "records_made_from"]


@contextmanager
def records_made_from(level: int | None) -> Iterator[None]:
    """Lower the root logger to ``level`` while the block runs, if it is below its effective level.

    ``None`` changes nothing. The root logger's own level is restored when
    the block ends.
    """
    root = logging.getLogger()
    previous = root.level
    if level is not None and level < root.getEffectiveLevel():
        root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(previous)


def kept_logs_made(flows: Iterable[Flow]) -> AbstractContextManager[None]:
    """:func:`records_made_from` the lowest ``keep_logs`` level of ``flows`` (none: no change)."""
    levels = [flow.keep_logs for flow in flows if flow.keep_logs is not None]
    return records_made_from(min(levels, default=None))
