"""Describing what a handler raised: its text, its type, its traceback."""

from __future__ import annotations

import traceback

__all__ = [
    "Interrupted",
    "describe_exception",
    "dropped_count",
    "exception_text",
    "format_traceback",
]


class Interrupted(Exception):
    """A KeyboardInterrupt or SystemExit of an async handler, carried out of its task."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(original)
        self.original = original


def dropped_count(count: int) -> str:
    """``"3 pending deliveries dropped"`` (``"1 pending delivery dropped"``)."""
    return f"{count} pending {'delivery' if count == 1 else 'deliveries'} dropped"


def exception_text(exc: BaseException) -> str:
    """``str(exc)``, or a placeholder if that raises (a handler's exception may be odd)."""
    try:
        return str(exc)
    except Exception as failure:
        return f"<str() of the exception raised {type(failure).__name__}>"


def describe_exception(exc: BaseException) -> str:
    """``"ValueError: bad value"``: the exception's type and text."""
    return f"{type(exc).__name__}: {exception_text(exc)}"


def format_traceback(exc: BaseException) -> str:
    """The traceback of ``exc``, as text."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
