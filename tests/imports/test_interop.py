"""Interoperability: e-mission phones posting to /usercache/put, and people importing their history."""

from __future__ import annotations

import asyncio
import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.mobility.simulate import LegPlan, Simulation, StayPlan, TripPlan, simulate
from app.settings import Settings
from tests.conftest import Person, register
from tests.support.phone import android_entries, ios_entries

PLAN = [
    StayPlan(1800),
    TripPlan((LegPlan("walk", 800), LegPlan("car", 6000))),
    StayPlan(3600),
    TripPlan((LegPlan("bike", 3000),)),
    StayPlan(1800),
]
GPX_NS = "{http://www.topografix.com/GPX/1/1}"


@pytest.fixture(scope="module")
def day() -> Simulation:
    return simulate(PLAN, seed=9, sampling_s=5.0, phone=True)


def stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def gpx_of(sim: Simulation) -> bytes:
    p = sim.points
    points = "".join(
        f'<trkpt lat="{p.lat[i]:.7f}" lon="{p.lon[i]:.7f}"><time>{iso(float(p.ts_s[i]))}</time></trkpt>'
        for i in range(len(p))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" creator="test" '
        f'xmlns="http://www.topografix.com/GPX/1/1"><trk><name>day</name><trkseg>{points}</trkseg></trk></gpx>'
    ).encode()


async def put_usercache(
    client: httpx.AsyncClient, person: Person, entries: list[dict[str, Any]]
) -> list[Any]:
    answers = []
    for i in range(0, len(entries), 2000):
        body = {"user": person.token, "phone_to_server": entries[i : i + 2000]}
        response = await client.post("/usercache/put", json=body)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


async def trips_of(client: httpx.AsyncClient, person: Person) -> list[dict[str, Any]]:
    return list((await client.get("/v1/me/trips?limit=500", headers=person.headers)).json()["trips"])


async def wait_import(client: httpx.AsyncClient, person: Person, import_id: str) -> dict[str, Any]:
    for _ in range(400):
        state = (await client.get(f"/v1/me/imports/{import_id}", headers=person.headers)).json()
        if state["status"] in ("done", "failed"):
            return dict(state)
        await asyncio.sleep(0.05)
    raise AssertionError(f"import still {state['status']} after 20 s")


async def import_file(
    client: httpx.AsyncClient, person: Person, name: str, content: bytes, *, multipart: bool = True
) -> dict[str, Any]:
    if multipart:
        response = await client.post(
            "/v1/me/imports", headers=person.headers, files={"file": (name, content)}
        )
    else:
        response = await client.post(
            f"/v1/me/imports?filename={name}", headers=person.headers, content=content
        )
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/me/imports/{response.json()['id']}"
    return await wait_import(client, person, response.json()["id"])


async def test_android_and_ios_entries_become_the_same_trips_as_a_gpx_import(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation
) -> None:
    android, ios, gpx = await register(client), await register(client), await register(client)
    answers = await put_usercache(client, android, android_entries(day))
    assert sum(a["accepted"] for a in answers) == len(day.points)
    assert sum(a["ignored"].get("statemachine/transition", 0) for a in answers) == 2 * len(day.trips)
    ios_answers = await put_usercache(client, ios, ios_entries(day))
    assert sum(a["accepted"] for a in ios_answers) == len(day.points)
    state = await import_file(client, gpx, "day.gpx", gpx_of(day))
    assert (
        state["status"] == "done" and state["points_accepted"] == len(day.points) and state["format"] == "gpx"
    )
    await app.state.worker.run_until_idle()

    def spans(trips: list[dict[str, Any]]) -> list[tuple[float, float]]:
        return sorted((stamp(t["start_time"]), stamp(t["end_time"])) for t in trips)

    from_gpx = await trips_of(client, gpx)
    assert len(from_gpx) == 2
    # The same trips; the phones' accuracy values (a GPX has none) may move an end by one fix (5 s): a fix
    # the phone calls imprecise weighs less in the dwell that ends the trip.
    for phone in (ios, android):
        got = spans(await trips_of(client, phone))
        assert len(got) == 2
        for (s0, e0), (s1, e1) in zip(got, spans(from_gpx), strict=True):
            assert abs(s0 - s1) <= 5.001 and abs(e0 - e1) <= 5.001
    # The phone's read calls.
    complete = (await client.post("/pipeline/get_complete_ts", json={"user": android.token})).json()
    assert complete["complete_ts"] == pytest.approx(float(day.points.ts_s[-1]), abs=0.01)
    first_day = from_gpx[0]["start_time"][:10]
    timeline = (await client.post(f"/timeline/getTrips/{first_day}", json={"user": android.token})).json()
    assert len(timeline["timeline"]) >= 1
    trip = timeline["timeline"][0]
    assert trip["type"] == "FeatureCollection" and trip["properties"]["feature_type"] == "trip"
    kinds = [f["properties"]["feature_type"] for f in trip["features"]]
    assert kinds[:2] == ["start_place", "end_place"] and "section" in kinds


async def test_usercache_refuses_bad_tokens_and_never_errors_on_odd_entries(
    client: httpx.AsyncClient, alice: Person, operator_headers: dict[str, str]
) -> None:
    assert (
        await client.post("/usercache/put", json={"user": "nope", "phone_to_server": []})
    ).status_code == 401
    assert (await client.post("/usercache/put", json={"phone_to_server": []})).status_code == 401
    operator_token = operator_headers["Authorization"].split()[1]
    refused = await client.post("/usercache/put", json={"user": operator_token, "phone_to_server": []})
    assert refused.status_code == 403
    odd = [
        {"metadata": {"key": "background/location"}, "data": {"latitude": "north"}},
        {"metadata": {"key": "stats/client_time", "platform": "android"}, "data": {"ts": 1.0}},
        "not even an object",
        {"metadata": {"key": "background/location", "platform": "android"},
         "data": {"ts": 1_700_000_000.0, "latitude": 46.1, "longitude": -1.1, "accuracy": 10}},
    ]  # fmt: skip
    response = await client.post("/usercache/put", json={"user": alice.token, "phone_to_server": odd})
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1 and len(body["errors"]) == 2 and body["ignored"] == {"stats/client_time": 1}
    missing = await client.post("/usercache/put", json={"user": alice.token})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "phone_to_server"


async def _exported_points(client: httpx.AsyncClient, person: Person) -> list[dict[str, Any]]:
    document = (await client.get("/v1/me/export?format=json", headers=person.headers)).json()
    return list(document["points"])


async def test_a_gpx_file_round_trips(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, day: Simulation
) -> None:
    state = await import_file(client, alice, "day.gpx", gpx_of(day), multipart=False)
    assert state["status"] == "done" and state["filename"] == "day.gpx"
    await app.state.worker.run_until_idle()
    exported = (await client.get("/v1/me/export?format=gpx", headers=alice.headers)).content
    points = ET.fromstring(exported).findall(f".//{GPX_NS}trkpt")
    got = [
        (p.findtext(f"{GPX_NS}time"), round(float(p.get("lat")), 7), round(float(p.get("lon")), 7))
        for p in points
    ]
    want = [(iso(float(t)), round(float(a), 7), round(float(o), 7))
            for t, a, o in zip(day.points.ts_s, day.points.lat, day.points.lon, strict=True)]  # fmt: skip
    assert got == want


async def test_a_geojson_file_round_trips(client: httpx.AsyncClient, alice: Person, day: Simulation) -> None:
    p = day.points
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(p.lon[i]), float(p.lat[i])]},
         "properties": {"time": iso(float(p.ts_s[i]))}}
        for i in range(len(p))
    ]  # fmt: skip
    content = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    state = await import_file(client, alice, "day.geojson", content)
    assert state["status"] == "done" and state["format"] == "geojson" and state["points_accepted"] == len(p)
    exported = await _exported_points(client, alice)
    assert [(e["ts"], e["lat"], e["lon"]) for e in exported] == [
        (
            iso(float(p.ts_s[i])),
            pytest.approx(float(p.lat[i]), abs=1e-9),
            pytest.approx(float(p.lon[i]), abs=1e-9),
        )
        for i in range(len(p))
    ]
    again = await import_file(client, alice, "day.geojson", content)
    assert again["points_accepted"] == 0 and again["duplicates"] == len(p)


async def test_both_google_formats_import(client: httpx.AsyncClient, alice: Person, bob: Person) -> None:
    records = {"locations": [
        {"latitudeE7": 461591000, "longitudeE7": -11520000, "accuracy": 12, "timestamp": "2024-03-01T08:00:00Z"},
        {"latitudeE7": 461600000, "longitudeE7": -11530000, "accuracy": 10, "timestampMs": "1709280060000",
         "activity": [{"timestamp": "2024-03-01T08:01:00Z", "activity": [{"type": "ON_BICYCLE", "confidence": 80}]}]},
    ]}  # fmt: skip
    state = await import_file(client, alice, "Records.json", json.dumps(records).encode())
    assert (state["status"], state["format"], state["points_accepted"]) == ("done", "google_records", 2)
    assert state["activities"] == 1
    points = await _exported_points(client, alice)
    assert points[0] == {"ts": "2024-03-01T08:00:00.000Z", "lat": 46.1591, "lon": -1.152, "accuracy": 12.0,
                         "altitude": None, "speed": None, "heading": None}  # fmt: skip
    timeline = {"semanticSegments": [
        {"startTime": "2024-03-02T08:00:00.000+01:00", "endTime": "2024-03-02T08:20:00.000+01:00",
         "timelinePath": [{"point": "46.1591°, -1.1520°", "time": "2024-03-02T08:00:00.000+01:00"},
                          {"point": "46.1650°, -1.1400°", "time": "2024-03-02T08:10:00.000+01:00"}]},
    ]}  # fmt: skip
    state = await import_file(client, bob, "Timeline.json", json.dumps(timeline, ensure_ascii=False).encode())
    assert (state["status"], state["format"], state["points_accepted"]) == ("done", "google_timeline", 2)
    assert (await _exported_points(client, bob))[1]["ts"] == "2024-03-02T07:10:00.000Z"


async def test_a_bad_file_is_refused_and_nothing_partial_stays(
    client: httpx.AsyncClient, alice: Person, day: Simulation
) -> None:
    pdf = await client.post(
        "/v1/me/imports", headers=alice.headers, files={"file": ("x.pdf", b"%PDF-1.7 ...")}
    )
    assert pdf.status_code == 422 and pdf.json()["errors"][0]["field"] == "file"
    no_file = await client.post(
        "/v1/me/imports", headers=alice.headers, files={"other": ("x.gpx", b"<gpx/>")}
    )
    assert no_file.status_code == 422
    content = gpx_of(day)
    truncated = await import_file(client, alice, "cut.gpx", content[: len(content) // 2])
    assert truncated["status"] == "failed" and truncated["error"] and truncated["points_accepted"] == 0
    broken = content.replace(b"<time>", b"<time>not a time", 1)
    failed = await import_file(client, alice, "broken.gpx", broken)
    assert failed["status"] == "failed" and "time" in failed["error"].lower()
    assert await _exported_points(client, alice) == []
    listed = (await client.get("/v1/me/imports", headers=alice.headers)).json()["imports"]
    assert [i["status"] for i in listed] == ["failed", "failed"]


async def test_another_persons_import_is_not_found(
    client: httpx.AsyncClient, alice: Person, bob: Person
) -> None:
    state = await import_file(client, alice, "day.json", json.dumps({"locations": [
        {"latitudeE7": 461591000, "longitudeE7": -11520000, "timestamp": "2024-03-01T08:00:00Z"}]}).encode())  # fmt: skip
    assert (await client.get(f"/v1/me/imports/{state['id']}", headers=bob.headers)).status_code == 404
    assert (await client.get("/v1/me/imports", headers=bob.headers)).json()["imports"] == []


async def test_an_upload_over_the_cap_is_413(database_url: str, tmp_path: Any) -> None:
    app = create_app(Settings(database_url=database_url, max_import_bytes=4096, import_dir=str(tmp_path)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        person = await register(client)
        big = io.BytesIO(b"<gpx>" + b" " * 10_000 + b"</gpx>")
        response = await client.post(
            "/v1/me/imports", headers=person.headers, files={"file": ("big.gpx", big)}
        )
        assert response.status_code == 413
        assert list(tmp_path.iterdir()) == []
        await client.delete("/v1/me", headers=person.headers)
    await app.state.db.dispose()
