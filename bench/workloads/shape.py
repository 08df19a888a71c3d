"""The shapes of the workloads, shared by the routilux and the baseline versions.

The registry imports this module too (it never imports routilux), so the
ideals it reports are computed from the same numbers the workloads use.
"""

import math

__all__ = [
    "ASYNC_IN_FLIGHT",
    "ASYNC_SLEEP_S",
    "ASYNC_WARMUP",
    "ASYNC_WORKERS",
    "BURST_BUSY_PROCESSES",
    "BURST_SLEEP_S",
    "BURST_TIMEOUT_S",
    "BURST_WARMUP",
    "CHAIN_WORKERS",
    "IO_SLEEP_S",
    "IO_WORKERS",
    "PROCESSORS",
    "STAGES",
    "async_burst_ideal_s",
    "async_io_ideal_s",
    "concurrent_io_ideal_s",
]

#: Pass-through stages between the chain's source and its sink.
STAGES = 10

#: Processor routines between the fan-out's source and its aggregator.
PROCESSORS = 8

#: (e) Seconds each call of the I/O handler sleeps (``time.sleep``).
IO_SLEEP_S = 0.02

#: (e) Worker threads of the concurrent I/O flow.
IO_WORKERS = 16

#: (f) Seconds each call of the ``async def`` handler awaits (``asyncio.sleep``).
ASYNC_SLEEP_S = 0.01

#: (f) Worker threads of the async I/O flow.
ASYNC_WORKERS = 4

#: (f) Messages of the untimed warm-up execute.
ASYNC_WARMUP = 100

#: (g) Worker threads of the concurrent chain.
CHAIN_WORKERS = 4

#: (f-burst) Seconds each call of the ``async def`` handler awaits.
BURST_SLEEP_S = 0.02

#: (f-burst) The handler's routine timeout (``Routine.set_timeout``), in seconds.
BURST_TIMEOUT_S = 0.3

#: (f, f-burst) ``async def`` handlers in flight at once: the flow's default
#: bound (``Flow(max_async_in_flight=...)``), which f-burst checks it runs with.
ASYNC_IN_FLIGHT = 1_000

#: (f-burst) Processes spinning on the CPUs while the burst runs.
BURST_BUSY_PROCESSES = 3

#: (f-burst) Messages of the untimed warm-up execute.
BURST_WARMUP = 1_000


def concurrent_io_ideal_s(n: int) -> float:
    """(e) The wall time of ``n`` sleeps on ``IO_WORKERS`` threads if nothing else cost."""
    return math.ceil(n / IO_WORKERS) * IO_SLEEP_S


def async_burst_ideal_s(n: int) -> float:
    """(f-burst) ``n`` sleeps, ``ASYNC_IN_FLIGHT`` at a time, if nothing else cost."""
    return math.ceil(n / ASYNC_IN_FLIGHT) * BURST_SLEEP_S


def async_io_ideal_s(n: int) -> float:
    """(f) The wall time of ``n`` overlapping ``asyncio.sleep`` calls: one sleep."""
    del n  # Every sleep can overlap every other one.
    return ASYNC_SLEEP_S
