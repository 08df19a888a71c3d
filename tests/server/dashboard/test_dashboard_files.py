"""The dashboard's files (served without a key, all local: no CDN) and its tests' browser rule."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from routilux.server.dashboard import STATIC_DIR
from routilux.stores import JobStore

from . import dashboard_env

pytestmark = pytest.mark.anyio

Client = Callable[..., httpx.AsyncClient]
Build = Callable[..., FastAPI]

FILES = sorted(path.relative_to(STATIC_DIR).as_posix() for path in STATIC_DIR.rglob("*.*"))
#: The one absolute URL the files may hold: the SVG namespace, a name, never fetched.
NAMES_NOT_FETCHED = {"http://www.w3.org/2000/svg"}


async def test_the_page_needs_no_key_but_its_data_does(
    sqlite_store: JobStore, client_for: Client, build: Build
) -> None:
    client = client_for(build(sqlite_store))
    for path in ("/", "/ui"):
        redirect = await client.get(path)
        assert (redirect.status_code, redirect.headers["location"]) == (307, "/ui/")
    page = await client.get("/ui/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/app.js">' in page.text
    assert (await client.get("/jobs")).status_code == 401
    assert (await client.get("/ui/js/nope.js")).status_code == 404


async def test_each_file_is_served_with_its_type(
    sqlite_store: JobStore, client_for: Client, build: Build
) -> None:
    client = client_for(build(sqlite_store))
    types = {"html": "text/html", "css": "text/css", "js": "text/javascript"}
    for name in FILES:
        response = await client.get(f"/ui/{name}")
        assert response.status_code == 200, name
        # A module script of another type is refused by browsers.
        assert response.headers["content-type"].split(";")[0] == types[name.rsplit(".")[-1]]


def test_the_files_fetch_nothing_from_elsewhere() -> None:
    assert {"index.html", "style.css", "js/app.js"} <= set(FILES)
    for name in FILES:
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`)]*", text))
        assert urls <= NAMES_NOT_FETCHED, (name, urls - NAMES_NOT_FETCHED)
        imports = re.findall(r"^import .* from \"([^\"]+)\";", text, re.M)
        assert all(path.startswith("./") for path in imports), (name, imports)


def test_without_chromium_the_browser_tests_fail_unless_told_to_skip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dashboard_env, "CHROMIUM_PATHS", ("/nonexistent/chromium",))
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("ROUTILUX_SKIP_BROWSER", raising=False)
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        dashboard_env.chromium_path()
    monkeypatch.setenv("ROUTILUX_SKIP_BROWSER", "1")
    with pytest.raises(pytest.skip.Exception, match="ROUTILUX_SKIP_BROWSER=1"):
        dashboard_env.chromium_path()
