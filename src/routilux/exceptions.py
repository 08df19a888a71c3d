"""The exceptions routilux raises.

Every exception derives from :class:`RoutiluxError`; the subtrees say who has
to act::

    RoutiluxError
    ├── DefinitionError (also ValueError)      building a flow went wrong
    │   └── ExpressionRejectedError            an expression is not allowed
    ├── ExecutionError (also RuntimeError)      a job, or a handler in it, failed
    │   ├── HandlerArgumentsError               the message lacks required keys
    │   ├── HandlerTimeoutError (also TimeoutError)  a handler ran past its routine's timeout
    │   ├── JobTimeoutError (also TimeoutError)  a job ran past its timeout
    │   └── RunawayJobError                     a job exceeded its delivery limit
    ├── ExpressionEvaluationError               an allowed expression failed at run time
    ├── InvalidLogEntryError (also TypeError and ValueError)  a shared log entry is not a dict
    ├── InvalidTransitionError (also RuntimeError)  an illegal job status change
    ├── SerializationError (also ValueError)   a document cannot be written or read
    └── StoreError                              a job store failed
        ├── JobNotFound (also LookupError)      no such job in the store
        ├── DeadLetterNotFound (also LookupError)  no such dead letter
        ├── DeadLetterReplayedError             the dead letter was replayed already
        ├── JobOwnedError                       another process owns the job
        └── OwnershipLostError                  this process no longer owns the job

And one warning, which stops nothing but says what will not work later::

    FlowDocumentWarning (also UserWarning)      a durable job is stored without its flow
"""

from __future__ import annotations

__all__ = [
    "DeadLetterNotFound",
    "DeadLetterReplayedError",
    "DefinitionError",
    "ExecutionError",
    "ExpressionEvaluationError",
    "ExpressionRejectedError",
    "FlowDocumentWarning",
    "HandlerArgumentsError",
    "HandlerTimeoutError",
    "InvalidLogEntryError",
    "InvalidTransitionError",
    "JobNotFound",
    "JobOwnedError",
    "JobTimeoutError",
    "OwnershipLostError",
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


class ExecutionError(RoutiluxError, RuntimeError):
    """A handler failed while a job delivered a message to it.

    Also raised when something that needs a running job (an emit, a job
    value, an output) is used outside of one. A :class:`RuntimeError` too,
    as the published routilux 0.10 raised for those.

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


class HandlerTimeoutError(ExecutionError, TimeoutError):
    """A handler ran longer than its routine's timeout (``Routine.set_timeout``).

    Also a :class:`TimeoutError`, so an error policy whose
    ``retryable_exceptions`` lists ``TimeoutError`` retries it.
    """


class JobTimeoutError(ExecutionError, TimeoutError):
    """A job ran longer than its timeout.

    Also a :class:`TimeoutError`, as every timeout routilux reports. It is
    recorded on the job (action ``"stop"``), never handed to an error policy.
    """


class RunawayJobError(ExecutionError):
    """A job exceeded its delivery limit, usually because its flow has a cycle."""


class InvalidLogEntryError(RoutiluxError, TypeError, ValueError):
    """An entry given to ``JobState.append_to_shared_log`` is not a dict (a mapping).

    Both a :class:`TypeError` (what the argument is) and a :class:`ValueError`
    (what the published routilux 0.10 raised), so either ``except`` catches it.
    """


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


class DeadLetterReplayedError(StoreError):
    """The dead letter was replayed already (or is being replayed), by another job.

    Raised by ``flow.replay_dead_letter`` unless ``again=True``, so that two
    replays of one letter at the same moment never both deliver it.

    Attributes:
        letter_id: The letter.
        replayed_by: The job that replayed it.
    """

    def __init__(self, message: str, *, letter_id: str, replayed_by: str | None) -> None:
        super().__init__(message)
        self.letter_id = letter_id
        self.replayed_by = replayed_by


class JobOwnedError(StoreError):
    """Another process owns the job, so it cannot be resumed or cancelled from here.

    Raised when the owner's lease has not expired (or the owner is a live
    process of this host), and when another process claimed the job at
    the same moment.

    Attributes:
        job_id: The job.
        owner: Its owner, ``host:pid``.
        lease_expires_at: When the owner's lease expires (seconds since the
            epoch, on the store's clock), if it has one.
    """

    def __init__(
        self, message: str, *, job_id: str, owner: str | None, lease_expires_at: float | None
    ) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.owner = owner
        self.lease_expires_at = lease_expires_at


class OwnershipLostError(StoreError):
    """A write to a job was refused: another process has claimed the job since.

    Every write of a run carries the claim (fencing token) it was given;
    once another process claims the job, the store refuses the older
    claim's writes and the run stops without running another handler.

    Attributes:
        job_id: The job.
        claim: The claim the refused write carried.
        owner: The job's owner now, if known.
    """

    def __init__(self, message: str, *, job_id: str, claim: int, owner: str | None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.claim = claim
        self.owner = owner


class FlowDocumentWarning(UserWarning):
    """A durable job is stored without its flow document.

    The flow cannot be serialized (a routine class defined in the script
    being run, or inside a function, say), so the job runs and is
    checkpointed, but the ``routilux`` command, which rebuilds a job's flow
    from that document, cannot resume it or replay its dead letters: only
    a program that builds the flow can (``flow.resume(job_id, store=store)``).
    """
