"""Erasure leaves nothing in the files: after `DELETE /v1/me`, neither the SQLite database, its journal,
nor the upload folder holds the person's id, labels or coordinates, even with an import under way."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import struct
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.core.migrate import upgrade
from app.main import create_app
from app.mobility.simulate import LegPlan, StayPlan, TripPlan, simulate
from app.settings import Settings
from tests.conftest import register
from tests.support.traces import payload, straight_gpx, upload

LABEL = "Téléphone de Jeanne Dupont"
HOME = "12 rue des Mouettes, La Rochelle"
DAY = simulate(
    [StayPlan(900), TripPlan((LegPlan("walk", 600), LegPlan("car", 5000))), StayPlan(900)],
    seed=3,
    sampling_s=5,
)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, Path]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'held.db'}"
    await asyncio.to_thread(upgrade, url)
    app = create_app(Settings(database_url=url, import_dir=str(tmp_path / "imports")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield app, client, tmp_path
    await app.state.db.dispose()


SCAN = """
import json, sys
from pathlib import Path
folder, needles = Path(sys.argv[1]), {k: bytes.fromhex(v) for k, v in json.loads(sys.argv[2]).items()}
found = {}
for path in folder.rglob("*"):
    if path.is_file():
        data = path.read_bytes()
        hits = [name for name, needle in needles.items() if needle in data]
        if hits:
            found[str(path.relative_to(folder))] = hits
print(json.dumps(found))
"""


def traces_in(folder: Path, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Which files hold which needles, read by another process: closing a file descriptor of the database
    or its -shm in this process would drop this process's POSIX locks on it (SQLite's locks among them),
    and an import process could then take the shared memory for its own and truncate it under the
    server's mapping (a bus error)."""
    hexed = json.dumps({name: needle.hex() for name, needle in needles.items()})
    done = subprocess.run(
        [sys.executable, "-c", SCAN, str(folder), hexed], capture_output=True, check=True, text=True
    )
    found: dict[str, list[str]] = json.loads(done.stdout)
    return found


async def test_nothing_of_an_erased_person_stays_in_the_files(
    served: tuple[FastAPI, httpx.AsyncClient, Path],
) -> None:
    app, client, folder = served
    person = await register(client, LABEL)
    other = await register(client, "another phone")
    await client.post("/v1/me/privacy-zones", headers=person.headers, json={"label": HOME, "lat": 46.1601,
                                                                            "lon": -1.1502})  # fmt: skip
    await client.put("/v1/me/consents/territory_statistics", headers=person.headers, json={"granted": True})
    await upload(client, person, payload(DAY))
    await upload(client, other, payload(DAY, 0, 10))
    await app.state.worker.run_until_idle()
    assert (await client.get("/v1/me/trips", headers=person.headers)).json()["trips"]
    done = await client.post(
        "/v1/me/imports", headers=person.headers, files={"file": ("a.gpx", straight_gpx(300, 45.7))}
    )
    for _ in range(200):
        state = (await client.get(f"/v1/me/imports/{done.json()['id']}", headers=person.headers)).json()
        if state["status"] == "done":
            break
        await asyncio.sleep(0.05)
    assert state["status"] == "done", state
    # SQLite moves the journal into the database now and then: the person's rows are in its pages
    with contextlib.closing(sqlite3.connect(folder / "held.db")) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # a big import under way when the person leaves
    running = await client.post(
        "/v1/me/imports", headers=person.headers, files={"file": ("big.gpx", straight_gpx(60_000, 44.3))}
    )
    assert running.status_code == 202
    await asyncio.sleep(0.2)

    me = person.user_id
    needles = {
        "id": me.hex.encode(),
        "id (dashed)": str(me).encode(),
        "device label": LABEL.encode(),
        "privacy zone": HOME.encode(),
        "a point": struct.pack(">d", float(DAY.points.lat[len(DAY.points) // 2])),
        "an imported point": struct.pack(">d", float(f"{45.7 + 150e-6:.7f}")),
    }
    assert set(traces_in(folder, needles).get("held.db", [])) >= set(needles) - {"an imported point"}

    assert (await client.delete("/v1/me", headers=person.headers)).status_code == 204
    assert list((folder / "imports").iterdir()) == []
    # while the server runs, and after it stopped
    assert traces_in(folder, needles) == {}
    await app.state.db.dispose()
    assert traces_in(folder, needles) == {}
    # freed pages are overwritten on every connection, whatever the SQLite build's default
    async with app.state.db.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA secure_delete")).scalar() == 1
    # the others' data is intact
    assert (await client.get("/v1/me", headers=other.headers)).json()["counts"]["points"] == 10
