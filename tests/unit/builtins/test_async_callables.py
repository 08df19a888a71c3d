"""Built-ins that call a function of their config refuse an ``async def`` one.

Its coroutine would be taken for the result (a condition always true, a
coroutine object as the transformed data) and its code would never run.
"""

from __future__ import annotations

from typing import Any

import pytest

from routilux import DefinitionError
from routilux.builtin_routines import ConditionalRouter, DataTransformer, Filter, RetryHandler


async def never(data: Any) -> bool:
    return False


class AsyncCall:
    async def __call__(self, data: Any) -> bool:
        return False


def plain(data: Any) -> bool:
    return False


def configure(kind: str, function: Any) -> None:
    if kind == "filter":
        Filter().set_config(condition=function)
    elif kind == "router":
        ConditionalRouter().set_config(routes=[("no", function)])
    elif kind == "transformer":
        DataTransformer().set_config(transformations=[function])
    else:
        RetryHandler().set_config(function=function)


KINDS = ["filter", "router", "transformer", "retry"]


@pytest.mark.parametrize("function", [never, AsyncCall()], ids=["async-def", "async-call"])
@pytest.mark.parametrize("kind", KINDS)
def test_an_async_function_is_refused_when_configured(kind: str, function: Any) -> None:
    with pytest.raises(DefinitionError, match="must be a plain function, not the async function"):
        configure(kind, function)


@pytest.mark.parametrize("kind", KINDS)
def test_a_plain_function_is_accepted(kind: str) -> None:
    configure(kind, plain)
