"""The operator dashboard in a real headless Chromium, against a real server filled by `coachco2 demo`, its
basemap read from a small tile server of the test's own (which records what it is asked).

Needs Debian's `chromium` and `chromium-driver` (CI installs them). Without them the test is skipped with a
message, unless COACHCO2_TEST_REQUIRE_BROWSER=1 (CI), where that fails. Screenshots of each size and
language are saved under pytest's temporary directory (`dashboard-*.png`).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import COACHCO2, free_port, running_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
TILE_PATH = re.compile(r"^/tiles/(\d+)/(\d+)/(\d+)\.png$")


def _png(size: int = 256) -> bytes:
    """A plain tile: pale, with a darker border, as a PNG."""
    rows = []
    for y in range(size):
        edge = y in (0, size - 1)
        row = bytearray([0])  # no filter
        for x in range(size):
            row += b"\x9a\xa4\xad" if edge or x in (0, size - 1) else b"\xe8\xec\xef"
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


@dataclass
class TileServer:
    base: str
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Referer)

    @property
    def template(self) -> str:
        return f"{self.base}/tiles/{{z}}/{{x}}/{{y}}.png"


@pytest.fixture(scope="module")
def tiles() -> Iterator[TileServer]:
    """A tile server on a free port that answers every tile with the same PNG and records each request."""
    tile = _png()
    server_box: list[TileServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_box[0].requests.append((self.path, self.headers.get("Referer")))
            if not TILE_PATH.match(self.path):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_box.append(TileServer(f"http://127.0.0.1:{httpd.server_address[1]}"))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_box[0]
    finally:
        httpd.shutdown()
        httpd.server_close()


def _rectangle(lon0: float, lat0: float, lon1: float, lat1: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]],
    }


# The agglomeration's west and east (most of the demo's trips stay in the west: some 400 a week, far
# above the 108-trip margin of a flow at ε = 5), and a square of sea off Île de Ré (no trips at all).
HALVES = {"OUEST": (-1.22, 46.06, -1.13, 46.23), "EST": (-1.13, 46.06, -1.03, 46.23)}
SEA = {"MER": (-1.60, 46.00, -1.55, 46.03)}


def _zones(boxes: dict[str, tuple[float, float, float, float]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": code, "name": code}, "geometry": _rectangle(*box)}
        for code, box in boxes.items()]}  # fmt: skip


def _upload(base: str, headers: dict[str, str], name: str, zones: dict[str, Any]) -> None:
    created = httpx.post(f"{base}/v1/operator/zone-sets?name={name}", headers=headers, json=zones)
    assert created.status_code == 201, created.text
    # Past trips are assigned to the new zones in the background: ask (each time another question, as the
    # same one would get its first answer again) until a zone shows.
    for i in range(100):
        shown = httpx.get(f"{base}/v1/operator/stats/zones", headers=headers,
                          params={"zone_set": name, "epsilon": round(4.9 - i * 0.01, 2)})  # fmt: skip
        if shown.json()["features"]:
            return
        time.sleep(0.2)
    raise AssertionError(f"the zone set {name} was never assigned")


@dataclass
class Served:
    base: str
    token: str
    env: dict[str, str]
    tiles: TileServer

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiles: TileServer) -> Iterator[Served]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        message = "Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("COACHCO2_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('dash') / 'demo.db'}"
    # The queries' budget and ε are set high so that a demo of 60 people shows figures clear of the noise.
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "COACHCO2_DP_MONTH_EPSILON": "1000",
        "COACHCO2_DP_RELEASE_EPSILON": "5",
        "COACHCO2_MAP_TILE_URL": tiles.template,
        "COACHCO2_MAP_TILE_ATTRIBUTION": '© <a href="https://example.org/tiles">Test tiles</a>',
    }
    demo = subprocess.run([COACHCO2, "demo", "--users", "60", "--days", "7", "--seed", "7"], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    token = demo.stdout.strip().splitlines()[-1]
    assert token.startswith("cc2o_")
    with running_server(env) as server:
        found = Served(server.base, token, env, tiles)
        _upload(found.base, found.headers, "ouest-est", _zones(HALVES))
        _upload_sea(found)
        yield found


@pytest.fixture(scope="module")
def few(tmp_path_factory: pytest.TempPathFactory, served: Served, tiles: TileServer) -> Iterator[Served]:
    """A demo of 14 residents (12 consent): on some days fewer than 11 of them travelled, so that the
    publication hides those days' totals."""
    env = {**served.env, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('few') / 'demo.db'}"}
    demo = subprocess.run([COACHCO2, "demo", "--users", "14", "--days", "7", "--seed", "7"], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    with running_server(env) as server:
        yield Served(server.base, demo.stdout.strip().splitlines()[-1], env, tiles)


def _upload_sea(found: Served) -> None:
    created = httpx.post(
        f"{found.base}/v1/operator/zone-sets?name=mer", headers=found.headers, json=_zones(SEA)
    )
    assert created.status_code == 201, created.text


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1000", "--lang=en-GB"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: Any, script: str, timeout: float = 20.0, *args: Any) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script, *args)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def size(driver: Any, width: int, height: int) -> None:
    """The viewport at exactly this size (a phone's 390 px is narrower than a desktop window may be); below
    600 px, as a phone shows a page (the page's viewport tag then sets its width)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def sign_in(driver: Any, served: Served, lang: str | None = None) -> None:
    driver.get(f"{served.base}/dashboard")
    driver.execute_script("sessionStorage.setItem('operatorToken', arguments[0])", served.token)
    if lang:
        driver.execute_script("sessionStorage.setItem('lang', arguments[0])", lang)
    driver.get(f"{served.base}/dashboard")
    wait_for(driver, "return (window.dashboard.loads || 0) >= 1")


def choose(driver: Any, select_id: str, value: str) -> None:
    """Pick a filter's value and wait for the page to load what it asks."""
    loads = driver.execute_script("return window.dashboard.loads")
    driver.execute_script(
        "const s = document.getElementById(arguments[0]); s.value = arguments[1];"
        "s.dispatchEvent(new Event('change', {bubbles: true}))",
        select_id,
        value,
    )
    if select_id != "measure":
        wait_for(driver, "return window.dashboard.loads > arguments[0]", 20.0, loads)


def text(driver: Any, element_id: str) -> str:
    return str(driver.execute_script("return document.getElementById(arguments[0]).textContent", element_id))


def table_values(driver: Any, table_id: str) -> list[list[str | None]]:
    """Each body row's cells: a number drawn as data-value, 'hidden' for a hidden cell, else None."""
    return list(
        driver.execute_script(
            "return [...document.querySelectorAll('#' + arguments[0] + ' tbody tr')].map(r => [...r.children]"
            ".slice(1).map(c => c.classList.contains('hidden-cell') ? 'hidden' : (c.dataset.value ?? null)))",
            table_id,
        )
    )


def _week_rows(publication: dict[str, Any]) -> list[dict[str, Any]]:
    """The weeks of the month as the page draws them: every week whose Sunday is in the month, a week the
    tables leave out (nobody travelled) as zero."""
    year, month = (int(part) for part in publication["month"].split("-"))
    first = date(year, month, 1)
    sundays = [first + timedelta(days=i) for i in range(31) if (first + timedelta(days=i)).month == month]
    mondays = [(d - timedelta(days=6)).isoformat() for d in sundays if d.weekday() == 6]
    by_monday = {w["from"]: w for w in publication["tables"]["weeks"]}
    return [by_monday.get(m, {"total": {"suppressed": False, "trips": 0}, "modes": []}) for m in mondays]


def test_the_dashboard_loads_renders_and_follows_its_filters(served: Served, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, token = served.base, served.token
    browser.get(f"{base}/dashboard")
    assert browser.find_element(By.ID, "login").is_displayed()
    browser.find_element(By.ID, "token").send_keys("cc2o_not-a-token")
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait_for(browser, "return document.getElementById('login-error').textContent")
    # The refused token is the only error so far (the browser logs the 401 it was answered).
    assert all("401" in message for message in errors(browser))
    browser.find_element(By.ID, "token").clear()
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait_for(browser, "return (window.dashboard.loads || 0) >= 1")

    assert browser.find_element(By.ID, "who").text == "demo-operator"
    # The demo's month is published: the dashboard opens on its exact figures.
    assert browser.find_element(By.ID, "source").get_attribute("value") == "publication"
    published = httpx.get(f"{base}/v1/operator/publications/grid-500m/{browser.find_element(By.ID, 'month').get_attribute('value')}/map",
                          headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    drawn = len(browser.find_elements(By.CSS_SELECTOR, "#map path.zone"))
    assert drawn == len(published["features"]) > 0
    weekly = browser.execute_script("return Chart.getChart('share-chart').data.labels.length")
    assert weekly >= 1
    assert browser.execute_script("return Chart.getChart('share-chart').data.datasets.length") >= 1
    assert "11" in browser.find_element(By.ID, "protection").text
    assert not browser.find_element(By.ID, "hour-card").is_displayed()  # no hours in the publications

    # A filter changes what is drawn: daily periods give more bars than weekly ones.
    Select(browser.find_element(By.ID, "period")).select_by_value("day")
    wait_for(browser, "return window.dashboard.loads >= 2")
    daily = browser.execute_script("return Chart.getChart('share-chart').data.labels.length")
    assert daily > weekly
    # The map measure recolours the zones.
    before = browser.execute_script(
        "return [...document.querySelectorAll('#map path')].map(p => p.getAttribute('fill')).join()"
    )
    Select(browser.find_element(By.ID, "measure")).select_by_value("share:bus")
    after = browser.execute_script(
        "return [...document.querySelectorAll('#map path')].map(p => p.getAttribute('fill')).join()"
    )
    assert before != after

    # A query of one's own: differentially private figures, drawn with their margins.
    Select(browser.find_element(By.ID, "source")).select_by_value("query")
    wait_for(browser, "return window.dashboard.loads >= 3")
    assert browser.find_element(By.ID, "hour-card").is_displayed()
    assert (
        browser.execute_script(
            "return Chart.getChart('hour-chart').data.datasets[0].data.reduce((a, b) => a + b, 0)"
        )
        > 0
    )
    assert browser.execute_script("return Chart.getChart('co2-chart').data.datasets.length") == 3  # the band
    assert "ε = 5" in browser.find_element(By.ID, "protection").text

    # French and English.
    first = (
        browser.execute_script("return document.documentElement.lang"),
        browser.find_element(By.CSS_SELECTOR, "header h1").text,
    )
    browser.find_element(By.ID, "lang").click()
    second = (
        browser.execute_script("return document.documentElement.lang"),
        browser.find_element(By.CSS_SELECTOR, "header h1").text,
    )
    assert {first[0], second[0]} == {"fr", "en"} and first[1] != second[1]
    assert "territoire" in dict([first, second])["fr"] and "territory" in dict([first, second])["en"]
    assert errors(browser) == []


def test_the_basemap_comes_from_the_configured_tiles_with_their_credit(
    served: Served, browser: Any, tmp_path: Path
) -> None:
    response = httpx.get(f"{served.base}/dashboard")
    policy = dict(p.strip().split(" ", 1) for p in response.headers["content-security-policy"].split(";"))
    assert policy["img-src"] == f"'self' data: {served.tiles.base}"  # exactly the tile server's origin
    size(browser, 1400, 1000)
    before = len(served.tiles.requests)
    sign_in(browser, served, "en")
    zoom, lat, lon = browser.execute_script(
        "const m = window.dashboard.map; return [m.getZoom(), m.getCenter().lat, m.getCenter().lng]"
    )
    n = 2**zoom
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    wanted = f"/tiles/{zoom}/{x}/{y}.png"  # the tile under the map's centre, as any slippy map numbers it
    end = time.monotonic() + 20
    while wanted not in [path for path, _ in served.tiles.requests[before:]] and time.monotonic() < end:
        time.sleep(0.1)
    wait_for(browser, "return window.dashboard.tilesLoaded >= 4")
    asked = served.tiles.requests[before:]
    assert wanted in [path for path, _ in asked]
    assert all(TILE_PATH.match(path) for path, _ in asked)
    # Tile servers are told which site uses them (OpenStreetMap's usage policy asks it), by origin only.
    assert {referer for _, referer in asked} == {f"{served.base}/"}
    drawn = browser.execute_script(
        "return [...document.querySelectorAll('#map .leaflet-tile-loaded')].map(i => i.src)"
    )
    assert drawn and all(src.startswith(served.tiles.base + "/tiles/") for src in drawn)
    credit = browser.execute_script(
        "return document.querySelector('#map .leaflet-control-attribution').innerHTML"
    )
    assert '<a href="https://example.org/tiles">Test tiles</a>' in credit
    assert browser.execute_script("return document.getElementById('tiles-note').hidden") is True
    browser.save_screenshot(str(tmp_path / "dashboard-1400-en.png"))
    assert (tmp_path / "dashboard-1400-en.png").stat().st_size > 10_000
    assert errors(browser) == []


def test_hidden_cells_are_drawn_hidden_and_counted_never_as_zero(served: Served, browser: Any) -> None:
    size(browser, 1400, 1000)
    sign_in(browser, served, "en")
    assert browser.execute_script("return window.innerWidth") == 1400
    month = browser.execute_script("return document.getElementById('month').value")
    publication = httpx.get(
        f"{served.base}/v1/operator/publications/grid-500m/{month}", headers=served.headers
    ).json()
    published_map = httpx.get(
        f"{served.base}/v1/operator/publications/grid-500m/{month}/map", headers=served.headers
    ).json()

    # The modal share, by week: every suppressed cell counted, the hidden modes drawn hatched as the rest
    # of their week's published total, never as a zero.
    weeks = _week_rows(publication)
    suppressed = sum(sum(m["suppressed"] for m in w["modes"]) + w["total"]["suppressed"] for w in weeks)
    assert suppressed > 0
    assert hidden_text(suppressed, "cell") in text(browser, "share-hidden")
    chart = browser.execute_script(
        "const c = Chart.getChart('share-chart'); return c.data.datasets.map(d => ({label: d.label, "
        "hidden: Boolean(d.hidden_cells), pattern: d.backgroundColor instanceof CanvasPattern, data: d.data}))"
    )
    hidden_sets = [d for d in chart if d["hidden"]]
    assert len(hidden_sets) == 1 and hidden_sets[0]["pattern"] and hidden_sets[0]["label"] == "hidden modes"
    assert not any(d["pattern"] for d in chart if not d["hidden"])
    for i, week in enumerate(weeks):
        hidden_modes = [m for m in week["modes"] if m["suppressed"]]
        shown = sum(m["trips"] for m in week["modes"] if not m["suppressed"])
        expected = round(week["total"]["trips"] - shown, 1) if hidden_modes else None
        assert hidden_sets[0]["data"][i] == expected
    # What is drawn: the hatched segment shows stripes of two colours; a mode's bar, one plain colour.
    stripes = browser.execute_script(
        """const c = Chart.getChart('share-chart');
        const colours = (index) => {
          const bar = c.getDatasetMeta(index).data.find((b, i) => c.data.datasets[index].data[i] > 0);
          const ratio = c.currentDevicePixelRatio, ctx = c.ctx, seen = new Set();
          const top = Math.min(bar.y, bar.base), height = Math.abs(bar.base - bar.y);
          for (let dy = 2; dy < height - 2; dy += 1) {
            const p = ctx.getImageData(Math.round(bar.x * ratio), Math.round((top + dy) * ratio), 1, 1).data;
            seen.add(p.slice(0, 3).join());
          }
          return seen.size;
        };
        const hidden = c.data.datasets.findIndex((d) => d.hidden_cells);
        const plain = c.data.datasets.findIndex((d) => !d.hidden_cells && d.data.some((v) => v > 0));
        return [colours(hidden), colours(plain)];"""
    )
    assert stripes[0] >= 2 and stripes[1] == 1

    # The share table says the same as the chart, hidden cells as hidden.
    rows = table_values(browser, "share-table")
    modes = [d for d in chart if not d["hidden"]]
    for i, row in enumerate(rows):
        for j, d in enumerate(modes):
            drawn = d["data"][i]
            assert (row[j] == "hidden") if drawn is None else (float(row[j] or "nan") == drawn), (
                i,
                d["label"],
            )
    assert sum(cell == "hidden" for row in rows for cell in row) == suppressed

    # The map, by bus share: a zone whose bus cell is suppressed is hatched; one without any bus trip is
    # drawn at the scale's zero. The count says so, and the zones left out altogether are counted.
    choose(browser, "measure", "share:bus")
    features = published_map["features"]
    hidden_zones = [f["id"] for f in features if "bus" in f["properties"]["modes_hidden"]]
    zero_zones = [f["id"] for f in features if "bus" not in f["properties"]["modes_hidden"]
                  and not f["properties"]["mode_share_trips"].get("bus")]  # fmt: skip
    assert hidden_zones and zero_zones
    paths = browser.execute_script(
        "return [...document.querySelectorAll('#map path.zone')].map(p => [p.getAttribute('fill'), "
        "p.classList.contains('zone-hidden')])"
    )
    assert [p for p in paths if p[1]] == [["url(#hatch)", True]] * len(hidden_zones)
    zero_fills = {fill for fill, hidden in paths if not hidden}
    assert "#edf8e9" in zero_fills and "url(#hatch)" not in zero_fills
    note = text(browser, "map-hidden")
    assert hidden_text(published_map["zones_hidden"], "zone") in note
    assert f"hidden in {len(hidden_zones)} zone" in note
    zones = table_values(browser, "zones-table")
    assert [row[-1] for row in zones].count("hidden") == len(hidden_zones)
    assert sorted(float(row[-1]) for row in zones if row[-1] != "hidden")[0] == 0.0
    assert "hidden (fewer than 11 people)" in text(browser, "legend")
    browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    assert errors(browser) == []


def test_a_period_whose_total_is_hidden_is_hatched_not_a_zero(few: Served, browser: Any) -> None:
    size(browser, 1400, 1000)
    sign_in(browser, few, "en")
    choose(browser, "period", "day")
    month = browser.execute_script("return document.getElementById('month').value")
    publication = httpx.get(
        f"{few.base}/v1/operator/publications/grid-500m/{month}", headers=few.headers
    ).json()
    hidden_days = [d["day"] for d in publication["tables"]["days"] if d["total"]["suppressed"]]
    assert hidden_days  # the demo's weekend: too few travellers
    labels = browser.execute_script("return Chart.getChart('co2-chart').data.labels")
    drawn = browser.execute_script(
        "const c = Chart.getChart('co2-chart'); return [c.data.datasets[0].data, "
        "c.options.plugins.hiddenColumns.indices]"
    )
    values, hatched = drawn
    assert [labels[i] for i in hatched] == hidden_days
    assert all(values[i] is None for i in hatched)  # no point, no zero
    quiet = [
        i for i, day in enumerate(labels) if day not in {d["day"] for d in publication["tables"]["days"]}
    ]
    assert quiet and all(values[i] == 0 for i in quiet)  # a day nobody travelled is a true zero
    assert hidden_text(len(hidden_days), "cell") in text(browser, "co2-hidden")
    assert [r[0] for r in table_values(browser, "co2-table")].count("hidden") == len(hidden_days)
    # On the canvas: stripes down a hidden day's column, nothing but the plot's background on a zero day.
    colours = browser.execute_script(
        """const c = Chart.getChart('co2-chart'), ratio = c.currentDevicePixelRatio, area = c.chartArea;
        return arguments[0].map((i) => {
          const x = Math.round(c.scales.x.getPixelForValue(i) * ratio), seen = new Set();
          for (let y = area.top + 20; y < area.bottom - 20; y += 1) {
            seen.add(c.ctx.getImageData(x + 2, Math.round(y * ratio), 1, 1).data.slice(0, 3).join());
          }
          return [...seen];
        });""",
        [hatched[0], quiet[len(quiet) // 2]],
    )
    stripes = {"241,241,241", "107,107,107"}  # the hatching's light and dark
    assert stripes <= set(colours[0]) and not stripes & set(colours[1])
    share = browser.execute_script(
        "const c = Chart.getChart('share-chart'); return [c.options.plugins.hiddenColumns.indices, "
        "c.data.datasets.map(d => d.data)]"
    )
    assert share[0] == hatched and all(data[i] is None for data in share[1] for i in hatched)
    assert errors(browser) == []


def test_flows_are_drawn_between_zones_and_what_is_hidden_is_said(served: Served, browser: Any) -> None:
    size(browser, 1400, 1000)
    sign_in(browser, served, "en")
    assert browser.execute_script("return window.innerWidth") == 1400
    choose(browser, "source", "query")
    choose(browser, "zone-set", "ouest-est")
    params = browser.execute_script(
        "return {from: document.getElementById('from').value, to: document.getElementById('to').value}"
    )
    od = httpx.get(f"{served.base}/v1/operator/stats/od", headers=served.headers,
                   params={**params, "zone_set": "ouest-est"}).json()  # fmt: skip
    assert od["release"]["replayed"]  # the page asked the same question first
    placed = [f for f in od["flows"] if f["origin"] in HALVES and f["destination"] in HALVES]
    assert placed
    drawn = browser.execute_script(
        "return [...document.querySelectorAll('#map path.flow')].map(p => Number(p.getAttribute('stroke-width')))"
    )
    assert len(drawn) == len(placed)
    # The widest line (or loop, for trips within a zone) is the flow of most trips.
    widest = browser.execute_script(
        "let best = null; window.dashboard.flowLayer.eachLayer(l => { if (!best || l.size > best.size) "
        "best = l; }); return [best.flow.origin, best.flow.destination]"
    )
    top = max(placed, key=lambda f: f["trips"])
    assert widest == [top["origin"], top["destination"]]
    assert hidden_text(od["flows_hidden"], "flow") in text(browser, "od-hidden")
    outside = len(od["flows"]) - len(placed)
    if outside:
        assert f"{outside} flow" in text(browser, "od-hidden") and "outside the zones" in text(
            browser, "od-hidden"
        )
    rows = browser.execute_script(
        "return [...document.querySelectorAll('#od tbody tr')].map(r => [...r.children].map(c => c.textContent))"
    )
    listed = sorted(od["flows"], key=lambda f: -f["trips"])
    names = {"outside": "outside the zones"}
    assert [r[:2] for r in rows] == [[names.get(f["origin"], f["origin"]), names.get(f["destination"], f["destination"])]
                                     for f in listed]  # fmt: skip

    # A day nobody travelled, over one zone at sea: every pair is noise alone, and the page says that all
    # are hidden. (Noise lifts a pair above its margin one time in forty: another day is asked then.)
    choose(browser, "zone-set", "mer")
    before_demo = date.fromisoformat(params["from"]) - timedelta(days=90)  # the demo plays last month only
    for day in range(12):
        browser.execute_script(
            "document.getElementById('from').value = arguments[0]; document.getElementById('to').value = arguments[0]",
            (before_demo + timedelta(days=day)).isoformat(),
        )
        choose(browser, "period", "day")
        answer = browser.execute_script("return window.dashboard.data.od")
        if not answer["flows"]:
            break
    assert answer["flows"] == [] and answer["flows_hidden"] == 4
    assert text(browser, "od-hidden").startswith("All 4 flows are hidden to protect people")
    assert browser.execute_script("return document.querySelectorAll('#map path.flow').length") == 0
    assert errors(browser) == []


def test_every_chart_has_its_data_table_and_says_what_it_is(served: Served, browser: Any) -> None:
    size(browser, 1400, 1000)
    sign_in(browser, served, "en")
    assert browser.execute_script("return window.innerWidth") == 1400
    choose(browser, "source", "query")
    # Ten days that end last month: whatever the calendar, one of their weeks at least is cut.
    last = date.fromisoformat(browser.execute_script("return document.getElementById('to').value"))
    browser.execute_script(
        "document.getElementById('from').value = arguments[0]", (last - timedelta(days=9)).isoformat()
    )
    choose(browser, "period", "week")
    for canvas, table_id in (
        ("share-chart", "share-table"),
        ("co2-chart", "co2-table"),
        ("hour-chart", "hour-table"),
    ):
        described = browser.execute_script(
            "const c = document.getElementById(arguments[0]); return [c.getAttribute('role'), "
            "c.getAttribute('aria-label'), c.getAttribute('aria-details')]",
            canvas,
        )
        assert described[0] == "img" and "data table" in described[1] and described[2] == table_id
        structure = browser.execute_script(
            "const t = document.getElementById(arguments[0]); return [t.caption.textContent, "
            "[...t.querySelectorAll('thead th')].every(th => th.scope === 'col'), "
            "[...t.querySelectorAll('tbody tr')].every(r => r.firstElementChild.scope === 'row'), "
            "t.closest('details') !== null]",
            table_id,
        )
        assert structure[0] and structure[1] and structure[2] and structure[3]
    # The CO2e curve: straight segments from zero, its partial weeks dashed and named in its table.
    line = browser.execute_script(
        "const c = Chart.getChart('co2-chart'); return [c.data.datasets[0].tension, c.scales.y.min, "
        "c.data.labels.map(l => Array.isArray(l) ? l[1] : null), c.data.datasets[0].data]"
    )
    tension, floor, partial, kg = line
    assert tension == 0 and floor == 0
    series = browser.execute_script("return window.dashboard.data.series")
    start, end = series["from"], series["to"]
    for s, flag in zip(series["series"], partial, strict=True):
        monday = s["start"]
        whole = monday >= start and _plus_days(monday, 6) <= end
        assert (flag is None) == whole, (monday, flag)
    assert any(partial) and "partial" in text(browser, "co2-hidden")
    dashed = browser.execute_script(
        "const c = Chart.getChart('co2-chart'); return c.data.datasets[0].data.map((v, i) => i === 0 ? null "
        ": c.data.datasets[0].segment.borderDash({p0DataIndex: i - 1, p1DataIndex: i}) || null)"
    )
    for i in range(1, len(partial)):
        assert (dashed[i] == [6, 4]) == bool(partial[i - 1] or partial[i])
    rows = table_values(browser, "co2-table")
    assert [float(r[0]) for r in rows] == pytest.approx([v for v in kg])
    labels = browser.execute_script(
        "return [...document.querySelectorAll('#co2-table tbody th')].map(th => th.textContent)"
    )
    assert [("partial" in label) for label in labels] == [flag is not None for flag in partial]
    hours = table_values(browser, "hour-table")
    drawn = browser.execute_script("return Chart.getChart('hour-chart').data.datasets[0].data")
    assert [float(r[0]) for r in hours] == pytest.approx(drawn)
    assert "No cell hidden" in text(browser, "hour-hidden")  # noisy figures are all published
    assert errors(browser) == []


def hidden_text(n: int, what: str) -> str:
    """How the English page counts what it hides: "1 flow hidden", "3 flows hidden"."""
    return f"{n} {what if n == 1 else what + 's'} hidden to protect people"


def _plus_days(day: str, n: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=n)).isoformat()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_phone_reads_it_without_scrolling_sideways_in_its_language(
    served: Served, browser: Any, tmp_path: Path, lang: str
) -> None:
    size(browser, 390, 844)
    sign_in(browser, served, lang)
    assert browser.execute_script("return window.innerWidth") == 390
    for source in ("publication", "query"):
        if source == "query":
            choose(browser, "source", "query")
            choose(browser, "zone-set", "ouest-est")
        browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
        time.sleep(0.2)
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), (
            source,
            browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]"),
        )
        browser.save_screenshot(str(tmp_path / f"dashboard-390-{lang}-{source}.png"))
    shot = tmp_path / f"dashboard-390-{lang}-query.png"
    assert shot.stat().st_size > 10_000
    # Every label in the page's language: the map's, its zoom buttons, legends, hidden-cell texts, tables.
    words = {
        "fr": {"map": "Carte des zones", "zoom": "Zoom avant", "summary": "Tableau des données", "period": "Période",
               "origin": "Origine", "flows": "pour protéger les personnes", "hidden": "masqu"},
        "en": {"map": "Map of starting zones", "zoom": "Zoom in", "summary": "Data table", "period": "Period",
               "origin": "Origin", "flows": "hidden to protect people", "hidden": "hidden"},
    }[lang]  # fmt: skip
    found = browser.execute_script(
        "return {map: document.getElementById('map').getAttribute('aria-label'),"
        "zoom: document.querySelector('.leaflet-control-zoom-in').title,"
        "summary: document.querySelector('details.data summary').textContent,"
        "period: document.querySelector('#share-table thead th').textContent,"
        "origin: document.querySelector('#od thead th').textContent,"
        "flows: document.getElementById('od-hidden').textContent,"
        "hidden: document.getElementById('map-hidden').textContent,"
        "canvas: document.getElementById('co2-chart').getAttribute('aria-label')}"
    )
    for key, word in words.items():
        assert word in found[key], (key, found[key])
    other = {"fr": ("hidden", "Zoom in", "Data table", "chart"), "en": ("masqu", "Zoom avant", "graphique")}[
        lang
    ]
    page = browser.execute_script("return document.getElementById('app').innerText") + " ".join(
        found.values()
    )
    assert not [w for w in other if w in page], [w for w in other if w in page]
    # Back in the publication, the legend of what is hidden speaks the same language.
    choose(browser, "zone-set", "grid-500m")
    choose(browser, "source", "publication")
    legend = text(browser, "legend")
    assert ("masqué (moins de 11 personnes)" if lang == "fr" else "hidden (fewer than 11 people)") in legend
    assert errors(browser) == []


def test_the_page_works_when_the_tiles_cannot_be_reached(served: Served, browser: Any) -> None:
    env = {**served.env, "COACHCO2_MAP_TILE_URL": f"http://127.0.0.1:{free_port()}/{{z}}/{{x}}/{{y}}.png",
           "COACHCO2_WORKER_IN_PROCESS": "false"}  # fmt: skip
    with running_server(env) as server:
        size(browser, 1400, 1000)
        sign_in(browser, Served(server.base, served.token, env, served.tiles), "en")
        wait_for(browser, "return window.dashboard.tileErrors > 0")
        assert browser.execute_script("return document.getElementById('tiles-note').hidden") is False
        assert "Basemap unavailable" in text(browser, "tiles-note")
        assert browser.execute_script("return document.querySelectorAll('#map path.zone').length") > 0
        assert browser.execute_script("return Chart.getChart('share-chart').data.datasets.length") >= 1
        choose(browser, "source", "query")
        choose(browser, "zone-set", "ouest-est")
        assert browser.execute_script("return document.querySelectorAll('#map path.flow').length") > 0
        # Only the tiles failed to load: no script error.
        problems = [m for m in errors(browser) if "Failed to load resource" not in m or "127.0.0.1" not in m]
        assert problems == []
        assert browser.execute_script("return window.dashboard.loads") >= 3


def test_what_the_dashboard_draws_is_text_never_markup(served: Served, browser: Any) -> None:
    """A zone code an operator uploaded is drawn as text in the map's tooltip: markup in it never runs."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, token = served.base, served.token
    code = '<img src=x onerror="window.__injected=1">'
    square = [[-1.35, 46.05], [-0.95, 46.05], [-0.95, 46.30], [-1.35, 46.30], [-1.35, 46.05]]
    zones = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": code, "name": "x"},
                                                        "geometry": {"type": "Polygon", "coordinates": [square]}}]}  # fmt: skip
    _upload(base, served.headers, "markup", zones)

    browser.get(f"{base}/dashboard")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait_for(browser, "return (window.dashboard.loads || 0) >= 1")
    Select(browser.find_element(By.ID, "source")).select_by_value("query")
    wait_for(browser, "return window.dashboard.loads >= 2")
    Select(browser.find_element(By.ID, "zone-set")).select_by_value("markup")
    wait_for(browser, "return window.dashboard.loads >= 3")
    browser.execute_script("window.dashboard.layer.eachLayer((l) => l.openTooltip())")
    tip = wait_for(browser, "return document.querySelector('.leaflet-tooltip')?.textContent")
    assert code in tip
    assert browser.execute_script("return document.querySelector('.leaflet-tooltip img')") is None
    assert browser.execute_script("return document.querySelector('#zones-table img')") is None
    assert code in browser.execute_script(
        "return document.querySelector('#zones-table tbody th').textContent"
    )
    time.sleep(0.3)
    assert browser.execute_script("return window.__injected") is None


def test_flows_that_cannot_be_read_are_said_so_and_the_rest_is_drawn(served: Served, browser: Any) -> None:
    size(browser, 1400, 1000)
    sign_in(browser, served, "en")
    # The flows' request fails in the browser (as it would with the network cut, or the budget spent).
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/v1/operator/stats/od*"]})
    try:
        choose(browser, "source", "query")
        choose(browser, "zone-set", "ouest-est")
        assert text(browser, "od-hidden").startswith("The flows could not be read: ")
        assert browser.execute_script("return document.querySelectorAll('#map path.flow').length") == 0
        assert browser.execute_script("return document.querySelectorAll('#od tbody tr').length") == 0
        assert browser.execute_script("return document.querySelectorAll('#map path.zone').length") > 0
        assert browser.execute_script("return Chart.getChart('share-chart').data.datasets.length") >= 1
    finally:
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})


@pytest.mark.parametrize(("lang", "words"), [("fr", "Aucun jeu de zones"), ("en", "No zone set")])
def test_the_servers_errors_reach_the_page_in_its_language(
    served: Served, browser: Any, lang: str, words: str
) -> None:
    sign_in(browser, served, lang)
    message = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "api('/v1/operator/stats/od', {zone_set: 'nowhere', from: '2026-01-01', to: '2026-01-31'})"
        ".then(() => done('answered'), (error) => done(error.status + ' ' + error.message));"
    )
    assert message.startswith("404 ") and words in message
