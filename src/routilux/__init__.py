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

import importlib
import logging

from routilux._engine.clock import Clock, SystemClock
from routilux._engine.stored_jobs import cancel_stored_job, delete_stored_job
from routilux._engine.stored_logs import follow_job_logs, read_job_logs
from routilux._flow import Flow
from routilux._model.connection import Connection
from routilux._model.context import ExecutionContext
from routilux._model.durable import DeadLetter
from routilux._model.error_policy import ErrorHandler, ErrorStrategy
from routilux._model.event import Event
from routilux._model.job_state import JobState
from routilux._model.records import (
    ErrorRecord,
    ExecutionRecord,
    JobProgress,
    PendingDelivery,
    RoutineStats,
)
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
    InvalidLogEntryError,
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
from routilux.execution_tracker import ExecutionTracker
from routilux.hooks import (
    DeliveryEvent,
    EmitEvent,
    Hooks,
    JobEvent,
    add_global_hooks,
    remove_global_hooks,
)
from routilux.output_handler import (
    CallbackOutputHandler,
    NullOutputHandler,
    OutputHandler,
    QueueOutputHandler,
)

__all__ = [
    "CallbackOutputHandler",
    "Clock",
    "ConditionalRouter",
    "Connection",
    "DataFlattener",
    "DataTransformer",
    "DataValidator",
    "DeadLetter",
    "DeadLetterNotFound",
    "DeadLetterReplayedError",
    "DefinitionError",
    "DeliveryEvent",
    "EmitEvent",
    "ErrorHandler",
    "ErrorRecord",
    "ErrorStrategy",
    "Event",
    "ExecutionContext",
    "ExecutionError",
    "ExecutionRecord",
    "ExecutionTracker",
    "ExpressionEvaluationError",
    "ExpressionRejectedError",
    "Flow",
    "FlowDocumentWarning",
    "HandlerArgumentsError",
    "HandlerTimeoutError",
    "Hooks",
    "InvalidLogEntryError",
    "InvalidTransitionError",
    "JobEvent",
    "JobNotFound",
    "JobOwnedError",
    "JobProgress",
    "JobState",
    "JobStatus",
    "JobTimeoutError",
    "NullOutputHandler",
    "OutputHandler",
    "OwnershipLostError",
    "PendingDelivery",
    "QueueOutputHandler",
    "ResultExtractor",
    "RoutiluxError",
    "Routine",
    "RoutineStats",
    "RunawayJobError",
    "SerializationError",
    "Slot",
    "StoreError",
    "SystemClock",
    "TextClipper",
    "TextRenderer",
    "TimeProvider",
    "__version__",
    "add_global_hooks",
    "cancel_stored_job",
    "delete_stored_job",
    "follow_job_logs",
    "read_job_logs",
    "register_routine",
    "remove_global_hooks",
    "unregister_routine",
]

__version__ = "0.1.0"

#: The published built-ins, importable from the package itself; their modules
#: load on first use, so ``import routilux`` does not pay for them.
_BUILTINS = {
    "ConditionalRouter": "routilux.builtin_routines.conditional_router",
    "DataFlattener": "routilux.builtin_routines.data_flattener",
    "DataTransformer": "routilux.builtin_routines.data_transformer",
    "DataValidator": "routilux.builtin_routines.data_validator",
    "ResultExtractor": "routilux.builtin_routines.result_extractor",
    "TextClipper": "routilux.builtin_routines.text_clipper",
    "TextRenderer": "routilux.builtin_routines.text_renderer",
    "TimeProvider": "routilux.builtin_routines.time_provider",
}


def __getattr__(name: str) -> object:
    """Load a published built-in on first use (``from routilux import TextClipper``)."""
    module = _BUILTINS.get(name)
    if module is None:
        raise AttributeError(f"module 'routilux' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_BUILTINS})


# A library logs; the application decides where logs go.
logging.getLogger("routilux").addHandler(logging.NullHandler())
