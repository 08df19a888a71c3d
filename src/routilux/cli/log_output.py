"""``--log-format`` and ``--log-level``: how records handlers log are printed on stderr."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from routilux.cli.log_levels import records_made_from
from routilux.logs import JobLogFilter, JsonLogFormatter

__all__ = ["LEVEL_NAMES", "TEXT_FORMAT", "json_line", "log_options", "printed_logs", "record_line"]

FC = TypeVar("FC", bound=Callable[..., Any])

#: The line of a record in ``--log-format text``; the tags are empty outside a delivery.
TEXT_FORMAT = (
    "%(levelname)s %(name)s [%(routilux_routine_id)s.%(routilux_slot)s "
    "%(routilux_delivery_id)s]: %(message)s"
)
_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


#: The level names the options take.
LEVEL_NAMES = list(_LEVELS)


def record_line(record: dict[str, Any]) -> str:
    """A record a job kept in its store, as ``--log-format text`` prints a record.

    The traceback of an exception, if the record has one, follows on its own lines.
    """

    def field(name: str) -> object:
        return record.get(name)

    line = (
        f"{field('level')} {field('logger')} [{field('routine_id')}.{field('slot')} "
        f"{field('delivery_id')}]: {field('message')}"
    )
    exception = record.get("exception")
    return f"{line}\n{exception}" if exception else line


def json_line(record: dict[str, Any]) -> str:
    """A record as one JSON object on one line; a value JSON cannot hold is written as its repr."""
    return json.dumps(record, ensure_ascii=False, default=repr)


def log_options(command: FC) -> FC:
    """``--log-format text|json`` and ``--log-level LEVEL``."""
    command = click.option(
        "--log-level",
        type=click.Choice(list(_LEVELS), case_sensitive=False),
        help="Print the records logged at this level and above on stderr, tagged with "
        "the job, routine and delivery that logged them [default: WARNING].",
    )(command)
    return click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="How logged records are printed on stderr: 'json' prints one JSON "
        "object per record, with its job, routine and delivery.",
    )(command)


@contextmanager
def printed_logs(log_format: str, log_level: str | None) -> Iterator[None]:
    """Print the records logged while the block runs on stderr, as asked.

    ``text`` without a level leaves logging as the application configured it
    (Python's default prints warnings and above, message only); otherwise a
    handler on the root logger prints each record at the level (default
    ``WARNING``) and above, tagged, until the block ends. The level is the
    handler's own: the root logger is only lowered to it if it is above it
    (see :mod:`routilux.cli.log_levels`), so records made for another reason
    (kept with their job) are not printed.
    """
    if log_format == "text" and log_level is None:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(JobLogFilter())
    if log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    level = _LEVELS[(log_level or "WARNING").upper()]
    handler.setLevel(level)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with records_made_from(level):
            yield
    finally:
        root.removeHandler(handler)
