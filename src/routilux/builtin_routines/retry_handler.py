"""RetryHandler: call a function, retrying it on the job's clock until it succeeds."""

from __future__ import annotations

import builtins
import logging
import math
import random
import re
import sys
from collections.abc import Mapping
from typing import Any

from routilux import DefinitionError, Routine
from routilux.builtin_routines._callables import refuse_async

__all__ = ["RetryHandler"]

logger = logging.getLogger("routilux")

BACKOFFS = ("fixed", "linear", "exponential")
_NO_DATA: Any = object()
_SEGMENT = r"(?!__)[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = rf"{_SEGMENT}(?:\.{_SEGMENT})*"
_EXCEPTION_NAME = re.compile(rf"(?:{_DOTTED}:)?{_DOTTED}")
# The exponent of 2 stays below the float range; the delay is capped anyway.
_MAX_DOUBLINGS = 1000


class RetryHandler(Routine):
    """Call ``function(data)``; on failure wait on the job's clock and call it again.

    Slot ``input`` receives ``data`` (or, without a ``data`` key, the whole
    message) and calls ``function(data)``: attempt 1. When it raises an
    exception listed in ``retry_on`` and attempts are left, the handler
    emits ``retry`` and schedules the next attempt with ``deliver_later``
    to its own slot ``retry_timer``, whose message carries ``data`` and the
    ``attempt`` number: waiting takes no thread, uses the flow's clock, and
    a durable job keeps the pending attempt across a crash. An exception
    not in ``retry_on`` propagates unchanged: the delivery fails under the
    routine's error policy. ``function`` must be a plain (not ``async``)
    callable; for the flow to be saved as a document, a module-level one.

    Events:
        success: ``result`` (what ``function`` returned) and ``attempts``
            (how many calls it took, from 1).
        retry: Before each wait: ``attempt`` (the number of the attempt
            that will run next, 2 for the first retry), ``error``
            (``"TypeName: message"`` of the failure) and ``delay`` (seconds).
        exhausted: After the last attempt failed: ``error`` (the last
            failure), ``attempts`` and ``data``. The delivery itself succeeds.

    Config keys:
        function: The callable to run, called with the data. Required.
        max_attempts: Calls in all, the first included. Default 3.
        backoff: ``"fixed"`` (``delay`` every time), ``"linear"``
            (``delay * n`` before retry n) or ``"exponential"`` (default,
            ``delay * 2 ** (n - 1)``).
        delay: Seconds of the first wait. Default 1.0.
        max_delay: Cap on every wait in seconds, or ``None`` (default).
        jitter: Draw each wait uniformly between half the computed delay
            and the delay. Default ``False``.
        seed: With ``jitter``, seeds the draw so delays repeat exactly
            (every message then gets the same sequence: for tests). With
            ``None`` (default) the draw is seeded by the delivery id, so it
            differs between deliveries yet is the same if a crashed
            delivery runs again.
        retry_on: Exception classes that are retried: builtin names
            (``"ConnectionError"``), import paths (``"pkg.errors:Throttled"``)
            or classes, which are stored as names or paths so the config
            serializes. An exception matches when its class or a base class
            has one of these names. Default ``["Exception"]``: everything.

    Stats: ``successes``, ``retries`` and ``exhausted``.

    Raises:
        DefinitionError: From ``set_config``, for a bad value (naming the key);
            before a job starts, when ``function`` is not set.
    """

    config_keys = (
        "function",
        "max_attempts",
        "backoff",
        "delay",
        "max_delay",
        "jitter",
        "seed",
        "retry_on",
    )

    def __init__(self) -> None:
        super().__init__()
        self._retry_names: frozenset[str] = frozenset({"Exception"})
        self.input_slot = self.define_slot("input", handler=self.run)
        self.retry_slot = self.define_slot("retry_timer", handler=self.run_retry)
        self.define_event("success", ["result", "attempts"])
        self.define_event("retry", ["attempt", "error", "delay"])
        self.define_event("exhausted", ["error", "attempts", "data"])
        self.set_config(
            function=None,
            max_attempts=3,
            backoff="exponential",
            delay=1.0,
            max_delay=None,
            jitter=False,
            seed=None,
            retry_on=["Exception"],
        )

    def set_config(self, **config: Any) -> None:
        """Set config keys; exception classes in ``retry_on`` are stored as names.

        Raises:
            DefinitionError: :meth:`validate_config` refused the new config.
        """
        if "retry_on" in config:
            config["retry_on"] = _as_names(config["retry_on"])
        super().set_config(**config)

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check every key; see the class docstring."""
        function = config.get("function")
        if function is not None and not callable(function):
            raise DefinitionError(
                f"RetryHandler function must be a callable, not {type(function).__name__}."
            )
        if function is not None:
            refuse_async(function, "RetryHandler function")
        attempts = config.get("max_attempts", 3)
        if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
            raise DefinitionError(
                f"RetryHandler max_attempts must be a positive integer, not {attempts!r}."
            )
        if config.get("backoff", "exponential") not in BACKOFFS:
            raise DefinitionError(
                "RetryHandler backoff must be 'fixed', 'linear' or 'exponential', "
                f"not {config.get('backoff')!r}."
            )
        _check_seconds("delay", config.get("delay", 1.0), optional=False)
        _check_seconds("max_delay", config.get("max_delay"), optional=True)
        if not isinstance(config.get("jitter", False), bool):
            raise DefinitionError(
                f"RetryHandler jitter must be True or False, not {config.get('jitter')!r}."
            )
        seed = config.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, str))):
            raise DefinitionError(f"RetryHandler seed must be an int, a str or None, not {seed!r}.")
        self._retry_names = _check_retry_on(config.get("retry_on", ["Exception"]))

    def check_definition(self) -> None:
        """Refuse to run without a function."""
        if self.get_config("function") is None:
            raise DefinitionError(
                "RetryHandler has no function; set one with set_config(function=...)."
            )

    def run(self, data: Any = _NO_DATA, **kwargs: Any) -> None:
        """Make attempt 1 for a new message."""
        self._attempt(kwargs if data is _NO_DATA else data, 1)

    def run_retry(self, data: Any, attempt: int) -> None:
        """Make a later attempt: the delivery that :meth:`deliver_later` scheduled."""
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 2:
            raise TypeError(
                f"{self._name()} slot 'retry_timer' needs an attempt number of 2 or more, "
                f"not {attempt!r}; only the handler itself sends to this slot."
            )
        self._attempt(data, attempt)

    def _attempt(self, data: Any, attempt: int) -> None:
        function = self.get_config("function")
        if function is None:  # Only reachable when a handler is called outside a checked flow.
            raise DefinitionError(
                "RetryHandler has no function; set one with set_config(function=...)."
            )
        try:
            result = function(data)
        except Exception as exc:  # The user's function: retry it or let it propagate.
            if not self._is_retryable(exc):
                raise
            self._failed(data, attempt, f"{type(exc).__name__}: {exc}")
            return
        self.increment_stat("successes")
        self.emit("success", result=result, attempts=attempt)

    def _failed(self, data: Any, attempt: int, error: str) -> None:
        if attempt >= self.get_config("max_attempts"):
            logger.info("%s gave up after %d attempts: %s", self._name(), attempt, error)
            self.increment_stat("exhausted")
            self.emit("exhausted", error=error, attempts=attempt, data=data)
            return
        delay = self.delay_before(attempt + 1)
        self.increment_stat("retries")
        self.emit("retry", attempt=attempt + 1, error=error, delay=delay)
        self.deliver_later(delay, "retry_timer", data=data, attempt=attempt + 1)

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before ``attempt`` (2 or more), with backoff, cap and jitter."""
        retry = attempt - 1
        base = float(self.get_config("delay"))
        backoff = self.get_config("backoff")
        if backoff == "fixed":
            delay = base
        elif backoff == "linear":
            delay = base * retry
        else:
            delay = base * 2.0 ** min(retry - 1, _MAX_DOUBLINGS)
        cap = self.get_config("max_delay")
        delay = min(delay, sys.float_info.max if cap is None else float(cap))
        if self.get_config("jitter"):
            delay = self._random(attempt).uniform(delay / 2, delay)
        return delay

    def _random(self, attempt: int) -> random.Random:
        seed = self.get_config("seed")
        if seed is None:
            context = self.get_execution_context()
            seed = context.delivery_id if context else ""
        return random.Random(f"{seed}:{attempt}")

    def _is_retryable(self, exc: Exception) -> bool:
        return any(_name_of(cls) in self._retry_names for cls in type(exc).__mro__)

    def _name(self) -> str:
        context = self.get_execution_context()
        return f"RetryHandler {context.routine_id!r}" if context else "RetryHandler"


def _name_of(cls: type) -> str:
    """``"ValueError"`` for a builtin class, ``"module:QualName"`` for any other."""
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}:{cls.__qualname__}"


def _as_names(value: Any) -> Any:
    """Replace exception classes by their names; leave anything else for validation."""
    if isinstance(value, (str, type)):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return value
    return [_name_of(v) if isinstance(v, type) and issubclass(v, Exception) else v for v in value]


def _check_retry_on(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not value:
        raise DefinitionError(
            "RetryHandler retry_on must be a non-empty list of exception classes, builtin "
            f"exception names or import paths 'package.module:ClassName', not {value!r}."
        )
    names = set()
    for entry in value:
        name = _check_exception_name(entry)
        names.add(name.removeprefix("builtins:"))
    return frozenset(names)


def _check_exception_name(entry: Any) -> str:
    if isinstance(entry, type):
        raise DefinitionError(
            f"RetryHandler retry_on holds {entry.__qualname__}, which is not an Exception class."
        )
    if not isinstance(entry, str) or len(entry) > 500 or not _EXCEPTION_NAME.fullmatch(entry):
        raise DefinitionError(
            f"RetryHandler retry_on entry {entry!r} is not a builtin exception name or an "
            "import path 'package.module:ClassName' (a class defined in __main__ or inside "
            "a function cannot be named; define it at module level)."
        )
    module, _, qualname = entry.rpartition(":")
    if module in ("", "builtins"):
        found = vars(builtins).get(qualname)
        if not (isinstance(found, type) and issubclass(found, Exception)):
            raise DefinitionError(
                f"RetryHandler retry_on entry {entry!r} is not a builtin exception class; "
                "use an import path 'package.module:ClassName' for other classes."
            )
    elif module in sys.modules:  # Checked only if imported: a config never imports code.
        found = _lookup(sys.modules[module], qualname)
        if not (isinstance(found, type) and issubclass(found, Exception)):
            raise DefinitionError(
                f"RetryHandler retry_on entry {entry!r} names no Exception class in {module}."
            )
    return entry


def _lookup(obj: Any, qualname: str) -> Any:
    for part in qualname.split("."):
        obj = vars(obj).get(part) if hasattr(obj, "__dict__") else None
    return obj


def _check_seconds(key: str, value: Any, *, optional: bool) -> None:
    if value is None and optional:
        return
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        expected = "a non-negative number of seconds" + (" or None" if optional else "")
        raise DefinitionError(f"RetryHandler {key} must be {expected}, not {value!r}.")
