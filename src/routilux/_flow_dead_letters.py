"""The dead-letter side of a Flow: replaying a failed delivery as a new job."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

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
    from routilux._engine.engine import Engine
    from routilux._engine.plan import FlowPlan, Target
    from routilux._model.store import JobStore

__all__ = ["FlowDeadLetters"]


class FlowDeadLetters:
    """Replaying dead letters (a part of :class:`Flow`)."""

    flow_id: str

    def _store(self, store: JobStore | None) -> JobStore | None:
        raise NotImplementedError

    def _prepare(
        self,
        routine_id: str,
        slot: str,
        params: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> tuple[FlowPlan, Target, dict[str, Any], float | None]:
        raise NotImplementedError

    def _get_engine(self) -> Engine:
        raise NotImplementedError

    def get_execution(self, job_id: str) -> JobState | None:
        raise NotImplementedError

    def replay_dead_letter(
        self,
        letter: DeadLetter | str,
        *,
        store: JobStore | None = None,
        timeout: float | None = None,
        again: bool = False,
    ) -> JobState:
        """Deliver a dead letter's message again, as a new job, and wait for it.

        The new job starts at the slot that failed, with the message it
        failed on, and runs like any job of this flow (in the store, if one
        is given or the flow has one). With a store, the letter is first
        marked as replayed by the new job, in one compare-and-set: of two
        replays of one letter at the same moment, exactly one delivers it,
        and a letter replayed already is refused unless ``again``. The
        original job's state is marked too, if this flow still remembers it.

        Args:
            letter: The dead letter, or its id (looked up in the store).
            store: Where the letter is kept (default: the flow's ``store``).
            timeout: Seconds the new job may run.
            again: Replay a letter that was replayed already.

        Returns:
            The new job's final state.

        Raises:
            DeadLetterNotFound: The store has no letter with that id.
            DeadLetterReplayedError: The letter was replayed already (and
                ``again`` is false), or is being replayed by another job.
            DefinitionError: The flow lacks the letter's routine or slot, or
                the letter is of an ``on_drain`` hook (it has no message).
        """
        chosen = self._store(store)
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
        plan, entry, params, limit = self._prepare(
            letter.routine_id, letter.slot, letter.data, timeout
        )
        job = JobState(self.flow_id)
        if chosen is not None:
            _claim_letter(chosen, letter, job.job_id, again=again)
        try:
            self._get_engine().execute(plan, entry, params, limit, chosen, job)
        except BaseException:
            if chosen is not None:
                _unclaim_letter(chosen, letter, job.job_id)
            raise
        self._mark_replayed(letter, job.job_id)
        return job

    def _mark_replayed(self, letter: DeadLetter, replay_job_id: str) -> None:
        original = self.get_execution(letter.job_id)
        if original is None:
            return
        with original._lock:
            original.dead_letters = [
                replace(kept, replayed_by=replay_job_id)
                if kept.letter_id == letter.letter_id
                else kept
                for kept in original.dead_letters
            ]


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
