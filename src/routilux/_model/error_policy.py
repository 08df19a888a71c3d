"""Error strategies and the per-routine error policy."""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError, dataclass, field
from enum import Enum
from typing import Any

from routilux._model.dual_method import ClassOrInstanceMethod
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
            a backoff delay, for the exceptions in ``retryable_exceptions``.
    """

    STOP = "stop"
    CONTINUE = "continue"
    SKIP = "skip"
    RETRY = "retry"

    def __str__(self) -> str:
        return self.value


def _policy_from_doc(
    cls: type[ErrorHandler], self: ErrorHandler | None, document: dict[str, Any]
) -> ErrorHandler:
    """The policy a :meth:`serialize` document (an ``error_handler`` entry) describes.

    A policy is frozen, so only the class form works:
    ``ErrorHandler.deserialize(d)`` returns a new policy.

    Raises:
        TypeError: Called on a policy (``handler.deserialize(d)``), which
            could not change it.
        SerializationError: The document is malformed or names something
            that is not an exception class.
    """
    if self is not None:
        raise TypeError(
            "An ErrorHandler is frozen: handler.deserialize(d) cannot change it; use "
            "ErrorHandler.deserialize(d), which returns a new one."
        )
    from routilux._serde.policy_doc import policy_from_doc  # The serde layer imports this one.

    return policy_from_doc(document)


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
        is_critical: A flag recorded with the policy (and in flow documents):
            :meth:`Routine.set_as_critical` sets it. It changes nothing: an
            exhausted ``RETRY`` budget, or an exception ``RETRY`` does not
            retry, fails the job whether it is set or not.

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

    # -- the published routilux's interface --------------------------------------

    def handle_error(
        self,
        error: BaseException,
        routine: Any = None,
        routine_id: str | None = None,
        flow: Any = None,
        job_state: Any = None,
        context: Any = None,
    ) -> bool:
        """Whether a job would go on after a first failure with ``error``, under this policy.

        A pure question, for programs written for the published routilux:
        ``STOP`` answers False; ``CONTINUE`` and ``SKIP`` True; ``RETRY``
        True while the failure would be retried, else ``not is_critical``.
        It never sleeps, records or counts anything; the engine does not
        call it (it applies the policy itself, per delivery).
        """
        if self.strategy is ErrorStrategy.STOP:
            return False
        if self.strategy is not ErrorStrategy.RETRY:
            return True
        return self.will_retry(error, 1) or not self.is_critical

    def reset(self) -> None:
        """Nothing to reset: a policy holds no count (attempts are in ``ErrorRecord.attempt``)."""

    @property
    def retry_count(self) -> int:
        """Always 0: a policy holds no count (attempts are in ``ErrorRecord.attempt``)."""
        return 0

    def serialize(self) -> dict[str, Any]:
        """The policy as the ``error_handler`` entry of a flow document.

        Raises:
            SerializationError: A retryable exception type cannot be written.
        """
        from routilux._serde.policy_doc import policy_to_doc  # The serde layer imports this one.

        return policy_to_doc(self)

    deserialize = ClassOrInstanceMethod(_policy_from_doc)

    def will_retry(self, exc: BaseException, failed_attempt: int) -> bool:
        """Whether a delivery whose attempt ``failed_attempt`` raised ``exc`` runs again."""
        return (
            self.strategy is ErrorStrategy.RETRY
            and failed_attempt <= self.max_retries
            and isinstance(exc, self.retryable_exceptions)
        )


def _read_only(self: ErrorHandler, name: str, value: object = None) -> None:
    """Refuse every assignment (and deletion) on a policy, naming the attribute.

    The ``__setattr__`` that ``dataclass(frozen=True, slots=True)`` writes
    raises a bare ``TypeError`` for a name that is not a field (such as
    ``retry_count``) on Python before 3.12; this one raises the
    ``FrozenInstanceError`` (an ``AttributeError``) it raises for fields.
    """
    raise FrozenInstanceError(
        f"ErrorHandler.{name} cannot be assigned or deleted: a policy is immutable; "
        "make a new ErrorHandler (or dataclasses.replace(policy, ...))."
    )


ErrorHandler.__setattr__ = _read_only  # type: ignore[method-assign,assignment]
ErrorHandler.__delattr__ = _read_only  # type: ignore[method-assign,assignment]


def _check_number(name: str, value: object, *, integer: bool = False) -> None:
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    if not ok or value < 0 or (isinstance(value, float) and not math.isfinite(value)):  # type: ignore[operator]
        kind = "a non-negative integer" if integer else "a non-negative finite number"
        raise DefinitionError(f"ErrorHandler {name} must be {kind}, not {value!r}.")
