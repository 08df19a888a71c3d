"""The shapes of the workloads, shared by the routilux and the baseline versions.

The registry imports this module too (it never imports routilux), so the
ideals it reports are computed from the same numbers the workloads use.
"""

import math

__all__ = [
    "ASYNC_SLEEP_S",
    "ASYNC_WARMUP",
    "ASYNC_WORKERS",
    "CHAIN_WORKERS",
    "IO_SLEEP_S",
    "IO_WORKERS",
    "PROCESSORS",
    "STAGES",
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


def concurrent_io_ideal_s(n: int) -> float:
    """(e) The wall time of ``n`` sleeps on ``IO_WORKERS`` threads if nothing else cost."""
    return math.ceil(n / IO_WORKERS) * IO_SLEEP_S


def async_io_ideal_s(n: int) -> float:
    """(f) The wall time of ``n`` overlapping ``asyncio.sleep`` calls: one sleep."""
    del n  # Every sleep can overlap every other one.
    return ASYNC_SLEEP_S
