"""Fixtures of the dashboard tests: the service, the browser, a page (see dashboard_env.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from .dashboard_env import Service, chromium_path, open_page, running_service


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service shared by the tests of one pytest worker."""
    with running_service(tmp_path_factory.mktemp("dashboard")) as running:
        yield running


# Module scope, not session: while Playwright's sync API is open, the main
# thread has a running event loop, and the anyio tests of tests/server (run
# by the same pytest worker) could not start theirs. pytest closes it as soon
# as the worker goes on to another module.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, service: Service) -> Iterator[Page]:
    """A fresh page that holds the service's ``run`` key (in its localStorage)."""
    with open_page(browser, service) as opened:
        yield opened
