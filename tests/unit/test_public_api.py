"""The public API: ``__all__``, import paths and the exception tree."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from types import ModuleType

import pytest

import routilux
import routilux.exceptions
import routilux.job_state


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def modules_imported_by_package_init() -> list[str]:
    tree = ast.parse(Path(routilux.__file__).read_text(encoding="utf-8"))
    return [
        node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("routilux")
    ]


def is_public_module(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def public_definitions(module: ModuleType) -> set[str]:
    """Public classes and functions defined in ``module`` itself."""
    return {
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module.__name__
    }


def test_all_is_sorted() -> None:
    assert list(routilux.__all__) == sorted(routilux.__all__)


def test_all_has_no_duplicates() -> None:
    assert len(set(routilux.__all__)) == len(routilux.__all__)


def test_all_has_no_private_names() -> None:
    assert [name for name in routilux.__all__ if is_private(name)] == []


def test_every_name_in_all_exists() -> None:
    missing = [name for name in routilux.__all__ if not hasattr(routilux, name)]
    assert missing == []


def test_every_public_name_the_package_binds_is_in_all() -> None:
    bound = {
        name
        for name, obj in vars(routilux).items()
        if not name.startswith("_") and not inspect.ismodule(obj)
    }
    assert bound - set(routilux.__all__) == set()


def test_init_imports_from_at_least_one_public_module() -> None:
    assert "routilux.exceptions" in modules_imported_by_package_init()


def test_every_public_definition_of_imported_public_modules_is_in_all() -> None:
    expected: set[str] = set()
    for name in modules_imported_by_package_init():
        if is_public_module(name):
            expected |= public_definitions(importlib.import_module(name))
    assert expected, "no public module found"
    assert expected - set(routilux.__all__) == set()


def test_every_exception_is_exported() -> None:
    assert set(routilux.exceptions.__all__) <= set(routilux.__all__)


def test_compatibility_module_job_state_exports_the_same_objects() -> None:
    assert routilux.job_state.JobState is routilux.JobState
    for name in routilux.job_state.__all__:
        assert getattr(routilux.job_state, name) is getattr(routilux, name)


def test_the_output_handlers_are_importable_from_their_module_and_the_package() -> None:
    import routilux.output_handler

    names = ["CallbackOutputHandler", "NullOutputHandler", "OutputHandler", "QueueOutputHandler"]
    assert sorted(routilux.output_handler.__all__) == names
    for name in names:
        assert getattr(routilux.output_handler, name) is getattr(routilux, name)
        assert name in routilux.__all__


def test_the_execution_tracker_is_importable_from_its_module_and_the_package() -> None:
    import routilux.execution_tracker

    assert routilux.execution_tracker.__all__ == ["ExecutionTracker"]
    assert routilux.execution_tracker.ExecutionTracker is routilux.ExecutionTracker
    assert "ExecutionTracker" in routilux.__all__


def test_contract_import_paths_work() -> None:
    from routilux import ErrorHandler, ErrorStrategy, ExecutionContext, Flow, JobState, Routine
    from routilux.builtin_routines import ConditionalRouter
    from routilux.job_state import JobState as CompatJobState
    from routilux.testing import FakeClock

    assert issubclass(ConditionalRouter, Routine)
    assert CompatJobState is JobState
    assert all(
        inspect.isclass(obj)
        for obj in (ErrorHandler, ErrorStrategy, ExecutionContext, Flow, FakeClock)
    )


def test_version_is_a_string() -> None:
    assert isinstance(routilux.__version__, str)
    assert routilux.__version__


@pytest.mark.parametrize(
    ("child", "parents"),
    [
        ("DefinitionError", ("RoutiluxError", ValueError)),
        ("ExpressionRejectedError", ("DefinitionError",)),
        ("ExecutionError", ("RoutiluxError", RuntimeError)),
        ("HandlerArgumentsError", ("ExecutionError",)),
        ("HandlerTimeoutError", ("ExecutionError", TimeoutError)),
        ("JobTimeoutError", ("ExecutionError", TimeoutError)),
        ("RunawayJobError", ("ExecutionError",)),
        ("ExpressionEvaluationError", ("RoutiluxError",)),
        ("InvalidLogEntryError", ("RoutiluxError", TypeError, ValueError)),
        ("InvalidTransitionError", ("RoutiluxError", RuntimeError)),
        ("SerializationError", ("RoutiluxError", ValueError)),
        ("StoreError", ("RoutiluxError",)),
        ("JobNotFound", ("StoreError", LookupError)),
        ("DeadLetterNotFound", ("StoreError", LookupError)),
        ("DeadLetterReplayedError", ("StoreError",)),
        ("JobOwnedError", ("StoreError",)),
        ("OwnershipLostError", ("StoreError",)),
        ("RoutiluxError", (Exception,)),
    ],
)
def test_exception_tree(child: str, parents: tuple[str | type, ...]) -> None:
    cls = getattr(routilux, child)
    for parent in parents:
        parent_cls = getattr(routilux, parent) if isinstance(parent, str) else parent
        assert issubclass(cls, parent_cls)


def test_execution_error_carries_routine_slot_and_job() -> None:
    error = routilux.ExecutionError("failed", routine_id="r", slot_name="s", job_id="j")
    assert (error.routine_id, error.slot_name, error.job_id) == ("r", "s", "j")
    assert str(error) == "failed"


def test_public_classes_have_docstrings() -> None:
    undocumented = [
        name
        for name in routilux.__all__
        if inspect.isclass(getattr(routilux, name)) and not inspect.getdoc(getattr(routilux, name))
    ]
    assert undocumented == []
