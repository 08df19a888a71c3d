"""The command that installs an optional extra, for the errors that need one.

The package index's ``routilux`` is another project (the published 1.x,
without these job stores, the command or their extras), so
``pip install`` of ``routilux[cli]`` by name would install the wrong code.
Until this project is published under a name of its own, an extra is
installed from a clone of its repository, by path.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["install_command"]

#: Where the clone is, in a command for a routilux that does not run from one.
CLONE_PLACEHOLDER = "/path/to/routilux"


def _checkout() -> Path | None:
    """The clone this routilux runs from (an editable install), if it does."""
    package = Path(__file__).resolve().parent
    root = package.parents[1]
    in_src = package.name == "routilux" and package.parent.name == "src"
    return root if in_src and (root / "pyproject.toml").is_file() else None


def install_command(extra: str) -> str:
    """The ``pip`` command that installs ``extra`` from a clone of routilux.

    Args:
        extra: The extra's name (``"cli"``, ``"postgres"``, ...).

    Returns:
        ``pip install -e "CLONE[extra]"``, naming the clone this routilux runs
        from, or :data:`CLONE_PLACEHOLDER` when it does not run from one.
    """
    checkout = _checkout()
    where = str(checkout) if checkout is not None else CLONE_PLACEHOLDER
    return f'pip install -e "{where}[{extra}]"'
