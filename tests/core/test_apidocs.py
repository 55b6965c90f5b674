"""/docs and /redoc work offline: Swagger UI and ReDoc come from the application, nothing from a CDN.

The browser test runs a real server and a real headless Chromium whose every request to another host goes
to a proxy that does not exist and whose host names do not resolve, as on a machine with no Internet
access; it then checks that the pages rendered the API and that the browser asked for nothing elsewhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from app.core.apidocs import ASSETS_URL, assets_dir
from app.main import create_app
from app.settings import Settings
from tests.dashboard.test_dashboard import CHROMEDRIVER, CHROMIUM, wait_for
from tests.support.servers import running_server


async def test_the_pages_load_their_assets_from_the_application(app: FastAPI) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for page, assets in (
            ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"]),
            ("/redoc", ["redoc.standalone.js", "favicon.png"]),
        ):
            answer = await client.get(page)
            assert answer.status_code == 200
            assert "http://" not in answer.text and "https://" not in answer.text, page
            for asset in assets:
                assert f'"{ASSETS_URL}/{asset}"' in answer.text
                served = await client.get(f"{ASSETS_URL}/{asset}")
                assert served.status_code == 200
                assert served.content == (assets_dir() / asset).read_bytes()
            policy = answer.headers["content-security-policy"]
            assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
            # every source the policy names is this origin, an inline script's hash, or a blob/data URL
            sources = {s for d in policy.split(";") for s in d.split()[1:]}
            assert all(
                s in ("'self'", "'none'", "'unsafe-inline'", "blob:", "data:") or s.startswith("'sha256-")
                for s in sources
            ), policy
        assert (await client.get(f"{ASSETS_URL}/../settings.py")).status_code == 404


async def test_the_swagger_page_allows_exactly_its_own_inline_script(app: FastAPI) -> None:
    import base64
    import hashlib
    import re

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.get("/docs")
    inline = re.findall(r"<script>(.*?)</script>", answer.text, re.DOTALL)
    assert len(inline) == 1 and "SwaggerUIBundle(" in inline[0]
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in answer.headers["content-security-policy"]
    assert '"validatorUrl": null' in inline[0]


async def test_documentation_off_serves_no_page_and_no_asset(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'off.db'}"
    app = create_app(Settings(database_url=url, docs_enabled=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for path in ("/docs", "/redoc", "/openapi.json", f"{ASSETS_URL}/swagger-ui-bundle.js"):
            assert (await client.get(path)).status_code == 404, path
    await app.state.db.dispose()


@pytest.fixture(scope="module")
def offline_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """A served API and a headless Chromium that can reach nothing but the loopback address."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        message = "Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("COACHCO2_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('apidocs') / 'docs.db'}"
    env = {**os.environ, "DATABASE_URL": url, "COACHCO2_ENVIRONMENT": "development"}
    env.pop("COACHCO2_DOCS_ENABLED", None)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1280,1000",
        # No network: every request for another host goes to a proxy that is not there (port 9, discard;
        # the server, on 127.0.0.1, is reached directly),
        # and no name resolves but the loopback address's.
        "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=127.0.0.1",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    with running_server(env) as server:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            yield server.base, driver
        finally:
            driver.quit()


def requests_made(driver: Any) -> dict[str, str | None]:
    """Every URL the browser asked for since the last call, with why it was blocked before leaving the
    browser (`csp` when the page's policy refused it), or None (from the browser's performance log)."""
    urls: dict[str, str] = {}
    blocked: dict[str, str] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message["params"]
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason"):
            blocked[params["requestId"]] = params["blockedReason"]
    return {url: blocked.get(request) for request, url in urls.items()}


def elsewhere(requests: dict[str, str | None], base: str) -> list[str]:
    """The requests that left the browser for another host than the server's (made inside the page,
    data: and blob: URLs never leave it; nor does a request the page's policy refused)."""
    origin = urlsplit(base).netloc
    return [
        url
        for url, blocked in requests.items()
        if urlsplit(url).scheme in ("http", "https", "ws", "wss")
        and urlsplit(url).netloc != origin
        and blocked != "csp"
    ]


def severe(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def summaries(base: str, tag: str) -> list[str]:
    spec = httpx.get(f"{base}/openapi.json").json()
    return [
        op["summary"]
        for operations in spec["paths"].values()
        for op in operations.values()
        if tag in op.get("tags", []) and op.get("summary")
    ]


def test_swagger_ui_renders_the_api_offline(offline_browser: tuple[str, Any]) -> None:
    base, driver = offline_browser
    requests_made(driver)
    driver.get(f"{base}/docs")
    wait_for(driver, "return document.querySelector('.opblock-tag[data-tag=\"trips\"]')")
    shown = driver.execute_script(
        "return [...document.querySelectorAll('.opblock-summary-description')].map(e => e.textContent)"
    )
    trips = summaries(base, "trips")
    assert trips and set(trips) <= set(shown)
    requested = requests_made(driver)
    assert f"{base}{ASSETS_URL}/swagger-ui-bundle.js" in requested
    assert f"{base}/openapi.json" in requested
    assert elsewhere(requested, base) == []
    assert severe(driver) == []  # no script refused by the policy, nothing failed to load


def test_redoc_renders_the_api_offline(offline_browser: tuple[str, Any]) -> None:
    base, driver = offline_browser
    requests_made(driver)
    driver.get(f"{base}/redoc")
    trips = summaries(base, "trips")
    menu = wait_for(
        driver,
        "const items = [...document.querySelectorAll('li[data-item-id^=\"tag/trips/operation/\"]')]"
        ".map(e => e.getAttribute('aria-label')); return items.length ? items : null",
        timeout=30,
    )
    assert sorted(menu) == sorted(trips)
    requested = requests_made(driver)
    assert f"{base}{ASSETS_URL}/redoc.standalone.js" in requested
    assert elsewhere(requested, base) == []
    # ReDoc's menu shows the Redocly logo from their CDN: the policy refuses it, and that is all it refuses.
    assert {url: why for url, why in requested.items() if why} == {
        "https://cdn.redoc.ly/redoc/logo-mini.svg": "csp"
    }
    refused = severe(driver)
    assert all("violates the following Content Security Policy" in m and "cdn.redoc.ly" in m for m in refused)
