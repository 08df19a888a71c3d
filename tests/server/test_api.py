"""The JSON endpoints, through httpx and the ASGI transport, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from server_flows import make_flow
from server_helpers import key, wait_status

from routilux.reports import job_report
from routilux.stores import JobStore

pytestmark = pytest.mark.anyio

Client = Callable[..., httpx.AsyncClient]
Build = Callable[..., FastAPI]


async def test_health_and_flows(store: JobStore, client_for: Client, build: Build) -> None:
    client = client_for(build(store), key(store, "read"))
    health = (await client.get("/health")).json()
    assert health["status"] == "ok"
    assert health["flows"] == 1
    assert health["store"] in ("sqlite", "postgres")
    flows = (await client.get("/flows")).json()["flows"]
    assert flows == [
        {
            "flow_id": "numbers",
            "routines": 2,
            "connections": 1,
            "entry": {"routine_id": "source", "slot": "trigger"},
        }
    ]
    detail = (await client.get("/flows/numbers")).json()
    assert detail["document"]["flow_id"] == "numbers"
    assert [n["id"] for n in detail["graph"]["nodes"]] == ["source", "step"]
    assert detail["graph"]["nodes"][0]["slots"] == ["trigger"]
    assert detail["graph"]["edges"] == [
        {"source": "source", "event": "out", "target": "step", "slot": "input"}
    ]
    missing = await client.get("/flows/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_a_job_runs_to_its_end_and_is_shown_as_the_cli_shows_it(
    store: JobStore, client_for: Client, build: Build
) -> None:
    client = client_for(build(store, make_flow(fail_on=1)), key(store, "run"))
    created = await client.post("/flows/numbers/jobs", json={"params": {"n": 3}})
    assert created.status_code == 201
    body = created.json()
    assert body["flow_id"] == "numbers"
    report = await wait_status(client, body["job_id"])
    assert report == job_report(store, body["job_id"]) | {
        "lease_remaining": report["lease_remaining"]
    }
    assert report["deliveries"] == 4
    history = (await client.get(f"/jobs/{body['job_id']}/history")).json()
    assert [h["event_name"] for h in history["history"]] == ["out", "out", "out"]
    assert history["dropped"] == 0
    logs = (await client.get(f"/jobs/{body['job_id']}/logs")).json()
    assert logs["next"] == len(logs["logs"]) == 1
    assert logs["logs"][0]["level"] == "WARNING"
    assert "message 1 is bad" in logs["logs"][0]["message"]
    later = (await client.get(f"/jobs/{body['job_id']}/logs", params={"after": 1})).json()
    assert later == {"logs": [], "next": 1}
    letters = (await client.get(f"/jobs/{body['job_id']}/dead-letters")).json()["dead_letters"]
    assert [(d["routine_id"], d["error_type"]) for d in letters] == [("step", "ValueError")]
    assert "traceback" not in letters[0]
    url = f"/jobs/{body['job_id']}/dead-letters"
    detailed = (await client.get(url, params={"details": "true"})).json()["dead_letters"]
    assert "ValueError: message 1 is bad" in detailed[0]["traceback"]
    assert detailed[0]["data"] == {"i": 1}
    assert "traceback" not in report["errors"][0]
    url = f"/jobs/{body['job_id']}"
    traced = (await client.get(url, params={"tracebacks": "true"})).json()
    assert "ValueError: message 1 is bad" in traced["errors"][0]["traceback"]


async def test_replay_of_a_dead_letter_starts_a_new_job_once(
    store: JobStore, client_for: Client, build: Build
) -> None:
    client = client_for(build(store, make_flow(fail_on=7)), key(store, "run"))
    job_id = (await client.post("/flows/numbers/jobs", json={"params": {"n": 9}})).json()["job_id"]
    await wait_status(client, job_id)
    letters = (await client.get(f"/jobs/{job_id}/dead-letters")).json()["dead_letters"]
    letter_id = letters[0]["letter_id"]
    replayed = await client.post(f"/dead-letters/{letter_id}/replay", json={})
    assert replayed.status_code == 201
    new_job = replayed.json()["job_id"]
    assert new_job != job_id
    # The message fails again (the routine still refuses 7): the new job completes
    # under SKIP, with a dead letter of its own.
    await wait_status(client, new_job)
    again = await client.post(f"/dead-letters/{letter_id}/replay", json={})
    assert again.status_code == 409
    assert "replayed already" in again.json()["error"]["message"]
    forced = await client.post(f"/dead-letters/{letter_id}/replay", json={"again": True})
    assert forced.status_code == 201
    unknown = await client.post("/dead-letters/nope/replay", json={})
    assert unknown.status_code == 404


async def test_listing_filters_counts_and_pages(
    store: JobStore, client_for: Client, build: Build
) -> None:
    client = client_for(build(store, make_flow(), make_flow("other")), key(store, "run"))
    ids = [
        (await client.post(f"/flows/{flow_id}/jobs", json={})).json()["job_id"]
        for flow_id in ["numbers"] * 4 + ["other"]
    ]
    for job_id in ids:
        await wait_status(client, job_id)
    listing = (await client.get("/jobs", params={"flow": "numbers"})).json()
    assert len(listing["jobs"]) == 4
    assert listing["counts"] == {"completed": 4}
    assert listing["next_cursor"] is None
    seen: list[str] = []
    cursor = None
    for _ in range(10):  # Bounded: 5 jobs, 2 a page.
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/jobs", params=params)).json()
        assert sum(page["counts"].values()) >= 5
        seen += [job["job_id"] for job in page["jobs"]]
        # A job created between two pages does not shift the next one.
        await client.post("/flows/other/jobs", json={"params": {"n": 0}})
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    failed = (await client.get("/jobs", params={"status": ["failed", "paused"]})).json()
    assert failed["jobs"] == []
    later = (await client.get("/jobs", params={"updated_after": "2999-01-01T00:00:00Z"})).json()
    assert later["jobs"] == []
    for bad, name in [
        ({"status": "done"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"cursor": "???"}, "cursor"),
        ({"updated_before": "yesterday"}, "updated_before"),
    ]:
        response = await client.get("/jobs", params=bad)
        assert response.status_code == 400, bad
        assert name in response.json()["error"]["message"]


async def test_bad_requests_are_named(store: JobStore, client_for: Client, build: Build) -> None:
    client = client_for(build(store), key(store, "run"))
    cases = [
        ({"entry": "step"}, "no 'trigger' slot"),
        ({"entry": "ghost"}, "no routine 'ghost'"),
        ({"slot": "nope"}, "no slot 'nope'"),
        ({"params": [1]}, "params"),
        ({"surprise": 1}, "surprise"),
    ]
    for body, words in cases:
        response = await client.post("/flows/numbers/jobs", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "bad_request"
        assert words in response.json()["error"]["message"], response.json()
    not_json = await client.post(
        "/flows/numbers/jobs", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400
    for path in ["/jobs/nope", "/jobs/nope/history", "/jobs/nope/logs", "/jobs/nope/dead-letters"]:
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "nope" in response.json()["error"]["message"]
    assert (await client.get("/no/such/path")).status_code == 404


async def test_idempotency_keys(store: JobStore, client_for: Client, build: Build) -> None:
    import anyio

    app = build(store)
    client = client_for(app, key(store, "run"))
    first = await client.post("/flows/numbers/jobs", json={"idempotency_key": "k1"})
    assert first.status_code == 201
    same = await client.post("/flows/numbers/jobs", json={}, headers={"Idempotency-Key": "k1"})
    assert same.status_code == 200
    assert same.json()["job_id"] == first.json()["job_id"]
    other = await client.post(
        "/flows/numbers/jobs", json={"params": {"n": 1}}, headers={"Idempotency-Key": "k1"}
    )
    assert other.status_code == 409
    # Two requests with one new key at the same moment: one job.
    replies: list[httpx.Response] = []

    async def post() -> None:
        replies.append(await client.post("/flows/numbers/jobs", json={"idempotency_key": "k2"}))

    async with anyio.create_task_group() as group:
        for _ in range(2):
            group.start_soon(post)
    assert sorted(r.status_code for r in replies) == [200, 201]
    assert len({r.json()["job_id"] for r in replies}) == 1
    # The keys are in the store: another app on it (a restart) knows them.
    again = client_for(build(store), key(store, "run"))
    after = await again.post("/flows/numbers/jobs", json={"idempotency_key": "k1"})
    assert after.status_code == 200
    assert after.json()["job_id"] == first.json()["job_id"]
    await wait_status(client, first.json()["job_id"])
    listing = (await client.get("/jobs")).json()
    assert listing["counts"] == {"completed": 2}


async def test_pause_resume_cancel(store: JobStore, client_for: Client, build: Build) -> None:
    client = client_for(build(store, make_flow(sleep=0.1)), key(store, "run"))
    # 50 messages of 0.1 s each: the pause comes long before the job's end.
    job_id = (await client.post("/flows/numbers/jobs", json={"params": {"n": 50}})).json()["job_id"]
    paused = await client.post(f"/jobs/{job_id}/pause")
    assert paused.status_code == 200
    assert paused.json() == {"job_id": job_id, "status": "paused"}
    await wait_status(client, job_id, "paused")
    resumed = await client.post(f"/jobs/{job_id}/resume")
    assert resumed.json() == {"job_id": job_id, "status": "running"}
    cancelled = await client.post(f"/jobs/{job_id}/cancel")
    assert cancelled.json() == {"job_id": job_id, "status": "cancelled"}
    report = await wait_status(client, job_id, "cancelled")
    assert "HTTP API" in report["error"]
    for action in ("pause", "resume", "cancel"):
        late = await client.post(f"/jobs/{job_id}/{action}")
        assert late.status_code == 409, action
        assert late.json()["error"]["code"] == "conflict"
    assert (await client.post("/jobs/nope/cancel")).status_code == 404


async def test_stopping_pauses_the_jobs_running_here(
    sqlite_store: JobStore, client_for: Client, build: Build
) -> None:
    app = build(sqlite_store, make_flow(sleep=0.05))
    client = client_for(app, key(sqlite_store, "run"))
    job_id = (await client.post("/flows/numbers/jobs", json={"params": {"n": 40}})).json()["job_id"]
    app.state.service.stop()  # As the lifespan does when the server stops.
    report = await wait_status(client, job_id, "paused")
    assert report["pending"] > 0
    assert app.state.service.tables.stopped_jobs() == [(job_id, "numbers")]
