"""The ``routilux`` command tree, and how its errors become exit statuses.

Errors a user can fix — a bad flow file, an unknown job, a bad store URL, a
flow that is not ready, a store that refuses — print one line on stderr,
``routilux: error: ...``, with no traceback. Anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version

import click

from routilux import RoutiluxError
from routilux.cli.commands_dead_letters import dead_letters
from routilux.cli.commands_flows import graph, run, validate
from routilux.cli.commands_jobs import jobs
from routilux.cli.commands_keys import keys
from routilux.cli.commands_schedules import schedule
from routilux.cli.commands_serve import serve
from routilux.cli.commands_workers import submit, worker
from routilux.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageProblem
from routilux.cli.output import one_line
from routilux.cli.store_urls import StoreUrlError

__all__ = ["cli", "run_command"]


def _version() -> str:
    try:
        return version("routilux")
    except PackageNotFoundError:  # Running from a source tree that is not installed.
        from routilux import __version__

        return __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), prog_name="routilux")
def cli() -> None:
    """Run, inspect and resume routilux flows and jobs.

    A flow file is a flow document (docs/serialization.md) written in YAML
    or JSON. Jobs are kept in a job store (--store, or $ROUTILUX_STORE, or
    ./routilux-jobs.db), checkpointed after every delivery, so they can be
    inspected, resumed after a crash, cancelled and replayed from another
    process. See docs/cli.md.
    """


for _command in (run, validate, graph, jobs, dead_letters, submit, worker, schedule, serve, keys):
    cli.add_command(_command)


def _fail(message: object, status: int) -> int:
    click.echo(f"routilux: error: {one_line(message)}", err=True)
    return status


def _usage(exc: click.UsageError) -> int:
    if type(exc).__name__ == "NoArgsIsHelpError":  # A bare group: show its help.
        exc.show()
        return exc.exit_code
    message = exc.format_message().rstrip(".")
    hint = f"; see '{exc.ctx.command_path} --help'" if exc.ctx is not None else ""
    return _fail(f"{message}{hint}.", exc.exit_code)


def run_command(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    try:
        result = cli.main(args=argv, prog_name="routilux", standalone_mode=False)
        sys.stdout.flush()
    except BrokenPipeError:
        return _closed_stdout()
    except click.UsageError as exc:
        return _usage(exc)
    except click.ClickException as exc:
        return _fail(exc.format_message(), exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("routilux: interrupted.", err=True)
        return EXIT_INTERRUPTED
    except (UsageProblem, StoreUrlError) as exc:
        return _fail(exc, EXIT_USAGE)
    except (RoutiluxError, OSError) as exc:
        return _fail(_describe(exc), EXIT_FAILED)
    except ImportError as exc:
        if "pip install" not in str(exc):
            raise
        return _fail(exc, EXIT_USAGE)  # A missing extra: PyYAML, psycopg.
    return result if isinstance(result, int) else EXIT_OK


def _closed_stdout() -> int:
    """The reader of stdout went away (``routilux ... | head``): stop quietly."""
    # Python flushes stdout again at exit; point it at /dev/null so that flush
    # does not fail too (the recipe of the signal module's documentation).
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_FAILED


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, LookupError) and exc.args:
        return str(exc.args[0])  # KeyError-style quoting would add quotes.
    return str(exc)
