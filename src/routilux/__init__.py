"""routilux: event-driven workflow orchestration.

Write routines (units of work with input slots and output events), wire them
into a :class:`Flow`, and run jobs::

    from routilux import Flow, Routine

    class Hello(Routine):
        def __init__(self):
            super().__init__()
            self.define_slot("trigger", handler=self.greet)

        def greet(self, name="world"):
            print(f"Hello, {name}!")

    flow = Flow()
    flow.add_routine(Hello(), "hello")
    flow.execute("hello", entry_params={"name": "routilux"})
"""

import logging

from routilux._engine.clock import Clock, SystemClock
from routilux._flow import Flow
from routilux._model.connection import Connection
from routilux._model.context import ExecutionContext
from routilux._model.durable import DeadLetter
from routilux._model.error_policy import ErrorHandler, ErrorStrategy
from routilux._model.event import Event
from routilux._model.job_state import JobState
from routilux._model.records import ErrorRecord, ExecutionRecord, JobProgress, PendingDelivery
from routilux._model.routine import Routine
from routilux._model.slot import Slot
from routilux._model.status import JobStatus
from routilux._serde.registry import register_routine, unregister_routine
from routilux.exceptions import (
    DeadLetterNotFound,
    DeadLetterReplayedError,
    DefinitionError,
    ExecutionError,
    ExpressionEvaluationError,
    ExpressionRejectedError,
    FlowDocumentWarning,
    HandlerArgumentsError,
    HandlerTimeoutError,
    InvalidTransitionError,
    JobNotFound,
    JobOwnedError,
    JobTimeoutError,
    OwnershipLostError,
    RoutiluxError,
    RunawayJobError,
    SerializationError,
    StoreError,
)

__all__ = [
    "Clock",
    "Connection",
    "DeadLetter",
    "DeadLetterNotFound",
    "DeadLetterReplayedError",
    "DefinitionError",
    "ErrorHandler",
    "ErrorRecord",
    "ErrorStrategy",
    "Event",
    "ExecutionContext",
    "ExecutionError",
    "ExecutionRecord",
    "ExpressionEvaluationError",
    "ExpressionRejectedError",
    "Flow",
    "FlowDocumentWarning",
    "HandlerArgumentsError",
    "HandlerTimeoutError",
    "InvalidTransitionError",
    "JobNotFound",
    "JobOwnedError",
    "JobProgress",
    "JobState",
    "JobStatus",
    "JobTimeoutError",
    "OwnershipLostError",
    "PendingDelivery",
    "RoutiluxError",
    "Routine",
    "RunawayJobError",
    "SerializationError",
    "Slot",
    "StoreError",
    "SystemClock",
    "__version__",
    "register_routine",
    "unregister_routine",
]

__version__ = "0.1.0"

# A library logs; the application decides where logs go.
logging.getLogger("routilux").addHandler(logging.NullHandler())
