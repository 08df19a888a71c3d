"""Checks of the functions a built-in routine's config holds."""

from __future__ import annotations

import inspect
from typing import Any

from routilux.exceptions import DefinitionError

__all__ = ["refuse_async"]


def refuse_async(function: Any, what: str) -> None:
    """Refuse an ``async def`` function (or an object with an async ``__call__``).

    A built-in calls the functions of its config and uses what they return
    at once: a coroutine would be taken for the result (always true as a
    condition), and its code would never run.

    Args:
        function: The callable from the config.
        what: Names it in the message (``"Filter condition"``).

    Raises:
        DefinitionError: It is a coroutine function or an async generator function.
    """
    call = getattr(function, "__call__", None)  # noqa: B004 - an object with an async __call__
    for candidate in (function, call):
        if inspect.iscoroutinefunction(candidate) or inspect.isasyncgenfunction(candidate):
            name = getattr(function, "__qualname__", type(function).__name__)
            raise DefinitionError(
                f"{what} must be a plain function, not the async function {name}: its "
                "result is used at once, and a coroutine would be taken for it. Make it a "
                "plain def, or do the awaiting in an async handler of your own routine."
            )
