"""An error policy on its own, as the entry a flow document gives it."""

from __future__ import annotations

from typing import Any

from routilux._model.error_policy import ErrorHandler
from routilux._serde._doc_reader import DocObject, fail
from routilux._serde._flow_build import References, _error_handler
from routilux._serde._flow_spec import _policy
from routilux._serde.flow_doc import _policy_doc
from routilux.exceptions import SerializationError

__all__ = ["policy_from_doc", "policy_to_doc"]

_KEY = "error_handler"


def policy_to_doc(handler: ErrorHandler) -> dict[str, Any]:
    """``handler`` as the ``error_handler`` entry of a flow document.

    Raises:
        SerializationError: A retryable exception type cannot be written (it
            is not importable by name).
    """
    document = _policy_doc(handler, _KEY)
    assert document is not None
    return document


def policy_from_doc(document: Any) -> ErrorHandler:
    """The error policy an ``error_handler`` entry describes.

    Its ``retryable_exceptions`` are resolved as a flow document's are: by
    import path, exception classes only.

    Raises:
        SerializationError: The entry is malformed, or names something that
            is not an exception class; the message names the field.
    """
    if not isinstance(document, dict):
        raise fail(_KEY, f"must be an object, not {type(document).__name__}.")
    spec = _policy(DocObject({_KEY: document}, "", required=(_KEY,)), _KEY)
    if spec is None:  # pragma: no cover - a dict is never None
        raise SerializationError(f"{_KEY} is missing.")
    refs = References(None)
    for path in spec.exceptions:
        refs._exception(path, f"{_KEY}.retryable_exceptions")
    handler = _error_handler(spec, refs)
    assert handler is not None
    return handler
