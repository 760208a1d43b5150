"""The OpenAPI docs page at `/docs`, with Swagger UI served from the package.

FastAPI's own page loads Swagger UI from a CDN, which offline machines and clusters cannot
reach; this one uses the copy `scripts/vendor_swagger_ui.sh` puts in `static/vendor/` (served
with the dashboard's files under `/static/`).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

SWAGGER_UI = "/static/vendor/swagger-ui"


def mount_api_docs(app: FastAPI) -> None:
    """Serve Swagger UI for the app's OpenAPI document at `/docs`."""
    openapi_url = app.openapi_url or "/openapi.json"

    def docs_page() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    app.add_api_route("/docs", docs_page, methods=["GET"], include_in_schema=False)
