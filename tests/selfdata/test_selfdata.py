"""The person's rights, through the API: see, take away in four formats, erase, consent, retention,
privacy zones and the access log."""

from __future__ import annotations

import csv
import io
import json
import math
import uuid
import xml.etree.ElementTree as ET
import zipfile
from typing import Any

import httpx
import jsonschema
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.mobility.simulate import LegPlan, Simulation, StayPlan, TripPlan, simulate
from app.models import Base, Trip
from app.selfdata.export_schema import EXPORT_SCHEMA
from tests.conftest import Person
from tests.support.traces import payload, upload

PLAN = [
    StayPlan(1800),
    TripPlan((LegPlan("walk", 400), LegPlan("bus", 3000))),
    StayPlan(3600),
    TripPlan((LegPlan("bike", 2500),)),
    StayPlan(1800),
]
GPX_NS = "{http://www.topografix.com/GPX/1/1}"


@pytest.fixture(scope="module")
def day() -> Simulation:
    return simulate(PLAN, seed=5, sampling_s=5.0)


@pytest.fixture
async def held(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, day: Simulation
) -> list[dict[str, Any]]:
    body = {"points": payload(day), "activities": [{"ts": float(day.points.ts_s[0]), "type": "walking",
                                                      "confidence": 80}]}  # fmt: skip
    response = await client.post("/v1/me/locations", headers=alice.headers, json=body)
    assert response.status_code == 202
    await app.state.worker.run_until_idle()
    trips = (await client.get("/v1/me/trips", headers=alice.headers)).json()["trips"]
    assert len(trips) == 2
    return list(trips)


async def test_what_is_held_is_shown_with_its_uses(
    client: httpx.AsyncClient, alice: Person, held: list[dict[str, Any]], day: Simulation
) -> None:
    me = (await client.get("/v1/me", headers={**alice.headers, "Accept-Language": "en"})).json()
    assert me["user_id"] == str(alice.user_id)
    assert me["counts"] == {"points": len(day.points), "activities": 1, "trips": 2,
                            "legs": sum(len(t["legs"]) for t in held)}  # fmt: skip
    assert me["oldest_point"].endswith("Z") and me["newest_point"] > me["oldest_point"]
    assert [d["device_label"] for d in me["devices"]] == ["alice's phone"]
    assert me["retention"]["point_retention_days"] == 30
    assert {c["purpose"]: c["granted"] for c in me["consents"]} == {
        "territory_statistics": False,
        "research": False,
    }
    assert set(me["uses"]) >= {"points", "trips", "consents", "privacy_zones", "access_log"}


async def _export(client: httpx.AsyncClient, person: Person, fmt: str) -> httpx.Response:
    response = await client.get(f"/v1/me/export?format={fmt}", headers=person.headers)
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    return response


async def test_the_json_export_is_complete_and_matches_its_schema(
    client: httpx.AsyncClient, alice: Person, held: list[dict[str, Any]], day: Simulation
) -> None:
    await client.put("/v1/me/consents/research", headers=alice.headers, json={"granted": True})
    document = (await _export(client, alice, "json")).json()
    jsonschema.validate(document, EXPORT_SCHEMA)
    served = (await client.get("/v1/me/export/schema", headers=alice.headers)).json()
    assert served == EXPORT_SCHEMA
    assert {t["id"] for t in document["trips"]} == {t["id"] for t in held}
    assert len(document["points"]) == len(day.points)
    first = document["points"][0]
    assert first["lat"] == pytest.approx(float(day.points.lat[0])) and first["ts"].endswith("Z")
    assert document["activities"][0]["type"] == "walking"
    assert [c["purpose"] for c in document["consent_history"]] == ["research"]
    assert document["consent_history"][0]["receipt"]["version"] == "KI-CR-v1.1.0"


async def test_the_geojson_export_has_every_trip_and_leg(
    client: httpx.AsyncClient, alice: Person, held: list[dict[str, Any]]
) -> None:
    collection = (await _export(client, alice, "geojson")).json()
    assert collection["type"] == "FeatureCollection"
    trips = [f for f in collection["features"] if f["properties"]["kind"] == "trip"]
    legs = [f for f in collection["features"] if f["properties"]["kind"] == "leg"]
    assert {f["id"] for f in trips} == {t["id"] for t in held}
    assert {f["id"] for f in legs} == {leg["id"] for t in held for leg in t["legs"]}
    for feature in collection["features"]:
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] == "LineString"
        for lon, lat in feature["geometry"]["coordinates"]:
            assert -180 <= lon <= 180 and -90 <= lat <= 90


async def test_the_gpx_export_is_gpx_11_with_a_track_per_trip_and_every_point(
    client: httpx.AsyncClient, alice: Person, held: list[dict[str, Any]], day: Simulation
) -> None:
    root = ET.fromstring((await _export(client, alice, "gpx")).content)
    assert root.tag == f"{GPX_NS}gpx" and root.get("version") == "1.1"
    tracks = root.findall(f"{GPX_NS}trk")
    trip_tracks = [t for t in tracks if t.findtext(f"{GPX_NS}type") != "stay"]
    assert len(trip_tracks) == len(held)
    names = {t.findtext(f"{GPX_NS}name") for t in trip_tracks}
    assert names == {f"Trip {t['start_time']}" for t in held}
    points = root.findall(f".//{GPX_NS}trkpt")
    assert len(points) == len(day.points)
    times = [p.findtext(f"{GPX_NS}time") for p in points]
    assert times == sorted(times) and all(times)
    assert float(points[0].get("lat")) == pytest.approx(float(day.points.lat[0]), abs=1e-7)
    # Each leg is a segment of its trip's track.
    segments = {t.findtext(f"{GPX_NS}name"): len(t.findall(f"{GPX_NS}trkseg")) for t in trip_tracks}
    for trip in held:
        assert segments[f"Trip {trip['start_time']}"] <= len(trip["legs"])


async def test_the_csv_export_is_a_zip_of_tables(
    client: httpx.AsyncClient, alice: Person, held: list[dict[str, Any]], day: Simulation
) -> None:
    archive = zipfile.ZipFile(io.BytesIO((await _export(client, alice, "csv")).content))
    assert archive.testzip() is None
    names = set(archive.namelist())
    assert {"account.csv", "devices.csv", "trips.csv", "legs.csv", "points.csv", "activities.csv",
            "consents.csv", "consent_history.csv", "privacy_zones.csv", "access_log.csv"} <= names  # fmt: skip

    def table(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(archive.read(name).decode())))

    trips = table("trips.csv")
    assert {r["id"] for r in trips} == {t["id"] for t in held}
    assert set(trips[0]) >= {"id", "start_time", "end_time", "distance_m", "co2e_g", "purpose"}
    legs = table("legs.csv")
    assert {r["id"] for r in legs} == {leg["id"] for t in held for leg in t["legs"]}
    assert json.loads(legs[0]["geometry"])["type"] == "LineString"
    points = table("points.csv")
    assert len(points) == len(day.points)
    assert list(points[0]) == ["ts", "lat", "lon", "accuracy", "altitude", "speed", "heading"]
    assert table("account.csv")[0]["user_id"] == str(alice.user_id)


async def test_a_bad_export_format_is_refused(client: httpx.AsyncClient, alice: Person) -> None:
    response = await client.get("/v1/me/export?format=xlsx", headers=alice.headers)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "format"


async def test_each_export_is_in_the_access_log(client: httpx.AsyncClient, alice: Person) -> None:
    tablet = (
        await client.post("/v1/auth/tokens", headers=alice.headers, json={"device_label": "tablet"})
    ).json()
    await client.get("/v1/me/export?format=gpx", headers={"Authorization": f"Bearer {tablet['token']}"})
    entries = (await client.get("/v1/me/access-log", headers=alice.headers)).json()["entries"]
    assert [(e["actor"], e["action"]) for e in entries] == [("device: tablet", "export")]
    assert "gpx" in entries[0]["reason"]


async def _rows_naming(app: FastAPI, user_id: uuid.UUID) -> dict[str, int]:
    found = {}
    async with app.state.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, sa.Uuid):
                    n = await conn.scalar(
                        sa.select(sa.func.count()).select_from(table).where(column == user_id)
                    )
                    if n:
                        found[f"{table.name}.{column.name}"] = n
        await conn.rollback()
    return found


async def test_erasure_leaves_nothing_in_any_table(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, bob: Person, held: list[dict[str, Any]]
) -> None:
    await client.put("/v1/me/consents/territory_statistics", headers=alice.headers, json={"granted": True})
    await client.post("/v1/me/privacy-zones", headers=alice.headers, json={"label": "home", "lat": 46.16,
                                                                           "lon": -1.15})  # fmt: skip
    await client.put("/v1/me/profile", headers=alice.headers, json={"car_fuel": "diesel"})
    await client.get("/v1/me/export?format=json", headers=alice.headers)
    await client.post("/v1/me/locations", headers=bob.headers, json={"points": [{"ts": 1_700_000_000, "lat": 46.0,
                                                                                 "lon": -1.0}]})  # fmt: skip
    before = await _rows_naming(app, alice.user_id)
    assert {"users.id", "location_points.user_id", "trips.user_id", "legs.user_id", "consents.user_id",
            "consent_events.user_id", "privacy_zones.user_id", "access_log.user_id", "profiles.user_id",
            "api_tokens.user_id"} <= set(before)  # fmt: skip

    assert (await client.delete("/v1/me", headers=alice.headers)).status_code == 204
    assert await _rows_naming(app, alice.user_id) == {}
    assert (await client.get("/v1/me", headers=alice.headers)).status_code == 401
    # Nothing of anyone else went with it.
    assert (await client.get("/v1/me", headers=bob.headers)).json()["counts"]["points"] == 1


async def test_consents_are_off_until_granted_with_a_receipt_for_each_change(
    client: httpx.AsyncClient, alice: Person, bob: Person
) -> None:
    listed = (await client.get("/v1/me/consents", headers=alice.headers)).json()["consents"]
    assert {c["purpose"]: c["granted"] for c in listed} == {"territory_statistics": False, "research": False}
    assert all(c["description"] for c in listed)
    granted = await client.put("/v1/me/consents/territory_statistics", headers={**alice.headers,
                               "Accept-Language": "en"}, json={"granted": True})  # fmt: skip
    assert granted.status_code == 200
    body = granted.json()
    assert body["consent"]["granted"] is True
    receipt = body["receipt"]
    for key in ("version", "jurisdiction", "consentTimestamp", "collectionMethod", "consentReceiptID",
                "piiPrincipalId", "piiControllers", "policyUrl", "services", "sensitive", "spiCat"):  # fmt: skip
        assert key in receipt, key
    assert receipt["piiPrincipalId"] == str(alice.user_id)
    assert receipt["services"][0]["purposes"][0]["consentType"] == "EXPLICIT"
    revoked = (await client.put("/v1/me/consents/territory_statistics", headers=alice.headers,
                                json={"granted": False})).json()  # fmt: skip
    assert revoked["consent"]["granted"] is False and revoked["receipt"]["x-coachco2"]["granted"] is False

    history = (await client.get("/v1/me/consents/receipts", headers=alice.headers)).json()["receipts"]
    assert [(r["purpose"], r["granted"]) for r in history] == [("territory_statistics", True),
                                                               ("territory_statistics", False)]  # fmt: skip
    one = await client.get(f"/v1/me/consents/receipts/{history[0]['id']}", headers=alice.headers)
    assert one.json() == receipt and "attachment" in one.headers["content-disposition"]
    assert (
        await client.get(f"/v1/me/consents/receipts/{history[0]['id']}", headers=bob.headers)
    ).status_code == 404
    assert (await client.put("/v1/me/consents/marketing", headers=alice.headers,
                             json={"granted": True})).status_code == 404  # fmt: skip
    bad = await client.put("/v1/me/consents/research", headers=alice.headers, json={"granted": "yes"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "granted"


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p = math.radians((lat1 + lat2) / 2)
    return math.hypot(math.radians(lat2 - lat1), math.radians(lon2 - lon1) * math.cos(p)) * 6_371_008.8


async def test_privacy_zones_cut_trip_ends_from_what_operators_see(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, bob: Person, held: list[dict[str, Any]]
) -> None:
    first = sorted(held, key=lambda t: t["start_time"])[0]
    home = {"label": "home", "lat": first["start"]["lat"], "lon": first["start"]["lon"], "radius_m": 300}
    created = await client.post("/v1/me/privacy-zones", headers=alice.headers, json=home)
    assert created.status_code == 201
    async with app.state.db.session() as session:
        trip = await session.get(Trip, (alice.user_id, uuid.UUID(first["id"])))
        assert trip is not None and trip.shared_start_lat is not None and trip.shared_start_lon is not None
        cut = _distance_m(home["lat"], home["lon"], trip.shared_start_lat, trip.shared_start_lon)
        assert cut > 300
        assert trip.shared_distance_m is not None and trip.shared_distance_m < trip.distance_m
    # The person still sees the trip whole.
    own = (await client.get(f"/v1/me/trips/{first['id']}", headers=alice.headers)).json()
    assert own["start"] == first["start"]
    # A zone that covers the whole trip shares nothing of it.
    big = {"label": "district", "lat": first["start"]["lat"], "lon": first["start"]["lon"], "radius_m": 2000}
    await client.post("/v1/me/privacy-zones", headers=alice.headers, json=big)
    zones = (await client.get("/v1/me/privacy-zones", headers=alice.headers)).json()["zones"]
    assert [z["label"] for z in zones] == ["home", "district"]
    assert (
        await client.delete(f"/v1/me/privacy-zones/{zones[0]['id']}", headers=bob.headers)
    ).status_code == 404
    for zone in zones:
        assert (
            await client.delete(f"/v1/me/privacy-zones/{zone['id']}", headers=alice.headers)
        ).status_code == 204
    async with app.state.db.session() as session:
        trip = await session.get(Trip, (alice.user_id, uuid.UUID(first["id"])))
        assert trip is not None and trip.shared_start_lat == pytest.approx(trip.start_lat)
    bad = await client.post("/v1/me/privacy-zones", headers=alice.headers, json={**home, "radius_m": 50})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "radius_m"


async def test_new_trips_are_cut_by_existing_zones(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, day: Simulation
) -> None:
    start = {
        "label": "home",
        "lat": float(day.points.lat[0]),
        "lon": float(day.points.lon[0]),
        "radius_m": 400,
    }
    await client.post("/v1/me/privacy-zones", headers=alice.headers, json=start)
    await upload(client, alice, payload(day))
    await app.state.worker.run_until_idle()
    async with app.state.db.session() as session:
        trips = list(await session.scalars(sa.select(Trip).where(Trip.user_id == alice.user_id)
                                           .order_by(Trip.start_ts_ms)))  # fmt: skip
    assert trips[0].shared_start_lat is not None and trips[0].shared_start_lon is not None
    assert _distance_m(start["lat"], start["lon"], trips[0].shared_start_lat, trips[0].shared_start_lon) > 400


async def test_retention_purges_old_points_and_keeps_every_trip(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, held: list[dict[str, Any]], day: Simulation
) -> None:
    from app.selfdata.retention import purge_all

    bad = await client.put("/v1/me/retention", headers=alice.headers, json={"point_retention_days": 400})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "point_retention_days"
    me = (
        await client.put("/v1/me/retention", headers=alice.headers, json={"point_retention_days": 0})
    ).json()
    assert me["retention"]["point_retention_days"] == 0
    result = await purge_all(app.state.db, now_ms=int(day.points.ts_s[-1] * 1000) + 86_400_000)
    assert result.people == 1 and result.points > 0
    after = (await client.get("/v1/me", headers=alice.headers)).json()
    assert after["counts"]["points"] < len(day.points)
    assert after["counts"]["trips"] == 2 and after["retention"]["points_purged_until"] is not None
    # A late point from before the purge does not rebuild (and so erase) the trips there.
    late = {"ts": float(day.points.ts_s[len(day.points) // 3]) + 0.5, "lat": float(day.points.lat[0]),
            "lon": float(day.points.lon[0])}  # fmt: skip
    await client.post("/v1/me/locations", headers=alice.headers, json={"points": [late]})
    await app.state.worker.run_until_idle()
    trips = (await client.get("/v1/me/trips", headers=alice.headers)).json()["trips"]
    assert {t["id"] for t in trips} == {t["id"] for t in held}
    assert (await client.get("/v1/me/pipeline", headers=alice.headers)).json()["pending_points"] == 0
    # Exports still give every trip, with the path of those whose points are gone.
    root = ET.fromstring((await _export(client, alice, "gpx")).content)
    trip_tracks = [t for t in root.findall(f"{GPX_NS}trk") if t.findtext(f"{GPX_NS}type") != "stay"]
    assert len(trip_tracks) == 2
