"""The HTTP service hands jobs to the workers and edits the schedules they fire.

The app (``create_app``) runs in the test process on a real PostgreSQL
database; a real ``routilux worker`` process runs what it enqueues.
"""

from __future__ import annotations

import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright
from worker_helpers import RUN_PATIENCE, check_once, flow_of, queue_entries, statuses

from routilux import DefinitionError
from routilux.server import create_app
from routilux.stores import PostgresStore, SqliteStore


@contextmanager
def _client(store: Any, flows_dir: Path, **options: Any) -> Iterator[httpx.Client]:
    """The app, served by uvicorn on loopback in a thread, and a client of it."""
    app = create_app(store, flows_dir=flows_dir, auth=False, rate_limit=None, **options)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20  # Bounded wait for the server to listen.
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(20)
        app.state.service.close()


def test_a_job_started_with_a_queue_runs_on_a_worker_once_and_shows_where(
    workers: Any, flows_dir: Any, database: Any, waiter: Callable[..., None]
) -> None:
    flow_of(flows_dir)
    with database.store() as store, _client(store, flows_dir.path) as client:
        body = {"params": {"tag": "h", "steps": 1}, "queue": "web"}
        created = client.post("/flows/small/jobs", json=body, headers={"Idempotency-Key": "k1"})
        assert created.status_code == 201, created.text
        job = created.json()
        assert (job["status"], job["queue"]) == ("pending", "web")
        # Nothing ran here: the job waits for a worker of its queue.
        assert client.get(f"/jobs/{job['job_id']}").json()["worker"] is None
        again = client.post("/flows/small/jobs", json=body, headers={"Idempotency-Key": "k1"})
        assert (again.status_code, again.json()["job_id"]) == (200, job["job_id"])
        assert queue_entries(database) == 1  # The repeated request enqueued nothing.

        with _job_page(client, store, job["job_id"]) as page:
            expect(page.locator("dl.facts")).to_contain_text("Queueweb")
            expect(page.locator("dl.facts")).to_contain_text("Workerwaiting for a worker")

            worker = workers.start("--queue", "web")
            waiter(lambda: statuses(database)["completed"] == 1, RUN_PATIENCE, "the job", worker)
            shown = client.get(f"/jobs/{job['job_id']}").json()
            # The page polls the job until it ends: then it names the worker.
            expect(page.get_by_test_id("job-status")).to_have_text("completed")
            expect(page.locator("dl.facts")).to_contain_text(f"Worker{shown['worker']}")
    assert (shown["status"], shown["queue"]) == ("completed", "web")
    assert shown["worker"] == shown["owner"]
    assert shown["worker"].rpartition(":")[2] == str(worker.pid)
    check_once(flows_dir.lines(), [job["job_id"]], [worker])


@contextmanager
def _job_page(client: httpx.Client, store: Any, job_id: str) -> Iterator[Any]:
    """The dashboard's page of the job, in headless Chromium (tests/server/dashboard's set-up)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
    from dashboard.dashboard_env import Service, chromium_path, open_page

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        try:
            service = Service(str(client.base_url).rstrip("/"), "", store)
            with open_page(browser, service, with_key=False) as page:
                page.goto(f"/ui/#/jobs/{job_id}")
                expect(page.locator("h1")).to_contain_text(job_id)
                yield page
        finally:
            browser.close()


def test_a_service_with_a_queue_hands_every_job_to_it_unless_the_request_names_one(
    flows_dir: Any, database: Any
) -> None:
    flow_of(flows_dir)
    with database.store() as store, _client(store, flows_dir.path, queue="batch") as client:
        plain = client.post("/flows/small/jobs", json={"params": {"tag": "a", "steps": 1}})
        named = client.post(
            "/flows/small/jobs", json={"params": {"tag": "b", "steps": 1}, "queue": "urgent"}
        )
        assert (plain.status_code, named.status_code) == (201, 201)
        assert (plain.json()["queue"], named.json()["queue"]) == ("batch", "urgent")
        for reply in (plain, named):
            assert store.load_job(reply.json()["job_id"]).document["status"] == "pending"
        bad = client.post("/flows/small/jobs", json={"queue": ""})
        assert bad.status_code == 400
        assert "queue" in bad.json()["error"]["message"]
    assert statuses(database) == {"pending": 2}
    assert flows_dir.lines() == []  # Neither ran in the service.


def test_schedules_are_added_listed_and_removed_over_http(flows_dir: Any, database: Any) -> None:
    flow_of(flows_dir)
    with database.store() as store, _client(store, flows_dir.path) as client:
        assert client.get("/schedules").json() == {"schedules": []}
        body = {"cron": "*/5 * * * *", "params": {"tag": "s"}, "schedule_id": "every5"}
        added = client.post("/flows/small/schedules", json=body)
        assert added.status_code == 201, added.text
        schedule = added.json()
        assert schedule["entry"] == "source"  # The flow's only entry, resolved now.
        assert (schedule["queue"], schedule["missed"]) == ("default", "skip")
        last = datetime.fromisoformat(schedule["last_tick"])
        upcoming = datetime.fromisoformat(schedule["next_tick"])
        assert upcoming > last
        assert upcoming.minute % 5 == 0
        assert upcoming.second == 0
        assert client.get("/schedules").json()["schedules"] == [schedule]

        twice = client.post("/flows/small/schedules", json=body)
        assert twice.status_code == 409
        assert "every5" in twice.json()["error"]["message"]
        bad_cron = client.post("/flows/small/schedules", json={"cron": "every minute"})
        assert bad_cron.status_code == 400
        assert "'every minute' is not a valid cron expression" in bad_cron.text
        bad_missed = client.post(
            "/flows/small/schedules", json={"cron": "* * * * *", "missed": "x"}
        )
        assert bad_missed.status_code == 400
        assert "missed" in bad_missed.text
        no_entry = client.post(
            "/flows/small/schedules", json={"cron": "* * * * *", "entry": "nowhere"}
        )
        assert no_entry.status_code == 400
        assert "nowhere" in no_entry.text
        unknown = client.post("/flows/other/schedules", json={"cron": "* * * * *"})
        assert unknown.status_code == 404

        assert client.delete("/schedules/every5").status_code == 204
        gone = client.delete("/schedules/every5")
        assert gone.status_code == 404
        assert "every5" in gone.json()["error"]["message"]
        assert client.get("/schedules").json() == {"schedules": []}


def test_a_sqlite_service_refuses_queues_and_schedules_naming_its_store(
    flows_dir: Any, tmp_path: Path
) -> None:
    flow_of(flows_dir)
    path = tmp_path / "jobs.db"
    with SqliteStore(path) as store:
        with pytest.raises(DefinitionError, match="PostgreSQL store; this service's store is a"):
            create_app(store, flows_dir=flows_dir.path, auth=False, queue="batch")
        with _client(store, flows_dir.path) as client:
            submitted = client.post("/flows/small/jobs", json={"queue": "batch"})
            assert submitted.status_code == 400
            assert "SqliteStore cannot hand jobs to workers" in submitted.text
            listed = client.get("/schedules")
            assert listed.status_code == 409
            assert "SqliteStore cannot keep schedules" in listed.text
            added = client.post("/flows/small/schedules", json={"cron": "* * * * *"})
            assert added.status_code == 409
    with sqlite3.connect(path) as conn:  # Nothing was recorded for the refused job.
        assert conn.execute("SELECT count(*) FROM jobs").fetchone() == (0,)


def test_the_schema_documents_queues_and_schedules(flows_dir: Any, database: Any) -> None:
    flow_of(flows_dir)
    with PostgresStore(database.dsn) as store, _client(store, flows_dir.path) as client:
        schema = client.get("/openapi.json").json()
    assert "queue" in schema["components"]["schemas"]["StartJobRequest"]["properties"]
    assert {"queue", "worker"} <= set(schema["components"]["schemas"]["JobReport"]["properties"])
    assert set(schema["paths"]["/flows/{flow_id}/schedules"]) == {"post"}
    assert set(schema["paths"]["/schedules/{schedule_id}"]) == {"delete"}
