"""The exceptions routilux raises.

Every exception derives from :class:`RoutiluxError`; the subtrees say who has
to act::

    RoutiluxError
    ├── DefinitionError (also ValueError)      building a flow went wrong
    │   └── ExpressionRejectedError            an expression is not allowed
    ├── ExecutionError                          a handler failed in a job
    │   ├── HandlerArgumentsError               the message lacks required keys
    │   ├── HandlerTimeoutError                 a handler ran past its routine's timeout
    │   ├── JobTimeoutError                     a job ran past its timeout
    │   └── RunawayJobError                     a job exceeded its delivery limit
    ├── ExpressionEvaluationError               an allowed expression failed at run time
    ├── InvalidTransitionError (also RuntimeError)  an illegal job status change
    ├── SerializationError (also ValueError)   a document cannot be written or read
    └── StoreError                              a job store failed
        ├── JobNotFound (also LookupError)      no such job in the store
        └── DeadLetterNotFound (also LookupError)  no such dead letter
"""

from __future__ import annotations

__all__ = [
    "DeadLetterNotFound",
    "DefinitionError",
    "ExecutionError",
    "ExpressionEvaluationError",
    "ExpressionRejectedError",
    "HandlerArgumentsError",
    "HandlerTimeoutError",
    "InvalidTransitionError",
    "JobNotFound",
    "JobTimeoutError",
    "RoutiluxError",
    "RunawayJobError",
    "SerializationError",
    "StoreError",
]


class RoutiluxError(Exception):
    """Root of every exception raised by routilux itself."""


class DefinitionError(RoutiluxError, ValueError):
    """A flow, routine, slot, event, connection or condition is defined wrongly.

    Raised while a flow is being built (or when it is checked before a job
    starts), never because of the data a job carries.
    """


class ExpressionRejectedError(DefinitionError):
    """An expression uses syntax, names or sizes the safe evaluator refuses.

    Attributes:
        expression: The source text that was rejected.
        reason: Why it was rejected, as a sentence.
    """

    def __init__(self, expression: str, reason: str) -> None:
        self.expression = expression
        self.reason = reason
        shown = expression if len(expression) <= 80 else expression[:77] + "..."
        super().__init__(f"Expression {shown!r} is rejected: {reason}")


class ExpressionEvaluationError(RoutiluxError):
    """An accepted expression exceeded a limit while it was evaluated."""


class ExecutionError(RoutiluxError):
    """A handler failed while a job delivered a message to it.

    Attributes:
        routine_id: The id of the routine in its flow, when known.
        slot_name: The slot whose handler failed, when known.
        job_id: The job that delivered the message, when known.

    The original exception, if any, is the ``__cause__``.
    """

    def __init__(
        self,
        message: str,
        *,
        routine_id: str | None = None,
        slot_name: str | None = None,
        job_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.routine_id = routine_id
        self.slot_name = slot_name
        self.job_id = job_id


class HandlerArgumentsError(ExecutionError):
    """A message lacks keys that the receiving handler requires."""


class HandlerTimeoutError(ExecutionError):
    """A handler ran longer than its routine's timeout (``Routine.set_timeout``)."""


class JobTimeoutError(ExecutionError):
    """A job ran longer than its timeout."""


class RunawayJobError(ExecutionError):
    """A job exceeded its delivery limit, usually because its flow has a cycle."""


class InvalidTransitionError(RoutiluxError, RuntimeError):
    """A job status change that the status machine does not allow."""


class SerializationError(RoutiluxError, ValueError):
    """A flow or job document cannot be written, or a document is not valid."""


class StoreError(RoutiluxError):
    """A job store could not do what was asked."""


class JobNotFound(StoreError, LookupError):
    """The job store holds no job with the given id."""


class DeadLetterNotFound(StoreError, LookupError):
    """The job store holds no dead letter with the given id."""
