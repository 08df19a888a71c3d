"""The dashboard: static HTML, CSS and JavaScript served by the HTTP service.

The page is plain files (no build step, nothing fetched from a CDN) under
``static/``, shipped in the package. It asks for an API key once, keeps it in
the browser's ``localStorage`` and calls the service's JSON API with it
(``Authorization: Bearer``), reading a job's events with ``fetch`` and a
stream reader. The files themselves need no key: they hold no data.

:func:`mount` adds the page to an app: ``GET /`` redirects to ``/ui/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # The server extra is imported when mount() is called.
    from fastapi import FastAPI

__all__ = ["STATIC_DIR", "UI_PATH", "mount"]

#: The dashboard's files, in the package.
STATIC_DIR = Path(__file__).resolve().parent / "static"

#: Where :func:`mount` serves the page.
UI_PATH = "/ui"


def mount(app: FastAPI) -> None:
    """Serve the dashboard at ``/ui/`` and redirect ``/`` (and ``/ui``) to it.

    Args:
        app: The service's app (``routilux.server.create_app``).
    """
    from starlette.requests import Request
    from starlette.responses import RedirectResponse
    from starlette.staticfiles import StaticFiles

    async def to_dashboard(request: Request) -> RedirectResponse:
        return RedirectResponse(url=f"{UI_PATH}/")

    # Plain routes, not API routes: not in the OpenAPI document, and no key
    # needed (like the files, they hold no data).
    for path in ("/", UI_PATH):
        app.router.add_route(path, to_dashboard, methods=["GET"], include_in_schema=False)
    app.mount(UI_PATH, StaticFiles(directory=STATIC_DIR, html=True), name="dashboard")
