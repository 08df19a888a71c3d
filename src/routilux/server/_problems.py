"""The errors the service answers with: ``{"error": {"code", "message"}}`` and a status."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["STATUS_CODES", "ApiError", "bad_request", "conflict", "not_found"]

#: The error code of each HTTP status the service answers with.
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "bad_request",
    409: "conflict",
    413: "payload_too_large",
    422: "bad_request",
    429: "too_many_requests",
    500: "internal",
}


class ApiError(Exception):
    """An error answered as JSON: the status, its code and a message for the client."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = STATUS_CODES.get(status, "internal" if status >= 500 else "bad_request")
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, dict[str, str]]:
        """The JSON body."""
        return {"error": {"code": self.code, "message": self.message}}


def not_found(message: str) -> ApiError:
    """404."""
    return ApiError(404, message)


def bad_request(message: str) -> ApiError:
    """400."""
    return ApiError(400, message)


def conflict(message: str) -> ApiError:
    """409."""
    return ApiError(409, message)
