"""The screenshots of docs/service.md, taken on a fresh store: the jobs list, a job, a flow.

Every run takes them; ``make screenshots`` (``ROUTILUX_UPDATE_SCREENSHOTS=1``)
saves them to docs/images/ (commit them when the dashboard changes), other
runs to the test's temporary directory, so that a test run leaves the tree
as it was. The store holds the same three jobs each time; only their ids,
times and the timeline's bar lengths differ from run to run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from .dashboard_env import IMAGES, open_page, running_service, start_job, wait_ended

pytestmark = pytest.mark.slow


def test_screenshots_of_the_dashboard(browser: Browser, tmp_path: Path) -> None:
    images = IMAGES if os.environ.get("ROUTILUX_UPDATE_SCREENSHOTS") == "1" else tmp_path / "images"
    images.mkdir(parents=True, exist_ok=True)
    with running_service(tmp_path) as service, open_page(browser, service) as page:
        ended = [wait_ended(service, start_job(service, flow)) for flow in ("breaks", "letters")]
        assert ended == ["failed", "completed"]
        # The demo job's page opened as it starts: its timeline is drawn live.
        demo = start_job(service, "orders")
        page.goto(f"/ui/#/jobs/{demo}")
        expect(page.get_by_test_id("job-status")).to_have_text("completed")
        expect(page.get_by_test_id("timeline").locator("rect.bar")).not_to_have_count(0)
        page.get_by_test_id("errors").locator("summary").first.click()
        page.screenshot(path=images / "dashboard-job.png", full_page=True)

        page.goto("/ui/#/jobs")
        expect(page.get_by_role("table", name="Jobs").locator("tbody tr")).to_have_count(3)
        page.screenshot(path=images / "dashboard-jobs.png")

        page.goto("/ui/#/flows/orders")
        expect(page.get_by_role("button", name="Start job")).to_be_visible()
        page.screenshot(path=images / "dashboard-flow.png", full_page=True)
    for name in ("jobs", "job", "flow"):
        assert (images / f"dashboard-{name}.png").stat().st_size > 10_000
