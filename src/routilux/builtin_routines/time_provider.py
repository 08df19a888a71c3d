"""TimeProvider: emit the current wall-clock time."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from routilux import DefinitionError, Routine

__all__ = ["TimeProvider"]

#: The longest ``format`` accepted.
MAX_FORMAT_LENGTH = 1000


class TimeProvider(Routine):
    """Emit the current time, in a configured time zone, on every message.

    Slots ``trigger`` (so it can start a flow) and ``input`` both emit the
    time; what the message holds is ignored.

    Events:
        time: ``timestamp`` (seconds since the epoch, a float), ``iso``
            (ISO 8601 with the zone's offset, e.g.
            ``"2024-03-01T12:30:00+01:00"``), ``date`` (``"2024-03-01"``),
            ``time`` (``"12:30:00"``) and, when ``format`` is set,
            ``formatted`` (``strftime(format)``).

    Config keys:
        timezone: ``"UTC"`` (default) or an IANA zone name such as
            ``"Europe/Paris"``, looked up with :mod:`zoneinfo` at
            ``set_config``; an unknown name is refused.
        format: A ``strftime`` format adding the key ``formatted``, or
            ``None`` (default).

    Attributes:
        now: The source of time, a callable returning epoch seconds;
            ``time.time`` unless given to the constructor. Tests replace it
            (``TimeProvider(now=lambda: 1_700_000_000.0)``) to get a fixed
            time. It is not config, so it is not saved with the flow: a
            rebuilt flow uses ``time.time``. Wall-clock time, not the flow's
            clock, which only measures durations.

    Args:
        now: The source of time; ``time.time`` by default.

    Raises:
        DefinitionError: From ``set_config``, for an unknown zone or a bad
            format.
    """

    config_keys = ("timezone", "format")

    def __init__(self, *, now: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.now = now
        self._zone: tzinfo = timezone.utc
        self.define_slot("trigger", handler=self.provide)
        self.input_slot = self.define_slot("input", handler=self.provide)
        self.define_event("time", ["timestamp", "iso", "date", "time", "formatted"])
        self.set_config(timezone="UTC", format=None)

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check ``format`` and look up ``timezone``; see the class docstring."""
        _check_format(config.get("format"))
        self._zone = _zone(config.get("timezone", "UTC"))

    def provide(self, **_message: Any) -> None:
        """Emit ``time`` with the current time."""
        timestamp = self.now()
        if (
            not isinstance(timestamp, (int, float))
            or isinstance(timestamp, bool)
            or not math.isfinite(timestamp)
        ):
            raise TypeError(
                f"TimeProvider.now must return epoch seconds as a number, not {timestamp!r}."
            )
        moment = datetime.fromtimestamp(timestamp, self._zone)
        values: dict[str, Any] = {
            "timestamp": timestamp,
            "iso": moment.isoformat(),
            "date": moment.date().isoformat(),
            "time": moment.strftime("%H:%M:%S"),
        }
        form = self.get_config("format")
        if form is not None:
            values["formatted"] = moment.strftime(form)
        self.emit("time", **values)


def _zone(name: Any) -> tzinfo:
    if name == "UTC":
        return timezone.utc  # Needs no time zone database.
    if not isinstance(name, str) or not name:
        raise DefinitionError(
            f"TimeProvider timezone must be 'UTC' or an IANA zone name such as "
            f"'Europe/Paris', not {name!r}."
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise DefinitionError(
            f"TimeProvider timezone {name!r} is not a known IANA zone name (such as "
            f"'Europe/Paris' or 'America/New_York'): {exc}"
        ) from None


def _check_format(form: Any) -> None:
    if form is None:
        return
    if not isinstance(form, str) or len(form) > MAX_FORMAT_LENGTH:
        raise DefinitionError(
            f"TimeProvider format must be a strftime format string of at most "
            f"{MAX_FORMAT_LENGTH} characters, or None, not {form!r}."
        )
    try:
        datetime(2000, 1, 1, tzinfo=timezone.utc).strftime(form)
    except ValueError as exc:
        raise DefinitionError(
            f"TimeProvider format {form!r} is refused by strftime: {exc}"
        ) from None
