"""ErrorHandler's interface of the published routilux 0.10 (COMPAT.md §5.2)."""

from __future__ import annotations

import pytest

from routilux import ErrorHandler, ErrorStrategy, SerializationError


class Flaky(RuntimeError):
    """Retried by the policies below."""


@pytest.mark.parametrize(
    ("policy", "error", "goes_on"),
    [
        (ErrorHandler(strategy=ErrorStrategy.STOP), ValueError("x"), False),
        (ErrorHandler(strategy=ErrorStrategy.CONTINUE), ValueError("x"), True),
        (ErrorHandler(strategy=ErrorStrategy.SKIP), ValueError("x"), True),
        (ErrorHandler(strategy=ErrorStrategy.RETRY, retryable_exceptions=(Flaky,)), Flaky(), True),
        (ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=0), ValueError("x"), True),
        (
            ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=0, is_critical=True),
            ValueError("x"),
            False,
        ),
        (
            ErrorHandler(strategy=ErrorStrategy.RETRY, retryable_exceptions=(Flaky,)),
            ValueError("not retried"),
            True,
        ),
    ],
)
def test_handle_error_answers_whether_a_job_would_go_on(
    policy: ErrorHandler, error: BaseException, goes_on: bool
) -> None:
    assert policy.handle_error(error, None, "routine", None) is goes_on


def test_handle_error_never_waits_or_counts() -> None:
    policy = ErrorHandler(strategy=ErrorStrategy.RETRY, retry_delay=60.0, max_retries=5)

    for _ in range(10):
        assert policy.handle_error(ValueError("x"), routine_id="r", job_state=None)

    policy.reset()
    assert policy.retry_count == 0


@pytest.mark.parametrize("name", ["retry_count", "max_retries", "anything"])
def test_a_policy_refuses_assignment_with_an_attribute_error_naming_it(name: str) -> None:
    policy = ErrorHandler(strategy=ErrorStrategy.RETRY)

    with pytest.raises(AttributeError, match=rf"ErrorHandler\.{name} cannot be assigned"):
        setattr(policy, name, 5)
    with pytest.raises(AttributeError, match=rf"ErrorHandler\.{name} cannot be assigned"):
        delattr(policy, name)
    assert policy.retry_count == 0
    assert policy.max_retries == 3


def test_a_policy_serializes_to_its_flow_document_entry_and_back() -> None:
    policy = ErrorHandler(
        strategy=ErrorStrategy.RETRY,
        max_retries=4,
        retry_delay=0.5,
        retry_backoff=3.0,
        retryable_exceptions=(TimeoutError, KeyError),
        is_critical=True,
    )

    document = policy.serialize()

    assert document == {
        "strategy": "retry",
        "max_retries": 4,
        "retry_delay": 0.5,
        "retry_backoff": 3.0,
        "retryable_exceptions": ["builtins:TimeoutError", "builtins:KeyError"],
        "is_critical": True,
    }
    assert ErrorHandler.deserialize(document) == policy


def test_deserialize_on_a_policy_is_refused_naming_the_class_form() -> None:
    policy = ErrorHandler()

    with pytest.raises(TypeError, match=r"use ErrorHandler\.deserialize\(d\)"):
        policy.deserialize(policy.serialize())


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("stop", "must be an object"),
        ({"strategy": "retry"}, "error_handler"),
        (
            {
                "strategy": "sometimes",
                "max_retries": 1,
                "retry_delay": 0,
                "retry_backoff": 1,
                "retryable_exceptions": [],
                "is_critical": False,
            },
            "strategy",
        ),
        (
            {
                "strategy": "retry",
                "max_retries": 1,
                "retry_delay": 0,
                "retry_backoff": 1,
                "retryable_exceptions": ["os:path"],
                "is_critical": False,
            },
            "retryable_exceptions",
        ),
    ],
)
def test_a_bad_document_is_refused_naming_the_field(document: object, message: str) -> None:
    with pytest.raises(SerializationError, match=message):
        ErrorHandler.deserialize(document)  # type: ignore[arg-type]
