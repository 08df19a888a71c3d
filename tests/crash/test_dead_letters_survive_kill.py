"""A killed job's dead letters stay in its store, and can be replayed after its resume."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

N = 12
DEAD = 3  # enrich always fails on this message; its CONTINUE policy dead-letters it
SLEEP = 0.04
PATIENCE = 60.0


def dead_letter_committed(lines: list[list[str]]) -> bool:
    """enrich failed on DEAD, and the same process has started another delivery since.

    The sequential strategy commits a delivery's checkpoint (here: the dead
    letter) before it starts the next delivery.
    """
    for index, fields in enumerate(lines):
        if fields[0] == "fail" and fields[3] == "enrich" and fields[2] == str(DEAD):
            return any(f[0] == "start" and f[4] == fields[4] for f in lines[index + 1 :])
    return False


@pytest.mark.timeout(120)
def test_dead_letters_survive_a_kill_and_replay_after_the_resume(
    store_spec: str,
    runner: Any,
    open_store: Callable[[str], Any],
    crash_pipeline: ModuleType,
    log_waiter: Callable[..., list[list[str]]],
    log_reader: Callable[[Path], list[list[str]]],
    tmp_path: Path,
) -> None:
    log = tmp_path / "job.log"
    original = runner.spawn("start", log, n=N, sleep=SLEEP, dead=DEAD)
    job_id = original.read_first_line()
    log_waiter(log, dead_letter_committed, original, PATIENCE)
    assert original.kill(), "the job ended before the kill"

    store = open_store(store_spec)
    assert store.load_job(job_id).document["status"] == "running"
    [letter] = store.list_dead_letters(job_id=job_id)
    assert letter.letter_id.startswith(f"{job_id}:")
    assert (letter.routine_id, letter.slot, letter.data) == (
        "enrich",
        "input",
        {"msg_id": DEAD, "value": 2 * DEAD},
    )
    assert letter.error.error_type == "PermanentError"
    assert letter.replayed_by is None

    resumed = runner.spawn("resume", log, job=job_id, n=N, sleep=SLEEP, dead=DEAD)
    assert resumed.read_first_line() == job_id
    assert resumed.wait(PATIENCE) == 0, resumed.describe()
    assert resumed.status() == "completed"
    assert store.list_dead_letters(job_id=job_id, include_replayed=True) == [letter]
    lines = [f for f in log_reader(log) if f[0] != "proc"]
    enrich_dead = [f for f in lines if f[3] == "enrich" and f[2] == str(DEAD) and f[0] != "end"]
    assert [f[0] for f in enrich_dead] == ["start", "fail"]  # It never ran again.
    sink_ends = {f[2] for f in lines if f[0] == "end" and f[3] == "sink"}
    assert sink_ends == {str(i) for i in range(N) if i != DEAD}

    # Replay from the test process, with the failure fixed.
    flow_log = crash_pipeline.Log(log)
    flow = crash_pipeline.build_flow(flow_log, sleep=0.0)
    try:
        replay = flow.replay_dead_letter(letter.letter_id, store=store, timeout=PATIENCE)
    finally:
        flow.shutdown(wait=True)
        flow_log.close()
    assert replay.status == "completed", replay.error
    assert replay.job_id != job_id
    assert store.get_dead_letter(letter.letter_id).replayed_by == replay.job_id
    assert store.list_dead_letters(job_id=job_id) == []
    [kept] = store.list_dead_letters(job_id=job_id, include_replayed=True)
    assert kept.replayed_by == replay.job_id
    assert store.load_job(replay.job_id).document["status"] == "completed"
    replayed_sink = [
        f for f in log_reader(log) if f[0] == "end" and f[3] == "sink" and f[2] == str(DEAD)
    ]
    assert len(replayed_sink) == 1
    assert replayed_sink[0][1].startswith(f"{replay.job_id}:")
