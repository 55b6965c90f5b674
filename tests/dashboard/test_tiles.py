"""The dashboard's basemap settings: checked when read, named to the page, and the only image origin its
Content-Security-Policy allows."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
import pytest
from pydantic import ValidationError

from app.main import create_app
from app.settings import Settings

IGN = (
    "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2"
    "&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=PM&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
)
IGN_CREDIT = '<a href="https://www.ign.fr/">IGN-F/Géoportail</a>'


class _Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "meta" and (named.get("name") or "").startswith("coachco2:"):
            self.found[named["name"] or ""] = named.get("content") or ""


async def page(settings: Settings) -> tuple[httpx.Response, dict[str, str]]:
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        response = await c.get("/dashboard")
    await app.state.db.dispose()
    meta = _Meta()
    meta.feed(response.text)
    return response, meta.found


def img_src(response: httpx.Response) -> str:
    policy = dict(p.strip().split(" ", 1) for p in response.headers["content-security-policy"].split(";"))
    return policy["img-src"]


async def test_openstreetmap_by_default_and_only_its_origin_for_images() -> None:
    response, meta = await page(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    assert response.status_code == 200
    assert meta["coachco2:map-tile-url"] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert meta["coachco2:map-tile-attribution"] == (
        '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
    )
    assert img_src(response) == "'self' data: https://tile.openstreetmap.org"
    assert response.headers["x-frame-options"] == "DENY"
    assert "%MAP_TILE" not in response.text


async def test_plan_ign_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACHCO2_MAP_TILE_URL", IGN)
    monkeypatch.setenv("COACHCO2_MAP_TILE_ATTRIBUTION", IGN_CREDIT)
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:")
    response, meta = await page(settings)
    # The URL's & and the credit's quotes reach the page intact, inside its attributes.
    assert meta == {"coachco2:map-tile-url": IGN, "coachco2:map-tile-attribution": IGN_CREDIT}
    assert img_src(response) == "'self' data: https://data.geopf.fr"


async def test_a_tile_server_on_a_port_is_allowed_with_its_port() -> None:
    settings = Settings(
        database_url="sqlite+aiosqlite:///:memory:",
        map_tile_url="http://127.0.0.1:8081/tiles/{z}/{x}/{y}.png",
    )
    response, _ = await page(settings)
    assert img_src(response) == "'self' data: http://127.0.0.1:8081"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://tiles.example.org/{z}/{x}/{y}.png", "https://"),
        ("javascript:alert(1)//{z}/{x}/{y}", "https://"),
        ("https://tiles.example.org/{z}/{x}.png", "missing {y}"),
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "no placeholder but"),
        ("https://user:secret@tiles.example.org/{z}/{x}/{y}.png", "credentials"),
        ("https:///{z}/{x}/{y}.png", "with a host"),
        ('https://tiles.example.org/{z}/{x}/{y}.png" onerror="x', "quotes"),
        ("https://tiles.example.org:99999/{z}/{x}/{y}.png", "port"),
        ("/tiles/{z}/{x}/{y}.png", "https://"),
    ],
)
def test_a_tile_url_that_cannot_serve_the_map_is_refused(url: str, says: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(database_url="sqlite+aiosqlite:///:memory:", map_tile_url=url)
    (error,) = raised.value.errors()
    assert error["loc"] == ("map_tile_url",) and says in error["msg"]


@pytest.mark.parametrize(
    ("credit", "says"),
    [
        ("", "credit"),
        ("© Tiles <script>alert(1)</script>", "<script>"),
        ('<img src="x" onerror="alert(1)">', "<img>"),
        ('<a href="javascript:alert(1)">tiles</a>', "href"),
        ('<a href="https://example.org" onclick="alert(1)">tiles</a>', "onclick"),
        ("<b>tiles</b>", "<b>"),
    ],
)
def test_a_credit_with_more_than_text_and_links_is_refused(credit: str, says: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(database_url="sqlite+aiosqlite:///:memory:", map_tile_attribution=credit)
    (error,) = raised.value.errors()
    assert error["loc"] == ("map_tile_attribution",) and says in error["msg"]
