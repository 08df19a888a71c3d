"""Exit statuses of the ``routilux`` command, and the errors that choose them."""

from __future__ import annotations

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "UsageProblem"]

#: The command did what was asked (a job completed, a file is valid).
EXIT_OK = 0
#: A job failed or was cancelled; what was checked is invalid or was not found.
EXIT_FAILED = 1
#: The command line is wrong: an option, a store URL, a missing extra.
EXIT_USAGE = 2
#: Interrupted (Ctrl-C): a running job was paused, to be resumed later.
EXIT_INTERRUPTED = 130


class UsageProblem(Exception):
    """The command line asks for something that cannot be done as written (exit 2)."""
