"""The concurrent strategy: deliveries on a pool of worker threads."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from routilux._engine.frame import DeliveryFrame
from routilux._engine.guarded_call import deliver_with_timeout
from routilux._engine.job_run import Item, JobRun
from routilux._model.records import PendingDelivery
from routilux._model.status import JobStatus

if TYPE_CHECKING:
    from routilux._engine.aio import LoopThread
    from routilux._engine.gates import Gate, Gates
    from routilux._engine.pool import WorkerPool
    from routilux._engine.timers import Timer, TimerService

__all__ = ["ConcurrentRun", "Work", "admit_entry", "run_entry"]

#: A work entry of the pool: (run, delivery, whether it holds its routine's place).
Work = tuple["ConcurrentRun", Item, bool]


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
            self.pool.submit([(self, item, False) for item in items])

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
        mine = self._is_mine
        held = self.gates.extract(mine) + self._extract_queued(mine)
        # By sequence number: the pool and the gates each keep their own order.
        self.parked.extend(sorted((item for _, item, _ in held), key=lambda item: item[2]))

    def _extract_queued(self, select: Callable[[Work], bool]) -> list[Work]:
        """Take entries out of the pool's queue, giving up the routine places they hold.

        An entry queued with its routine's place (one that a finished async
        delivery handed it) would otherwise keep that place while parked,
        and no later delivery of the routine, of any job, would run.
        """
        taken = self.pool.extract(select)
        for run, item, entered in taken:
            if entered:
                following = _gate(run, item).leave()
                if following is not None:
                    following[0].pool.submit([(following[0], following[1], True)], first=True)
        return taken

    def _is_mine(self, entry: Work) -> bool:
        return entry[0] is self

    def acknowledge_pause(self) -> None:
        """Once nothing runs, record the pending deliveries and mark the job paused."""
        if self.paused and not self.ended and self.running == 0:
            if self.job.status is JobStatus.RUNNING:
                self.job.pending_deliveries = self._pending_locked()
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
            elif (self.durable is not None or frame.extra or self.timer_book.by_seq) and (
                outcome := self.prepare_commit(item, frame)
            ) != "ok":
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
                if self.paused:
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

        found = self.gates.extract(mine) + self._extract_queued(mine)
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
        run.deliveries += 1
        run.running += 1
        run.invocations[item[0].index] += 1
        run.job.current_routine_id = item[0].routine_id
        return True


def admit_entry(entry: Work) -> bool:
    """Let a delivery start if its routine is under its limit, else queue it at its gate.

    The pool calls this under its queue's lock, so deliveries reach their
    routine's gate in the order they were queued.
    """
    run, item, entered = entry
    return entered or _gate(run, item).enter(entry)


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
            return  # An async handler holds the place until it completes.
        following = gate.leave()
        if following is None:
            return
        run, item, _ = following


def _deliver(run: ConcurrentRun, item: Item, frame: DeliveryFrame) -> bool:
    """Run one delivery; return whether an async handler still runs it."""
    if not _claim(run, item):
        return False
    target = item[0]
    frame.run = run
    frame.target = target
    frame.seq = item[2]
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
    own.adopt(frame)
    run.loop.spawn(
        run._in_frame(own, awaitable, item[0]), lambda done: _async_done(run, item, own, done)
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
    following = _gate(run, item).leave()
    if following is not None:
        following[0].pool.submit([(following[0], following[1], True)], first=True)
