"""The contract says what the server sends: real answers of a person's and an operator's main endpoints,
after a simulated day went through the pipeline, are valid against the schemas the OpenAPI document gives
them, with `date-time` held to RFC 3339 and `date` to YYYY-MM-DD."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.mobility.simulate import LegPlan, StayPlan, TripPlan, simulate
from app.models import ConsentEvent
from tests.conftest import Person
from tests.contract.spec import Contract
from tests.support.traces import payload, upload

RANGE = {"from": "2023-11-01", "to": "2023-11-30"}


def answer_schema(contract: Contract, method: str, path: str, status: int, media: str) -> dict[str, Any]:
    operation = contract.spec["paths"][path][method.lower()]
    schema: dict[str, Any] = operation["responses"][str(status)]["content"][media]["schema"]
    return schema


async def check(
    contract: Contract,
    client: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    *,
    url: str | None = None,
    **request: Any,
) -> dict[str, Any]:
    """Call an operation and validate its answer against the schema the contract gives its status."""
    response = await client.request(method, url or path, headers=headers, **request)
    media = response.headers["content-type"].split(";")[0]
    schema = answer_schema(contract, method, path, response.status_code, media)
    errors = contract.errors(schema, response.json())
    assert errors == [], f"{method} {url or path} {response.status_code}: {errors}"
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def travelled(app: FastAPI, client: httpx.AsyncClient, alice: Person) -> Person:
    """alice, who shares her trips with the territory, after a day with a bike ride and a drive."""
    plan = [StayPlan(1200), TripPlan((LegPlan("bike", 3000),)), StayPlan(1800), TripPlan((LegPlan("car", 6000),)),
            StayPlan(1200)]  # fmt: skip
    await client.put("/v1/me/consents/territory_statistics", headers=alice.headers, json={"granted": True})
    async with app.state.db.session() as session:  # the grant stood when the (2023) trips were made
        await session.execute(
            sa.update(ConsentEvent)
            .where(ConsentEvent.user_id == alice.user_id)
            .values(at=datetime(2020, 1, 1, tzinfo=UTC))
        )
        await session.commit()
    await upload(client, alice, payload(simulate(plan, seed=5, sampling_s=10.0)))
    await app.state.worker.run_until_idle()
    return alice


async def test_a_persons_answers_match_the_contract(
    app: FastAPI, client: httpx.AsyncClient, travelled: Person
) -> None:
    contract = Contract(app.openapi())
    me = travelled.headers
    page = await check(contract, client, "GET", "/v1/me/trips", me)
    assert page["trips"] and page["next_cursor"] is None
    trip = page["trips"][0]
    await check(contract, client, "GET", "/v1/me/trips/{trip_id}", me, url=f"/v1/me/trips/{trip['id']}")
    leg = trip["legs"][0]
    await check(contract, client, "PATCH", "/v1/me/trips/{trip_id}/legs/{leg_id}", me,
                url=f"/v1/me/trips/{trip['id']}/legs/{leg['id']}", json={"mode": "bus"})  # fmt: skip
    pipeline = await check(contract, client, "GET", "/v1/me/pipeline", me)
    assert pipeline["processed_until"] is not None
    await check(contract, client, "GET", "/v1/me/summary", me, params={"period": "day", **RANGE})
    # Paris kept local mean time (+00:09:21) until 1911: no RFC 3339 offset can say it, UTC does.
    old = {"period": "year", "from": "1900-06-01T00:00:00Z", "to": "1902-06-01T00:00:00Z"}
    summary = await check(contract, client, "GET", "/v1/me/summary", me, params=old)
    assert summary["periods"][0]["start"] == "1899-12-31T23:50:39.000Z"
    await check(contract, client, "GET", "/v1/me/coaching/trajectory", me, params={"year": 2023})
    held = await check(contract, client, "GET", "/v1/me", me)
    assert held["oldest_point"] and held["retention"]["point_retention_days"] > 0
    await check(contract, client, "GET", "/v1/me/consents/receipts", me)
    await check(contract, client, "GET", "/v1/auth/tokens", me)


async def test_an_operators_answers_match_the_contract(
    app: FastAPI, client: httpx.AsyncClient, travelled: Person, operator_headers: dict[str, str]
) -> None:
    contract = Contract(app.openapi())
    op = operator_headers
    factor = {
        "mode": "bus",
        "g_per_km": 71.5,
        "source": "fleet data",
        "valid_from": "2026-01-01T00:00:00+01:00",
    }
    await check(contract, client, "POST", "/v1/operator/factors", op, json=factor)
    actions = await check(contract, client, "GET", "/v1/operator/actions", op)
    assert actions["actions"][0]["detail"] == {"g_per_km": 71.5, "valid_from": "2025-12-31T23:00:00.000Z"}
    share = await check(
        contract, client, "GET", "/v1/operator/stats/modal-share", op, params={**RANGE, "epsilon": 1}
    )
    assert share["periods"][0]["total"]["margin_95"]["trips"] > 0
    await check(contract, client, "GET", "/v1/operator/stats/profile", op, params={**RANGE, "by": "weekday"})
    await check(contract, client, "GET", "/v1/operator/stats/zones", op, params=RANGE)
    releases = await check(contract, client, "GET", "/v1/operator/privacy/releases", op)
    # Each release keeps the parameters it was asked with, and no others.
    own = {entry["endpoint"]: set(entry["params"]) & {"period", "by"} for entry in releases["releases"]}
    assert own == {"modal-share": {"period"}, "profile": {"by"}, "zones": set()}
    await check(contract, client, "GET", "/v1/operator/privacy/budget", op)
    zone_sets = await check(contract, client, "GET", "/v1/operator/zone-sets", op)
    grid = zone_sets["zone_sets"][0]["id"]
    await check(
        contract,
        client,
        "GET",
        "/v1/operator/zone-sets/{zone_set_id}",
        op,
        url=f"/v1/operator/zone-sets/{grid}",
    )
