"""Operators' roles: an administrator publishes what the territory computes with, an analyst only reads;
an operator deletes only the zone sets it uploaded; every change is recorded with who made it."""

from __future__ import annotations

import secrets

import httpx
import pytest
from fastapi import FastAPI

from app.accounts import repository as accounts
from tests.support.gtfs import line_feed

SQUARE = {"type": "Polygon", "coordinates": [[[-1.2, 46.1], [-1.1, 46.1], [-1.1, 46.2], [-1.2, 46.2], [-1.2, 46.1]]]}  # fmt: skip
ZONES = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": SQUARE, "properties": {"code": "17300", "name": "La Rochelle"}}]}  # fmt: skip
FEED = line_feed([("A", 46.15, -1.15), ("B", 46.16, -1.14)])
ZIP = {"Content-Type": "application/zip"}
FACTOR = {"mode": "bus", "g_per_km": 95.0, "unit": "passenger-km", "source": "Yélo fleet 2026",
          "valid_from": "2027-01-01T00:00:00Z"}  # fmt: skip


async def operator(app: FastAPI, role: str) -> tuple[str, dict[str, str]]:
    name = f"{role}-{secrets.token_hex(3)}"
    async with app.state.db.session() as session:
        _, secret = await accounts.create_operator(session, name, role)
        await session.commit()
    return name, {"Authorization": f"Bearer {secret}"}


@pytest.fixture
async def analyst(app: FastAPI) -> tuple[str, dict[str, str]]:
    return await operator(app, accounts.ANALYST)


@pytest.fixture
async def admins(app: FastAPI) -> list[tuple[str, dict[str, str]]]:
    return [await operator(app, accounts.ADMIN), await operator(app, accounts.ADMIN)]


async def test_an_analyst_reads_but_changes_nothing(
    client: httpx.AsyncClient, analyst: tuple[str, dict[str, str]], admins: list[tuple[str, dict[str, str]]]
) -> None:
    _, headers = analyst
    me = (await client.get("/v1/operator/me", headers=headers)).json()
    assert me["role"] == "analyst"
    _, admin = admins[0]
    zone_set = (await client.post("/v1/operator/zone-sets?name=communes", headers=admin, json=ZONES)).json()
    refused = [
        await client.put("/v1/operator/transit-feeds/yelo", headers=headers | ZIP, content=FEED),
        await client.delete("/v1/operator/transit-feeds/yelo", headers=headers),
        await client.post("/v1/operator/factors", headers=headers, json=FACTOR),
        await client.post("/v1/operator/zone-sets?name=mine", headers=headers, json=ZONES),
        await client.delete(f"/v1/operator/zone-sets/{zone_set['id']}", headers=headers),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "analyst" in response.json()["detail"]
    for path in ("/v1/operator/transit-feeds", "/v1/operator/factors", "/v1/operator/zone-sets",
                 "/v1/operator/actions", f"/v1/operator/zone-sets/{zone_set['id']}"):  # fmt: skip
        assert (await client.get(path, headers=headers)).status_code == 200, path
    listed = (await client.get("/v1/operator/zone-sets", headers=headers)).json()["zone_sets"]
    assert "mine" not in {z["name"] for z in listed}
    assert (await client.get("/v1/operator/factors", headers=headers)).json()["factors"] == []


async def test_an_operator_deletes_only_its_own_zone_sets_and_every_change_is_recorded(
    client: httpx.AsyncClient, admins: list[tuple[str, dict[str, str]]]
) -> None:
    (first, first_headers), (second, second_headers) = admins
    created = await client.post("/v1/operator/zone-sets?name=quartiers", headers=first_headers, json=ZONES)
    assert created.status_code == 201
    zone_set_id = created.json()["id"]
    other = await client.delete(f"/v1/operator/zone-sets/{zone_set_id}", headers=second_headers)
    assert other.status_code == 403
    assert other.json()["type"] == "/problems/not-owner"
    assert (
        await client.get(f"/v1/operator/zone-sets/{zone_set_id}", headers=second_headers)
    ).status_code == 200
    assert (
        await client.delete(f"/v1/operator/zone-sets/{zone_set_id}", headers=first_headers)
    ).status_code == 204

    assert (await client.put("/v1/operator/transit-feeds/yelo", headers=second_headers | ZIP,
                             content=FEED)).status_code == 201  # fmt: skip
    assert (await client.put("/v1/operator/transit-feeds/yelo", headers=first_headers | ZIP,
                             content=FEED)).status_code == 200  # fmt: skip
    assert (await client.post("/v1/operator/factors", headers=first_headers, json=FACTOR)).status_code == 201
    assert (await client.delete("/v1/operator/transit-feeds/yelo", headers=second_headers)).status_code == 204

    actions = (await client.get("/v1/operator/actions", headers=first_headers)).json()["actions"]
    done = [(a["operator"], a["action"], a["target"]) for a in reversed(actions)]
    assert done == [
        (first, "zone_set.upload", "quartiers"),
        (first, "zone_set.delete", "quartiers"),
        (second, "transit_feed.publish", "yelo"),
        (first, "transit_feed.replace", "yelo"),
        (first, "factor.add", "bus"),
        (second, "transit_feed.withdraw", "yelo"),
    ]
    assert actions[1]["detail"] == {"g_per_km": 95.0, "valid_from": "2027-01-01T00:00:00.000Z"}
    assert actions[2]["detail"] == {"stops": 2, "routes": 1}
    assert actions[-1]["detail"] == {"zones": 1}


async def test_two_publications_of_one_new_feed_name_at_once_never_fail(
    client: httpx.AsyncClient, admins: list[tuple[str, dict[str, str]]]
) -> None:
    import asyncio

    (_, first), (_, second) = admins
    answers = await asyncio.gather(
        *(
            client.put("/v1/operator/transit-feeds/race", headers=h | ZIP, content=FEED)
            for h in (first, second)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses in ([200, 201], [201, 409]), [a.text for a in answers]
    listed = (await client.get("/v1/operator/transit-feeds", headers=first)).json()["feeds"]
    assert [f["name"] for f in listed] == ["race"]
