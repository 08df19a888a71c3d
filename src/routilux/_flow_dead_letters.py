"""Replaying a dead letter: its failed delivery again, as a new job."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from routilux._engine.plan import DRAIN_SLOT
from routilux._model.durable import DeadLetter
from routilux._model.job_state import JobState
from routilux.exceptions import (
    DeadLetterReplayedError,
    DefinitionError,
    JobNotFound,
    StoreError,
)

if TYPE_CHECKING:
    from routilux._job_control import JobControl
    from routilux._model.store import JobStore

__all__ = ["replay_dead_letter"]


def replay_dead_letter(
    control: JobControl,
    letter: DeadLetter | str,
    *,
    store: JobStore | None,
    timeout: float | None,
    again: bool,
) -> JobState:
    """``Flow.replay_dead_letter``: deliver ``letter``'s message again as a new job, and wait."""
    chosen = control.store_for(store)
    if isinstance(letter, str):
        if chosen is None:
            raise DefinitionError(
                "replay_dead_letter needs a store to look a letter up by id; pass the "
                "DeadLetter itself, or store=..."
            )
        letter = chosen.get_dead_letter(letter)
    if letter.slot == DRAIN_SLOT:
        raise DefinitionError(
            f"Dead letter {letter.letter_id} is a failure of the on_drain hook of routine "
            f"{letter.routine_id!r}, which has no message to deliver again; what the hook "
            f"was to flush is in job {letter.job_id}'s "
            f"job_values({letter.routine_id!r})."
        )
    plan, entry, params, limit = control.prepare(
        letter.routine_id, letter.slot, letter.data, timeout
    )
    job = JobState(control.flow.flow_id)
    if chosen is not None:
        _claim_letter(chosen, letter, job.job_id, again=again)
    try:
        control.engine.execute(control.settings(), plan, entry, params, limit, chosen, job)
    except BaseException:
        if chosen is not None:
            _unclaim_letter(chosen, letter, job.job_id)
        raise
    original = control.flow.get_execution(letter.job_id)
    if original is not None:
        original.mark_letter_replayed(letter.letter_id, job.job_id)
    return job


def _claim_letter(store: JobStore, letter: DeadLetter, replay_job_id: str, *, again: bool) -> None:
    """Mark ``letter`` replayed by the new job, unless it was replayed (and not ``again``)."""
    if letter.replayed_by is not None and not again:
        raise DeadLetterReplayedError(
            f"Dead letter {letter.letter_id} was replayed already, by job {letter.replayed_by}; "
            "replay_dead_letter(..., again=True) (or 'routilux dead-letters replay --again') "
            "delivers it once more.",
            letter_id=letter.letter_id,
            replayed_by=letter.replayed_by,
        )
    store.mark_replayed_if(letter.letter_id, replay_job_id, expected=letter.replayed_by)


def _unclaim_letter(store: JobStore, letter: DeadLetter, replay_job_id: str) -> None:
    """Give the letter back if its replay job never reached the store (it did not start)."""
    try:
        store.load_job(replay_job_id)
    except JobNotFound:
        with contextlib.suppress(StoreError):
            store.mark_replayed_if(letter.letter_id, letter.replayed_by, expected=replay_job_id)
    except StoreError:
        pass  # Cannot tell: the letter stays marked, so it is not delivered twice.
