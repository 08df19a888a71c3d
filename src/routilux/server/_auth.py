"""Who may call an endpoint: the API key of a request, its scope and its rate limit.

Every route of the API depends on :func:`needs` with the scope it requires
(``GET`` routes need ``read``; the others ``run``); :data:`PUBLIC` lists the
few paths without a key. A request without a valid key gets 401 with
``WWW-Authenticate: Bearer``; a key of too small a scope, 403; a key over
its rate, 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from fastapi import Request

from routilux.server._problems import ApiError
from routilux.server._service import Service
from routilux.server.keys import Scope, check_key

__all__ = ["PUBLIC", "needs", "service"]

#: Paths anyone may read: the health check and the API's description.
PUBLIC = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


def service(request: Request) -> Service:
    """The app's :class:`Service`."""
    found: Service = request.app.state.service
    return found


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": "Bearer"})


def _client(request: Request, svc: Service, needed: Scope) -> str:
    """Who is calling (a key id, or the client's address without auth)."""
    if not svc.auth:
        return f"addr:{request.client.host if request.client else '?'}"
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("This endpoint needs an API key: send 'Authorization: Bearer <key>'.")
    row = check_key(svc.tables, token.strip())
    if row is None:
        raise _unauthorized("The API key is not valid (unknown or revoked).")
    if not Scope(row.scope).allows(needed):
        raise ApiError(
            403, f"The API key {row.key_id} has scope {row.scope!r}; this needs {needed.value!r}."
        )
    return f"key:{row.key_id}"


def needs(needed: Scope) -> Callable[[Request], None]:
    """A dependency that lets through a request with a key of ``needed`` scope (or more)."""

    def check(request: Request) -> None:
        svc = service(request)
        client = _client(request, svc, needed)
        if svc.limiter is not None:
            wait = svc.limiter.take(client)
            if wait > 0:
                raise ApiError(
                    429,
                    f"Rate limit of {svc.limiter.rate:.3g} requests per second exceeded; "
                    f"retry in {wait:.2f} s.",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )

    check.__name__ = f"needs_{needed.value}"
    return check
