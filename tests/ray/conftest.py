"""One local Ray cluster for the tests of this folder, per test session (per xdist worker).

Started with ``num_cpus=2`` (the machine's cores) and no dashboard, on a
thread whose start is bounded: a cluster that cannot start fails the tests
that need it with a clear message instead of hanging the run. The routines
the tests send to Ray live in ``ray_routines.py``, which Ray's pickler is
told to send by value: Ray's workers do not have this folder on their path.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

#: Seconds a local cluster may take to start on a busy 2-core machine: under
#: pytest-timeout's 120 s, so that this fixture's message is the one shown.
START_TIMEOUT = 90.0
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """A started local Ray cluster (``ray``), shut down at the end of the session."""
    import ray_routines

    started: list[BaseException | None] = []

    def start() -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ray.init(
                    num_cpus=2,
                    include_dashboard=False,
                    log_to_driver=False,
                    # The workers import this checkout's routilux, as the driver does.
                    runtime_env={"env_vars": {"PYTHONPATH": _worker_path()}},
                )
            started.append(None)
        except BaseException as exc:  # Handed to the test thread below.
            started.append(exc)
            return
        stop.wait()  # Ray kills the local cluster's processes when this thread exits.
        ray.shutdown()

    stop = threading.Event()

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)  # Bounded: a cluster that hangs fails the tests.
    if not started:
        pytest.fail(f"The local Ray cluster did not start within {START_TIMEOUT:.0f} s.")
    if started[0] is not None:
        pytest.fail(f"The local Ray cluster did not start: {started[0]!r}")
    ray.cloudpickle.register_pickle_by_value(ray_routines)
    try:
        yield ray
    finally:
        ray.cloudpickle.unregister_pickle_by_value(ray_routines)
        stop.set()
        thread.join(60)  # Bounded: shutting down takes a few seconds.


def _worker_path() -> str:
    kept = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join([str(SRC), *([kept] if kept else [])])
