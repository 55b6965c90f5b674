"""The person's trips through the API: pages, filters, corrections, deletion, and nobody else's."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.mobility.simulate import LegPlan, Simulation, StayPlan, TripPlan, simulate
from app.models import LocationPoint
from tests.conftest import Person
from tests.support.traces import payload, upload

PLAN = [StayPlan(1200)]
for _ in range(6):
    PLAN += [TripPlan((LegPlan("car", 5000),)), StayPlan(1800)]


@pytest.fixture(scope="module")
def six_trips() -> Simulation:
    return simulate(PLAN, seed=11, sampling_s=5.0)


@pytest.fixture
async def trips(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, six_trips: Simulation
) -> list[dict[str, Any]]:
    await upload(client, alice, payload(six_trips))
    await app.state.worker.run_until_idle()
    response = await client.get("/v1/me/trips", headers=alice.headers)
    found = response.json()["trips"]
    assert len(found) == 6
    return list(found)


async def test_trips_come_newest_first_in_pages(
    client: httpx.AsyncClient, alice: Person, trips: list[dict[str, Any]]
) -> None:
    starts = [t["start_time"] for t in trips]
    assert starts == sorted(starts, reverse=True)
    seen, cursor = [], None
    while True:
        url = "/v1/me/trips?limit=4" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url, headers=alice.headers)).json()
        seen += [t["id"] for t in page["trips"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [t["id"] for t in trips]


async def test_from_and_to_keep_the_trips_that_overlap(
    client: httpx.AsyncClient, alice: Person, trips: list[dict[str, Any]]
) -> None:
    middle = trips[2]
    response = await client.get(
        "/v1/me/trips", headers=alice.headers, params={"from": middle["start_time"], "to": middle["end_time"]}
    )
    assert [t["id"] for t in response.json()["trips"]] == [middle["id"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=%%%", "cursor"),
        ("from=yesterday", "from"),
        ("to=Inf", "to"),
        ("to=-inf", "to"),
        ("from=nan", "from"),
        ("from=-62135596801", "from"),
        ("to=253402300800", "to"),
    ],
)
async def test_bad_list_parameters_are_named(
    client: httpx.AsyncClient, alice: Person, query: str, field: str
) -> None:
    response = await client.get(f"/v1/me/trips?{query}", headers=alice.headers)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_another_persons_trip_and_leg_answer_404(
    client: httpx.AsyncClient, bob: Person, alice: Person, trips: list[dict[str, Any]]
) -> None:
    trip = trips[0]
    leg = trip["legs"][0]
    assert (await client.get("/v1/me/trips", headers=bob.headers)).json()["trips"] == []
    for method, url, body in (
        ("GET", f"/v1/me/trips/{trip['id']}", None),
        ("PATCH", f"/v1/me/trips/{trip['id']}/legs/{leg['id']}", {"mode": "bus"}),
        ("DELETE", f"/v1/me/trips/{trip['id']}", None),
    ):
        response = await client.request(method, url, headers=bob.headers, json=body)
        assert response.status_code == 404, (method, url)
        assert response.headers["content-type"] == "application/problem+json"
    # A leg of one's own trip addressed through another trip is not found either.
    other = trips[1]
    wrong = await client.patch(
        f"/v1/me/trips/{other['id']}/legs/{leg['id']}", headers=alice.headers, json={"mode": "bus"}
    )
    assert wrong.status_code == 404
    assert (await client.get(f"/v1/me/trips/{trip['id']}", headers=alice.headers)).status_code == 200


async def test_correcting_a_leg_recomputes_its_co2(
    client: httpx.AsyncClient, alice: Person, trips: list[dict[str, Any]]
) -> None:
    trip = trips[0]
    leg = trip["legs"][0]
    url = f"/v1/me/trips/{trip['id']}/legs/{leg['id']}"
    km = leg["distance_m"] / 1000
    alone = (await client.patch(url, headers=alice.headers, json={"mode": "car"})).json()
    assert alone["co2e_g"] == pytest.approx(km * 142.25, rel=1e-3)
    assert alone["mode_source"] == "user"
    shared = (await client.patch(url, headers=alice.headers, json={"mode": "carpool", "occupants": 2})).json()
    assert shared["co2e_g"] == pytest.approx(alone["co2e_g"] / 2, rel=1e-3)
    assert shared["occupants"] == 2
    default = (await client.patch(url, headers=alice.headers, json={"mode": "carpool"})).json()
    assert default["co2e_g"] == pytest.approx(alone["co2e_g"] / 2, rel=1e-3)
    walked = (await client.patch(url, headers=alice.headers, json={"mode": "walk"})).json()
    assert walked["co2e_g"] == 0.0 and walked["occupants"] is None
    detail = (await client.get(f"/v1/me/trips/{trip['id']}", headers=alice.headers)).json()
    assert detail["co2e_g"] == pytest.approx(sum(x["co2e_g"] for x in detail["legs"]), abs=1e-3)


@pytest.mark.parametrize(
    ("body", "field"),
    [({"mode": "hoverboard"}, "mode"), ({}, "mode"), ({"mode": "bus", "occupants": 3}, "occupants"),
     ({"mode": "carpool", "occupants": 0}, "occupants"), ({"mode": "car", "source": "user"}, "source")],
)  # fmt: skip
async def test_a_bad_correction_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, alice: Person, trips: list[dict[str, Any]], body: dict[str, Any], field: str
) -> None:
    trip = trips[0]
    leg = trip["legs"][0]
    response = await client.patch(
        f"/v1/me/trips/{trip['id']}/legs/{leg['id']}", headers=alice.headers, json=body
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    after = (await client.get(f"/v1/me/trips/{trip['id']}", headers=alice.headers)).json()["legs"][0]
    assert (after["mode"], after["mode_source"]) == (leg["mode"], leg["mode_source"])


async def test_deleting_a_trip_removes_it_and_its_points(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, trips: list[dict[str, Any]]
) -> None:
    trip = trips[3]
    assert (await client.delete(f"/v1/me/trips/{trip['id']}", headers=alice.headers)).status_code == 204
    assert (await client.get(f"/v1/me/trips/{trip['id']}", headers=alice.headers)).status_code == 404
    remaining = (await client.get("/v1/me/trips", headers=alice.headers)).json()["trips"]
    assert [t["id"] for t in remaining] == [t["id"] for t in trips if t["id"] != trip["id"]]
    async with app.state.db.session() as session:
        lo = int(trip_ms(trip["start_time"]))
        hi = int(trip_ms(trip["end_time"]))
        inside = await session.scalar(
            sa.select(sa.func.count()).where(
                LocationPoint.user_id == alice.user_id, LocationPoint.ts_ms >= lo, LocationPoint.ts_ms <= hi
            )
        )
    assert inside == 0
    # Reprocessing (a late point elsewhere) does not bring it back.
    last = trips[0]
    await client.post(
        "/v1/me/locations",
        headers=alice.headers,
        json={"points": [{"ts": trip_ms(last["end_time"]) / 1000 + 3000, "lat": 46.2, "lon": -1.1}]},
    )
    await app.state.worker.run_until_idle()
    again = (await client.get("/v1/me/trips", headers=alice.headers)).json()["trips"]
    assert trip["id"] not in {t["id"] for t in again}


def trip_ms(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000
