"""The Ray strategy: the concurrent strategy, with each handler call run on a Ray cluster.

Everything but the handler call stays here, on the driver, as in the
concurrent strategy: the job, its ordering rules and gates, error policies
and retries, timeouts, durable checkpoints, and the slot's merge. A worker
thread claims a delivery, merges its message into the slot, and sends the
handler call to Ray (:mod:`ray_remote`): a task for a routine, or a call
to the job's actor of a routine marked ``set_ray_actor(True)``; it waits on
the result, sets the routine's state that changed, prints what the handler
printed, and replays its emits, job values and timers into the delivery's
frame, which the concurrent strategy then commits (or discards, when the
handler raised). Messages, state and job values cross through the value
codec, checked here before Ray sees them.
"""

from __future__ import annotations

import pickle
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from routilux._engine.concurrent import ConcurrentRun, ConcurrentStrategy
from routilux._engine.ray_cluster import RayCluster
from routilux._engine.ray_remote import (
    Definition,
    RemoteCall,
    RemoteOutcome,
    read_state,
    write_state,
)
from routilux._model.context import CURRENT_FRAME, Frame
from routilux._serde.values import decode_value, encode_value
from routilux.exceptions import ExecutionError, SerializationError

if TYPE_CHECKING:
    from routilux._engine.delivery import Delivery
    from routilux._engine.frame import DeliveryFrame
    from routilux._engine.plan import FlowPlan, Target
    from routilux._engine.services import EngineServices
    from routilux._engine.settings import EngineSettings, FlowPort
    from routilux._model.job_state import JobState
    from routilux._model.routine import Routine

__all__ = ["RayRun", "RayStrategy", "RayValueError"]


class RayValueError(ExecutionError):
    """A message, a routine's state or a job value cannot cross to a Ray worker."""


class RayRun(ConcurrentRun):
    """A job whose handlers run on Ray; the rest as in :class:`ConcurrentRun`.

    ``actors`` holds the job's actor of each actor routine, made on the
    routine's first delivery and killed when the job ends; one whose
    process died is dropped, so that a retry gets a new one.
    """

    def __init__(self, *args: Any, cluster: RayCluster, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cluster = cluster
        self.actors: dict[str, Any] = {}
        self._turns: dict[str, threading.Lock] = {}
        self._definitions: dict[str, Any] = {}
        self._actors_lock = threading.Lock()

    def call(self, item: Delivery, frame: DeliveryFrame) -> DeliveryFrame | None:
        """Merge the message here, run the handler on Ray, replay what it did into ``frame``."""
        target = item.target

        def remote(passed: Mapping[str, Any]) -> None:
            outcome = self._run_remote(item, passed)
            # Into the frame the handler would see: a tracked delivery's notes its events.
            current = CURRENT_FRAME.get()
            _replay(target, outcome, frame if current is None else current)

        target.deliver_through(item.message, remote)
        return frame

    def _run_remote(self, item: Delivery, passed: Mapping[str, Any]) -> RemoteOutcome:
        target = item.target
        routine = target.routine
        if not routine.is_ray_actor():
            return self._get(item, self.cluster.task.remote(self._remote_call(item, passed)), None)
        # An actor runs its calls one at a time: so does the job, from the state
        # as the previous call left it to the state this one leaves.
        actor, turn = self._actor(target.routine_id)
        with turn:
            return self._get(item, actor.call.remote(self._remote_call(item, passed)), actor)

    def _get(self, item: Delivery, ref: Any, actor: Any) -> RemoteOutcome:
        """Wait for a call; set the state it changed, print its output, raise its error."""
        target = item.target
        routine = target.routine
        ray = self.cluster.ray
        try:
            outcome: RemoteOutcome = ray.get(ref, timeout=routine._timeout)
        except ray.exceptions.GetTimeoutError:
            self._give_up(target.routine_id, ref, actor)
            raise self.handler_timeout(target, routine._timeout or 0.0) from None
        except ray.exceptions.RayActorError:
            self._drop_actor(target.routine_id, actor)  # Dead: a retry gets a new one.
            raise
        where = f"routine {target.routine_id!r}"
        read_state(routine, outcome.state, where)
        _print(outcome)
        if outcome.error is not None:
            raise pickle.loads(outcome.error)  # Our own worker's pickle of the handler's error.
        return outcome

    def _remote_call(self, item: Delivery, passed: Mapping[str, Any]) -> RemoteCall:
        target = item.target
        routine = target.routine
        rid, slot = target.routine_id, target.slot.name
        where = f"routine {rid!r}, slot {slot!r}"
        try:
            return RemoteCall(
                definition=self._definition(rid, routine),
                class_name=f"{type(routine).__module__}.{type(routine).__qualname__}",
                routine_id=rid,
                slot=slot,
                message=encode_value(dict(passed), f"the message to {where}"),
                state=write_state(routine, f"routine {rid!r}"),
                values=encode_value(
                    dict(self.job.engine_values.get(rid, {})), f"the job values of {where}"
                ),
                delivery_id=self.delivery_id(item.seq),
            )
        except SerializationError as exc:
            hint = (
                " A routine's public attributes, stats and slot data are its shared state, "
                "which crosses; name an attribute with a leading underscore to keep it in "
                "each Ray worker process instead."
                if " attribute " in str(exc)
                else ""
            )
            raise RayValueError(
                f"Delivery {self.delivery_id(item.seq)} to {where} cannot cross to a Ray "
                f"worker: {exc}{hint}"
            ) from exc

    def _definition(self, rid: str, routine: Routine) -> Any:
        """Ray's reference to ``routine``'s class and config, put once per job."""
        with self._actors_lock:
            ref = self._definitions.get(rid)
            if ref is None:
                definition = Definition(type(routine), dict(routine._config))
                ref = self._definitions[rid] = self.cluster.ray.put(definition)
            return ref

    def _actor(self, rid: str) -> tuple[Any, threading.Lock]:
        """The job's actor of routine ``rid`` (made now if it has none), and its turn lock."""
        with self._actors_lock:
            actor = self.actors.get(rid)
            if actor is None:
                actor = self.actors[rid] = self.cluster.actor_cls.remote()
            return actor, self._turns.setdefault(rid, threading.Lock())

    def _drop_actor(self, rid: str, actor: Any) -> None:
        with self._actors_lock:
            if self.actors.get(rid) is actor:
                del self.actors[rid]

    def _give_up(self, rid: str, ref: Any, actor: Any) -> None:
        """A call that overran its routine's timeout: stop it (an actor is killed and dropped)."""
        ray = self.cluster.ray
        if actor is None:
            ray.cancel(ref, force=True)
        else:
            self._drop_actor(rid, actor)
            ray.kill(actor, no_restart=True)

    def close_actors(self) -> None:
        """Kill the job's actors, drop its routines' definitions (it has ended)."""
        with self._actors_lock:
            actors = list(self.actors.values())
            self.actors.clear()
            self._definitions.clear()  # Ray frees them once no call holds them.
        for actor in actors:
            self.cluster.ray.kill(actor, no_restart=True)

    def complete(self) -> None:
        super().complete()
        self.close_actors()

    def stop(self, reason: str, *, keep_store: bool = False) -> None:
        super().stop(reason, keep_store=keep_store)
        self.close_actors()

    def cancel(self, reason: str | None = None) -> bool:
        ended = super().cancel(reason)
        self.close_actors()
        return ended


def _replay(target: Target, outcome: RemoteOutcome, frame: Frame) -> None:
    """Stage in ``frame`` what the handler did on Ray, in the order it did it."""
    routine = target.routine
    where = f"routine {target.routine_id!r}"
    for kind, *args in outcome.ops:
        data = decode_value(args[-1], f"the output of {where}")
        if kind == "emit":
            frame.emit(routine, args[0], data)
        elif kind == "send_to":
            frame.send_to(routine, args[0], data)
        elif kind == "deliver_later":
            frame.deliver_later(routine, args[0], args[1], data)
        elif kind == "set_timer":
            frame.set_timer(routine, args[0], args[1], args[2], data)
        elif kind == "cancel_timer":
            frame.cancel_timer(routine, args[0])
        elif kind == "defer":
            frame.defer(routine, args[0], data)
        elif kind == "set_value":
            frame.set_value(routine, args[0], data)
        elif kind == "append_value":
            frame.append_value(routine, args[0], data)


def _print(outcome: RemoteOutcome) -> None:
    """Write what the handler printed on Ray to this process's output, as it would have."""
    if outcome.stdout:
        sys.stdout.write(outcome.stdout)
        sys.stdout.flush()
    if outcome.stderr:
        sys.stderr.write(outcome.stderr)
        sys.stderr.flush()


class RayStrategy(ConcurrentStrategy):
    """Runs handlers on a Ray cluster, with the concurrent strategy's threads waiting on them.

    The flow's ``max_workers`` threads each wait on one handler call, so it
    bounds the calls in flight; Ray runs as many at once as the cluster has
    CPUs. The cluster is connected on the first job (``Flow(ray_address=...)``).
    """

    def __init__(self, services: EngineServices) -> None:
        super().__init__(services)
        self.cluster = RayCluster()

    def new_run(
        self,
        port: FlowPort,
        settings: EngineSettings,
        plan: FlowPlan,
        job: JobState,
        *,
        timeout: float | None,
    ) -> RayRun:
        """A run of ``job`` whose handlers run on Ray (connected now, if it is not yet)."""
        self.cluster.connect(settings.ray_address)
        run = RayRun(
            port,
            settings,
            plan,
            job,
            strategy=self,
            services=self.services,
            timeout=timeout,
            pool=self._pool_of(settings.max_workers),
            gates=self._gates,
            timers=self.services.timers(),
            loop=self.services.loop(),
            cluster=self.cluster,
        )
        with self._lock:
            self._runs = [kept for kept in self._runs if not kept.ended]
            self._runs.append(run)
        return run
