"""What the operators' answers say of what they hide: how many zones and flows are left out, and which
modes of a published zone are suppressed, so that the dashboard can draw them as hidden, never as zero."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from app.models import PrivacyRelease, Publication, Rollup
from app.statistics.publications import publish_due
from app.statistics.zones import GRID_ID, grid_codes_in
from tests.conftest import register

NOVEMBER = {"from": "2023-11-01", "to": "2023-11-30"}
NOVEMBER_DONE = datetime(2023, 12, 10, tzinfo=UTC)
WEEKDAYS = [20231100 + d for d in range(1, 31) if datetime(2023, 11, d).weekday() < 5]


def _square(i: int) -> dict[str, Any]:
    lon, lat = -1.2 + i * 0.02, 46.15
    ring = [[lon, lat], [lon + 0.02, lat], [lon + 0.02, lat + 0.02], [lon, lat + 0.02], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


QUARTIERS = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "geometry": _square(i), "properties": {"code": code, "name": f"quartier {code}"}}
        for i, code in enumerate(("Z1", "Z2", "Z3"))
    ],
}
# Who travels from where, by what (people, grid cell, zone of the quartiers, destination zone, mode): 15
# people drive from A, 3 from B and 9 from D (too few each: B's and D's totals are suppressed, together
# more than k), 13 from C, one of them by bus (too few: C's bus cell is suppressed, and another of C's
# cells with it, so that the bus is not the difference between C's total and its published modes).
GROUPS = [(15, "E380N6570", "Z1", "Z2", ["car"]), (3, "E381N6570", "Z3", "Z3", ["car"]),
          (9, "E383N6570", "Z3", "Z3", ["car"]), (12, "E382N6570", "Z2", "Z1", ["car"]),
          (1, "E382N6570", "Z2", "Z1", ["bus"])]  # fmt: skip


async def travellers(app: FastAPI, client: httpx.AsyncClient, quartiers: uuid.UUID) -> None:
    rows = []
    for count, cell, origin, destination, modes in GROUPS:
        for _ in range(count):
            person = await register(client)
            granted = await client.put(
                "/v1/me/consents/territory_statistics", headers=person.headers, json={"granted": True}
            )
            assert granted.status_code == 200
            for day, hour in itertools.product(WEEKDAYS, (8, 12, 18)):  # 60 trips a month after the cap
                for mode in modes:
                    for zone_set, o, d in ((GRID_ID, cell, cell), (quartiers, origin, destination)):
                        rows.append({"user_id": person.user_id, "zone_set_id": zone_set, "day": day, "hour": hour,
                                     "weekday": 0, "mode": mode, "origin_zone": o, "dest_zone": d, "trips": 1,
                                     "distance_m": 4000.0, "co2e_g": 760.0})  # fmt: skip
    async with app.state.db.session() as session:
        await session.execute(sa.insert(Rollup), rows)
        await session.commit()


async def quartiers_set(app: FastAPI, client: httpx.AsyncClient, headers: dict[str, str]) -> uuid.UUID:
    created = await client.post("/v1/operator/zone-sets?name=quartiers", headers=headers, json=QUARTIERS)
    assert created.status_code == 201, created.text
    for task in list(app.state.import_tasks):
        await task
    return uuid.UUID(created.json()["id"])


async def test_a_publication_map_counts_the_zones_it_leaves_out_and_names_the_hidden_modes(
    app: FastAPI, client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    quartiers = await quartiers_set(app, client, operator_headers)
    await travellers(app, client, quartiers)
    assert await publish_due(app.state.db, app.state.settings, now=NOVEMBER_DONE) >= 1
    answer = await client.get("/v1/operator/publications/grid-500m/2023-11/map", headers=operator_headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    async with app.state.db.session() as session:
        kept = await session.scalar(
            sa.select(Publication.body).where(Publication.zone_set_id == GRID_ID, Publication.month == 202311)
        )
    zones = {row["zone"]: row for row in kept["tables"]["zones"] if row["zone"] is not None}
    withheld = {code for code, row in zones.items() if row["total"]["suppressed"]}
    assert "E381N6570" in withheld  # three people: never drawn, but counted
    drawn = {f["id"]: f["properties"] for f in body["features"]}
    assert body["zones_hidden"] == len(withheld) and not withheld & set(drawn)
    assert set(drawn) | withheld == set(zones)
    for code, properties in drawn.items():
        suppressed = {m["mode"] for m in zones[code]["modes"] if m["suppressed"]}
        assert set(properties["modes_hidden"]) == suppressed
        assert not suppressed & set(properties["mode_share_trips"])  # hidden is not a share of zero
    assert "bus" in drawn["E382N6570"]["modes_hidden"] and len(drawn["E382N6570"]["modes_hidden"]) >= 2
    assert drawn["E380N6570"]["modes_hidden"] == [] and drawn["E380N6570"]["mode_share_trips"] == {"car": 1.0}


async def test_queries_count_the_zones_and_flows_that_do_not_stand_clear_of_the_noise(
    app: FastAPI, client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    quartiers = await quartiers_set(app, client, operator_headers)
    await travellers(app, client, quartiers)
    params = {**NOVEMBER, "zone_set": "quartiers", "epsilon": 4}
    zones = (await client.get("/v1/operator/stats/zones", headers=operator_headers, params=params)).json()
    # 15 people driving three times every weekday stand far clear of the noise (margins of 180 trips for
    # a zone, 135 for a flow, against 900); every zone is drawn or counted.
    assert "Z1" in {f["id"] for f in zones["features"]}
    assert zones["zones_hidden"] == 3 - len(zones["features"]) >= 0
    od = (await client.get("/v1/operator/stats/od", headers=operator_headers, params=params)).json()
    assert ("Z1", "Z2") in {(f["origin"], f["destination"]) for f in od["flows"]}
    assert od["flows_hidden"] == 4 * 4 - len(od["flows"]) > 0  # three zones and `outside`, both ways
    # The same question is answered again as it was, with its counts; answers kept from before the counts
    # were given get them too.
    again = (await client.get("/v1/operator/stats/od", headers=operator_headers, params=params)).json()
    assert again["release"]["replayed"] and again["flows_hidden"] == od["flows_hidden"]
    async with app.state.db.session() as session:
        for release in (await session.scalars(sa.select(PrivacyRelease))).all():
            body = {k: v for k, v in release.body.items() if k not in ("flows_hidden", "zones_hidden")}
            await session.execute(
                sa.update(PrivacyRelease).where(PrivacyRelease.id == release.id).values(body=body)
            )
        await session.commit()
    older = (await client.get("/v1/operator/stats/od", headers=operator_headers, params=params)).json()
    assert older["flows_hidden"] == od["flows_hidden"] and older["flows"] == od["flows"]
    older_zones = (
        await client.get("/v1/operator/stats/zones", headers=operator_headers, params=params)
    ).json()
    assert older_zones["zones_hidden"] == zones["zones_hidden"]
    # On the grid, every cell over the territory is measured: those not drawn are counted.
    grid = (await client.get("/v1/operator/stats/zones", headers=operator_headers,
                             params={**NOVEMBER, "epsilon": 2})).json()  # fmt: skip
    cells = list(grid_codes_in(app.state.settings.territory_bbox, 500))
    assert grid["zones_hidden"] == len(cells) - len(grid["features"]) > 1000
