"""The interactive API documentation (/docs with Swagger UI, /redoc with ReDoc), served without a CDN.

The pages are FastAPI's own; their scripts, style sheet and icon come from the `fastapi-offline` package's
`static/` folder, served by the application under /docs-assets, so the documentation works on a machine
with no Internet access, and the pages' Content-Security-Policy lets them load nothing from elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: where the assets are served from
ASSETS_URL = "/docs-assets"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def assets_dir() -> Path:
    """The folder of Swagger UI's and ReDoc's files, inside the installed `fastapi-offline` package."""
    folder = Path(fastapi_offline.__file__).resolve().parent / "static"
    if not (folder / "swagger-ui-bundle.js").is_file():
        raise RuntimeError(f"the fastapi-offline package has no documentation assets in {folder}")
    return folder


def content_security_policy(html: str) -> str:
    """A policy that lets a documentation page load from this origin only. Its one inline script (the
    page's set-up of Swagger UI) is allowed by its hash; ReDoc and Swagger UI set inline styles, and
    ReDoc runs its search in a worker made from a blob."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    script_src = f"script-src 'self' {hashes}".rstrip()
    return (
        f"default-src 'none'; {script_src}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def _secured(page: HTMLResponse) -> HTMLResponse:
    html = bytes(page.body).decode()
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": content_security_policy(html),
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-cache",
        },
    )


def install(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Serve /docs, /redoc and their assets (call with FastAPI's own docs_url and redoc_url off)."""
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _secured(
            get_swagger_ui_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} API",
                swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                # Swagger UI would otherwise send the document to validator.swagger.io for a badge.
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _secured(
            get_redoc_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} API",
                redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )
        )
