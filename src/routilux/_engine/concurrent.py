"""The concurrent strategy: deliveries on a pool of worker threads."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from routilux._engine.commit import ENTRY_SEQ
from routilux._engine.frame import DeliveryFrame
from routilux._engine.guarded_call import deliver_with_timeout
from routilux._engine.job_async import in_frame
from routilux._engine.job_run import Item, JobRun
from routilux._model.records import PendingDelivery
from routilux._model.status import JobStatus

if TYPE_CHECKING:
    from routilux._engine.aio import LoopThread
    from routilux._engine.gates import Gate, Gates
    from routilux._engine.pool import WorkerPool
    from routilux._engine.timers import Timer, TimerService

__all__ = ["ConcurrentRun", "Work", "admit_entry", "run_entry"]

#: A work entry of the pool: (run, delivery, the places it holds: see NO_PLACE...).
Work = tuple["ConcurrentRun", Item, int]

#: The places a work entry holds. A delivery takes its routine's place first
#: (``Routine.set_max_concurrency``), then, for an ``async def`` handler, a
#: place under the flow's bound on async handlers in flight
#: (``Flow(max_async_in_flight=...)``); it gives both up when it ends.
NO_PLACE, ROUTINE_PLACE, BOTH_PLACES = 0, 1, 2


class ConcurrentRun(JobRun):
    """A job whose deliveries run on the worker pool.

    ``outstanding`` counts the deliveries scheduled and not yet finished
    (queued, running, parked or waiting for a retry); the job completes when
    it reaches zero.
    """

    def __init__(
        self,
        *args: Any,
        pool: WorkerPool[Work],
        gates: Gates[Work],
        timers: TimerService,
        loop: LoopThread,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.pool = pool
        self.gates = gates
        # The flow's one gate for async handlers, kept with the routines' gates
        # (by the flow object), so pause and cancel find what waits at it too.
        flow = self.flow
        self.async_gate: Gate[Work] = gates.of(flow, lambda: flow.max_async_in_flight)
        self.timers = timers
        self.loop = loop
        self.outstanding = 0
        self.running = 0
        self.parked: deque[Item] = deque()
        self.waiting: dict[int, tuple[Timer, Item]] = {}
        self.cancelled: set[int] = set()

    def begin(self, items: list[tuple[Item, float]]) -> None:
        """Schedule the first deliveries (each with the delay before it may run)."""
        ready: list[Item] = []
        with self.lock:
            self.outstanding = len(items)
            for item, delay in items:
                if delay > 0:
                    self.retry_later(delay, item)
                else:
                    ready.append(item)
            if not items:
                ready = self.went_idle()
            # Under the lock, as everywhere: work must reach the pool before the
            # job looks idle, or a virtual clock could jump past it.
            self.submit(ready)

    def submit(self, items: list[Item]) -> None:
        """Queue ``items`` on the worker pool."""
        if items:
            self.pool.submit([(self, item, NO_PLACE) for item in items])

    def went_idle(self) -> list[Item]:
        """Nothing is outstanding (caller holds ``lock``): drain, or complete the job.

        Returns:
            The drain deliveries to submit, if a round is due.
        """
        items = self.drain_items()
        if items:
            self.outstanding += len(items)
        else:
            self.complete()
        return items

    def drop_pending(self) -> int:
        """Forget what has not run; queued items are dropped as workers reach them."""
        dropped = self.outstanding - self.running
        self.parked.clear()
        for timer, _ in self.waiting.values():
            timer.cancel()
        self.waiting.clear()
        return max(0, dropped)

    def _pending_locked(self) -> list[PendingDelivery]:
        """Parked deliveries, then retries waiting for their delay (while paused)."""
        now = self.clock.monotonic()
        ready = [self.pending_item(item) for item in sorted(self.parked, key=lambda i: i[2])]
        waiting = sorted(self.waiting.values(), key=lambda entry: entry[0].due)
        return ready + [self.pending_item(i, max(0.0, t.due - now)) for t, i in waiting]

    def retry_later(self, delay: float, item: Item) -> None:
        """Run ``item`` again after ``delay`` seconds (caller holds ``lock``)."""
        seq = item[2]
        self.waiting[seq] = (self.timers.call_later(delay, self._due_callback(seq)), item)

    def _due_callback(self, seq: int) -> Callable[[], None]:
        return lambda: self._retry_due(seq)

    def _retry_due(self, seq: int) -> None:
        with self.lock:
            entry = self.waiting.pop(seq, None)
            if entry is None or self.ended:
                return
            if self.paused:
                self.parked.append(entry[1])
                return
            # Under the lock, so a cancel that follows finds it in the pool.
            self.submit([entry[1]])

    def pause(self) -> None:
        """Hold every delivery not yet started (caller holds ``lock``)."""
        self.paused = self.interrupted = True
        self._park_queued()

    def stop(self, reason: str, *, keep_store: bool = False) -> None:
        """End the job ``failed``, listing what had not started (caller holds ``lock``)."""
        if not self.ended:
            self._park_queued()
        super().stop(reason, keep_store=keep_store)

    def _park_queued(self) -> None:
        """Take this job's deliveries out of the pool's queue and the gates, into ``parked``."""
        held = self._extract(self._is_mine)
        # By sequence number: the pool and the gates each keep their own order.
        self.parked.extend(sorted((item for _, item, _ in held), key=lambda item: item[2]))

    def _extract(self, select: Callable[[Work], bool]) -> list[Work]:
        """Take entries out of the gates and the pool's queue, giving up the places they hold.

        An entry that holds its routine's place (one a finished delivery
        handed it, or one waiting at the flow's async gate) would otherwise
        keep that place while parked, and no later delivery of the routine,
        of any job, would run; so with a place under the async bound.
        """
        taken = self.gates.extract(select) + self.pool.extract(select)
        for run, item, held in taken:
            release(run, item, held)
        return taken

    def drop_queued(self) -> None:
        """Take this (cancelled) job's entries out of the pool's queue, giving up their places."""
        for run, item, held in self.pool.extract(self._is_mine):
            release(run, item, held)

    def _is_mine(self, entry: Work) -> bool:
        return entry[0] is self

    def acknowledge_pause(self) -> None:
        """Once nothing runs, record the pending deliveries and mark the job paused."""
        if self.paused and not self.ended and self.running == 0:
            if self.job.status is JobStatus.RUNNING:
                self.job.pending_deliveries = self._pending_locked()
                self.job._next_delivery = self.peek_next_seq()
                self.write_routine_stats()  # A paused job is saved and resumed with them.
                self.job._transition(JobStatus.PAUSED)
                if self.durable is not None:
                    self.save_status()
            self.quiet.notify_all()

    def resume(self) -> list[Item]:
        """Release the parked deliveries (caller holds ``lock``); returns them to submit."""
        self.paused = self.interrupted = False
        now = self.clock.monotonic()
        for seq, (timer, item) in list(self.waiting.items()):
            if timer.cancelled:  # The engine shut down while the job was paused.
                self.waiting[seq] = (
                    self.timers.call_later(max(0.0, timer.due - now), self._due_callback(seq)),
                    item,
                )
        # In the order they were held: what was queued at the pause (by
        # number), then what arrived since, timers in the order they fell due.
        items = list(self.parked)
        self.parked.clear()
        self.job.pending_deliveries = []
        return items

    def finished(self, item: Item, frame: DeliveryFrame) -> None:
        """Commit a successful delivery's output and schedule its deliveries."""
        new: list[Item] = []
        with self.lock:
            self.running -= 1
            if self.ended:
                pass
            elif (
                self.durable is not None
                or frame.extra
                or self.timer_book.by_seq
                or item[2] == ENTRY_SEQ
            ) and (outcome := self.prepare_commit(item, frame)) != "ok":
                new = self._settle_failed_delivery(finished=outcome == "failed")
            else:
                if frame.history:
                    self.job._history.extend(frame.history)
                    if len(self.job._history) > self.history_cap:
                        self.trim_history()
                new = frame.staged_items()
                self.outstanding += len(new) + len(frame.later) - 1
                for delay, delayed in frame.later:
                    self.retry_later(delay, delayed)
                if item[4] >= self.max_hops and (new or frame.later):
                    # Past the limit: the job stops, listing them as pending.
                    self.parked.extend(new)
                    self.check_hops(item[0], [*new, *(later for _, later in frame.later)])
                    new = []
                elif self.paused:
                    self.parked.extend(new)
                    new = []
                    self.acknowledge_pause()
                elif self.outstanding == 0:
                    new = self.went_idle()
            self.submit(new)
        frame.clear()
        self.timers.wake()

    def waiting_count(self) -> int:
        """Deliveries outstanding and not running: queued, parked or on a timer."""
        return max(0, self.outstanding - self.running)

    def cancel_delayed(self, seq: int) -> None:
        """Drop a delivery that waits for its time, or is queued (caller holds ``lock``)."""
        entry = self.waiting.pop(seq, None)
        if entry is not None:
            entry[0].cancel()
            self.outstanding -= 1
            return
        for parked in self.parked:
            if parked[2] == seq:
                self.parked.remove(parked)
                self.outstanding -= 1
                return

        def mine(work: Work) -> bool:
            return work[0] is self and work[1][2] == seq

        found = self._extract(mine)
        if found:
            self.outstanding -= len(found)
        else:
            # A worker has taken it but not started it yet: _claim drops it.
            self.cancelled.add(seq)

    def failed(self, item: Item, exc: BaseException) -> None:
        """Apply the error policy to a failed delivery."""
        drains: list[Item] = []
        with self.lock:
            self.running -= 1
            if not self.ended:
                drains = self._settle_failed_delivery(self.on_failure(item, exc, self.retry_later))
            self.submit(drains)
        self.timers.wake()

    def _settle_failed_delivery(self, finished: bool) -> list[Item]:
        # Caller holds self.lock; a retried delivery stays outstanding.
        drains: list[Item] = []
        if finished and not self.ended:
            self.outstanding -= 1
            if self.outstanding == 0 and not self.paused:
                drains = self.went_idle()
        self.acknowledge_pause()
        return drains


def _claim(run: ConcurrentRun, item: Item) -> bool:
    """Decide whether a worker runs ``item`` now; count it if so."""
    with run.lock:
        if run.ended:
            if run.job.status is JobStatus.FAILED:
                # Taken from the queue just before the job stopped: list it.
                run.job.pending_deliveries.append(run.pending_item(item))
            return False
        if run.cancelled and item[2] in run.cancelled:
            run.cancelled.discard(item[2])
            run.outstanding -= 1  # A cancelled timer, caught as it was taken.
            if run.outstanding == 0:
                run.submit(run.went_idle())
            return False
        if run.paused:
            run.parked.append(item)
            if run.job.status is JobStatus.PAUSED:  # Taken just before the pause: list it.
                run.job.pending_deliveries = run._pending_locked()
            return False
        if run.deliveries >= run.max_deliveries:
            run.parked.appendleft(item)  # Not run: listed as pending, as the others.
            run.runaway(item)
            return False
        if run.durable is not None and (failure := run.lease_failure()) is not None:
            run.parked.appendleft(item)
            run.store_failed(failure)  # Another process owns the job, or the store failed.
            return False
        run.deliveries += 1
        run.running += 1
        run.invocations[item[0].index] += 1
        run.job.current_routine_id = item[0].routine_id
        return True


def admit_entry(entry: Work) -> bool:
    """Let a delivery start if it gets the places it needs, else queue it at a gate.

    Its routine's place first, then, for an ``async def`` handler, one under
    the flow's bound on async handlers in flight. The pool calls this under
    its queue's lock, so deliveries reach each gate in the order they were
    queued.
    """
    run, item, held = entry
    if held == NO_PLACE and not _gate(run, item).enter(entry):
        return False
    return held == BOTH_PLACES or _enter_async(run, item)


def _enter_async(run: ConcurrentRun, item: Item) -> bool:
    """Whether a delivery holding its routine's place may start, as far as the async bound goes.

    A delivery to an ``async def`` handler takes a place under the bound, or
    waits at the flow's async gate, with its routine's place, for one to free.
    """
    return not item[0].slot.is_async or run.async_gate.enter((run, item, ROUTINE_PLACE))


def _gate(run: ConcurrentRun, item: Item) -> Gate[Work]:
    routine = item[0].routine
    return run.gates.of(routine, routine.get_max_concurrency)


def run_entry(entry: Work, state: object) -> None:
    """The pool's work function: run a delivery, then the routine's waiting ones."""
    run, item, _ = entry
    gate = _gate(run, item)
    assert isinstance(state, DeliveryFrame)
    while True:
        if _deliver(run, item, state):
            return  # An async handler holds its places until it completes.
        if item[0].slot.is_async:
            _leave_async(run)
        following = gate.leave()
        if following is None:
            return
        run, item, _ = following  # It holds the routine's place now.
        if not _enter_async(run, item):
            return  # It waits at the async gate.


def _deliver(run: ConcurrentRun, item: Item, frame: DeliveryFrame) -> bool:
    """Run one delivery; return whether an async handler still runs it."""
    if not _claim(run, item):
        return False
    target = item[0]
    frame.run = run
    frame.target = target
    frame.seq = item[2]
    frame.hops = item[4]
    frame.record_history = run.record_history
    try:
        timeout = target.routine._timeout
        if timeout is not None and not target.slot.is_async:
            used = deliver_with_timeout(run, item, timeout)
        else:
            result = target.deliver(item[1])
            if result is not None and isawaitable(result):
                _run_async(run, item, result, frame)
                return True
            used = frame
    except BaseException as exc:  # The user's handler: any failure goes to its policy,
        # even an interrupt or SystemExit: on a worker thread it can stop
        # nothing else, and the worker must go on serving.
        frame.clear()
        run.failed(item, exc)
        return False
    run.finished(item, used)
    return False


def _run_async(
    run: ConcurrentRun, item: Item, awaitable: Awaitable[Any], frame: DeliveryFrame
) -> None:
    # The coroutine emits while it runs on the loop thread, after this worker
    # has moved on: it gets a frame of its own.
    own = DeliveryFrame(run, item[0], run.record_history)
    own.seq = item[2]
    own.hops = item[4]
    own.adopt(frame)
    # The handler starts, and its timeout starts counting, when the loop
    # runs the task's first step (see JobRun.bounded).
    run.loop.spawn(
        in_frame(run, own, awaitable, item[0]), lambda done: _async_done(run, item, own, done)
    )


def _async_done(
    run: ConcurrentRun, item: Item, frame: DeliveryFrame, done: asyncio.Future[Any]
) -> None:
    if done.cancelled():
        run.failed(item, RuntimeError("The async handler was cancelled."))
    elif (error := done.exception()) is not None:
        run.failed(item, error)
    else:
        run.finished(item, frame)
    release(run, item, BOTH_PLACES if item[0].slot.is_async else ROUTINE_PLACE)


def _leave_async(run: ConcurrentRun) -> None:
    """Give up a place under the async bound, handing it to the oldest waiting delivery."""
    following = run.async_gate.leave()
    if following is not None:
        _hand_over([(following[0], following[1], BOTH_PLACES)])


def release(run: ConcurrentRun, item: Item, held: int) -> None:
    """Give up the places ``held`` by a delivery, each to the oldest delivery waiting for it."""
    _hand_over(_give_up(run, item, held))


def _give_up(run: ConcurrentRun, item: Item, held: int) -> list[Work]:
    """Give up the places ``held``; return the waiting entries that got them."""
    handed: list[Work] = []
    if held == BOTH_PLACES and (following := run.async_gate.leave()) is not None:
        handed.append((following[0], following[1], BOTH_PLACES))
    if held != NO_PLACE and (following := _gate(run, item).leave()) is not None:
        handed.append((following[0], following[1], ROUTINE_PLACE))
    return handed


def _hand_over(entries: list[Work]) -> None:
    """Queue entries that were handed places ahead of the pool's work.

    If their pool is shut down, their places are given up in turn, so that
    none is lost for the jobs that come after a restart: shutdown has ended
    every job that is not paused, and a paused job keeps the delivery with
    its other held ones, for its resume.
    """
    while entries:
        entry = entries.pop()
        run, item, held = entry
        if run.pool.hand_over(entry):
            continue
        if not run.ended:  # Paused: only a pause racing with the pool lets one get here.
            with run.lock:
                if not run.ended:
                    run.parked.append(item)
        entries += _give_up(run, item, held)
