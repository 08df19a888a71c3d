"""Debouncer: pass on one message per burst of messages, at its start and/or its end."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NoReturn

from routilux import DefinitionError, ExecutionError, Routine

__all__ = ["Debouncer"]

#: The slot the debouncer's own timers deliver to.
TIMER_SLOT = "tick"
#: The names of the debouncer's two timers (see :meth:`Routine.set_timer`),
#: which are also the ``kind`` their ticks carry: ``quiet`` ends a burst,
#: ``max_wait`` emits what has waited too long during one.
QUIET = "quiet"
MAX_WAIT = "max_wait"
_KINDS = (QUIET, MAX_WAIT)


class Debouncer(Routine):
    """Pass on one message per burst: after the input went quiet, and/or at its start.

    A *burst* is a run of messages, per job, each arriving less than
    ``wait`` seconds after the one before; it ends once no message has
    arrived for ``wait`` seconds. With ``trailing`` (the default), the
    debouncer emits the burst's last message when it ends; with
    ``leading``, it emits the burst's first message at once (and, with
    ``trailing`` too, the last one at the end, if more came). With
    ``max_wait``, a long burst also emits its latest message every
    ``max_wait`` seconds, so a continuous stream still gets through. Each
    job debounces on its own; the state is kept in the job's values.

    A message's data is its ``data`` (or, without a ``data`` key, the whole
    message).

    Slots:
        input: The messages to debounce.
        tick: The debouncer's own timers; do not connect it. They are named
            timers, at most one of each per job: each message replaces the
            pending ``quiet`` timer, and the ``max_wait`` timer is cancelled
            once no message waits for an emit.

    Events:
        output: ``data`` (the data of the latest message), ``count`` (how
            many messages this emit stands for: those received since the
            previous emit of the burst, so the counts of a burst add up to
            its messages; 1 for a leading emit) and ``reason``:
            ``"leading"``, ``"trailing"`` or ``"max_wait"``.

    Config keys:
        wait: Seconds of quiet, on the flow's clock, that end a burst (a
            positive number; required before a job starts).
        leading: Emit the first message of each burst at once (default
            ``False``).
        trailing: Emit the last message of each burst when it ends (default
            ``True``). ``leading`` and ``trailing`` cannot both be false.
        max_wait: During a burst, the most seconds a received message waits
            before an emit stands for it (a number not below ``wait``), or
            ``None`` (default) for no limit.

    Raises:
        DefinitionError: From ``set_config``, for a bad value (naming the
            key, the value and what is expected); before a job starts, when
            ``wait`` is not set or the routine may run more than one delivery
            at a time.
    """

    config_keys = ("wait", "leading", "trailing", "max_wait")

    def __init__(self) -> None:
        super().__init__()
        # Each job's burst is read, then written, by every delivery.
        self.set_max_concurrency(1)
        self.define_slot("input", handler=self.receive)
        self.define_slot(TIMER_SLOT, handler=self.tick)
        self.define_event("output", ["data", "count", "reason"])
        self.set_config(wait=None, leading=False, trailing=True, max_wait=None)

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check every config key; see the class docstring for what each accepts."""
        wait = config.get("wait")
        if wait is not None and not _is_positive(wait):
            _refuse("wait", wait, "a positive number of seconds")
        for key in ("leading", "trailing"):
            if not isinstance(config.get(key), bool):
                _refuse(key, config.get(key), "True or False")
        if not (config.get("leading") or config.get("trailing")):
            _refuse("trailing", config.get("trailing"), "True when leading is False")
        max_wait = config.get("max_wait")
        if max_wait is not None and not _is_positive(max_wait):
            _refuse("max_wait", max_wait, "a positive number of seconds, or None")
        if max_wait is not None and wait is not None and max_wait < wait:
            _refuse("max_wait", max_wait, f"at least wait ({wait!r}), or None")

    def check_definition(self) -> None:
        """Check ``wait`` is set and deliveries run one at a time."""
        if self.get_config("wait") is None:
            raise DefinitionError("Debouncer needs wait; set it with set_config(wait=seconds).")
        if self.get_max_concurrency() != 1:
            raise DefinitionError(
                "Debouncer keeps each job's burst between deliveries, so it must run one "
                f"delivery at a time; set_max_concurrency(1), not {self.get_max_concurrency()!r}."
            )

    def receive(self, **message: Any) -> None:
        """Take a message: emit it if it starts a burst and ``leading`` is set, else hold it."""
        data = message.get("data", message)
        token = self.get_job_value("token", 0) + 1
        self.set_job_value("token", token)
        # One quiet timer per job: this replaces the one of the previous message.
        self.set_timer(QUIET, self.get_config("wait"), TIMER_SLOT, kind=QUIET, token=token)
        if not self.get_job_value("open", False):
            self.set_job_value("open", True)
            if self.get_config("leading"):
                self.emit("output", data=data, count=1, reason="leading")
                return
        pending = self.get_job_value("pending", 0) + 1
        self.set_job_value("pending", pending)
        self.set_job_value("last", data)
        max_wait = self.get_config("max_wait")
        if pending == 1 and max_wait is not None:
            window = self.get_job_value("window", 0)
            self.set_timer(MAX_WAIT, max_wait, TIMER_SLOT, kind=MAX_WAIT, token=window)

    def tick(self, kind: str, token: int) -> None:
        """A timer fired: end the burst (``quiet``) or emit what waited too long (``max_wait``)."""
        if kind not in _KINDS or not isinstance(token, int) or isinstance(token, bool):
            raise ExecutionError(
                f"Debouncer slot {TIMER_SLOT!r} is its own timer; it takes the kind "
                f"('quiet' or 'max_wait') and int token the debouncer scheduled, not "
                f"{kind!r} and {token!r}. Do not connect it."
            )
        # A replaced or cancelled timer that was already firing may still
        # arrive: its token, older than the job's, tells it apart.
        pending = self.get_job_value("pending", 0)
        if kind == MAX_WAIT:
            if token == self.get_job_value("window", 0) and pending:
                self._emit_pending("max_wait")
            return
        if token != self.get_job_value("token", 0):
            return  # A message came after this timer was set: the burst goes on.
        if pending and self.get_config("trailing"):
            self._emit_pending("trailing")
        else:
            self._forget_pending()  # Leading only: the rest of the burst is dropped.
        self.set_job_value("open", False)

    def _emit_pending(self, reason: str) -> None:
        count = self.get_job_value("pending", 0)
        self.emit("output", data=self.get_job_value("last"), count=count, reason=reason)
        self._forget_pending()

    def _forget_pending(self) -> None:
        self.set_job_value("pending", 0)
        self.set_job_value("last", None)
        # Nothing waits any more: drop the max_wait timer of what was pending,
        # and start a new window, so that timer is harmless if it fires anyway.
        self.cancel_timer(MAX_WAIT)
        self.set_job_value("window", self.get_job_value("window", 0) + 1)


def _refuse(key: str, value: Any, expected: str) -> NoReturn:
    raise DefinitionError(f"Debouncer {key} must be {expected}, not {value!r}.")


def _is_positive(value: Any) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and math.isfinite(value) and value > 0
