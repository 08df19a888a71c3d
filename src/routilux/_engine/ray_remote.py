"""What runs in a Ray worker process: one handler call, its emits collected to send back.

The driver sends a :class:`RemoteCall`: the routine's class and config (its
definition, pickled by Ray with the class), its state and the message, both
written by the value codec; the worker builds the routine afresh (``cls()``,
then its config and state), runs the handler in a :class:`RemoteFrame`
that records what the handler asks of its job, and returns a
:class:`RemoteOutcome`: those operations, the state that changed, what the
handler printed, and its exception if it raised. Ray is imported only in
the worker (its object store and its pickler); the Ray strategy wraps
:func:`run_call` and :class:`RoutineActor`.

Routine state is what every strategy shares through the routine object: its
stats, its slots' data and its public attributes (names without a leading
underscore, besides its slots and events). Private attributes belong to the
process: a task's are rebuilt by the constructor for every delivery, an
actor's are kept across the deliveries of its job.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import pickle
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from routilux._model.context import CURRENT_FRAME, ExecutionContext
from routilux._serde.values import decode_value, encode_value
from routilux.exceptions import ExecutionError, SerializationError

if TYPE_CHECKING:
    from routilux._model.routine import Routine

__all__ = [
    "Definition",
    "RemoteCall",
    "RemoteFrame",
    "RemoteOutcome",
    "RoutineActor",
    "read_state",
    "run_call",
    "write_state",
]

#: The attributes of the state kept apart from the public ones.
STATS, SLOTS = "stats", "slots"


@dataclass(frozen=True, slots=True)
class RemoteCall:
    """One handler call, as the driver sends it.

    Attributes:
        definition: Ray's reference to the routine's :class:`Definition`,
            put in Ray's object store once per job and routine.
        class_name: The routine's class, ``module.QualName``, for errors.
        routine_id: The routine's id in the flow.
        slot: The slot whose handler runs.
        message: What the handler receives, written by the value codec.
        state: The routine's state (:func:`write_state`).
        values: The routine's job values, written by the value codec.
        delivery_id: The delivery's stable id.
    """

    definition: Any
    class_name: str
    routine_id: str
    slot: str
    message: Any
    state: dict[str, Any]
    values: Any
    delivery_id: str


@dataclass(frozen=True, slots=True)
class Definition:
    """What a routine is, as every call of a job builds it.

    Attributes:
        routine_cls: The routine's class (Ray pickles it: by reference when
            importable, by value when defined in the driver's ``__main__``).
        config: The routine's config.
    """

    routine_cls: type[Routine]
    config: dict[str, Any]


#: The definitions this worker process has read, by object reference: each
#: is read (and its class made, when sent by value) once per process, not
#: once per call. Bounded: the oldest are forgotten first.
_READ: dict[str, Definition] = {}
_READ_LIMIT = 256


def read_definition(call: RemoteCall) -> Definition:
    """The routine's definition of ``call``, from Ray's object store or this process's cache."""
    key = call.definition.hex()
    definition = _READ.get(key)
    if definition is None:
        ray = importlib.import_module("ray")
        try:
            definition = _READ[key] = ray.get(call.definition)
        except Exception as exc:  # Most often: the class's module is not importable here.
            raise ExecutionError(
                f"Routine {call.routine_id!r} ({call.class_name}) cannot be loaded in a Ray "
                f"worker: {_cause(exc)}. Ray's workers import a routine's class by its "
                "module (a class of the script you run, __main__, is sent whole): put the "
                "module where they can import it (installed, on their PYTHONPATH, or in "
                "Ray's runtime_env)."
            ) from None
        while len(_READ) > _READ_LIMIT:
            del _READ[next(iter(_READ))]
    return definition


@dataclass(slots=True)
class RemoteOutcome:
    """What a handler call sends back to the driver.

    Attributes:
        ops: What the handler asked of its job, in order: ``(kind, *args)``
            with messages and values written by the value codec.
        state: The parts of the routine's state that changed.
        stdout: What the handler printed.
        stderr: What it wrote to standard error.
        error: The pickled exception it raised, or ``None``.
    """

    ops: list[tuple[Any, ...]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    error: bytes | None = None


def write_state(routine: Routine, where: str) -> dict[str, Any]:
    """The routine's state in the value codec's form.

    Raises:
        SerializationError: A value cannot be written; the message names it.
    """
    from routilux._model.event import Event
    from routilux._model.slot import Slot

    state: dict[str, Any] = {
        STATS: encode_value(dict(routine._stats), f"{where} stats"),
        SLOTS: {
            name: encode_value(dict(slot._data), f"{where} slot {name!r} data")
            for name, slot in routine._slots.items()
        },
    }
    fields = set(routine.serializable_fields)
    for name, value in vars(routine).items():
        if (name.startswith("_") and name not in fields) or isinstance(value, (Slot, Event)):
            continue
        state[name] = encode_value(value, f"{where} attribute {name!r}")
    return state


def read_state(routine: Routine, state: dict[str, Any], where: str) -> None:
    """Set ``state`` (of :func:`write_state`, or the part that changed) on ``routine``."""
    for name, value in state.items():
        if name == STATS:
            routine._stats = decode_value(value, f"{where} stats")
        elif name == SLOTS:
            for slot_name, data in value.items():
                routine._slots[slot_name]._data = decode_value(data, f"{where} slot data")
        else:
            setattr(routine, name, decode_value(value, f"{where} attribute {name!r}"))


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    changed = {key: value for key, value in after.items() if before.get(key) != value}
    slots = changed.get(SLOTS)
    if slots is not None:
        changed[SLOTS] = {k: v for k, v in slots.items() if before[SLOTS].get(k) != v}
    return changed


class RemoteFrame:
    """The frame a handler runs in on a Ray worker: it records, the driver commits.

    Only the running routine's own job tools work here: another routine of
    the flow lives on the driver, not in this process.
    """

    def __init__(self, routine: Routine, call: RemoteCall, values: dict[str, Any]) -> None:
        self.routine = routine
        self.call = call
        self.values = values
        self.ops: list[tuple[Any, ...]] = []

    def _own(self, routine: Routine, what: str) -> None:
        if routine is not self.routine:
            raise ExecutionError(
                f"Routine {self.call.routine_id!r} called {what} for another routine; under "
                "the ray strategy a handler can only act for its own routine."
            )

    def _encoded(self, data: Any, what: str) -> Any:
        return encode_value(data, f"{what} of routine {self.call.routine_id!r}")

    def emit(self, routine: Routine, event_name: str, data: dict[str, Any]) -> None:
        self._own(routine, "emit")
        self.ops.append(("emit", event_name, self._encoded(data, f"event {event_name!r}")))

    def send_to(self, routine: Routine, slot_name: str, data: dict[str, Any]) -> None:
        self._own(routine, "send_to")
        self.ops.append(("send_to", slot_name, self._encoded(data, f"slot {slot_name!r}")))

    def deliver_later(
        self, routine: Routine, delay: float, slot_name: str, data: dict[str, Any]
    ) -> None:
        self._own(routine, "deliver_later")
        encoded = self._encoded(data, f"slot {slot_name!r}")
        self.ops.append(("deliver_later", delay, slot_name, encoded))

    def set_timer(
        self, routine: Routine, name: str, delay: float, slot_name: str, data: dict[str, Any]
    ) -> None:
        self._own(routine, "set_timer")
        encoded = self._encoded(data, f"timer {name!r}")
        self.ops.append(("set_timer", name, delay, slot_name, encoded))

    def cancel_timer(self, routine: Routine, name: str) -> None:
        self._own(routine, "cancel_timer")
        self.ops.append(("cancel_timer", name))

    def defer(self, routine: Routine, event_name: str, data: dict[str, Any]) -> None:
        self._own(routine, "emit_deferred_event")
        self.ops.append(("defer", event_name, self._encoded(data, f"event {event_name!r}")))

    def get_value(self, routine: Routine, key: str, default: Any) -> Any:
        self._own(routine, "get_job_value")
        return self.values.get(key, default)

    def set_value(self, routine: Routine, key: str, value: Any) -> None:
        self._own(routine, "set_job_value")
        self.ops.append(("set_value", key, self._encoded(value, f"job value {key!r}")))
        self.values[key] = value

    def append_value(self, routine: Routine, key: str, item: Any) -> None:
        self._own(routine, "append_job_value")
        kept = self.values.get(key, [])
        if not isinstance(kept, list):
            raise ExecutionError(
                f"append_job_value({key!r}) of routine {self.call.routine_id!r}: the job value "
                f"{key!r} is {type(kept).__name__}, not a list; set it to a list first."
            )
        self.ops.append(("append_value", key, self._encoded(item, f"job value {key!r}")))
        self.values[key] = [*kept, item]

    def slot_name(self) -> str:
        return self.call.slot

    def delivery_id(self) -> str:
        return self.call.delivery_id

    def job(self) -> Any:
        raise self._driver_only("the job's state")

    def context_for(self, routine: Routine) -> ExecutionContext:
        raise self._driver_only("the execution context (flow and job state)")

    def _driver_only(self, what: str) -> ExecutionError:
        return ExecutionError(
            f"Routine {self.call.routine_id!r} asked for {what}, which stays on the driver "
            "under the ray strategy; use the routine's job values and emits instead."
        )


def _cause(exc: BaseException) -> str:
    """The innermost reason of a failure Ray wrapped (its text's last line)."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__


def build_routine(call: RemoteCall) -> Routine:
    """The routine of ``call``, made afresh in this process with its config."""
    definition = read_definition(call)
    cls = definition.routine_cls
    try:
        routine = cls()
    except TypeError as exc:
        raise ExecutionError(
            f"Routine {call.routine_id!r} ({cls.__qualname__}) cannot be made on a "
            f"Ray worker: the ray strategy makes it with {cls.__qualname__}() "
            f"and then applies its config, so its class needs a constructor without "
            f"arguments ({exc})."
        ) from exc
    if definition.config:
        routine.set_config(**definition.config)
    return routine


def run_call(call: RemoteCall, routine: Routine | None = None) -> RemoteOutcome:
    """Run one handler call (in a Ray worker); never raises, the outcome carries the error."""
    outcome = RemoteOutcome()
    out, err = io.StringIO(), io.StringIO()
    where = f"routine {call.routine_id!r}"
    before: dict[str, Any] = {}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            routine = build_routine(call) if routine is None else routine
            read_state(routine, call.state, where)
            before = write_state(routine, where)
            _invoke(routine, call, outcome)
    except BaseException as exc:  # The driver applies the routine's error policy to it.
        outcome.ops = []
        outcome.error = _pickled(exc)
    if routine is not None and before:
        try:
            outcome.state = _changed(before, write_state(routine, where))
        except SerializationError as exc:
            outcome.error = outcome.error or _pickled(exc)
    outcome.stdout, outcome.stderr = out.getvalue(), err.getvalue()
    return outcome


def _invoke(routine: Routine, call: RemoteCall, outcome: RemoteOutcome) -> None:
    where = f"routine {call.routine_id!r}, slot {call.slot!r}"
    values = decode_value(call.values, f"job values of {where}")
    frame = RemoteFrame(routine, call, values)
    token = CURRENT_FRAME.set(frame)
    try:
        invoke = routine._slots[call.slot]._invoke
        if invoke is not None:
            result = invoke(decode_value(call.message, f"message to {where}"))
            if result is not None and isawaitable(result):
                asyncio.run(_await(result))
    finally:
        CURRENT_FRAME.reset(token)
    outcome.ops = frame.ops


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _pickled(exc: BaseException) -> bytes:
    """``exc`` pickled for the driver, or a RuntimeError with its text if it cannot be."""
    try:
        # Ray's own pickler: it writes classes of the driver's __main__ by value.
        cloudpickle = importlib.import_module("ray.cloudpickle")
        data: bytes = cloudpickle.dumps(exc)
        pickle.loads(data)
        return data
    except Exception:  # An exception that does not pickle: its type and text cross.
        return pickle.dumps(RuntimeError(f"{type(exc).__qualname__}: {exc}"))


class RoutineActor:
    """The state of one actor routine in one job: its routine, built once, kept between calls.

    Ray wraps this class (``ray.remote``) in the Ray strategy; each call
    still brings the routine's shared state from the driver, and the
    private attributes stay here between the deliveries of the job.
    """

    def __init__(self) -> None:
        self.routine: Routine | None = None

    def call(self, call: RemoteCall) -> RemoteOutcome:
        """Run one handler call on this actor's routine (made on the first call)."""
        if self.routine is None:
            try:
                self.routine = build_routine(call)
            except Exception as exc:  # Sent back as the handler's failure.
                return RemoteOutcome(error=_pickled(exc))
        return run_call(call, self.routine)

    def pid(self) -> int:
        """This actor's process id (tests kill it)."""
        import os

        return os.getpid()
