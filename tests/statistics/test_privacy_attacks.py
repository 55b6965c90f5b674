"""The attacks an operator can make by comparing releases, replayed: each now learns noise, not a person.

What holds instead is the bound of differential privacy: every release is ε-DP for one person's data of
one month, and all the releases ever made from a month together spend at most its lifetime budget, so for
any attack however many releases it compares, the odds it gives of anything about one person-month move by
a factor of at most e^(lifetime ε). The tests check that the noise is there at the documented scale (the
attacker's estimates spread as the mechanism says), and that the budget binds, whoever asks.

The noise cannot be seeded (OpenDP samples from the operating system), so each statistical check is
chosen to fail by chance with a probability below one in a million.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.accounts import repository as accounts
from app.mobility.simulate import Simulation, simulate
from app.models import Leg, Trip
from tests.conftest import Person
from tests.statistics.test_statistics import PLAN, RANGE, people

# The resident the attacks are after: one day of trips on 30 November, far from everyone else.
RESIDENT = simulate(PLAN, seed=5, sampling_s=10.0, start_ts_s=1_701_324_000.0, origin=(46.45, -1.55))
TRIP_SCALE_AT_1 = 60 / (1 / 3)  # the Laplace scale of trips at ε = 1: the cap of a person-month over ε/3


@pytest.fixture(scope="module")
def day() -> Simulation:
    return simulate(PLAN, seed=31, sampling_s=10.0)


@pytest.fixture
def roomy(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lifetime budget large enough to ask the many questions an attack needs."""
    monkeypatch.setattr(app.state.settings, "dp_month_epsilon", 100.0)


async def crowd_and_resident(app: FastAPI, client: httpx.AsyncClient, day: Simulation) -> Person:
    await people(app, client, day, 4)
    (resident,) = await people(app, client, RESIDENT, 1)
    return resident


async def stat(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(f"/v1/operator/stats/{path}", headers=headers, params={**RANGE, **params})
    assert response.status_code == 200, response.text
    return dict(response.json())


def total_trips(body: dict[str, Any]) -> float:
    """The unclamped sum of the modes' published trips (the attacker's best use of the figures)."""
    return sum(float(m["trips"]) for p in body["periods"] for m in p["modes"])


def spread_like_noise(errors: list[float], scale: float) -> None:
    """The attacker's errors look like the documented noise, not like an exact answer."""
    exact = sum(1 for e in errors if abs(e) < 0.5)
    assert exact <= 0.75 * len(errors), errors
    mean = sum(abs(e) for e in errors) / len(errors)
    assert mean >= 0.3 * scale, (mean, scale, errors)


async def upload_zones(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, features: list[Any]
) -> None:
    created = await client.post(f"/v1/operator/zone-sets?name={name}", headers=headers,
                                json={"type": "FeatureCollection", "features": features})  # fmt: skip
    assert created.status_code == 201, created.text


async def settle(app: FastAPI) -> None:
    for task in list(app.state.import_tasks):
        await task


async def test_differencing_by_place_and_by_filter_learns_noise(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str], roomy: None
) -> None:
    """Two zone sets, one with a hole over the resident: their difference is the resident plus noise;
    likewise all trips minus the trips starting in a zone."""
    await crowd_and_resident(app, client, day)
    wide = [[-1.7, 46.0], [-1.0, 46.0], [-1.0, 46.6], [-1.7, 46.6], [-1.7, 46.0]]
    hole = [[-1.6, 46.4], [-1.5, 46.4], [-1.5, 46.5], [-1.6, 46.5], [-1.6, 46.4]]
    agglo = {
        "type": "Feature",
        "properties": {"code": "ALL"},
        "geometry": {"type": "Polygon", "coordinates": [wide]},
    }
    holed = {"type": "Feature", "properties": {"code": "ALL"},
             "geometry": {"type": "Polygon", "coordinates": [wide, hole]}}  # fmt: skip
    await upload_zones(client, operator_headers, "agglo", [agglo])
    await upload_zones(client, operator_headers, "holed", [holed])
    await settle(app)
    place, both = [], []
    for i in range(12):
        epsilon = 1 + i / 1000
        a = await stat(client, operator_headers, "modal-share", zone_set="agglo", zone="ALL", epsilon=epsilon)
        b = await stat(client, operator_headers, "modal-share", zone_set="holed", zone="ALL", epsilon=epsilon)
        place.append(total_trips(a) - total_trips(b) - 2)  # the resident made 2 trips
        everyone = await stat(client, operator_headers, "modal-share", zone_set="holed", epsilon=epsilon)
        both.append(total_trips(everyone) - total_trips(b) - 2)
    spread_like_noise(place, TRIP_SCALE_AT_1)
    spread_like_noise(both, TRIP_SCALE_AT_1)
    budget = (await client.get("/v1/operator/privacy/budget", headers=operator_headers)).json()["months"]
    assert budget == [{"month": "2023-11", "lifetime_epsilon": 100.0,
                       "spent_epsilon": pytest.approx(3 * sum(1 + i / 1000 for i in range(12))),
                       "remaining_epsilon": pytest.approx(100 - 3 * sum(1 + i / 1000 for i in range(12)))}]  # fmt: skip


async def test_bisection_stops_when_the_month_has_spent_its_budget(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    """Moving a zone's edge and asking again, zone set after zone set: the month's lifetime budget (ε = 10
    at ε = 0.5 a release) allows 20 releases in all, then nothing more is released about November."""
    await crowd_and_resident(app, client, day)
    answered, refused = 0, 0
    for i in range(22):
        west = -1.7 + i * 0.01
        ring = [[west, 46.0], [-1.0, 46.0], [-1.0, 46.6], [west, 46.6], [west, 46.0]]
        await upload_zones(client, operator_headers, f"edge-{i}",
                           [{"type": "Feature", "properties": {"code": "Z"}, "geometry": {"type": "Polygon",
                                                                                            "coordinates": [ring]}}])  # fmt: skip
        response = await client.get("/v1/operator/stats/timeseries", headers=operator_headers,
                                    params={**RANGE, "zone_set": f"edge-{i}", "zone": "Z", "period": "month"})  # fmt: skip
        if response.status_code == 200:
            answered += 1
        else:
            assert response.status_code == 409 and response.json()["type"].endswith(
                "/privacy-budget-exhausted"
            )
            refused += 1
    await settle(app)
    assert (answered, refused) == (20, 2)
    # November is spent for everyone, whatever the question; what was answered stays answerable.
    async with app.state.db.session() as session:
        _, secret = await accounts.create_operator(session, "newcomer", role="analyst")
        await session.commit()
    newcomer = {"Authorization": f"Bearer {secret}"}
    late = await client.get("/v1/operator/stats/profile", headers=newcomer, params={**RANGE, "epsilon": 0.01})
    assert late.status_code == 409
    again = await client.get("/v1/operator/stats/timeseries", headers=newcomer,
                             params={**RANGE, "zone_set": "edge-0", "zone": "Z", "period": "month"})  # fmt: skip
    assert again.status_code == 200 and again.json()["release"]["replayed"] is True


async def test_differencing_by_date_learns_noise(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str], roomy: None
) -> None:
    """November minus November without its last day, the resident's day: the resident plus noise."""
    await crowd_and_resident(app, client, day)
    errors = []
    for i in range(12):
        epsilon = 1 + i / 1000
        whole = await stat(client, operator_headers, "modal-share", epsilon=epsilon)
        shorter = await stat(client, operator_headers, "modal-share", epsilon=epsilon, to="2023-11-29")
        errors.append(total_trips(whole) - total_trips(shorter) - 2)
    spread_like_noise(errors, TRIP_SCALE_AT_1)


async def test_counts_of_people_are_noisy_so_presence_is_not_told(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str], roomy: None
) -> None:
    """`active_people` is a noisy count (scale 2 at ε = 1: a person-month counts once in a month, and
    ε is shared with CO2e): 5 people or 4 cannot be told apart by one release, nor by comparing two."""
    await crowd_and_resident(app, client, day)
    errors = []
    for i in range(30):
        body = await stat(client, operator_headers, "co2-per-user", epsilon=1 + i / 1000)
        (period,) = body["periods"]
        errors.append(float(period["active_people"]) - 5)
        noise = {m["measure"]: m["scale"] for m in body["protection"]["differential_privacy"]["measures"]}
        assert noise["people"] == pytest.approx(2.0, abs=0.11)
    spread_like_noise(errors, 2.0)


async def test_a_cell_of_one_person_is_published_only_under_noise(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str], roomy: None
) -> None:
    resident = await crowd_and_resident(app, client, day)
    async with app.state.db.session() as session:
        trip = await session.scalar(sa.select(Trip).where(Trip.user_id == resident.user_id).limit(1))
        assert trip is not None
        leg = await session.scalar(sa.select(Leg).where(Leg.trip_id == trip.id))
        assert leg is not None
        url = f"/v1/me/trips/{trip.id}/legs/{leg.id}"
    assert (await client.patch(url, headers=resident.headers, json={"mode": "bike"})).status_code == 200
    errors = []
    for i in range(12):
        body = await stat(client, operator_headers, "modal-share", epsilon=1 + i / 1000)
        (bike,) = [m for m in body["periods"][0]["modes"] if m["mode"] == "bike"]
        assert bike["margin_95"]["trips"] > 100 * 1  # the margin says the figure tells nothing of one trip
        errors.append(float(bike["trips"]) - 1)
    # Published figures are never below 0, so the spread is checked on the positive side only.
    spread_like_noise(errors, TRIP_SCALE_AT_1 / 4)


async def test_the_same_question_repeated_cannot_average_the_noise_away(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, operator_headers: dict[str, str]
) -> None:
    await crowd_and_resident(app, client, day)
    answers = [await stat(client, operator_headers, "profile", by="hour") for _ in range(10)]
    assert all(a["buckets"] == answers[0]["buckets"] for a in answers)
    assert [a["release"]["replayed"] for a in answers] == [False] + [True] * 9
    budget = (await client.get("/v1/operator/privacy/budget", headers=operator_headers)).json()["months"]
    assert budget[0]["spent_epsilon"] == 0.5


async def test_operators_racing_for_the_budget_never_overspend_it(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation
) -> None:
    """Six different questions at ε = 4 from three operators at once, on a month of lifetime ε = 10:
    exactly two are answered."""
    await crowd_and_resident(app, client, day)
    headers = []
    async with app.state.db.session() as session:
        for i in range(3):
            _, secret = await accounts.create_operator(session, f"racer-{i}", role="analyst")
            headers.append({"Authorization": f"Bearer {secret}"})
        await session.commit()
    questions = [("profile", {"by": "hour"}), ("profile", {"by": "weekday"}), ("timeseries", {"period": "day"}),
                 ("timeseries", {"period": "week"}), ("modal-share", {"period": "month"}),
                 ("co2-per-user", {"period": "month"})]  # fmt: skip
    responses = await asyncio.gather(*(
        client.get(f"/v1/operator/stats/{path}", headers=headers[i % 3], params={**RANGE, **params, "epsilon": 4})
        for i, (path, params) in enumerate(questions)
    ))  # fmt: skip
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200, 409, 409, 409, 409], [r.text for r in responses]
    budget = (await client.get("/v1/operator/privacy/budget", headers=headers[0])).json()["months"]
    assert budget[0]["spent_epsilon"] == pytest.approx(8.0)
    ledger = (await client.get("/v1/operator/privacy/releases", headers=headers[0])).json()["releases"]
    assert len(ledger) == 2
