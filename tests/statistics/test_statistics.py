"""The territory's statistics: only consenting people, never fewer than k behind a figure, totals that
give nothing away, a privacy budget, rollups that follow corrections and erasures."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.mobility.simulate import LegPlan, Simulation, StayPlan, TripPlan, simulate
from app.models import ConsentEvent, Leg, Trip
from tests.conftest import Person, register
from tests.support.traces import payload, upload

PLAN = [StayPlan(1800), TripPlan((LegPlan("car", 5000),)), StayPlan(3600), TripPlan((LegPlan("car", 5000),)),
        StayPlan(1800)]  # fmt: skip
RANGE = {"from": "2023-11-01", "to": "2023-11-30"}


@pytest.fixture(scope="module")
def day() -> Simulation:
    return simulate(PLAN, seed=31, sampling_s=10.0)


async def consenting(app: FastAPI, client: httpx.AsyncClient, person: Person) -> None:
    response = await client.put(
        "/v1/me/consents/territory_statistics", headers=person.headers, json={"granted": True}
    )
    assert response.status_code == 200
    # The simulated trips are from 2023: date the grant back so that it stood when they were made.
    async with app.state.db.session() as session:
        await session.execute(
            sa.update(ConsentEvent)
            .where(ConsentEvent.user_id == person.user_id)
            .values(at=datetime(2020, 1, 1, tzinfo=UTC))
        )
        await session.commit()


async def people(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, n: int, *, consent: bool = True
) -> list[Person]:
    found = []
    for _ in range(n):
        person = await register(client)
        if consent:
            await consenting(app, client, person)
        await upload(client, person, payload(day))
        found.append(person)
    await app.state.worker.run_until_idle()
    return found


async def modal_share(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/operator/stats/modal-share", headers=headers, params={**RANGE, **params})
    assert response.status_code == 200, response.text
    return dict(response.json())


def month(body: dict[str, Any]) -> dict[str, Any]:
    (only,) = body["periods"]
    return dict(only)


async def test_a_figure_needs_k_people_and_only_consenting_ones_count(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    await people(app, client, day, 10)
    await people(app, client, day, 3, consent=False)
    body = await modal_share(client, operator_headers)
    total = month(body)["total"]
    assert total["suppressed"] is True and total["trips"] is None  # 10 people: k - 1
    assert body["protection"]["k_anonymity"]["k"] == 11
    (eleventh,) = await people(app, client, day, 1)
    body = await modal_share(client, operator_headers)
    total = month(body)["total"]
    assert total["suppressed"] is False and total["people"] == 11
    assert total["trips"] == pytest.approx(22)  # the three non-consenting people are not there
    # Revoking takes effect at once.
    await client.put(
        "/v1/me/consents/territory_statistics", headers=eleventh.headers, json={"granted": False}
    )
    assert month(await modal_share(client, operator_headers))["total"]["suppressed"] is True


async def test_a_hidden_cell_is_never_given_away_by_the_total(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    crowd = await people(app, client, day, 12)
    # One person says their first trip was by bike: a cell of one person.
    async with app.state.db.session() as session:
        trip = await session.scalar(
            sa.select(Trip).where(Trip.user_id == crowd[0].user_id).order_by(Trip.start_ts_ms)
        )
        assert trip is not None
        leg = await session.scalar(sa.select(Leg).where(Leg.trip_id == trip.id))
        assert leg is not None
        trip_id, leg_id = trip.id, leg.id
    patched = await client.patch(
        f"/v1/me/trips/{trip_id}/legs/{leg_id}", headers=crowd[0].headers, json={"mode": "bike"}
    )
    assert patched.status_code == 200
    body = month(await modal_share(client, operator_headers))
    modes = {m["mode"]: m for m in body["modes"]}
    assert modes["bike"]["suppressed"] is True
    assert body["total"]["suppressed"] is False
    visible = [m for m in body["modes"] if not m["suppressed"]]
    hidden = [m for m in body["modes"] if m["suppressed"]]
    # Total minus the visible cells would reveal a single hidden cell: so there are never exactly one.
    assert len(hidden) != 1
    assert all("total" in (m["reason"] or "") or "fewer" in (m["reason"] or "") for m in hidden)
    assert sum(m["trips"] for m in visible) < body["total"]["trips"]


async def test_rollups_follow_corrections_and_erasures(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    crowd = await people(app, client, day, 13)

    async def direct() -> float:
        """The same figure computed from the trips themselves."""
        async with app.state.db.session() as session:
            total = await session.scalar(sa.select(sa.func.sum(Trip.co2e_g)))
        return float(total or 0.0)

    body = month(await modal_share(client, operator_headers))
    assert body["total"]["co2e_g"] == pytest.approx(await direct(), abs=0.1)
    async with app.state.db.session() as session:
        leg = await session.scalar(sa.select(Leg).where(Leg.user_id == crowd[1].user_id))
        assert leg is not None
        url = f"/v1/me/trips/{leg.trip_id}/legs/{leg.id}"
    await client.patch(url, headers=crowd[1].headers, json={"mode": "carpool", "occupants": 3})
    assert month(await modal_share(client, operator_headers))["total"]["co2e_g"] == pytest.approx(
        await direct(), abs=0.1
    )
    assert (await client.delete("/v1/me", headers=crowd[2].headers)).status_code == 204
    after = month(await modal_share(client, operator_headers))
    assert after["total"]["people"] == 12
    assert after["total"]["co2e_g"] == pytest.approx(await direct(), abs=0.1)


async def test_the_person_finds_the_aggregate_in_their_access_log(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    crowd = await people(app, client, day, 11)
    (outsider,) = await people(app, client, day, 1, consent=False)
    await modal_share(client, operator_headers)
    entries = (await client.get("/v1/me/access-log", headers=crowd[0].headers)).json()["entries"]
    assert [e["action"] for e in entries] == ["aggregate"]
    assert entries[0]["actor"].startswith("operator: ") and "modal share" in entries[0]["reason"]
    assert (await client.get("/v1/me/access-log", headers=outsider.headers)).json()["entries"] == []


async def test_differential_privacy_is_charged_to_a_monthly_budget(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    await people(app, client, day, 11)
    first = await modal_share(client, operator_headers, epsilon=4)
    dp = first["protection"]["differential_privacy"]
    assert dp["mechanism"] == "laplace" and dp["epsilon"] == 4 and dp["budget_remaining"] == pytest.approx(6)
    assert month(first)["total"]["people"] is None  # counts of people are not published under DP
    await modal_share(client, operator_headers, epsilon=4)
    refused = await client.get(
        "/v1/operator/stats/modal-share", headers=operator_headers, params={**RANGE, "epsilon": 4}
    )
    assert refused.status_code == 429
    assert (
        refused.json()["type"] == "/problems/privacy-budget-exhausted"
        and int(refused.headers["retry-after"]) > 0
    )
    # Without ε, k-anonymity alone still answers.
    assert (await modal_share(client, operator_headers))["protection"]["differential_privacy"] is None


async def test_other_releases_answer_with_their_protection(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    await people(app, client, day, 11)
    for path, params in (("/v1/operator/stats/co2-per-user", {}), ("/v1/operator/stats/profile", {"by": "hour"}),
                         ("/v1/operator/stats/profile", {"by": "weekday"}), ("/v1/operator/stats/timeseries", {}),
                         ("/v1/operator/stats/od", {}), ("/v1/operator/stats/zones", {})):  # fmt: skip
        response = await client.get(path, headers=operator_headers, params={**RANGE, **params})
        assert response.status_code == 200, (path, response.text)
        assert response.json()["protection"]["k_anonymity"]["k"] == 11
    per_user = (
        await client.get("/v1/operator/stats/co2-per-user", headers=operator_headers, params=RANGE)
    ).json()
    (row,) = per_user["periods"]
    assert row["active_people"] == 11 and row["co2e_g_per_person"] == pytest.approx(
        row["co2e_g"] / 11, rel=1e-3
    )
    zones = (await client.get("/v1/operator/stats/zones", headers=operator_headers, params=RANGE)).json()
    assert zones["type"] == "FeatureCollection" and zones["features"]
    assert zones["features"][0]["geometry"]["type"] == "Polygon"


async def test_person_tokens_never_reach_the_statistics(client: httpx.AsyncClient, alice: Person) -> None:
    for path in ("/v1/operator/stats/modal-share", "/v1/operator/stats/od", "/v1/operator/zone-sets"):
        assert (await client.get(path, headers=alice.headers)).status_code == 403


SQUARE = {
    "type": "Polygon",
    "coordinates": [[[-1.3, 46.0], [-1.0, 46.0], [-1.0, 46.3], [-1.3, 46.3], [-1.3, 46.0]]],
}


async def test_uploaded_zones_are_checked_and_used(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    cases = [
        ({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": bowtie, "properties": {}}]}, "valid"),
        ({"type": "FeatureCollection", "features": []}, "no features"),
        ({"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:2154"}},
          "features": [{"type": "Feature", "geometry": SQUARE}]}, "WGS 84"),
        ({"type": "Feature"}, "FeatureCollection"),
    ]  # fmt: skip
    for body, message in cases:
        response = await client.post("/v1/operator/zone-sets?name=bad", headers=operator_headers, json=body)
        assert response.status_code == 422, body
        assert message in response.json()["errors"][0]["detail"]
    zones = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": SQUARE, "properties": {"code": "17300", "name": "La Rochelle"}}]}  # fmt: skip
    crowd = await people(app, client, day, 11)
    created = await client.post("/v1/operator/zone-sets?name=communes", headers=operator_headers, json=zones)
    assert created.status_code == 201, created.text
    assert (await client.post("/v1/operator/zone-sets?name=communes", headers=operator_headers,
                              json=zones)).status_code == 409  # fmt: skip
    for task in list(app.state.import_tasks):
        await task
    listed = (await client.get("/v1/operator/zone-sets", headers=operator_headers)).json()["zone_sets"]
    assert {z["name"] for z in listed} == {"grid-500m", "communes"}
    od = (await client.get("/v1/operator/stats/od", headers=operator_headers,
                           params={**RANGE, "zone_set": "communes"})).json()  # fmt: skip
    assert [(f["origin"], f["destination"], f["trips"]) for f in od["flows"]] == [("17300", "17300", 22.0)]
    assert len(crowd) == 11
    json.dumps(od)


async def test_monthly_releases_agree_whatever_the_range(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    """Whole months come from the monthly rollups, partial ones from the daily rollups: same figures."""
    await people(app, client, day, 11)
    whole = month(await modal_share(client, operator_headers))["total"]
    for start, end in (
        ("2023-11-10", "2023-11-20"),
        ("2023-10-15", "2023-11-30"),
        ("2023-11-01", "2023-12-20"),
    ):
        response = await client.get("/v1/operator/stats/modal-share", headers=operator_headers,
                                    params={"from": start, "to": end})  # fmt: skip
        periods = [p for p in response.json()["periods"] if p["start"] == "2023-11-01"]
        assert [p["total"] for p in periods] == [whole], (start, end)
    weekly = await modal_share(client, operator_headers, period="week")
    assert sum(p["total"]["trips"] or 0 for p in weekly["periods"]) == whole["trips"]
