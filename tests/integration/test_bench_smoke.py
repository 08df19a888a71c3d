"""The benchmark harness works end to end at small sizes (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = {"a", "a-nohist", "a-asyncio", "b", "c", "d", "e", "f", "g", "h", "h-full"}
#: Workloads whose handlers wait: compared with an ideal wall time, not with (d).
WAITING = {"e", "f"}


def test_quick_run_writes_verified_results_for_every_workload(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--repeat", "1", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert set(document["workloads"]) == WORKLOADS
    assert document["machine"]["python_version"]
    for name, entry in document["workloads"].items():
        assert entry["verified"], name
        assert len(entry["values"]) == 1, name
        assert entry["counts"], name
        if name in WAITING:
            assert entry["ratio_to_baseline"] is None, name
            assert entry["ideal"] > 0, name
            assert entry["ratio_to_ideal"] == entry["median"] / entry["ideal"], name
        else:
            assert entry["ratio_to_baseline"] is not None, name
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
    assert out.with_suffix(".md").read_text(encoding="utf-8").count("\n| ") == len(WORKLOADS) + 1
