"""Options shared by several commands."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from routilux.cli.store_urls import DEFAULT_STORE_URL, STORE_ENV

__all__ = [
    "Seconds",
    "flow_file_argument",
    "json_option",
    "path_option",
    "ray_address_option",
    "store_option",
]

FC = TypeVar("FC", bound=Callable[..., Any])


class Seconds(click.FloatRange):
    """A number of seconds (or days): finite, not NaN, and in range."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def store_option(command: FC) -> FC:
    """``--store URL``, defaulting to ``$ROUTILUX_STORE`` or the SQLite file of the directory."""
    return click.option(
        "--store",
        "store_url",
        metavar="URL",
        envvar=STORE_ENV,
        show_envvar=True,
        default=DEFAULT_STORE_URL,
        show_default=True,
        help="The job store: sqlite:///relative.db, sqlite:////absolute.db, "
        "postgresql://user@host/db or memory:.",
    )(command)


def json_option(command: FC) -> FC:
    """``--json``: print one JSON document on stdout instead of text."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print the result as one JSON document on stdout, for scripts.",
    )(command)


def flow_file_argument(command: FC) -> FC:
    """The ``FLOW`` argument: an existing YAML or JSON flow file."""
    return click.argument(
        "flow_file",
        metavar="FLOW",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    )(command)


def path_option(command: FC) -> FC:
    """``--path DIR``: more directories to import routine modules from."""
    return click.option(
        "--path",
        "paths",
        multiple=True,
        metavar="DIR",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Also import routine modules from DIR (repeatable), as the directory of "
        "the flow file was when the job ran.",
    )(command)


def _ray_address(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter("must name a Ray cluster, not be empty.", ctx, param)
    return value


def ray_address_option(command: FC) -> FC:
    """``--ray-address ADDRESS``: the Ray cluster of flows on the ``ray`` strategy."""
    return click.option(
        "--ray-address",
        metavar="ADDRESS",
        callback=_ray_address,
        help="Run handlers on the Ray cluster at ADDRESS (host:6379, ray://host:10001 or "
        'auto) instead of the flow\'s ray_address. Matters only for flows on the "ray" '
        "strategy; it does not change the strategy.",
    )(command)
