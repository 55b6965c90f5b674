"""The operator dashboard: a static page served by the app, with its libraries vendored (no CDN).

The page learns its basemap (tile URL and attribution, from the settings) from two <meta> tags filled in
here, and its Content-Security-Policy allows images from that tile server's origin and no other.
"""

from __future__ import annotations

import re
from functools import cache
from html import escape
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.core.deps import SettingsDep
from app.dashboard.tiles import tile_origin

STATIC = Path(__file__).parent / "static"
PLACEHOLDER = re.compile(r"%MAP_TILE_(URL|ATTRIBUTION)%")

router = APIRouter(include_in_schema=False)


def security_headers(tile_url: str) -> dict[str, str]:
    """The page talks only to this origin and reads map tiles from one other; it may not be framed
    (clickjacking)."""
    return {
        "Content-Security-Policy": f"default-src 'self'; img-src 'self' data: {tile_origin(tile_url)}; "
        "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


@cache
def _page() -> str:
    return (STATIC / "index.html").read_text(encoding="utf-8")


@router.get("/dashboard")
async def dashboard(settings: SettingsDep) -> HTMLResponse:
    values = {"URL": settings.map_tile_url, "ATTRIBUTION": settings.map_tile_attribution}
    page = PLACEHOLDER.sub(lambda m: escape(values[m.group(1)], quote=True), _page())
    return HTMLResponse(page, headers=security_headers(settings.map_tile_url))


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC)
