"""The territory's ad-hoc statistics: only consenting people, every figure differentially private with its
margin, one budget for the territory charged per month of data, the same question answered once, rollups
that follow corrections and erasures. The attacks on releases are replayed in test_privacy_attacks.py."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.accounts import repository as accounts
from app.mobility.simulate import LegPlan, Simulation, StayPlan, TripPlan, simulate
from app.mobility.types import MODES
from app.models import ConsentEvent, Leg
from app.statistics import privacy
from app.statistics import repository as store
from app.statistics.service import CAPS
from app.statistics.zones import GRID_ID
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


async def exact(app: FastAPI, dims: tuple[str, ...] = ("mode",), **scope: Any) -> dict[str, Any]:
    """What a release bounds before noise: the cells' exact sums after the per-person-month caps."""
    async with app.state.db.session() as session:
        rows = await store.person_month_rows(session, GRID_ID, scope.get("day_from", 20231101),
                                             scope.get("day_to", 20231130), dims)  # fmt: skip
        await session.commit()
    n = len(dims)
    cells = [(row[0] if n == 1 else tuple(row[:n]), *row[n:]) for row in rows]
    keys = sorted({c[0] for c in cells}, key=str)
    bounded = privacy.bound(keys, cells, CAPS)
    return {
        key: {name: int(values[i]) for name, values in bounded.values.items()} for i, key in enumerate(keys)
    } | {"people": len(bounded.people)}


async def test_only_consenting_people_count_and_revoking_takes_effect_at_once(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation
) -> None:
    await people(app, client, day, 4)
    await people(app, client, day, 3, consent=False)
    counted = await exact(app)
    assert counted["people"] == 4 and counted["car"]["trips"] == 8 * privacy.TRIP_UNITS
    (fifth,) = await people(app, client, day, 1)
    assert (await exact(app))["people"] == 5
    await client.put("/v1/me/consents/territory_statistics", headers=fifth.headers, json={"granted": False})
    assert (await exact(app))["people"] == 4


async def test_every_figure_is_noisy_with_its_margin_and_every_cell_is_there(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    await people(app, client, day, 3)
    body = await modal_share(client, operator_headers)
    period = month(body)
    # The cells are fixed by the question: every mode, whether anyone used it or not.
    assert [m["mode"] for m in period["modes"]] == list(MODES)
    assert all(m["people"] is None and m["suppressed"] is False for m in period["modes"])
    dp = body["protection"]["differential_privacy"]
    assert dp["mechanism"] == "discrete Laplace (OpenDP)" and dp["epsilon"] == 0.5
    assert dp["months"] == ["2023-11"]
    scales = {m["measure"]: m["scale"] for m in dp["measures"]}
    # ε/3 per measure, at the caps of one person-month: 60 trips, 1,500 km, 200 kg.
    assert scales == {"trips": pytest.approx(360.0), "passenger_km": pytest.approx(9000.0),
                      "co2e_g": pytest.approx(1_200_000.0)}  # fmt: skip
    car = next(m for m in period["modes"] if m["mode"] == "car")
    assert car["margin_95"]["trips"] == pytest.approx(360.0 * math.log(20), abs=0.1)
    assert period["total"]["margin_95"]["trips"] == pytest.approx(
        1.96 * 360.0 * math.sqrt(2 * len(MODES)), abs=0.1
    )
    assert all(m["trips"] >= 0 and m["co2e_g"] >= 0 for m in period["modes"])
    (budget,) = dp["budget"]
    assert budget == {
        "month": "2023-11",
        "lifetime_epsilon": 10.0,
        "spent_epsilon": 0.5,
        "remaining_epsilon": 9.5,
    }
    assert body["release"]["replayed"] is False and body["release"]["asked_by"].startswith("operator-")


async def test_the_same_question_gets_the_same_answer_whoever_asks(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    await people(app, client, day, 3)
    first = await modal_share(client, operator_headers)
    async with app.state.db.session() as session:
        _, secret = await accounts.create_operator(session, "another-operator", role="analyst")
        await session.commit()
    again = await modal_share(client, {"Authorization": f"Bearer {secret}"})
    assert again["release"] == {**first["release"], "replayed": True}
    assert again["periods"] == first["periods"]
    assert again["protection"]["differential_privacy"]["budget"][0]["spent_epsilon"] == 0.5  # charged once
    # Another ε, another range or another period is another question, charged again.
    await modal_share(client, operator_headers, epsilon=1)
    await modal_share(client, operator_headers, period="week")
    budget = (await client.get("/v1/operator/privacy/budget", headers=operator_headers)).json()
    assert budget["months"] == [{"month": "2023-11", "lifetime_epsilon": 10.0, "spent_epsilon": 2.0,
                                 "remaining_epsilon": 8.0}]  # fmt: skip
    ledger = (await client.get("/v1/operator/privacy/releases", headers=operator_headers)).json()
    assert {(r["endpoint"], r["months"][0], r["asked_by"][:9]) for r in ledger["releases"]} == {
        ("modal-share", "2023-11", "operator-")
    }
    assert sorted(r["params"]["period"] + str(r["epsilon"]) for r in ledger["releases"]) == [
        "month0.5", "month1.0", "week0.5"]  # fmt: skip
    page = (
        await client.get("/v1/operator/privacy/releases", headers=operator_headers, params={"limit": 2})
    ).json()
    rest = (await client.get("/v1/operator/privacy/releases", headers=operator_headers,
                             params={"limit": 2, "cursor": page["next_cursor"]})).json()  # fmt: skip
    assert [r["id"] for r in page["releases"] + rest["releases"]] == [r["id"] for r in ledger["releases"]]
    assert rest["next_cursor"] is None
    bad = await client.get("/v1/operator/privacy/releases", headers=operator_headers, params={"cursor": "x"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


async def test_one_budget_per_month_of_data_for_the_whole_territory(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    await people(app, client, day, 3)
    async with app.state.db.session() as session:
        _, secret = await accounts.create_operator(session, "second-operator", role="analyst")
        await session.commit()
    second = {"Authorization": f"Bearer {secret}"}
    await modal_share(client, operator_headers, epsilon=4)
    # October and November: charged to both months.
    await modal_share(client, second, epsilon=4, **{"from": "2023-10-20"})
    refused = await client.get("/v1/operator/stats/timeseries", headers=operator_headers,
                               params={**RANGE, "epsilon": 4})  # fmt: skip
    assert refused.status_code == 409
    problem = refused.json()
    assert (
        problem["type"].endswith("/privacy-budget-exhausted") and "2023-11 has ε=2 left" in problem["detail"]
    )
    assert "retry-after" not in refused.headers  # a month's budget is never renewed
    # What is left can still be spent, by anyone, and October has its own budget.
    await modal_share(client, second, epsilon=2, period="week")
    october = await client.get("/v1/operator/stats/timeseries", headers=second,
                               params={"from": "2023-10-01", "to": "2023-10-31", "epsilon": 5})  # fmt: skip
    assert october.status_code == 200
    budget = (await client.get("/v1/operator/privacy/budget", headers=second)).json()["months"]
    assert [(b["month"], b["spent_epsilon"]) for b in budget] == [("2023-10", 9.0), ("2023-11", 10.0)]
    # A question already answered still answers, at no cost.
    assert (await modal_share(client, second, epsilon=4))["release"]["replayed"] is True


async def test_a_release_covers_days_that_have_ended(
    client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    for params, field in (({"to": "9999-12-31"}, "to"), ({"to": "2999-01-01"}, "to"),
                          ({"from": "2023-12-01", "to": "2023-11-01"}, "from"),
                          ({"from": "0001-01-01", "to": "2023-11-01"}, "from"),
                          ({"zone": "somewhere"}, "zone")):  # fmt: skip
        response = await client.get("/v1/operator/stats/modal-share", headers=operator_headers, params=params)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["field"] == field
    # From year 1, for a year: nothing to count, and the cells are still there.
    early = await client.get("/v1/operator/stats/timeseries", headers=operator_headers,
                             params={"from": "0001-01-01", "to": "0001-01-31", "period": "week"})  # fmt: skip
    assert early.status_code == 200 and early.json()["series"][0]["start"] == "0001-01-01"
    default = await client.get(
        "/v1/operator/stats/timeseries", headers=operator_headers, params={"period": "month"}
    )
    assert default.status_code == 200
    series = default.json()["series"]
    assert len(series) == 12 and series[0]["start"].endswith("-01")


async def test_rollups_follow_corrections_and_erasures(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation
) -> None:
    crowd = await people(app, client, day, 4)

    async def direct() -> int:
        """The same figure computed from the trips themselves, in whole grams per trip as bounded."""
        async with app.state.db.session() as session:
            rows = await session.scalars(sa.select(Leg.co2e_g))
            return sum(int(v) for v in rows)

    async def counted() -> int:
        return sum(v["co2e_g"] for k, v in (await exact(app)).items() if k != "people")

    assert await counted() == pytest.approx(await direct(), abs=8)
    async with app.state.db.session() as session:
        leg = await session.scalar(sa.select(Leg).where(Leg.user_id == crowd[1].user_id))
        assert leg is not None
        url = f"/v1/me/trips/{leg.trip_id}/legs/{leg.id}"
    await client.patch(url, headers=crowd[1].headers, json={"mode": "carpool", "occupants": 3})
    assert "carpool" in await exact(app)
    assert await counted() == pytest.approx(await direct(), abs=8)
    assert (await client.delete("/v1/me", headers=crowd[2].headers)).status_code == 204
    assert (await exact(app))["people"] == 3
    assert await counted() == pytest.approx(await direct(), abs=8)


async def test_the_person_finds_the_aggregate_in_their_access_log(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    crowd = await people(app, client, day, 2)
    (outsider,) = await people(app, client, day, 1, consent=False)
    await modal_share(client, operator_headers)
    await modal_share(client, operator_headers)  # the same answer again: nobody is counted again
    entries = (await client.get("/v1/me/access-log", headers=crowd[0].headers)).json()["entries"]
    assert [e["action"] for e in entries] == ["aggregate"]
    assert entries[0]["actor"].startswith("operator: ") and "modal share" in entries[0]["reason"]
    assert "ε=0.5" in entries[0]["reason"]
    assert (await client.get("/v1/me/access-log", headers=outsider.headers)).json()["entries"] == []


async def test_other_releases_answer_with_their_protection(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    await people(app, client, day, 3)
    for path, params in (("/v1/operator/stats/co2-per-user", {}), ("/v1/operator/stats/profile", {"by": "hour"}),
                         ("/v1/operator/stats/profile", {"by": "weekday"}), ("/v1/operator/stats/timeseries", {}),
                         ("/v1/operator/stats/zones", {})):  # fmt: skip
        response = await client.get(path, headers=operator_headers, params={**RANGE, **params, "epsilon": 1})
        assert response.status_code == 200, (path, response.text)
        assert response.json()["protection"]["differential_privacy"]["epsilon"] == 1
    per_user = (await client.get("/v1/operator/stats/co2-per-user", headers=operator_headers,
                                 params={**RANGE, "epsilon": 1})).json()  # fmt: skip
    (row,) = per_user["periods"]
    measures = {m["measure"]: m for m in per_user["protection"]["differential_privacy"]["measures"]}
    assert set(measures) == {"co2e_g", "people"} and measures["people"]["scale"] == pytest.approx(2.0)
    assert row["trips"] is None and isinstance(row["active_people"], float | int)
    profile = (await client.get("/v1/operator/stats/profile", headers=operator_headers,
                                params={**RANGE, "by": "hour", "epsilon": 1})).json()  # fmt: skip
    assert [b["hour"] for b in profile["buckets"]] == list(range(24))
    daily = (await client.get("/v1/operator/stats/co2-per-user", headers=operator_headers,
                              params={**RANGE, "period": "day"})).json()  # fmt: skip
    people_noise = next(
        m for m in daily["protection"]["differential_privacy"]["measures"] if m["measure"] == "people"
    )
    assert people_noise["scale"] == pytest.approx(30 / 0.25)  # a person-month is counted in up to 30 days
    grid = await client.get("/v1/operator/stats/od", headers=operator_headers, params=RANGE)
    assert grid.status_code == 422 and grid.json()["errors"][0]["field"] == "zone_set"


async def test_person_tokens_never_reach_the_statistics(client: httpx.AsyncClient, alice: Person) -> None:
    for path in ("/v1/operator/stats/modal-share", "/v1/operator/stats/od", "/v1/operator/zone-sets",
                 "/v1/operator/privacy/budget", "/v1/operator/privacy/releases"):  # fmt: skip
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
    await people(app, client, day, 3)
    created = await client.post("/v1/operator/zone-sets?name=communes", headers=operator_headers, json=zones)
    assert created.status_code == 201, created.text
    assert (await client.post("/v1/operator/zone-sets?name=communes", headers=operator_headers,
                              json=zones)).status_code == 409  # fmt: skip
    for task in list(app.state.import_tasks):
        await task
    listed = (await client.get("/v1/operator/zone-sets", headers=operator_headers)).json()["zone_sets"]
    assert {z["name"] for z in listed} == {"grid-500m", "communes"}
    async with app.state.db.session() as session:
        zone_set = await store.zone_set_named(session, "communes")
        assert zone_set is not None
        rows = await store.person_month_rows(
            session, zone_set.id, 20231101, 20231130, ("origin_zone", "dest_zone")
        )
        await session.commit()
    assert {(r[0], r[1]) for r in rows} == {("17300", "17300")} and sum(r[4] for r in rows) == 6
    od = (await client.get("/v1/operator/stats/od", headers=operator_headers,
                           params={**RANGE, "zone_set": "communes"})).json()  # fmt: skip
    assert [t["origin"] for t in od["from_totals"]] == ["17300", "outside"]
    assert {(f["origin"], f["destination"]) for f in od["flows"]} <= {(o, d) for o in ("17300", "outside")
                                                                       for d in ("17300", "outside")}  # fmt: skip
    zoned = await client.get("/v1/operator/stats/modal-share", headers=operator_headers,
                             params={**RANGE, "zone_set": "communes", "zone": "17300"})  # fmt: skip
    assert zoned.status_code == 200
    json.dumps(od)


async def test_monthly_releases_bound_the_same_whatever_the_range(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation
) -> None:
    """Whole months come from the monthly rollups, partial ones from the daily rollups: same sums."""
    await people(app, client, day, 3)
    async with app.state.db.session() as session:
        whole = await store.person_month_rows(
            session, GRID_ID, 20231101, 20231130, ("day", "mode"), monthly=True
        )
        daily = await store.person_month_rows(session, GRID_ID, 20231101, 20231130, ("day", "mode"))
        wider = await store.person_month_rows(
            session, GRID_ID, 20231015, 20231220, ("day", "mode"), monthly=True
        )
        await session.commit()

    def by_month(rows: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], float]:
        sums: dict[tuple[Any, ...], float] = {}
        for row in rows:
            key = (row[2], row[1], row[3])
            sums[key] = sums.get(key, 0.0) + float(row[4])
        return sums

    assert by_month(whole) == by_month(daily) == by_month(wider)
