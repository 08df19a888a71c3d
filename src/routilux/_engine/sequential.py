"""The sequential strategy: deliveries one at a time, first in first out."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from inspect import isawaitable
from itertools import chain
from typing import TYPE_CHECKING, Any

from routilux._engine.commit import ENTRY_SEQ
from routilux._engine.delivery import Delivery
from routilux._engine.describe import describe_exception
from routilux._engine.frame import DeliveryFrame
from routilux._engine.guarded_call import deliver_with_timeout
from routilux._engine.job_run import JobRun
from routilux._engine.plan import Target
from routilux._engine.timers import TimerHeap
from routilux._model.context import CURRENT_FRAME
from routilux._model.records import PendingDelivery
from routilux._model.status import JobStatus

if TYPE_CHECKING:
    from routilux._engine.plan import FlowPlan
    from routilux._engine.services import EngineServices
    from routilux._engine.settings import EngineSettings, FlowPort
    from routilux._model.job_state import JobState

__all__ = ["ReadyQueue", "SequentialRun", "SequentialStrategy"]

#: Builds a Delivery from five values at C speed (no Python-level ``__new__``).
_delivery = partial(tuple.__new__, Delivery)


class ReadyQueue:
    """The deliveries ready to run, first in first out, stored flat.

    Each delivery takes five consecutive entries of one deque (target, data,
    sequence number, attempt, hops) instead of one tuple. A tuple that holds a
    message dict can never be untracked by the garbage collector; with
    thousands of deliveries waiting, those tuples outlive the young
    generations and set off full collections, which then walk the whole
    heap (the kept history included). The flat deque is one object, and a
    handler's emits are staged flat too (``DeliveryFrame.staged``), so they
    join the queue with one ``extend``.
    """

    __slots__ = ("flat",)

    def __init__(self) -> None:
        self.flat: deque[Any] = deque()

    def __len__(self) -> int:
        return len(self.flat) // 5

    def __bool__(self) -> bool:
        return bool(self.flat)

    def __iter__(self) -> Iterator[Delivery]:
        flat = iter(self.flat)
        return map(_delivery, zip(flat, flat, flat, flat, flat, strict=True))

    def append(self, item: Delivery) -> None:
        """Queue ``item`` behind the others."""
        self.flat.extend(item)

    def extend(self, items: Iterable[Delivery]) -> None:
        """Queue ``items``, in order, behind the others."""
        self.flat.extend(chain.from_iterable(items))

    def extend_front(self, items: list[Delivery]) -> None:
        """Queue ``items``, in order, ahead of the others."""
        self.flat.extendleft(reversed(list(chain.from_iterable(items))))

    def first(self) -> Delivery:
        """The delivery that runs next (the queue must not be empty)."""
        flat = self.flat
        return Delivery(flat[0], flat[1], flat[2], flat[3], flat[4])

    def clear(self) -> None:
        """Drop every queued delivery."""
        self.flat.clear()

    def remove_seq(self, seq: int) -> bool:
        """Drop the delivery numbered ``seq``; return whether it was there."""
        items = list(self)
        kept = [item for item in items if item.seq != seq]
        if len(kept) == len(items):
            return False
        self.flat.clear()
        self.extend(kept)
        return True


class SequentialRun(JobRun):
    """A job whose deliveries run one at a time on the thread that drives it.

    Ready deliveries wait in a FIFO queue; delayed ones (retries, timers)
    wait in a :class:`~routilux._engine.timers.TimerHeap` ordered by the
    time they become due, and join the back of the queue then.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = ReadyQueue()
        self.delayed = TimerHeap(self.clock)
        self.driving = False
        # Driven by execute() on the caller's thread (not a thread of ours).
        self.caller_thread = False
        # What escaped the loop, if anything did (an interrupt, or a bug).
        self.escaped: BaseException | None = None

    def drop_pending(self) -> int:
        """Forget every delivery not yet run; return how many."""
        dropped = len(self.queue) + len(self.delayed)
        self.queue.clear()
        self.delayed.clear()
        return dropped

    def retry_later(self, delay: float, item: Delivery) -> None:
        """Put ``item`` back after ``delay`` seconds on the clock."""
        self.delayed.add(delay, item)

    def waiting_count(self) -> int:
        """Queued deliveries and retries or timers waiting."""
        return len(self.queue) + len(self.delayed)

    def cancel_delayed(self, seq: int) -> None:
        """Drop the waiting (or due, not yet run) delivery ``seq`` (caller holds ``lock``)."""
        if not self.delayed.cancel(seq):
            self.queue.remove_seq(seq)  # Due already, but not run yet.

    def drain(self) -> bool:
        """Queue a round of ``on_drain`` deliveries if one is due; return whether it was."""
        with self.lock:
            items = self.drain_items()
            self.queue.extend(items)
        return bool(items)

    def schedule(self, emitter: Target, later: list[tuple[float, Delivery]]) -> None:
        """Put deliveries ``emitter`` scheduled with a delay on the timers (caller holds ``lock``).

        The job fails as a runaway if one of them is past ``max_hops``.
        """
        for delay, item in later:
            self.retry_later(delay, item)
        self.check_hops(emitter, [item for _, item in later])
        later.clear()

    def release_timers(self) -> bool:
        """Move due retries to the queue; with nothing else to do, wait for the next.

        Returns:
            False if the job was interrupted (paused, cancelled, timed out) meanwhile.
        """
        delayed = self.delayed
        now = self.clock.monotonic()
        due = delayed.next_due()
        if not self.queue and due > now:
            wake = due if self.deadline is None else min(due, self.deadline)
            self.clock.wait(self.wakeup, wake - now)
            if self.interrupted:
                return False
            if self.past_deadline():
                with self.lock:
                    self.time_out()
                return False
            now = self.clock.monotonic()
        with self.lock:
            self.queue.extend(delayed.pop_due(now))
        return True

    def halt(self, item: Delivery, count: int) -> bool:
        """Stop the job if it hit its delivery limit or deadline, or lost its store's job.

        Returns whether it did; ``item`` (the next delivery) is still queued.
        """
        if count >= self.max_deliveries:
            with self.lock:
                self.runaway(item)
            return True
        if self.past_deadline():
            with self.lock:
                self.time_out()
            return True
        failure = self.lease_failure()
        if failure is not None:
            with self.lock:
                self.store_failed(failure)
            return True
        return False

    def fail(self, item: Delivery, exc: BaseException) -> None:
        """Apply the error policy to a failed delivery."""
        self.job.current_routine_id = item.target.routine_id
        with self.lock:
            if not self.ended:
                self.on_failure(item, exc, self.retry_later)

    def settle(self) -> None:
        """After the loop: complete the job, acknowledge a pause, or stop a broken run.

        All in one locked step, with ``driving`` cleared in it, so that a
        resume can never meet a driver still cleaning up.
        """
        with self.lock:
            if not self.ended:
                if self.paused:
                    self.job.pending_deliveries = self.pending_locked()
                    self.job.note_next_delivery(self.peek_next_seq())
                    self.write_routine_stats()  # A paused job is saved and resumed with them.
                    self.job.set_status(JobStatus.PAUSED)
                    if self.durable is not None:
                        self.save_status()
                elif self.escaped is None and not self.queue and not self.delayed:
                    self.complete()
                else:  # The loop left with work to do: an exception escaped it.
                    why = "" if self.escaped is None else f" ({describe_exception(self.escaped)})"
                    self.stop(f"The job was interrupted before it finished{why}", keep_store=True)
            self.driving = False
            if self.ended:
                self.close()
            self.quiet.notify_all()

    def pending_locked(self) -> list[PendingDelivery]:
        """Ready deliveries first, then waiting retries with their remaining delay."""
        ready = [self.pending_item(item) for item in self.queue]
        return ready + [self.pending_item(item, left) for item, left in self.delayed.listed()]

    def drive(self) -> None:
        """Run deliveries on the calling thread until the job ends or pauses.

        The caller sets ``driving`` (under ``lock``) before calling.
        """
        frame = DeliveryFrame(self, None, self.record_history)
        token = CURRENT_FRAME.set(frame)
        self.escaped = None  # Of this drive only: a paused job may be driven again.
        try:
            _loop(self, frame)
        except BaseException as exc:
            # An interrupt, or a bug: the job cannot be told complete.
            self.escaped = exc
            raise
        finally:
            CURRENT_FRAME.reset(token)
            if frame.target is not None:
                # Kept up to date only here and at checkpoints: not worth a
                # store per delivery on the hot path.
                self.job.current_routine_id = frame.target.routine_id
            self.settle()


class SequentialStrategy:
    """Runs each job on one thread: the caller's (``execute``) or one of its own.

    Pausing a job interrupts its driving thread between deliveries; resuming
    it drives it again on a new thread.
    """

    def __init__(self, services: EngineServices) -> None:
        self.services = services

    def new_run(
        self,
        port: FlowPort,
        settings: EngineSettings,
        plan: FlowPlan,
        job: JobState,
        *,
        timeout: float | None,
    ) -> SequentialRun:
        """A run of ``job`` that this strategy drives."""
        return SequentialRun(
            port, settings, plan, job, strategy=self, services=self.services, timeout=timeout
        )

    def run_inline(self, run: JobRun, entry: Delivery) -> bool:
        """Drive the job on the calling thread, unless a real deadline must be able to stop it."""
        if run.timeout is not None and not self.services.virtual:
            return False  # The caller waits and times the job out; a handler may hang.
        own = _own(run)
        own.queue.append(entry)
        own.driving = True
        own.caller_thread = True
        own.drive()
        return True

    def launch(self, run: JobRun, deliveries: list[tuple[Delivery, float]]) -> None:
        """Queue ``deliveries`` (delayed ones on the heap) and drive the job on a thread."""
        own = _own(run)
        if run.deadline is not None and not self.services.virtual:
            self.services.arm_deadline(run)
        with run.lock:
            for item, delay in deliveries:
                if delay > 0:
                    own.retry_later(delay, item)
                else:
                    own.queue.append(item)
            own.driving = True
        self._drive_in_thread(own)

    def pause(self, run: JobRun) -> None:
        """Interrupt the driving thread; it settles the pause once its delivery is done."""
        run.paused = run.interrupted = True
        run.wakeup.set()

    def resume(
        self, run: JobRun, deferred: list[Delivery], settings: EngineSettings
    ) -> Callable[[], None]:
        """Queue ``deferred`` first; the job is driven again on a new thread."""
        own = _own(run)
        own.paused = own.interrupted = False
        own.wakeup.clear()
        own.queue.extend_front(deferred)
        own.job.pending_deliveries = []
        own.driving = True
        return partial(self._drive_in_thread, own)

    def cancelled(self, run: JobRun) -> None:
        """Nothing to do: the driving thread sees the job ended."""

    def idle(self) -> bool:
        """Always: a driving thread never holds work another thread waits for."""
        return True

    def shutdown(self, wait: bool) -> None:
        """Nothing to stop: driving threads end with their jobs."""

    def _drive_in_thread(self, run: SequentialRun) -> None:
        run.caller_thread = False
        self.services.threads.start(run.drive, f"routilux-job-{run.job.job_id[:8]}")


def _own(run: JobRun) -> SequentialRun:
    assert isinstance(run, SequentialRun), "a job of another strategy"
    return run


# The engine's hot path stays in one function on purpose: a helper call per
# delivery would cost more than the branches it hides.
def _loop(run: SequentialRun, frame: DeliveryFrame) -> None:  # noqa: C901
    queue = run.queue.flat
    popleft = queue.popleft
    staged = frame.staged
    staged_history = frame.history
    later = frame.later
    history = run.job.history_items
    invocations = run.counters.invocations
    durable = run.durable
    book = run.timer_book
    delayed = run.delayed.heap
    history_cap = run.history.cap
    acquire = run.lock.acquire
    release = run.lock.release
    limit = run.max_deliveries
    max_hops = run.max_hops
    count = run.deliveries
    # Checked before every delivery: a deadline, or a durable job's lease.
    guarded = run.deadline is not None or durable is not None
    try:
        while not run.interrupted:
            if delayed and not run.release_timers():
                break
            if not queue:
                if delayed:
                    continue
                if run.drain():
                    continue
                break
            if (count >= limit or guarded) and run.halt(run.queue.first(), count):
                break
            # Five entries per delivery: see ReadyQueue.
            target = popleft()
            data = popleft()
            frame.seq = seq = popleft()
            attempt = popleft()
            frame.hops = hops = popleft()
            count += 1
            run.deliveries = count  # Read by checkpoints and progress displays.
            invocations[target.index] += 1
            frame.target = target
            try:
                if target.routine._timeout is None or target.slot.is_async:
                    result = target.deliver(data)
                    if result is not None and isawaitable(result):
                        run.await_result(result, target)
                else:
                    frame.adopt(
                        deliver_with_timeout(
                            run,
                            _delivery((target, data, seq, attempt, hops)),
                            target.routine._timeout,
                        )
                    )
            except BaseException as exc:  # The user's handler: any failure goes to its policy,
                frame.clear()
                if run.caller_thread and isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    # but these stop a run on the caller's thread (on a thread
                    # of ours they could stop nothing else): the delivery goes
                    # back to the front of the queue, to be listed as pending
                    # and re-run by a resume; drive() ends the job.
                    queue.extendleft((hops, attempt, seq, data, target))
                    raise
                run.fail(_delivery((target, data, seq, attempt, hops)), exc)
                continue
            acquire()
            try:
                if run.ended:
                    break
                if (
                    durable is not None or frame.extra or book.by_seq or seq == ENTRY_SEQ
                ) and run.prepare_commit(
                    _delivery((target, data, seq, attempt, hops)), frame
                ) != "ok":
                    continue
                if staged_history:
                    history.extend(staged_history)
                    staged_history.clear()
                    if len(history) > history_cap:
                        run.trim_history()
                if staged:
                    queue.extend(staged)  # Both flat: see ReadyQueue.
                    if hops >= max_hops:  # What it emitted is past the limit: a runaway.
                        run.check_hops(target, frame.staged_items())
                    staged.clear()
                if later:
                    run.schedule(target, later)
            finally:
                release()
    finally:
        run.deliveries = count
