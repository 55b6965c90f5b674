"""Emissions and coaching through the API, on trips the pipeline really built."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.footprint.service import recompute_user
from app.mobility.simulate import LegPlan, StayPlan, TripPlan, simulate
from app.models import Leg
from tests.conftest import Person
from tests.support.traces import payload, upload

DRIVE = [StayPlan(1800), TripPlan((LegPlan("car", 10_000),)), StayPlan(1800)]
DAY_S = 86_400.0


async def processed_trips(
    app: FastAPI, client: httpx.AsyncClient, person: Person, days: int = 1
) -> list[Any]:
    for d in range(days):
        sim = simulate(DRIVE, seed=21, sampling_s=5.0, start_ts_s=1_760_000_000.0 + d * DAY_S)
        await upload(client, person, payload(sim))
        await app.state.worker.run_until_idle()
    trips = (await client.get("/v1/me/trips", headers=person.headers)).json()["trips"]
    assert len(trips) == days
    return list(reversed(trips))


async def test_a_10_km_petrol_car_trip_shows_the_ademe_figure_and_a_carpool_halves_it(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    (trip,) = await processed_trips(app, client, alice)
    legs = trip["legs"]
    longest = max(legs, key=lambda leg: leg["distance_m"])
    url = f"/v1/me/trips/{trip['id']}/legs/{longest['id']}"
    car = (await client.patch(url, headers=alice.headers, json={"mode": "car"})).json()
    assert car["co2e_g"] == pytest.approx(longest["distance_m"] / 1000 * 142.26, rel=1e-3)
    assert car["factor"]["key"] == "car/voiturethermique" and car["factor"]["unit"] == "vehicle-km"
    assert "ADEME" in car["factor"]["source"]
    detail = (await client.get(f"/v1/me/trips/{trip['id']}", headers=alice.headers)).json()
    shown = next(leg for leg in detail["legs"] if leg["id"] == longest["id"])
    assert shown["factor"]["g_per_km"] == pytest.approx(142.26) and "impactCO2" in shown["factor"]["source"]
    pooled = (await client.patch(url, headers=alice.headers, json={"mode": "carpool", "occupants": 2})).json()
    assert pooled["co2e_g"] == pytest.approx(car["co2e_g"] / 2, rel=1e-6)


async def test_the_profile_turns_an_inferred_car_into_an_electric_one(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    (trip,) = await processed_trips(app, client, alice)
    # Whatever the pipeline found (its accuracy is tested in tests/mobility), make the longest leg an
    # inferred car, as the pipeline stores it.
    longest = max(trip["legs"], key=lambda leg: leg["distance_m"])
    async with app.state.db.session() as session:
        await session.execute(
            sa.update(Leg)
            .where(Leg.id == uuid.UUID(longest["id"]))
            .values(mode="car", inferred_mode="car", mode_source="inferred")
        )
        await session.commit()
    car_legs = [longest]
    saved = await client.put("/v1/me/profile", headers=alice.headers, json={"car_fuel": "electric"})
    assert saved.status_code == 200 and saved.json()["legs_recomputed"] >= 1
    assert (await client.get("/v1/me/profile", headers=alice.headers)).json()["car_fuel"] == "electric"
    after = (await client.get(f"/v1/me/trips/{trip['id']}", headers=alice.headers)).json()
    leg = next(x for x in after["legs"] if x["id"] == car_legs[0]["id"])
    assert leg["mode"] == "ecar" and leg["mode_source"] != "user"
    assert leg["co2e_g"] == pytest.approx(leg["distance_m"] / 1000 * 67.37, rel=1e-3)


async def test_a_bad_profile_is_refused_with_the_field_named(
    client: httpx.AsyncClient, alice: Person
) -> None:
    response = await client.put("/v1/me/profile", headers=alice.headers, json={"car_fuel": "coal"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "car_fuel"
    response = await client.put("/v1/me/profile", headers=alice.headers, json={"car_occupancy": 0})
    assert response.json()["errors"][0]["field"] == "car_occupancy"


async def test_a_territory_factor_changes_stored_figures_only_on_recompute(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, operator_headers: dict[str, str]
) -> None:
    (trip,) = await processed_trips(app, client, alice)
    leg = max(trip["legs"], key=lambda x: x["distance_m"])
    url = f"/v1/me/trips/{trip['id']}/legs/{leg['id']}"
    bus = (await client.patch(url, headers=alice.headers, json={"mode": "bus"})).json()
    assert bus["co2e_g"] == pytest.approx(leg["distance_m"] / 1000 * 122.42, rel=1e-3)

    body = {
        "mode": "bus",
        "g_per_km": 61.0,
        "source": "Yelo fleet mix 2025",
        "valid_from": "2020-01-01T00:00:00Z",
    }
    assert (await client.post("/v1/operator/factors", headers=alice.headers, json=body)).status_code == 403
    created = await client.post("/v1/operator/factors", headers=operator_headers, json=body)
    assert created.status_code == 201, created.text
    listed = (await client.get("/v1/operator/factors", headers=operator_headers)).json()["factors"]
    assert [f["g_per_km"] for f in listed] == [61.0]
    modes = {m["mode"]: m for m in (await client.get("/v1/modes")).json()["modes"]}
    assert modes["bus"]["g_per_km"] == 61.0 and "Yelo" in modes["bus"]["source"]

    # Nothing already stored changed by itself...
    stored = (await client.get(f"/v1/me/trips/{trip['id']}", headers=alice.headers)).json()
    assert next(x for x in stored["legs"] if x["id"] == leg["id"])["co2e_g"] == bus["co2e_g"]
    # ...until a recompute is asked for.
    async with app.state.db.session() as session:
        assert await recompute_user(session, app.state.settings.emission_policy, alice.user_id) >= 1
        await session.commit()
    redone = (await client.get(f"/v1/me/trips/{trip['id']}", headers=alice.headers)).json()
    again = next(x for x in redone["legs"] if x["id"] == leg["id"])
    assert again["co2e_g"] == pytest.approx(leg["distance_m"] / 1000 * 61.0, rel=1e-3)
    assert again["factor"]["factor_set"] == "territory" and "Yelo" in again["factor"]["source"]
    assert redone["co2e_g"] == pytest.approx(sum(x["co2e_g"] for x in redone["legs"]), abs=1e-3)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "rocket", "g_per_km": 1, "source": "x" * 5, "valid_from": "2026-01-01T00:00:00Z"}, "mode"),
        (
            {"mode": "bus", "g_per_km": -1, "source": "x" * 5, "valid_from": "2026-01-01T00:00:00Z"},
            "g_per_km",
        ),
        ({"mode": "bus", "g_per_km": 1, "source": "x" * 5, "valid_from": "2026-01-01"}, "valid_from"),
        ({"mode": "bus", "g_per_km": 1, "valid_from": "2026-01-01T00:00:00Z"}, "source"),
    ],
)
async def test_a_bad_territory_factor_is_refused(
    client: httpx.AsyncClient, operator_headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/operator/factors", headers=operator_headers, json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_modes_list_every_mode_with_its_factor_unit_and_source(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/modes")).json()
    modes = body["modes"]
    assert {m["mode"] for m in modes} >= {"walk", "bike", "car", "bus", "train", "plane", "boat", "carpool"}
    planes = [m for m in modes if m["mode"] == "plane"]
    assert [p["min_km"] for p in planes] == [0.0, 1000.0, 2000.0, 5000.0]
    car = next(m for m in modes if m["mode"] == "car")
    assert (car["unit"], car["g_per_km"]) == ("vehicle-km", 142.26) and "ADEME" in car["source"]


async def test_summaries_add_up_to_the_trips(app: FastAPI, client: httpx.AsyncClient, alice: Person) -> None:
    trips = await processed_trips(app, client, alice, days=3)
    response = await client.get(
        "/v1/me/summary", headers=alice.headers, params={"period": "day", "from": "2025-10-01T00:00:00Z",
                                                          "to": "2025-10-20T00:00:00Z"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"]["trips"] == 3
    assert body["total"]["co2e_g"] == pytest.approx(sum(t["co2e_g"] for t in trips), abs=0.01)
    assert body["total"]["distance_m"] == pytest.approx(sum(t["distance_m"] for t in trips), abs=0.5)
    assert sum(m["co2e_g"] for m in body["by_mode"]) == pytest.approx(body["total"]["co2e_g"], abs=0.01)
    assert sum(m["trips"] for m in body["by_mode"]) == 3
    busy = [p for p in body["periods"] if p["total"]["trips"]]
    assert len(busy) == 3 and all(p["total"]["trips"] == 1 for p in busy)
    assert busy[1]["previous"]["trips"] == 1 and busy[1]["co2e_change_pct"] is not None
    bad = await client.get("/v1/me/summary?period=fortnight", headers=alice.headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "period"


async def test_a_purpose_is_inherited_by_later_trips_between_the_same_places(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    (first,) = await processed_trips(app, client, alice)
    labelled = await client.put(f"/v1/me/trips/{first['id']}/purpose", headers=alice.headers,
                                json={"purpose": "commute"})  # fmt: skip
    assert labelled.json()["purpose"] == "commute" and labelled.json()["purpose_source"] == "user"
    sim = simulate(DRIVE, seed=21, sampling_s=5.0, start_ts_s=1_760_000_000.0 + DAY_S)
    await upload(client, alice, payload(sim))
    await app.state.worker.run_until_idle()
    latest = (await client.get("/v1/me/trips", headers=alice.headers)).json()["trips"][0]
    assert latest["id"] != first["id"]
    assert (latest["purpose"], latest["purpose_source"]) == ("commute", "inherited")
    bad = await client.put(
        f"/v1/me/trips/{first['id']}/purpose", headers=alice.headers, json={"purpose": "x"}
    )
    assert bad.status_code == 422


async def test_coaching_answers_on_processed_trips_in_french_and_english(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    trips = await processed_trips(app, client, alice, days=3)
    trip = trips[0]
    url = f"/v1/me/trips/{trip['id']}/alternatives"
    en = await client.get(url, headers={**alice.headers, "Accept-Language": "en-GB,en;q=0.9"})
    fr = await client.get(url, headers={**alice.headers, "Accept-Language": "fr-FR"})
    assert en.status_code == 200 and fr.status_code == 200
    en_modes = [a["mode"] for a in en.json()["alternatives"]]
    assert "walk" not in en_modes and "car" in en_modes
    assert "instead of" in en.json()["alternatives"][0]["message"]
    assert "au lieu de" in fr.json()["alternatives"][0]["message"]

    trajectory = await client.get("/v1/me/coaching/trajectory?year=2025", headers=alice.headers)
    body = trajectory.json()
    assert body["co2e_kg"] == pytest.approx(sum(t["co2e_g"] for t in trips) / 1000, abs=0.001)
    assert body["days_counted"] >= 3 and "2050" in body["message"] and "SNBC" in body["basis"]
    assert len(body["months"]) == 12

    recurring = await client.get("/v1/me/coaching/recurring?days=366", headers=alice.headers)
    assert recurring.status_code == 200
    # The simulated trips are years old: only trips of the last `days` count.
    assert recurring.json()["recurring"] == []


async def test_the_allowance_attestation_lists_commute_days(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    trips = await processed_trips(app, client, alice, days=2)
    for trip in trips:
        leg = max(trip["legs"], key=lambda x: x["distance_m"])
        await client.patch(f"/v1/me/trips/{trip['id']}/legs/{leg['id']}", headers=alice.headers,
                           json={"mode": "carpool", "occupants": 2})  # fmt: skip
        await client.put(
            f"/v1/me/trips/{trip['id']}/purpose", headers=alice.headers, json={"purpose": "commute"}
        )
    page = await client.get("/v1/me/attestations/mobility-allowance?year=2025", headers=alice.headers)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Nombre de jours : 2" in page.text and "covoiturage" in page.text
    for trip in trips:
        assert trip["start_time"][:10] in page.text
    pdf = await client.get("/v1/me/attestations/mobility-allowance?year=2025&format=pdf",
                           headers={**alice.headers, "Accept-Language": "en"})  # fmt: skip
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    empty = await client.get("/v1/me/attestations/mobility-allowance?year=2024", headers=alice.headers)
    assert "Nombre de jours : 0" in empty.text
