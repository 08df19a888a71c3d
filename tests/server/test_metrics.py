"""``GET /metrics``: the Prometheus text of deliveries, jobs and requests."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from server_flows import make_flow
from server_helpers import key, wait_status

from routilux.stores import JobStore

pytestmark = pytest.mark.anyio


async def test_metrics_count_deliveries_jobs_and_requests(
    sqlite_store: JobStore,
    client_for: Callable[..., httpx.AsyncClient],
    build: Callable[..., FastAPI],
) -> None:
    client = client_for(build(sqlite_store, make_flow(fail_on=0)), key(sqlite_store, "read"))
    runner = client_for(client._transport.app, key(sqlite_store, "run"))  # type: ignore[attr-defined]
    job_id = (await runner.post("/flows/numbers/jobs", json={"params": {"n": 2}})).json()["job_id"]
    await wait_status(client, job_id)
    await client.get("/jobs/nope")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    step = (("flow", "numbers"), ("routine", "step"))
    assert samples[("routilux_deliveries_total", step)] == 2
    assert samples[("routilux_delivery_failures_total", step)] == 1
    assert samples[("routilux_dead_letters_total", step)] == 1
    assert samples[("routilux_delivery_duration_seconds_count", step)] == 1
    assert samples[("routilux_jobs", (("status", "completed"),))] == 1
    assert samples[("routilux_jobs", (("status", "running"),))] == 0
    created = (("code", "201"), ("method", "POST"), ("route", "/flows/{flow_id}/jobs"))
    assert samples[("routilux_http_requests_total", created)] == 1
    missing = (("code", "404"), ("method", "GET"), ("route", "/jobs/{job_id}"))
    assert samples[("routilux_http_requests_total", missing)] == 1
    latency = (("method", "GET"), ("route", "/jobs/{job_id}"))
    assert samples[("routilux_http_request_duration_seconds_count", latency)] >= 2
