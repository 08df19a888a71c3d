"""The module paths of the published routilux 0.10's docs import what they name (COMPAT.md §1.2)."""

from __future__ import annotations

import importlib

import pytest

from routilux import (
    Connection,
    ErrorHandler,
    ErrorStrategy,
    Event,
    ExecutionContext,
    ExecutionError,
    Flow,
    JobState,
    Routine,
    Slot,
)


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("routilux.routine", {"Routine": Routine, "ExecutionContext": ExecutionContext}),
        ("routilux.slot", {"Slot": Slot}),
        ("routilux.event", {"Event": Event}),
        ("routilux.connection", {"Connection": Connection}),
        ("routilux.error_handler", {"ErrorHandler": ErrorHandler, "ErrorStrategy": ErrorStrategy}),
        ("routilux.flow", {"Flow": Flow}),
        ("routilux.job_state", {"JobState": JobState}),
    ],
)
def test_each_documented_module_path_gives_the_same_objects(
    module: str, names: dict[str, object]
) -> None:
    imported = importlib.import_module(module)
    for name, obj in names.items():
        assert getattr(imported, name) is obj
        assert name in imported.__all__


class Reader(Routine):
    """Reads the running job through ``_current_job_state``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.read)
        self.seen: list[object] = []

    def read(self) -> None:
        from routilux.routine import _current_job_state

        self.seen.append(_current_job_state.get())


def test_current_job_state_gives_the_running_job_and_the_default_outside() -> None:
    from routilux.routine import _current_job_state

    flow = Flow()
    reader = Reader()
    flow.add_routine(reader, "reader")

    job = flow.execute("reader")

    assert reader.seen == [job]
    assert _current_job_state.get() is None
    assert _current_job_state.get("none") == "none"


def test_current_job_state_cannot_be_set_or_reset() -> None:
    from routilux.routine import _current_job_state

    with pytest.raises(ExecutionError, match="set by the engine"):
        _current_job_state.set(JobState("f"))
    with pytest.raises(ExecutionError, match="set by the engine"):
        _current_job_state.reset(object())
