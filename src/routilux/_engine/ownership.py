"""Which process runs a durable job: its owner, ``host:pid``."""

from __future__ import annotations

import os
import socket

__all__ = ["owner_is_alive", "process_owner"]


def process_owner() -> str:
    """This process, as a job's owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_alive(owner: str | None) -> bool:
    """Whether ``owner`` (``host:pid``) is a live process of this machine, other than this one.

    A process of another machine cannot be checked: it counts as gone, on
    the word of whoever asks. A process id that a new process has taken
    since counts as alive, so the check errs on the side of refusing.
    """
    if owner is None:
        return False
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # It exists, under another user.
    return True
