"""Error strategies and the per-routine error policy."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from routilux.exceptions import DefinitionError

__all__ = ["ErrorHandler", "ErrorStrategy"]


class ErrorStrategy(str, Enum):
    """What a job does when a handler raises.

    Attributes:
        STOP: The job ends ``failed``; its remaining deliveries are dropped.
        CONTINUE: The error is recorded and the job goes on; the failing
            delivery emits nothing.
        SKIP: The routine is marked skipped for that delivery, the error is
            recorded, and the job goes on.
        RETRY: The same delivery runs again, up to ``max_retries`` times, with
            a backoff delay; when the budget is spent, a critical routine fails
            the job and any other routine records the error and goes on.
    """

    STOP = "stop"
    CONTINUE = "continue"
    SKIP = "skip"
    RETRY = "retry"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class ErrorHandler:
    """The error policy of a routine, or of a whole flow.

    Args:
        strategy: What to do when a handler raises.
        max_retries: How many times ``RETRY`` runs a failed delivery again.
        retry_delay: Seconds before the first retry.
        retry_backoff: Factor applied to the delay for each further retry:
            retry ``n`` waits ``retry_delay * retry_backoff ** (n - 1)``.
        retryable_exceptions: Exception types that ``RETRY`` retries; others
            count as an exhausted budget at once.
        is_critical: Whether an exhausted ``RETRY`` budget fails the job.

    Raises:
        DefinitionError: A value is out of range or of the wrong type.
    """

    strategy: ErrorStrategy = ErrorStrategy.STOP
    max_retries: int = 3
    retry_delay: float = 1.0
    retry_backoff: float = 2.0
    retryable_exceptions: tuple[type[BaseException], ...] = field(default=(Exception,))
    is_critical: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "strategy", ErrorStrategy(self.strategy))
        except ValueError:
            names = ", ".join(s.value for s in ErrorStrategy)
            raise DefinitionError(
                f"ErrorHandler strategy {self.strategy!r} is unknown; use one of: {names}."
            ) from None
        _check_number("max_retries", self.max_retries, integer=True)
        _check_number("retry_delay", self.retry_delay)
        _check_number("retry_backoff", self.retry_backoff)
        exceptions: Any = self.retryable_exceptions
        if isinstance(exceptions, type):
            exceptions = (exceptions,)
        exceptions = tuple(exceptions)
        if not exceptions or not all(
            isinstance(e, type) and issubclass(e, BaseException) for e in exceptions
        ):
            raise DefinitionError(
                "ErrorHandler retryable_exceptions must be a non-empty tuple of exception "
                f"types, not {self.retryable_exceptions!r}."
            )
        object.__setattr__(self, "retryable_exceptions", exceptions)
        if not isinstance(self.is_critical, bool):
            raise DefinitionError(
                f"ErrorHandler is_critical must be True or False, not {self.is_critical!r}."
            )

    def retry_delay_for(self, retry_number: int) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based)."""
        return float(self.retry_delay * self.retry_backoff ** (retry_number - 1))

    def will_retry(self, exc: BaseException, failed_attempt: int) -> bool:
        """Whether a delivery whose attempt ``failed_attempt`` raised ``exc`` runs again."""
        return (
            self.strategy is ErrorStrategy.RETRY
            and failed_attempt <= self.max_retries
            and isinstance(exc, self.retryable_exceptions)
        )


def _check_number(name: str, value: object, *, integer: bool = False) -> None:
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    if not ok or value < 0 or (isinstance(value, float) and not math.isfinite(value)):  # type: ignore[operator]
        kind = "a non-negative integer" if integer else "a non-negative finite number"
        raise DefinitionError(f"ErrorHandler {name} must be {kind}, not {value!r}.")
