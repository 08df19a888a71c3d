"""A traced durable job killed with SIGKILL and resumed in another process continues its trace.

``otel_child.py`` starts a job on a real store and writes its spans to a
file as they end; the test kills it with SIGKILL in the middle of the job,
then resumes the job in this process, traced to an in-memory exporter.
Every span of both processes is in one trace; the resumed job's span is a
child of the first job span (which the killed process never ended, so
never exported); each delivery's span is linked to the span of the
delivery that emitted it, whichever process ran that one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from routilux import JobStatus

HERE = Path(__file__).resolve().parent
CHILD = HERE / "otel_child.py"
PATIENCE = 60.0


def _load_child() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("routilux_otel_child", CHILD)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("routilux_otel_child", module)
    spec.loader.exec_module(module)
    return module


def _spans(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


@pytest.mark.timeout(120)
def test_a_killed_traced_job_resumed_in_another_process_continues_its_trace(
    store_spec: str, tmp_path: Path
) -> None:
    child_module = _load_child()
    spans_file = tmp_path / "spans.jsonl"
    out = (tmp_path / "child.out").open("w")
    child = subprocess.Popen(
        [sys.executable, str(CHILD), "--store", store_spec, "--spans", str(spans_file)],
        stdout=out,
        stderr=subprocess.DEVNULL,  # The flow document's warning: the script defines the classes.
    )
    try:
        deadline = time.monotonic() + PATIENCE
        while sum(s["name"] == "process work.input" for s in _spans(spans_file)) < 8:
            assert child.poll() is None, (tmp_path / "child.out").read_text()
            assert time.monotonic() < deadline, "the child never ran 8 work deliveries"
            time.sleep(0.005)  # Polling the file the child writes.
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(PATIENCE) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        out.close()
    job_id = (tmp_path / "child.out").read_text().split("\n", 1)[0].strip()
    first = _spans(spans_file)
    assert not any(s["name"].startswith("job ") for s in first)  # Killed: never ended.

    exporter = InMemorySpanExporter()
    flow = child_module.build_flow(sleep=0.0)
    provider = child_module.traced(flow, exporter)
    store = child_module.open_store(store_spec)
    try:
        assert flow.resume(job_id, store=store)
        job = flow.get_execution(job_id)
        assert job is not None
        assert job.wait(PATIENCE)
        assert job.status is JobStatus.COMPLETED, job.error
    finally:
        flow.shutdown(wait=True)
        store.close()
    deadline = time.monotonic() + PATIENCE
    while not any(s.name.startswith("job ") for s in exporter.get_finished_spans()):
        assert time.monotonic() < deadline, "the resumed job's span never ended"
        time.sleep(0.01)  # The job span ends in a hook, after the job's waiters wake.
    second = [child_module.span_record(s) for s in exporter.get_finished_spans()]
    provider.shutdown()

    # One trace across both processes.
    trace_ids = {s["trace_id"] for s in first + second}
    assert len(trace_ids) == 1, trace_ids
    # The resumed job's span is a child of the first job span: the parent of
    # every delivery span of the killed process.
    (resumed_job,) = [s for s in second if s["name"] == "job traced"]
    assert resumed_job["attributes"]["routilux.job.resumed"] is True
    first_job_span = {s["parent_id"] for s in first}
    assert len(first_job_span) == 1
    assert resumed_job["parent_id"] == first_job_span.pop()
    resumed_deliveries = [s for s in second if s["name"].startswith("process ")]
    assert resumed_deliveries
    assert {s["parent_id"] for s in resumed_deliveries} == {resumed_job["span_id"]}
    # Links: every delivery to the span of the delivery that emitted it, in
    # either process; deliveries the killed process left pending are linked
    # to its spans.
    by_id = {s["span_id"]: s for s in first + second}
    crossing = 0
    for span in resumed_deliveries:
        (link,) = span["links"]
        cause = by_id[link]
        expected = {"process work.input": "process source.trigger"}.get(span["name"])
        assert cause["name"] == (expected or "process work.input"), (span, cause)
        crossing += cause in first
    assert crossing > 0
    # Every message got through; each delivery finished once per process at most.
    sink_messages = {
        s["attributes"]["routilux.delivery.id"]
        for s in first + second
        if s["name"] == "process sink.input" and s["status"] == "UNSET"
    }
    assert len(sink_messages) == child_module.N
    ids = Counter(
        s["attributes"]["routilux.delivery.id"]
        for s in first + second
        if s["name"].startswith("process ")
    )
    assert max(ids.values()) <= 2
