"""The benchmark harness works end to end at small sizes (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = {
    "a",
    "a-nohist",
    "a-hooks",
    "a-otel",
    "a-asyncio",
    "a-asyncio-handoff",
    "a-dispatch",
    "a-dispatch-hist",
    "b",
    "b-asyncio",
    "c",
    "c-asyncio",
    "d",
    "e",
    "f",
    "f-burst",
    "g",
    "h",
    "h-full",
    "h-batch",
    "h-agg",
    "h-agg-1k",
    "m",
    "m-hist",
    "m-nohist",
    "s",
    "r",
    "r-threads",
    "r-delivery",
    "w",
    "w-1",
    "w-floor",
    "w-kill",
    "w-cron",
}
#: Workloads whose handlers wait: compared with an ideal wall time, not with (d).
WAITING = {"e", "f", "f-burst"}
#: Memory workloads: megabytes, no ratio.
MEMORY = {"m", "m-hist", "m-nohist"}
#: Workloads over HTTP: jobs per second, no ratio.
SERVICE = {"s"}
#: Handlers on Ray or CPU-bound threads: compared with each other, not with (d).
RAY = {"r", "r-threads", "r-delivery"}
#: Worker workloads (processes on a PostgreSQL server): compared with another workload.
WORKERS = {"w", "w-1", "w-floor", "w-kill", "w-cron"}
#: The families that start servers, clusters or worker processes: each runs in a
#: test of its own (the tests run side by side), the others together.
OWN_RUN = {"s": SERVICE, "r": RAY, "w": WORKERS}
IN_PROCESS = WORKLOADS - SERVICE - RAY - WORKERS


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        # Two workloads each start a local Ray cluster (5 to 30 s), the worker
        # workloads PostgreSQL servers and worker processes.
        timeout=280,
        check=False,
    )


def _check_entry(name: str, entry: dict[str, Any]) -> None:
    """One workload's entry: verified, and compared with what its kind is compared with."""
    assert entry["verified"], name
    assert len(entry["values"]) == 1, name
    assert entry["counts"], name
    if name in WAITING:
        assert entry["ratio_to_baseline"] is None, name
        assert entry["ideal"] > 0, name
        assert entry["ratio_to_ideal"] == entry["median"] / entry["ideal"], name
    elif name in MEMORY:
        assert entry["ratio_to_baseline"] is None, name
        assert entry["unit"] == "MB", name
    elif name in SERVICE:
        assert entry["ratio_to_baseline"] is None, name
        assert entry["unit"] == "ms/job", name
    elif name in RAY or name in WORKERS:
        assert entry["ratio_to_baseline"] is None, name
    else:
        assert entry["ratio_to_baseline"] is not None, name


@pytest.mark.slow  # Every workload, in a subprocess: the full suite runs it.
@pytest.mark.timeout(300)  # See _bench.
def test_quick_run_writes_verified_results_for_every_workload(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    families = sorted({name.split("-")[0] for name in IN_PROCESS})
    done = _bench("--quick", "--repeat", "1", "--only", ",".join(families), "--out", str(out))
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert set(document["workloads"]) == IN_PROCESS
    assert document["machine"]["python_version"]
    for name, entry in document["workloads"].items():
        _check_entry(name, entry)
    chain = document["workloads"]["a"]["counts"]
    assert chain["hops"] == chain["messages"] * 11
    assert chain["deliveries"] == chain["hops"] + 1
    fanout = document["workloads"]["b"]["counts"]
    assert fanout["deliveries"] == fanout["messages"] * 16 + 1
    assert document["workloads"]["c"]["counts"]["completed"] == 200
    io = document["workloads"]["e"]
    assert io["counts"] == {"messages": 32, "deliveries": 33, "waiter_received": 32}
    assert io["ideal"] == 0.04  # ceil(32 / 16) sleeps of 20 ms
    assert set(io["secondary"]) == {"cold_s", "peak_in_flight"}
    assert document["workloads"]["f"]["counts"]["waiter_received"] == 500
    assert document["workloads"]["f"]["ideal"] == 0.01
    burst = document["workloads"]["f-burst"]
    assert burst["counts"] == {
        "messages": 2000,
        "deliveries": 2001,
        "waiter_received": 2000,
        "timeouts": 0,
    }
    assert burst["ideal"] == 0.04  # ceil(2,000 / 1,000) sleeps of 20 ms
    assert set(burst["secondary"]) == {"timeouts", "peak_in_flight"}
    assert burst["secondary"]["peak_in_flight"]["max"] <= 1000
    concurrent_chain = document["workloads"]["g"]
    assert concurrent_chain["counts"] == chain
    assert concurrent_chain["reference"] == "a"
    assert concurrent_chain["ratio_to_reference"] is not None
    for name in ("h", "h-full"):
        durable = document["workloads"][name]
        messages = durable["counts"]["messages"]
        assert messages == 200, name
        assert durable["counts"]["deliveries"] == messages * 11 + 1, name
        assert durable["counts"]["stored_deliveries"] == messages * 11 + 1, name
        assert durable["counts"]["checkpoints"] >= messages * 11 + 1, name
        assert durable["reference"] == "a", name
        assert durable["ratio_to_reference"] is not None, name
        assert set(durable["secondary"]) == {"peak_rss_mb"}, name
    batched = document["workloads"]["h-batch"]["counts"]
    assert batched["stored_deliveries"] == batched["deliveries"] == 200 * 11 + 1
    assert batched["stored_history"] == 200 * 11
    # A commit per full batch of 100 deliveries, and the job's end with the rest.
    assert batched["checkpoints"] == (200 * 11 + 1) // 100 + 1
    for name, items in (("h-agg", 500), ("h-agg-1k", 50)):
        collected = document["workloads"][name]["counts"]
        # The source, each item, the sink, and the aggregator's drain.
        assert collected == {"items": items, "deliveries": items + 3, "collections": 1}, name
    assert document["workloads"]["h-agg"]["reference"] == "h-agg-1k"
    assert document["workloads"]["h-agg"]["ratio_to_reference"] is not None
    for name, reference in (("a", "a-asyncio"), ("b", "b-asyncio"), ("c", "c-asyncio")):
        assert document["workloads"][name]["reference"] == reference, name
        assert document["workloads"][name]["ratio_to_reference"] is not None, name
    dispatched = document["workloads"]["a-dispatch-hist"]["counts"]
    assert dispatched["sink_received"] == dispatched["messages"] == 2000
    assert dispatched["history_records"] == dispatched["hops"] == 2000 * 11
    assert "history_records" not in document["workloads"]["a-dispatch"]["counts"]
    fanout_asyncio = document["workloads"]["b-asyncio"]["counts"]
    assert fanout_asyncio["counted_deliveries"] == fanout_asyncio["messages"] * 16
    assert fanout_asyncio["aggregator_received"] == fanout_asyncio["messages"] * 8
    assert document["workloads"]["c-asyncio"]["counts"]["completed"] == 200
    for name in MEMORY:
        memory = document["workloads"][name]
        assert memory["counts"]["pending_at_once"] == memory["counts"]["messages"] == 2000, name
        assert memory["counts"]["deliveries"] == 2000 * 11 + 1, name
        assert memory["median"] > 0, name
        secondary = memory["secondary"]
        assert set(secondary) == {
            "bytes_per_pending",
            "tracemalloc_peak_mb",
            "rest_mb",
            "peak_rss_mb",
        }, name
        assert secondary["tracemalloc_peak_mb"]["median"] > 0, name
    # The default history_limit, 10,000: trimmed to it whenever it reaches twice that.
    assert 10_000 <= document["workloads"]["m"]["counts"]["history_records"] <= 20_000
    assert document["workloads"]["m-hist"]["counts"]["history_records"] == 2000 * 11
    assert document["workloads"]["m-nohist"]["counts"]["history_records"] == 0
    assert out.with_suffix(".md").read_text(encoding="utf-8").count("\n| ") == len(IN_PROCESS) + 1
    _check_against_itself(document, out, tmp_path)


@pytest.mark.slow  # Servers, a Ray cluster, worker processes: the full suite runs them.
@pytest.mark.timeout(300)  # See _bench.
@pytest.mark.parametrize("family", sorted(OWN_RUN))
def test_quick_run_of_a_family_that_starts_processes(family: str, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = _bench("--quick", "--repeat", "1", "--only", family, "--out", str(out))
    assert done.returncode == 0, done.stderr
    workloads = json.loads(out.read_text(encoding="utf-8"))["workloads"]
    assert set(workloads) == OWN_RUN[family] | {"d"}
    for name, entry in workloads.items():
        _check_entry(name, entry)
    if family == "s":
        served = workloads["s"]
        assert served["counts"] == {"jobs": 100, "completed": 100, "clients": 50}
        assert set(served["secondary"]) == {"jobs_per_s", "p50_ms", "p99_ms"}
    elif family == "r":
        for name in ("r", "r-threads"):
            assert workloads[name]["counts"] == {"handlers": 8, "deliveries": 9}, name
        assert workloads["r"]["reference"] == "r-threads"
        assert workloads["r"]["ratio_to_reference"] is not None
        delivery = workloads["r-delivery"]
        assert delivery["counts"] == {"messages": 50, "deliveries": 51}
        assert set(delivery["secondary"]) == {"ray_task_us", "overhead_us"}
    else:
        _check_workers(workloads)


def _check_workers(workloads: dict[str, Any]) -> None:
    """The worker workloads' counts: every job ran once, every trial completed, one job a tick."""
    for name, count in (("w", 2), ("w-1", 1)):
        assert workloads[name]["counts"] == {
            "jobs": 40,
            "workers": count,
            "completed": 40,
            "ran_twice": 0,
        }, name
    assert workloads["w"]["reference"] == "w-floor"
    assert workloads["w"]["ratio_to_reference"] is not None
    assert workloads["w-1"]["reference"] == "w"
    assert workloads["w-floor"]["counts"] == {"tasks": 40, "succeeded": 40}
    assert workloads["w-kill"]["counts"] == {"trials": 1, "completed": 1, "lost": 0}
    assert workloads["w-kill"]["secondary"]["ran_twice"]["max"] <= 1
    assert workloads["w-cron"]["counts"] == {"minutes": 10, "jobs": 10, "completed": 10}


def _check_against_itself(document: dict[str, Any], out: Path, tmp_path: Path) -> None:
    """``--save-baseline`` and ``--check`` on a finished run: the same run passes, a worse fails."""
    baseline = tmp_path / "baseline.json"
    done = _bench("--save-baseline", "--results", str(out), "--baseline", str(baseline))
    assert done.returncode == 1  # A baseline refuses a --quick run...
    assert "full run" in done.stderr
    assert not baseline.exists()
    document["settings"]["quick"] = False  # ...so pretend this one was full.
    full = tmp_path / "full.json"
    full.write_text(json.dumps(document), encoding="utf-8")
    done = _bench("--save-baseline", "--results", str(full), "--baseline", str(baseline))
    assert done.returncode == 0, done.stderr
    saved = json.loads(baseline.read_text(encoding="utf-8"))
    assert set(saved["workloads"]) == IN_PROCESS - {"d"}
    done = _bench("--check", "--results", str(out), "--baseline", str(baseline))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: every workload within its tolerance (25%" in done.stdout
    assert "| m | " in done.stdout
    document["workloads"]["a"]["ratio_to_baseline"] *= 1.5
    worse = tmp_path / "worse.json"
    worse.write_text(json.dumps(document), encoding="utf-8")
    done = _bench("--check", "--results", str(worse), "--baseline", str(baseline))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL: a (tolerance 25%" in done.stdout
