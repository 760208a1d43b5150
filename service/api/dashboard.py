"""The dashboard: static files at `/static` and the page at `/`, outside the OpenAPI document.

The page is hand-written HTML, CSS and JavaScript modules (no build step, nothing fetched from a
CDN) that speaks only the public JSON API; static files need no key, the API calls do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

STATIC_DIR = Path(__file__).parents[1] / "static"

# Scripts, styles and images from this origin only: no inline script, no third party. `blob:`
# images are the server's own curve figures, fetched with the key.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class DashboardFiles(StaticFiles):
    """Static files that browsers revalidate (ETag) so an upgrade never runs stale modules."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def dashboard_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=PAGE_HEADERS)


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard page at `/` and its files at `/static/`."""
    app.add_api_route("/", dashboard_page, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount("/static", DashboardFiles(directory=STATIC_DIR), name="static")
