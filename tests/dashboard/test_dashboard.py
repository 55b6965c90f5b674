"""The operator dashboard in a real headless Chromium, against a real server filled by `coachco2 demo`.

Needs Debian's `chromium` and `chromium-driver` (CI installs them). Without them the test is skipped with a
message, unless COACHCO2_TEST_REQUIRE_BROWSER=1 (CI), where that fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import COACHCO2, running_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
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
    }
    demo = subprocess.run([COACHCO2, "demo", "--users", "60", "--days", "7", "--seed", "7"], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    token = demo.stdout.strip().splitlines()[-1]
    assert token.startswith("cc2o_")
    with running_server(env) as server:
        yield server.base, token


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1000"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: Any, script: str, timeout: float = 20.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_the_dashboard_loads_renders_and_follows_its_filters(served: tuple[str, str], browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, token = served
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
    drawn = len(browser.find_elements(By.CSS_SELECTOR, "#map .leaflet-interactive"))
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


def test_the_dashboard_reads_on_a_tablet_and_is_not_frameable(served: tuple[str, str], browser: Any) -> None:
    base, token = served
    response = httpx.get(f"{base}/dashboard")
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    browser.set_window_size(768, 1024)
    browser.get(f"{base}/dashboard")
    browser.execute_script("sessionStorage.setItem('operatorToken', arguments[0])", token)
    browser.get(f"{base}/dashboard")
    wait_for(browser, "return (window.dashboard.loads || 0) >= 1")
    columns = browser.execute_script(
        "return getComputedStyle(document.querySelector('.grid')).gridTemplateColumns"
    )
    assert len(columns.split()) == 1  # one column on a tablet
    width = browser.execute_script("return document.getElementById('map').getBoundingClientRect().width")
    assert 300 < width <= 768
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 768
    assert errors(browser) == []


def test_what_the_dashboard_draws_is_text_never_markup(served: tuple[str, str], browser: Any) -> None:
    """A zone code an operator uploaded is drawn as text in the map's tooltip: markup in it never runs."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, token = served
    headers = {"Authorization": f"Bearer {token}"}
    code = '<img src=x onerror="window.__injected=1">'
    square = [[-1.35, 46.05], [-0.95, 46.05], [-0.95, 46.30], [-1.35, 46.30], [-1.35, 46.05]]
    zones = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": code, "name": "x"},
                                                        "geometry": {"type": "Polygon", "coordinates": [square]}}]}  # fmt: skip
    created = httpx.post(f"{base}/v1/operator/zone-sets?name=markup", headers=headers, json=zones)
    assert created.status_code == 201, created.text
    # Past trips are assigned to the new zones in the background: ask (each time another question, as the
    # same one would get its first answer again) until the zone shows.
    for i in range(100):
        shown = httpx.get(f"{base}/v1/operator/stats/zones", headers=headers,
                          params={"zone_set": "markup", "epsilon": round(4.9 - i * 0.01, 2)})  # fmt: skip
        if shown.json()["features"]:
            break
        time.sleep(0.2)
    assert shown.json()["features"][0]["properties"]["zone"] == code

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
    time.sleep(0.3)
    assert browser.execute_script("return window.__injected") is None
