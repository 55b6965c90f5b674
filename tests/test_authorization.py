"""Object-level authorization, generated from the route table: no endpoint can be forgotten.

Every route must be classified below. For every person's route, another person's token gets 404 for the
first person's objects (never 403, never their data), an operator's token gets 403, no token gets 401. For
every operator route, a person's token gets 403. A new route that is not classified fails this test.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.mobility.simulate import LegPlan, StayPlan, TripPlan, simulate
from tests.conftest import Person, register
from tests.support.traces import payload, upload

PUBLIC = {
    ("GET", "/health"), ("GET", "/health/ready"), ("GET", "/health/live"), ("GET", "/problems/{slug}"),
    ("GET", "/v1/modes"), ("POST", "/v1/auth/register"),
    ("GET", "/dashboard"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
    ("GET", "/openapi.json"),
}  # fmt: skip
# e-mission compatible calls carry the token in the body: checked separately below.
EMISSION = {("POST", "/usercache/put"), ("POST", "/usercache/get"), ("POST", "/pipeline/get_complete_ts"),
            ("POST", "/profile/create"), ("POST", "/profile/get"), ("POST", "/profile/update"),
            ("POST", "/pipeline/get_range_ts"), ("POST", "/datastreams/find_entries/timestamp"),
            ("POST", "/datastreams/find_entries/local_date"), ("POST", "/result/metrics/{time_type}"),
            ("POST", "/timeline/getTrips/{day}")}  # fmt: skip
PERSON_PREFIXES = ("/v1/me", "/v1/auth/")
OPERATOR_PREFIX = "/v1/operator"
# A body that passes validation for the routes that need one, so that authorization is what is tested.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/me/locations"): {"points": [{"ts": 1_700_000_000, "lat": 46.1, "lon": -1.1}]},
    ("PATCH", "/v1/me/trips/{trip_id}/legs/{leg_id}"): {"mode": "bus"},
    ("PUT", "/v1/me/trips/{trip_id}/purpose"): {"purpose": "work"},
    ("PUT", "/v1/me/consents/{purpose}"): {"granted": True},
    ("PUT", "/v1/me/profile"): {"car_fuel": "diesel"},
    ("PUT", "/v1/me/retention"): {"point_retention_days": 10},
    ("POST", "/v1/me/privacy-zones"): {"label": "x", "lat": 46.1, "lon": -1.1},
    ("POST", "/v1/auth/tokens"): {},
    ("POST", "/v1/operator/factors"): {"mode": "bus", "g_per_km": 50, "source": "test", "valid_from": "2026-01-01T00:00:00Z"},
}  # fmt: skip


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every operation of the served contract (the OpenAPI document), plus the pages outside it."""
    found = [("GET", "/dashboard")]
    for path, operations in app.openapi()["paths"].items():
        found += [
            (method.upper(), path)
            for method in operations
            if method in ("get", "post", "put", "patch", "delete")
        ]
    return found


@pytest.fixture
async def owned(app: FastAPI, client: httpx.AsyncClient, alice: Person) -> dict[str, str]:
    """Objects of every kind that belong to alice."""
    sim = simulate(
        [StayPlan(1200), TripPlan((LegPlan("bike", 3000),)), StayPlan(1200)], seed=2, sampling_s=10
    )
    await upload(client, alice, payload(sim))
    await app.state.worker.run_until_idle()
    trip = (await client.get("/v1/me/trips", headers=alice.headers)).json()["trips"][0]
    receipt = (
        await client.put("/v1/me/consents/research", headers=alice.headers, json={"granted": True})
    ).json()
    zone = (await client.post("/v1/me/privacy-zones", headers=alice.headers,
                              json={"label": "home", "lat": 46.0, "lon": -1.0})).json()  # fmt: skip
    gpx = b'<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg><trkpt lat="46" lon="-1"><time>2024-01-01T00:00:00Z</time></trkpt></trkseg></trk></gpx>'
    imported = (
        await client.post("/v1/me/imports", headers=alice.headers, files={"file": ("a.gpx", gpx)})
    ).json()
    return {
        "trip_id": trip["id"],
        "leg_id": trip["legs"][0]["id"],
        "token_id": str(alice.token_id),
        "receipt_id": receipt["receipt"]["consentReceiptID"],
        "zone_id": zone["id"],
        "import_id": imported["id"],
        "purpose": "research",
        "name": "yelo",
    }


def fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"a path parameter is not covered by this suite: {path}"
    return path


async def test_every_route_is_classified(app: FastAPI) -> None:
    unknown = [
        (m, p) for m, p in routes(app)
        if (m, p) not in PUBLIC and (m, p) not in EMISSION and not p.startswith((*PERSON_PREFIXES, OPERATOR_PREFIX))
    ]  # fmt: skip
    assert unknown == []


async def test_another_persons_objects_answer_404_on_every_route(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, owned: dict[str, str]
) -> None:
    bob = await register(client, "bob")
    checked = 0
    for method, path in routes(app):
        if not path.startswith(PERSON_PREFIXES) or "{" not in path or path.endswith("/tokens/current"):
            continue
        url = fill(path, owned)
        response = await client.request(method, url, headers=bob.headers, json=BODIES.get((method, path)))
        if path == "/v1/me/consents/{purpose}":
            # Purposes are not objects of a person: bob changes his own consent, never alice's.
            assert response.status_code == 200 and response.json()["receipt"]["piiPrincipalId"] == str(
                bob.user_id
            )
        else:
            assert response.status_code == 404, (method, path, response.status_code, response.text[:200])
            assert response.headers["content-type"] == "application/problem+json"
        checked += 1
    assert checked >= 10
    # Alice's objects are all still there.
    assert (await client.get(f"/v1/me/trips/{owned['trip_id']}", headers=alice.headers)).status_code == 200
    assert (
        await client.get(f"/v1/me/imports/{owned['import_id']}", headers=alice.headers)
    ).status_code == 200
    assert (
        await client.get(f"/v1/me/consents/receipts/{owned['receipt_id']}", headers=alice.headers)
    ).status_code == 200
    zones = (await client.get("/v1/me/privacy-zones", headers=alice.headers)).json()["zones"]
    assert [z["id"] for z in zones] == [owned["zone_id"]]


async def test_roles_never_cross(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Person,
    owned: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    values = {**owned, "zone_set_id": str(uuid.uuid4()), "day": "2024-01-01", "slug": "not-found",
              "zone_set": "grid-500m", "month": "2023-11", "time_type": "yyyy_mm_dd"}  # fmt: skip
    for method, path in routes(app):
        if (method, path) in PUBLIC:
            continue
        url = fill(path, values)
        body = BODIES.get((method, path))
        if path.startswith(PERSON_PREFIXES):
            answer = await client.request(method, url, headers=operator_headers, json=body)
            assert answer.status_code == 403, (method, path, answer.status_code)
            anonymous = await client.request(method, url, json=body)
            assert anonymous.status_code == 401, (method, path, anonymous.status_code)
            assert anonymous.headers["www-authenticate"] == "Bearer"
        elif path.startswith(OPERATOR_PREFIX):
            answer = await client.request(method, url, headers=alice.headers, json=body)
            assert answer.status_code == 403, (method, path, answer.status_code)
            assert (await client.request(method, url, json=body)).status_code == 401


async def test_e_mission_calls_only_ever_read_the_callers_data(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Person,
    owned: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    bob = await register(client, "bob")
    trip = (await client.get(f"/v1/me/trips/{owned['trip_id']}", headers=alice.headers)).json()
    day = trip["start_time"][:10]
    mine = (await client.post(f"/timeline/getTrips/{day}", json={"user": alice.token})).json()["timeline"]
    theirs = (await client.post(f"/timeline/getTrips/{day}", json={"user": bob.token})).json()["timeline"]
    assert mine and theirs == []
    operator_token = operator_headers["Authorization"].split()[1]
    for method, path in sorted(EMISSION):
        url = fill(path, {"day": day, "time_type": "yyyy_mm_dd"})
        assert (
            await client.request(method, url, json={"user": operator_token, "phone_to_server": []})
        ).status_code == 403
        assert (await client.request(method, url, json={"phone_to_server": []})).status_code == 401
