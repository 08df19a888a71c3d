"""Per-key rate limits, the request body limit, and the ASGI layers around the app.

The ASGI layers are plain ASGI middleware (no buffering of responses, so
Server-Sent Events pass through): :class:`BodyLimit` answers 413 before the
app reads a body too large; :class:`CatchAll` answers 500 with a JSON error,
never a traceback; :class:`RequestMetrics` counts requests by route.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from routilux.exceptions import DefinitionError
from routilux.server._metrics import ServerMetrics
from routilux.server._problems import ApiError

__all__ = ["BodyLimit", "CatchAll", "RateLimiter", "RequestMetrics", "parse_rate"]

logger = logging.getLogger("routilux.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def parse_rate(text: str | float | None) -> tuple[float, float] | None:
    """(requests per second, burst) from ``"20/s"``, ``"600/m"``, ``"1000/h"`` or a number.

    The burst is the N of N/period: ``"600/m"`` allows 600 requests at once,
    then 10 a second. ``None``, ``""``, ``"off"``: no limit.

    Raises:
        DefinitionError: Not a rate.
    """
    if text is None or text in ("", "off", "none"):
        return None
    if isinstance(text, (int, float)):
        count, per = float(text), 1
    else:
        match = _RATE.match(text)
        if match is None:
            raise DefinitionError(f"Rate limit {text!r} is not N/s, N/m or N/h (as 20/s).")
        count, per = float(match.group(1)), _PER[match.group(2)]
    if not math.isfinite(count) or count <= 0:
        raise DefinitionError(f"Rate limit {text!r} must be a positive rate.")
    return count / per, count


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """A token bucket per client: ``rate`` tokens a second, up to ``burst`` saved."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def take(self, client: str) -> float:
        """Spend a token of ``client``; return 0, or the seconds until one is available."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                bucket = self._buckets[client] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate


async def send_error(send: Send, error: ApiError) -> None:
    """Answer with ``error`` (the response must not have started)."""
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """413 for a request body over ``limit`` bytes, before the app reads it.

    A declared ``Content-Length`` over the limit is refused at once; a body
    without one (chunked) is read up to the limit, and refused as soon as it
    goes over.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _too_large(self) -> ApiError:
        return ApiError(413, f"The request body is larger than {self.limit} bytes.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.limit:
                await send_error(send, self._too_large())
                return
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.limit:
                await send_error(send, self._too_large())
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


class CatchAll:
    """A 500 with a JSON error for anything the app did not handle (logged with its traceback)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            logger.exception(
                "Unhandled error answering %s %s", scope.get("method"), scope.get("path")
            )
            if scope["type"] == "http" and not started:
                await send_error(send, ApiError(500, "Internal error; see the server's log."))


class RequestMetrics:
    """Counts each HTTP request by route template, method and status, with its latency."""

    def __init__(self, app: ASGIApp, *, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        code = 500

        async def tracked(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - start
            self.metrics.observe_request(template, scope["method"], code, elapsed)
