"""The ``routilux`` command: run, inspect and resume flows from files.

``routilux run flow.yaml`` runs a job of a flow file on a job store and
shows its progress and summary; ``routilux jobs ...`` and
``routilux dead-letters ...`` inspect, resume, cancel, delete and replay
what the store keeps; ``routilux graph`` draws a flow, or a job of it. See
``docs/cli.md``.

The command is a thin shell over the public API. Its libraries (click, rich
and PyYAML) are an optional extra, ``cli``, installed from a clone of
routilux (``pip install -e "/path/to/routilux[cli]"``), and imported only
when the command runs.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

from routilux._install import install_command

__all__ = ["main"]

#: The libraries the command needs: their import names and project names.
REQUIRED = {"click": "click", "rich": "rich", "yaml": "PyYAML"}


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``routilux`` command and exit with its status.

    Exit status: 0 when it did what was asked (a job completed), 1 when a
    job failed or was cancelled or what was checked is invalid or not found,
    2 for a usage error (bad arguments, a bad store URL, a missing extra).

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).
    """
    missing = [project for name, project in REQUIRED.items() if not _installed(name)]
    if missing:
        print(
            f"routilux: error: the routilux command needs {' and '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed; install the cli "
            f"extra from a clone of routilux: {install_command('cli')}",
            file=sys.stderr,
        )
        raise SystemExit(2)
    from routilux.cli.app import run_command

    raise SystemExit(run_command(list(argv) if argv is not None else None))


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # A broken or half-imported package.
        return False
