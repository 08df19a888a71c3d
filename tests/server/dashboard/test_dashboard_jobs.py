"""The jobs list, the flow page and its graph's layout in headless Chromium; the key asked once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from .dashboard_env import Service, open_page, start_job, wait_ended

pytestmark = pytest.mark.slow


def test_the_jobs_list_filters_by_flow_and_status(page: Page, service: Service) -> None:
    failed = start_job(service, "breaks")
    completed = start_job(service, "letters")
    assert (wait_ended(service, failed), wait_ended(service, completed)) == ("failed", "completed")
    page.goto("/ui/#/jobs")
    rows = page.get_by_role("table", name="Jobs").locator("tbody tr")
    expect(rows.and_(page.locator(f"[data-job='{failed}']"))).to_have_count(1)
    expect(rows.and_(page.locator(f"[data-job='{completed}']"))).to_have_count(1)

    page.get_by_label("Flow", exact=True).select_option("breaks")
    expect(page).to_have_url(re.compile("flow=breaks"))
    expect(rows.filter(has_text="letters")).to_have_count(0)
    expect(rows.and_(page.locator(f"[data-job='{failed}']"))).to_have_count(1)

    page.get_by_label("Flow", exact=True).select_option("")
    page.get_by_role("checkbox", name="completed").check()
    expect(rows.and_(page.locator(f"[data-job='{failed}']"))).to_have_count(0)
    expect(rows.and_(page.locator(f"[data-job='{completed}']"))).to_have_count(1)
    expect(page.get_by_test_id("counts").locator("[data-status]")).to_have_count(1)
    expect(page.get_by_test_id("counts")).to_contain_text("completed")


def test_a_flow_page_starts_a_job_and_opens_it(page: Page, service: Service) -> None:
    page.goto("/ui/#/flows/orders")
    expect(page.get_by_test_id("graph").locator("g.node")).to_have_count(6)
    expect(page.get_by_label("Entry routine")).to_have_value("orders")
    page.get_by_label("Parameters (JSON object)").fill("[1, 2]")
    page.get_by_role("button", name="Start job").click()
    expect(page.get_by_role("alert")).to_contain_text("a JSON object is needed")
    page.get_by_label("Parameters (JSON object)").fill("{}")
    page.get_by_role("button", name="Start job").click()
    expect(page.locator("h1")).to_contain_text("Job")
    expect(page.get_by_test_id("job-status")).to_have_text("completed")


def test_the_page_asks_for_a_key_once(browser: Browser, service: Service) -> None:
    with open_page(browser, service, with_key=False) as page:
        page.goto("/")
        dialog = page.get_by_role("dialog", name="API key")
        expect(dialog).to_be_visible()
        dialog.get_by_label("Key").fill(service.key)
        dialog.get_by_role("button", name="Save key").click()
        expect(page.get_by_role("table", name="Jobs")).to_be_visible()
        page.reload()
        expect(page.get_by_role("table", name="Jobs")).to_be_visible()
        expect(dialog).to_be_hidden()


def test_the_jobs_list_pages_with_the_cursor(page: Page, service: Service) -> None:
    started = [start_job(service, "breaks") for _ in range(2)]
    assert [wait_ended(service, job_id) for job_id in started] == ["failed", "failed"]
    page.goto("/ui/#/jobs?flow=breaks&limit=1")
    rows = page.get_by_role("table", name="Jobs").locator("tbody tr")
    expect(rows).to_have_count(1)
    first = rows.first.get_attribute("data-job")
    expect(page.get_by_role("button", name="Previous page")).to_be_disabled()
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text("Page 2")).to_be_visible()
    expect(rows).to_have_count(1)
    expect(rows.first).not_to_have_attribute("data-job", first or "")
    page.get_by_role("button", name="Previous page").click()
    expect(page.get_by_text("Page 1")).to_be_visible()
    expect(rows.first).to_have_attribute("data-job", first or "")


LAYOUT_OF_A_CYCLE = """async () => {
  const { layout } = await import("./js/graph.js");
  const edge = (source, target) => ({ source, event: "out", target, slot: "in" });
  const graph = {
    nodes: ["d", "c", "b", "a"].map((id) => ({ id })),
    edges: [edge("a", "b"), edge("b", "c"), edge("c", "a"), edge("a", "c"), edge("c", "d")],
  };
  const { pos, links } = layout(graph, "a");
  return {
    columns: Object.fromEntries([...pos].map(([id, p]) => [id, p.x])),
    links: links.map((l) => `${l.source}>${l.target}:${l.kind}`).sort(),
  };
}"""


def test_the_graph_layers_by_longest_path_and_draws_cycles_back(
    page: Page, service: Service
) -> None:
    page.goto("/ui/#/flows")
    expect(page.get_by_role("table", name="Flows")).to_contain_text("orders")
    drawn = page.evaluate(LAYOUT_OF_A_CYCLE)
    x = drawn["columns"]
    assert x["a"] < x["b"] < x["c"] < x["d"]  # a -> b -> c is longer than a -> c
    assert drawn["links"] == ["a>b:next", "a>c:over", "b>c:next", "c>a:back", "c>d:next"]
