"""Why each leg has its mode, and what a person's confirmations teach about their later legs: seen in the
trip's detail, in GET /v1/me and /v1/me/learning, switched off with the rules' modes given back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.mobility.simulate import LegPlan, Simulation, StayPlan, TripPlan, simulate
from tests.conftest import Person
from tests.support.traces import payload, trips_of, upload

DAY_S = 86400.0


def _commutes(day: int) -> Simulation:
    """Four short car trips a day (town streets, no ring road), the same plan every day."""
    plan: list[StayPlan | TripPlan] = [StayPlan(1200)]
    for _ in range(4):
        plan += [TripPlan((LegPlan("car", 2000),)), StayPlan(1800)]
    return simulate(plan, seed=40 + day, sampling_s=5.0, start_ts_s=1_700_000_000.0 + day * DAY_S)


async def _detail(client: httpx.AsyncClient, person: Person, trip_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/me/trips/{trip_id}", headers=person.headers)
    assert response.status_code == 200
    return dict(response.json())


async def _legs(client: httpx.AsyncClient, person: Person) -> list[dict[str, Any]]:
    return [
        leg
        for t in await trips_of(client, person)
        for leg in (await _detail(client, person, t["id"]))["legs"]
    ]


async def test_each_leg_of_a_trip_s_detail_says_why(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    await upload(client, alice, payload(_commutes(0)))
    await app.state.worker.run_until_idle()
    trips = await trips_of(client, alice)
    assert len(trips) == 4
    assert all(leg.get("reasons") is None for t in trips for leg in t["legs"])  # detail only
    for leg in await _legs(client, alice):
        assert leg["reasons"], leg
        assert all(isinstance(r["rule"], str) for r in leg["reasons"])
    # a correction comes first, with what had been inferred
    trip = trips[0]
    leg_id = trip["legs"][0]["id"]
    inferred = trip["legs"][0]["mode"]
    response = await client.patch(
        f"/v1/me/trips/{trip['id']}/legs/{leg_id}", headers=alice.headers, json={"mode": "ebike"}
    )
    assert response.status_code == 200
    (leg,) = [leg for leg in (await _detail(client, alice, trip["id"]))["legs"] if leg["id"] == leg_id]
    assert leg["reasons"][0] == {"rule": "your_correction", "inferred_mode": inferred}
    assert len(leg["reasons"]) >= 2


async def _confirm_all(client: httpx.AsyncClient, person: Person, mode: str) -> int:
    confirmed = 0
    for trip in await trips_of(client, person):
        for leg in trip["legs"]:
            response = await client.patch(
                f"/v1/me/trips/{trip['id']}/legs/{leg['id']}", headers=person.headers, json={"mode": mode}
            )
            assert response.status_code == 200
            confirmed += 1
    return confirmed


async def test_later_legs_are_read_with_the_person_s_confirmations_until_switched_off(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, bob: Person
) -> None:
    worker = app.state.worker
    learning = (await client.get("/v1/me/learning", headers=alice.headers)).json()
    assert learning["enabled"] is True and learning["active"] is False and learning["confirmed_legs"] == 0

    # day one: alice says every leg the rules read was her bus
    await upload(client, alice, payload(_commutes(0)))
    await worker.run_until_idle()
    confirmed = await _confirm_all(client, alice, "bus")
    assert confirmed >= 4
    learning = (await client.get("/v1/me/learning", headers=alice.headers)).json()
    assert learning["active"] is True
    assert learning["teaching_legs"] == {"bus": confirmed} and learning["confirmed_legs"] == confirmed
    # what the rules had said of those buses, as the person corrected it
    taught = {(c["rules_said"], c["you_said"]): c["legs"] for c in learning["corrections"]}
    assert taught and all(said == "bus" and rules != "bus" for rules, said in taught)
    assert sum(taught.values()) <= confirmed
    held = (await client.get("/v1/me", headers=alice.headers)).json()
    assert held["learning"]["teaching_legs"] == {"bus": confirmed}
    assert "learning" in held["uses"]

    # day two, the same commutes: read as her buses, saying so
    await upload(client, alice, payload(_commutes(1)))
    await worker.run_until_idle()
    later = [leg for leg in await _legs(client, alice) if leg["mode_source"] != "user"]
    assert len(later) >= 4
    learned = [leg for leg in later if leg["reasons"][0]["rule"] == "your_confirmations"]
    assert [leg["mode"] for leg in later] == ["bus"] * len(later)
    assert len(learned) >= 2
    assert all(leg["reasons"][0]["similar_legs"] >= 1 for leg in learned)
    revised = [leg for leg in learned if leg["reasons"][0]["rules_mode"] != "bus"]
    learning = (await client.get("/v1/me/learning", headers=alice.headers)).json()
    assert learning["legs_revised"] == len(revised) >= 1
    # bob, with the same trips and no confirmation, keeps the rules' modes
    await upload(client, bob, payload(_commutes(1)))
    await worker.run_until_idle()
    assert all(leg["reasons"][0]["rule"] != "your_confirmations" for leg in await _legs(client, bob))
    assert (await client.get("/v1/me/learning", headers=bob.headers)).json()["confirmed_legs"] == 0

    # switched off: the revised legs get the rules' modes back, with their CO2e, and the trips' totals follow
    response = await client.put("/v1/me/learning", headers=alice.headers, json={"enabled": False})
    assert response.status_code == 200
    assert response.json()["enabled"] is False and response.json()["active"] is False
    assert response.json()["legs_revised"] == 0
    by_id = {leg["id"]: leg for leg in await _legs(client, alice)}
    for leg in revised:
        now = by_id[leg["id"]]
        assert now["mode"] == leg["reasons"][0]["rules_mode"]
        assert all(r["rule"] != "your_confirmations" for r in now["reasons"])
    for trip in await trips_of(client, alice):
        assert trip["co2e_g"] == pytest.approx(sum(leg["co2e_g"] for leg in trip["legs"]), abs=0.01)
    # and later legs are read by the rules alone; the confirmations themselves stay
    await upload(client, alice, payload(_commutes(2)))
    await worker.run_until_idle()
    assert all(
        r["rule"] != "your_confirmations" for leg in await _legs(client, alice) for r in leg["reasons"]
    )
    assert (await client.get("/v1/me/learning", headers=alice.headers)).json()["confirmed_legs"] == confirmed
    response = await client.put("/v1/me/learning", headers=alice.headers, json={"enabled": True})
    assert response.json()["enabled"] is True and response.json()["active"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [({"enabled": "no"}, "enabled"), ({}, "enabled"), ({"enabled": True, "extra": 1}, "extra")],
)
async def test_bad_learning_switches_are_named(
    client: httpx.AsyncClient, alice: Person, body: dict[str, Any], field: str
) -> None:
    response = await client.put("/v1/me/learning", headers=alice.headers, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(field in e["field"] for e in response.json()["errors"]), response.json()


async def test_learning_needs_a_person(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/me/learning")).status_code == 401
    assert (await client.put("/v1/me/learning", json={"enabled": False})).status_code == 401
