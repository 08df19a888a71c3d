"""A job's page in headless Chromium: status, graph colours, dead-letter replay, cancel."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .dashboard_env import Service, start_job

pytestmark = pytest.mark.slow

FAILED_FILL = "rgb(254, 202, 202)"  # --node-failed in style.css


def open_job(page: Page, job_id: str) -> None:
    page.goto(f"/ui/#/jobs/{job_id}")
    expect(page.locator("h1")).to_contain_text(job_id)


def test_the_demo_job_shows_completed_with_its_graph(page: Page, service: Service) -> None:
    job_id = start_job(service, "orders")
    open_job(page, job_id)
    expect(page.get_by_test_id("job-status")).to_have_text("completed")
    graph = page.get_by_test_id("graph")
    expect(graph.locator("g.node")).to_have_count(6)
    expect(graph.locator("[data-routine=totals]")).to_have_attribute("data-state", "succeeded")
    # The validator's bad record was skipped (a dead letter): shown apart, not red.
    expect(graph.locator("[data-routine=validator]")).to_have_attribute("data-state", "skipped")
    expect(graph.locator("[data-routine=validator]")).to_contain_text("1 skipped")
    # On the timeline: the enricher's first attempt, retried; the validator's bad record, skipped.
    expect(page.get_by_test_id("timeline").locator("rect.bar.retried")).to_have_count(1)
    expect(page.get_by_test_id("timeline").locator("rect.bar.skipped")).to_have_count(1)
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()


def test_a_failed_routine_is_red_with_its_traceback(page: Page, service: Service) -> None:
    job_id = start_job(service, "breaks")
    open_job(page, job_id)
    expect(page.get_by_test_id("job-status")).to_have_text("failed")
    boom = page.get_by_test_id("graph").locator("[data-routine=boom]")
    expect(boom).to_have_attribute("data-state", "failed")
    expect(boom.locator("rect")).to_have_css("fill", FAILED_FILL)
    expect(boom).to_contain_text("1 failed")
    expect(page.get_by_test_id("timeline").locator("rect.bar.failed")).to_have_count(1)
    error = page.get_by_test_id("errors").locator("details").first
    expect(error).to_contain_text("the boom routine always fails")
    error.locator("summary").click()
    expect(error.locator("pre")).to_be_visible()
    expect(error.locator("pre")).to_contain_text("Traceback (most recent call last)")
    expect(error.locator("pre")).to_contain_text("RuntimeError: item 0")


def test_replaying_a_dead_letter_opens_a_completed_job(page: Page, service: Service) -> None:
    job_id = start_job(service, "letters")
    open_job(page, job_id)
    expect(page.get_by_test_id("job-status")).to_have_text("completed")
    letters = page.get_by_test_id("dead-letters").locator("tbody tr")
    expect(letters).to_have_count(2)
    letters.first.get_by_role("button", name=re.compile("^Replay dead letter")).click()
    expect(page).not_to_have_url(re.compile(re.escape(job_id)))
    expect(page.locator("h1")).not_to_contain_text(job_id)
    expect(page.get_by_test_id("job-status")).to_have_text("completed")
    expect(page.get_by_test_id("graph").locator("[data-routine=picky]")).to_have_attribute(
        "data-state", "succeeded"
    )
    # Back on the first job, the letter now links to its replay.
    open_job(page, job_id)
    expect(page.get_by_test_id("dead-letters").get_by_role("link", name="replayed")).to_have_count(
        1
    )


def test_pause_resume_and_cancel_a_running_job(page: Page, service: Service) -> None:
    job_id = start_job(service, "slow")
    open_job(page, job_id)
    status = page.get_by_test_id("job-status")
    button = {
        name: page.get_by_role("button", name=name, exact=True)
        for name in ("Pause", "Resume", "Cancel")
    }
    expect(status).to_have_text("running")
    expect(page.get_by_test_id("graph").locator("[data-routine=sleeper]")).to_have_attribute(
        "data-state", "running"
    )
    expect(button["Resume"]).to_be_disabled()
    button["Pause"].click()
    expect(status).to_have_text("paused")
    expect(button["Pause"]).to_be_disabled()
    button["Resume"].click()
    expect(status).to_have_text("running")
    button["Cancel"].click()
    expect(status).to_have_text("cancelled")
    for name in ("Pause", "Resume", "Cancel"):
        expect(button[name]).to_be_disabled()
