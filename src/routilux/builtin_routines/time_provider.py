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

#: The longest ``custom_format`` accepted.
MAX_FORMAT_LENGTH = 1000
FORMATS = ("iso", "formatted", "timestamp", "custom")
_WEEKDAYS_ZH = "一二三四五六日"


class TimeProvider(Routine):
    """Emit the current time on every message.

    Slot ``request`` (also reachable as the attribute ``trigger_slot``)
    emits the time; so do our slots ``trigger`` (so that it can start a
    flow) and ``input``. A message may choose the format: ``data["format"]``
    when ``data`` is a non-empty dict, else a top-level ``format`` key; an
    unknown format gives ISO, a missing or empty one the config's.

    Events:
        output: ``time_string`` (the time in the chosen format),
            ``timestamp`` (seconds since the epoch, a float), ``datetime``
            (``isoformat()``) and ``formatted`` (``strftime(custom_format)``).
        time: ``timestamp``, ``iso``, ``date`` (``"2024-03-01"``) and
            ``time`` (``"12:30:00"``), for flows that want the parts.

    Config keys:
        format: ``"iso"`` (default), ``"formatted"``, ``"timestamp"`` or
            ``"custom"``.
        custom_format: The ``strftime`` format of ``"custom"`` and of the
            key ``formatted`` (default ``"%Y-%m-%d %H:%M:%S"``).
        include_weekday: Whether ``"formatted"`` names the weekday
            (default ``True``).
        locale: ``"zh_CN"`` (default) writes ``"formatted"`` in Chinese;
            any other value in English.
        timezone: ``None`` (default) for naive local time, as the published
            routine gives; ``"UTC"`` or an IANA zone name such as
            ``"Europe/Paris"`` for aware times in that zone (looked up with
            :mod:`zoneinfo` at ``set_config``).

    Attributes:
        now: The source of time, a callable returning epoch seconds;
            ``time.time`` unless given to the constructor. Tests replace it
            (``TimeProvider(now=lambda: 1_700_000_000.0)``) to get a fixed
            time. It is not config, so it is not saved with the flow.

    Args:
        now: The source of time; ``time.time`` by default.

    Raises:
        DefinitionError: From ``set_config``, for a bad value of any key.
    """

    config_keys = ("format", "custom_format", "include_weekday", "locale", "timezone")

    def __init__(self, *, now: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.now = now
        self._zone: tzinfo | None = None
        self.trigger_slot = self.define_slot("request", handler=self.provide)
        self.define_slot("trigger", handler=self.provide)
        self.input_slot = self.define_slot("input", handler=self.provide)
        self.define_event("output", ["time_string", "timestamp", "datetime", "formatted"])
        self.define_event("time", ["timestamp", "iso", "date", "time"])
        self.set_config(
            format="iso",
            custom_format="%Y-%m-%d %H:%M:%S",
            include_weekday=True,
            locale="zh_CN",
            timezone=None,
        )

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check the keys and look up ``timezone``; see the class docstring."""
        form = config.get("format", "iso")
        if form not in FORMATS:
            raise DefinitionError(
                f"TimeProvider format must be 'iso', 'formatted', 'timestamp' or 'custom', "
                f"not {form!r}; for a strftime format, set format='custom' and "
                "custom_format to it."
            )
        _check_strftime(config.get("custom_format", "%Y-%m-%d %H:%M:%S"))
        if not isinstance(config.get("include_weekday", True), bool):
            raise DefinitionError(
                f"TimeProvider include_weekday must be True or False, "
                f"not {config.get('include_weekday')!r}."
            )
        if not isinstance(config.get("locale", "zh_CN"), str):
            raise DefinitionError(
                f"TimeProvider locale must be a str such as 'zh_CN' or 'en_US', "
                f"not {config.get('locale')!r}."
            )
        self._zone = _zone(config.get("timezone"))

    def provide(self, data: Any = None, **kwargs: Any) -> None:
        """Emit ``output`` and ``time`` with the current time."""
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
        asked = data.get("format") if isinstance(data, dict) and data else kwargs.get("format")
        self.emit(
            "output",
            time_string=self._time_string(moment, asked or self.get_config("format")),
            timestamp=timestamp,
            datetime=moment.isoformat(),
            formatted=moment.strftime(self.get_config("custom_format")),
        )
        self.emit(
            "time",
            timestamp=timestamp,
            iso=moment.isoformat(),
            date=moment.date().isoformat(),
            time=moment.strftime("%H:%M:%S"),
        )

    def _time_string(self, moment: datetime, form: Any) -> str:
        if form == "timestamp":
            return str(moment.timestamp())
        if form == "custom":
            return moment.strftime(self.get_config("custom_format"))
        if form != "formatted":
            return moment.isoformat()
        if not self.get_config("include_weekday"):
            return moment.strftime("%Y-%m-%d %H:%M:%S")
        if self.get_config("locale") == "zh_CN":
            weekday = _WEEKDAYS_ZH[moment.weekday()]
            # Full-width commas, as in the published Chinese format.
            return moment.strftime(f"%Y年%m月%d日，星期{weekday}，%H:%M:%S")  # noqa: RUF001
        return moment.strftime("%A, %B %d, %Y %H:%M:%S")


def _zone(name: Any) -> tzinfo | None:
    if name is None:
        return None  # Naive local time.
    if name == "UTC":
        return timezone.utc  # Needs no time zone database.
    if not isinstance(name, str) or not name:
        raise DefinitionError(
            f"TimeProvider timezone must be None, 'UTC' or an IANA zone name such as "
            f"'Europe/Paris', not {name!r}."
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise DefinitionError(
            f"TimeProvider timezone {name!r} is not a known IANA zone name (such as "
            f"'Europe/Paris' or 'America/New_York'): {exc}"
        ) from None


def _check_strftime(form: Any) -> None:
    if not isinstance(form, str) or len(form) > MAX_FORMAT_LENGTH:
        raise DefinitionError(
            f"TimeProvider custom_format must be a strftime format string of at most "
            f"{MAX_FORMAT_LENGTH} characters, not {form!r}."
        )
    try:
        datetime(2000, 1, 1, tzinfo=timezone.utc).strftime(form)
    except ValueError as exc:
        raise DefinitionError(
            f"TimeProvider custom_format {form!r} is refused by strftime: {exc}"
        ) from None
