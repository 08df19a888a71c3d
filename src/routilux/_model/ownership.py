"""Which process runs a durable job: its owner (``host:pid``), claim and lease.

A process that runs a durable job owns it. Owning it takes a **claim**, one
compare-and-set in the store that makes the job's claim (its fencing
token) one higher; every later write of the run carries that claim, and
the store refuses it once another process has claimed the job. A running
owner also holds a **lease**, renewed in the background while the job is
alive in its flow: a job whose lease has expired may be claimed by
another process, and one whose lease is live may not, unless its owner is
a process of this host that has ended.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from routilux.exceptions import JobOwnedError

if TYPE_CHECKING:
    from routilux._model.durable import StoredJob

__all__ = [
    "DEFAULT_LEASE",
    "MAX_LEASE",
    "MIN_LEASE",
    "check_claimable",
    "describe_lease",
    "owner_is_alive",
    "owner_is_gone",
    "process_owner",
]

#: Seconds a lease lasts unless ``Flow(lease_seconds=...)`` says otherwise.
DEFAULT_LEASE = 30.0
#: The shortest and longest leases a flow may ask for: shorter than half a
#: second, a renewal could not be relied on to arrive in time.
MIN_LEASE = 0.5
MAX_LEASE = 86_400.0


def process_owner() -> str:
    """This process, as a job's owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _split(owner: str) -> tuple[str, int | None]:
    host, _, pid_text = owner.rpartition(":")
    return host, int(pid_text) if pid_text.isdigit() else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # It exists, under another user.
    return True


def owner_is_alive(owner: str | None) -> bool:
    """Whether ``owner`` (``host:pid``) is a live process of this machine, other than this one.

    A process of another machine cannot be checked: it counts as gone, on
    the word of whoever asks. A process id that a new process has taken
    since counts as alive, so the check errs on the side of refusing.
    """
    if owner is None:
        return False
    host, pid = _split(owner)
    if host != socket.gethostname() or pid is None or pid == os.getpid():
        return False
    return _pid_alive(pid)


def owner_is_gone(owner: str | None) -> bool:
    """Whether ``owner`` is known to have ended: a process of this host that no longer exists.

    Unlike :func:`owner_is_alive`, a process of another machine is not
    known to have ended, nor is this process.
    """
    if owner is None:
        return True
    host, pid = _split(owner)
    if host != socket.gethostname() or pid is None or pid == os.getpid():
        return False
    return not _pid_alive(pid)


def describe_lease(remaining: float | None, expires_at: float | None) -> str:
    """``"its lease expires in 12.3 s (at 2026-12-07T03:40:20+00:00)"``, or why there is none."""
    if remaining is None or expires_at is None:
        return "it holds no lease"
    when = datetime.fromtimestamp(expires_at, timezone.utc).isoformat(timespec="seconds")
    if remaining > 0:
        return f"its lease expires in {remaining:.1f} s (at {when})"
    return f"its lease expired {-remaining:.1f} s ago (at {when})"


def check_claimable(stored: StoredJob, job_id: str, *, done: str, mine: bool = False) -> None:
    """Refuse to claim an unfinished job that another live process owns.

    A job may be claimed when it has no owner, when its owner's lease has
    expired, or when its owner is a process of this host that has ended.
    A job of a store written before leases (an owner and no lease) may be
    claimed unless its owner is a live process of this host.

    Args:
        stored: The job, as loaded from its store.
        job_id: Its id.
        done: What would be done to it, for the message (``"resumed"``).
        mine: The caller ran the job in this process and knows its run
            has stopped: its own live lease is no reason to refuse.

    Raises:
        JobOwnedError: The job may not be claimed from here now.
    """
    owner = stored.owner
    if owner is None or mine:
        return
    if stored.lease_expires_at is None:
        if not owner_is_alive(owner):
            return
    elif not stored.lease_live or owner_is_gone(owner):
        return
    where = " (a flow of this process)" if owner == process_owner() else ""
    raise JobOwnedError(
        f"Job {job_id} is still running in process {owner}{where}: "
        f"{describe_lease(stored.lease_remaining, stored.lease_expires_at)}. It can be "
        f"{done} once that process has ended or its lease has expired.",
        job_id=job_id,
        owner=owner,
        lease_expires_at=stored.lease_expires_at,
    )
