"""The exact monthly publications: made once a month is over, never fewer than k people behind a figure,
and nothing hidden given away by differencing the linked tables (dates, places, the week that begins in
the previous month) even as data arrives late and people revoke; frozen once made.

An outsider's replay checks them: from the published numbers only, against the true per-person data read
straight from the rollups."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import subprocess
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.accounts import repository as accounts
from app.mobility.simulate import LegPlan, StayPlan, TripPlan, simulate
from app.models import AccessLogEntry, Consent, ConsentEvent, Publication, Rollup, Zone, ZoneSet
from app.statistics.disclosure import Caps
from app.statistics.publications import Audit, MonthInput, build, publish_due
from app.statistics.zones import GRID_ID, ZoneFormatError, parse_zones
from tests.conftest import Person, register
from tests.support.servers import COACHCO2
from tests.support.traces import payload, upload

K = 11
CAPS = (Caps().trips, Caps().distance_m, Caps().co2e_g)  # as the publications cap
OCTOBER_DONE = datetime(2023, 11, 10, tzinfo=UTC)  # October is due on 6 November (5 days after)
NOVEMBER_DONE = datetime(2023, 12, 10, tzinfo=UTC)
GRID_CODES = [f"E{380 + i}N{6570 + i % 3}" for i in range(7)]
PARENT_OF = {"Z1": "17300", "Z2": "17300", "Z3": "17000", "Z4": "17000", "Z5": "17200", "Z6": None}
MODES = {"car": 0.19, "bus": 0.11, "bike": 0.0, "walk": 0.0, "train": 0.03}


def _square(i: int) -> dict[str, Any]:
    lon, lat = -1.3 + i * 0.01, 46.1
    ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat + 0.01], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


COMMUNES = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "geometry": _square(i),
         "properties": {"code": code, "name": f"quartier {code}", **({"commune": p} if i % 2 else {"parent": p})}}
        for i, (code, p) in enumerate(PARENT_OF.items())
    ],
}  # fmt: skip


@pytest.fixture(autouse=True)
async def grid_stays_official(request: pytest.FixtureRequest) -> Any:
    """The grid is official for every other test, whatever these do to it."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    async with app.state.db.session() as session:
        await session.execute(sa.update(ZoneSet).where(ZoneSet.id == GRID_ID).values(official=True))
        await session.commit()


# -- the data: a month and a half of travel for a few dozen people -----------------------------------------


async def grant(client: httpx.AsyncClient, person: Person, granted: bool = True) -> None:
    response = await client.put(
        "/v1/me/consents/territory_statistics", headers=person.headers, json={"granted": granted}
    )
    assert response.status_code == 200


def travel(
    user: uuid.UUID, rng: random.Random, days: list[date], heavy: bool = False
) -> list[dict[str, Any]]:
    """Rollup rows of one person's trips (each on the grid and on the communes), as the worker writes them."""
    home = rng.randrange(len(GRID_CODES))
    liked = rng.sample(list(MODES), rng.randint(1, 3))
    rows: list[dict[str, Any]] = []
    for day in days:
        if rng.random() < 0.45:
            continue
        for n in range(rng.randint(2, 5) if heavy else rng.randint(1, 2)):
            mode = rng.choice(liked)
            at = home if rng.random() < 0.7 else rng.randrange(len(GRID_CODES))
            metres = rng.uniform(800, 90_000 if heavy else 18_000)
            legs = [(mode, 1, metres)] + (
                [("walk", 0, rng.uniform(100, 900))] if mode in ("bus", "train") else []
            )
            for leg_mode, trips, distance in legs:
                for zone_set, origin in (
                    (GRID_ID, GRID_CODES[at]),
                    ("communes", None if at == 6 else f"Z{at + 1}"),
                ):
                    rows.append({"user_id": user, "zone_set_id": zone_set, "day": day.year * 10000 + day.month * 100
                                 + day.day, "hour": 7 + n, "weekday": day.weekday(), "mode": leg_mode,
                                 "origin_zone": origin, "dest_zone": origin, "trips": trips, "distance_m": distance,
                                 "co2e_g": distance * MODES[leg_mode]})  # fmt: skip
    return rows


async def territory(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], n: int = 34
) -> dict[str, Any]:
    """`n` consenting people (one very mobile, whose contribution is capped), two who never consented, a
    resident whose day goes through the real pipeline, and the communes as an official zone set."""
    created = await client.post("/v1/operator/zone-sets?name=communes", headers=admin, json=COMMUNES)
    assert created.status_code == 201, created.text
    for task in list(app.state.import_tasks):
        await task
    communes = uuid.UUID(created.json()["id"])
    assert (await client.put(f"/v1/operator/zone-sets/{communes}/official", headers=admin)).status_code == 200
    rng = random.Random(2023)
    days = [date(2023, 10, 16) + timedelta(days=i) for i in range(46)]  # 16 October to 30 November
    crowd, rows = [], []
    for i in range(n + 2):
        person = await register(client)
        if i < n:
            await grant(client, person)
            crowd.append(person)
        rows += travel(person.user_id, rng, days, heavy=i == 0)
    for row in rows:
        row["zone_set_id"] = communes if row["zone_set_id"] == "communes" else row["zone_set_id"]
    async with app.state.db.session() as session:
        await session.execute(sa.insert(Rollup), rows)
        await session.commit()
    # One more resident, through the real pipeline: a day by car in November (outside the communes).
    resident = await register(client)
    await grant(client, resident)
    async with app.state.db.session() as session:
        await session.execute(
            sa.update(ConsentEvent).where(ConsentEvent.user_id == resident.user_id)
            .values(at=datetime(2020, 1, 1, tzinfo=UTC))
        )  # fmt: skip
        await session.commit()
    plan = [StayPlan(1800), TripPlan((LegPlan("car", 6000),)), StayPlan(1800)]
    await upload(client, resident, payload(simulate(plan, seed=7, sampling_s=10.0)))
    await app.state.worker.run_until_idle()
    return {"crowd": [*crowd, resident], "outsiders": [], "communes": communes}


async def truth(app: FastAPI, zone_set_id: uuid.UUID) -> dict[tuple[Any, ...], dict[Any, np.ndarray]]:
    """Per cell of the publications' tables, per person: their capped contribution, from the rollups of
    people whose consent stands (read here, independently of the module)."""
    async with app.state.db.session() as session:
        rows = (
            await session.execute(
                sa.select(
                    Rollup.day,
                    Rollup.origin_zone,
                    Rollup.mode,
                    Rollup.user_id,
                    Rollup.trips,
                    Rollup.distance_m,
                    Rollup.co2e_g,
                )
                .join(
                    Consent,
                    sa.and_(Consent.user_id == Rollup.user_id, Consent.purpose == "territory_statistics"),
                )
                .where(Consent.granted.is_(True), Rollup.zone_set_id == zone_set_id)
            )
        ).all()
    totals: dict[tuple[int, Any], np.ndarray] = {}
    for day, _, _, person, *values in rows:
        totals.setdefault((day // 100, person), np.zeros(3))
        totals[(day // 100, person)] += values
    cells: dict[tuple[Any, ...], dict[Any, np.ndarray]] = {}

    def put(key: tuple[Any, ...], person: Any, vec: np.ndarray) -> None:
        cells.setdefault(key, {}).setdefault(person, np.zeros(3))
        cells[key][person] += vec

    parents = zone_set_id != GRID_ID
    for day, origin, mode, person, *values in rows:
        month = day // 100
        vec = np.array(values, dtype=float) * np.minimum(
            1.0, np.array(CAPS) / np.maximum(totals[(month, person)], 1e-9)
        )
        d = date(day // 10000, month % 100, day % 100)
        sunday = d + timedelta(days=6 - d.weekday())
        for m in (mode, "*"):
            put((month, "day", day, m), person, vec)
            put((month, "month", m), person, vec)
            put((_int(sunday) // 100, "week", (sunday - timedelta(days=6)).isoformat(), m), person, vec)
            put((month, "zone", origin, m), person, vec)
            if parents:
                put((month, "parent", PARENT_OF.get(origin), m), person, vec)
    return cells


# -- an outsider's replay --------------------------------------------------------------------------------


def _int(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


def published(body: dict[str, Any]) -> dict[tuple[Any, ...], tuple[np.ndarray | None, int | None]]:
    """The cells of a publication: key -> (figures, or None when suppressed; people)."""
    month = int(body["month"].replace("-", ""))
    tables = body["tables"]
    out = {}

    def add(prefix: tuple[Any, ...], row: dict[str, Any]) -> None:
        for mode, cell in [("*", row["total"]), *((c["mode"], c) for c in row["modes"])]:
            if cell is not None:
                figures = (
                    None
                    if cell["suppressed"]
                    else np.array([cell["trips"], cell["passenger_km"] * 1000, cell["co2e_g"]])
                )
                out[(month, *prefix, mode)] = (figures, cell["people"])

    for row in tables["days"]:
        add(("day", _int(date.fromisoformat(row["day"]))), row)
    for row in tables["weeks"]:
        add(("week", row["from"]), row)
    add(("month",), tables["month"])
    for row in tables["zones"]:
        add(("zone", row["zone"]), row)
    for row in tables["parents"]:
        add(("parent", row["parent"]), row)
    return out


def relations(
    body: dict[str, Any], cells: dict[tuple[Any, ...], Any]
) -> list[tuple[tuple[Any, ...], list[Any]]]:
    """Every (total, components) an outsider can write down from a publication's tables."""
    month = int(body["month"].replace("-", ""))
    modes = sorted({key[-1] for key in cells if key[0] == month and key[-1] != "*"})
    found = []

    def rel(total: tuple[Any, ...], comps: list[tuple[Any, ...]]) -> None:
        comps = [c for c in comps if c in cells]
        if total in cells and comps:
            found.append((total, comps))

    tables = body["tables"]
    days = [_int(date.fromisoformat(r["day"])) for r in tables["days"]]
    zones = [r["zone"] for r in tables["zones"]]
    parents = [r["parent"] for r in tables["parents"]]
    for v in [*modes, "*"]:
        rel((month, "month", v), [(month, "day", d, v) for d in days])
        rel((month, "month", v), [(month, "zone", z, v) for z in zones])
        if parents:
            rel((month, "month", v), [(month, "parent", p, v) for p in parents])
            for p in parents:
                rel(
                    (month, "parent", p, v),
                    [(month, "zone", r["zone"], v) for r in tables["zones"] if r["parent"] == p],
                )
        for w in tables["weeks"]:
            start = date.fromisoformat(w["from"])
            wdays = [_int(start + timedelta(days=i)) for i in range(7)]
            # a day of an earlier month that changed since its publication is, in the week, a new unknown
            comps = [(d // 100, "day", d, v) for d in wdays]
            rel((month, "week", w["from"], v), [("now", c) if ("now", c) in cells else c for c in comps])
    for prefix in [*(("day", d) for d in days), *(("week", w["from"]) for w in tables["weeks"]), ("month",),
                   *(("zone", z) for z in zones), *(("parent", p) for p in parents)]:  # fmt: skip
        rel((month, *prefix, "*"), [(month, *prefix, m) for m in modes])
    return found


ROUNDING = np.array([0.05, 50.0, 0.05])  # published figures are rounded to 0.1 trip, 0.1 km, 0.1 g


def replay(
    bodies: list[dict[str, Any]],
    true: dict[tuple[Any, ...], dict[Any, np.ndarray]],
    changed: set[Any] = frozenset(),
    since: dict[tuple[Any, ...], dict[Any, np.ndarray]] | None = None,
) -> int:
    """Everything an outsider can do with a chain of publications (oldest first): no published figure of
    fewer than k people; no total minus its published components, nor the difference of two such, that
    equals a hidden cell or stands for fewer than k people; no hidden cell determined by all the relations
    at once (a rank test per cell). Returns how many hidden cells were checked."""
    cells: dict[tuple[Any, ...], tuple[np.ndarray | None, int | None]] = {}
    for body in bodies:
        cells.update(published(body))
    for key in true:  # days of a month never published, in a week of the first publication: unknowns
        if key[1] == "day" and key not in cells and key[0] < int(bodies[0]["month"].replace("-", "")):
            cells[key] = (None, None)
    for key, now in (since or {}).items():  # cells that changed since published, as they are now
        cells[("now", key)] = (None, None)
        true = {**true, ("now", key): now}
    rels = [r for body in bodies for r in relations(body, cells)]
    hidden = sorted((key for key, (figures, _) in cells.items() if figures is None), key=str)
    value = {h: sum(true.get(h, {}).values(), np.zeros(3)) for h in hidden}

    latest = int(bodies[-1]["month"].replace("-", ""))

    def people(keys: Any, month: int) -> set[Any]:
        """Who stands behind some cells; for the latest publication, not those who changed since the one
        before (their change is what must not come out)."""
        behind = set().union(*(set(true.get(key, {})) for key in keys))
        return behind - changed if month == latest else behind

    def equals_hidden(vec: np.ndarray, terms: int) -> list[Any]:
        return [h for h, hv in value.items() if (np.abs(vec - hv) <= ROUNDING * terms + 1e-6).all()]

    for key, (figures, n) in cells.items():
        if figures is not None:
            assert n == len(true[key]) >= K, key
            assert (np.abs(figures - sum(true[key].values())) <= ROUNDING + 1e-6).all(), key
    known = []
    for total, comps in rels:
        figures = cells[total][0]
        if figures is None:
            continue
        concealed = [c for c in comps if cells[c][0] is None]
        residual = figures - sum((cells[c][0] for c in comps if cells[c][0] is not None), np.zeros(3))
        terms = 1 + len(comps) - len(concealed)
        assert len(concealed) != 1, (total, concealed)
        if concealed:
            assert len(people(concealed, total[0])) >= K, (total, concealed)
            assert not equals_hidden(residual, terms), (total, equals_hidden(residual, terms))
        known.append((frozenset(concealed), residual, terms, total[0]))
    for (outer, r_outer, t_outer, m_outer), (inner, r_inner, t_inner, m_inner) in itertools.permutations(
        known, 2
    ):
        if inner and inner < outer:
            rest = outer - inner
            assert len(rest) >= 2 and len(people(rest, max(m_outer, m_inner))) >= K, sorted(rest, key=str)
            assert not equals_hidden(r_outer - r_inner, t_outer + t_inner)
    column = {h: j for j, h in enumerate(hidden)}
    rows = []
    for total, comps in rels:
        row = np.zeros(len(hidden))
        for key, sign in [(total, 1.0), *((c, -1.0) for c in comps)]:
            if key in column:
                row[column[key]] += sign
        if row.any():
            rows.append(row)
    a = np.array(rows).reshape(-1, len(hidden))
    rank = int(np.linalg.matrix_rank(a)) if a.size else 0
    # A hidden cell is determined iff its unit vector lies in the row space (adding it leaves the rank as
    # it is): with an orthonormal basis of the row space, iff the basis spans it whole.
    basis = np.linalg.svd(a, full_matrices=False)[2][:rank] if rank else np.zeros((0, len(hidden)))
    for h, j in column.items():
        assert np.linalg.norm(basis[:, j]) < 1 - 1e-6, f"{h} is determined by the relations"
    for j in range(0, len(hidden), 25):  # the same, by rank, for a sample
        unit = np.zeros((1, len(hidden)))
        unit[0, j] = 1.0
        assert np.linalg.matrix_rank(np.vstack([a, unit])) == rank + 1
    return len(hidden)


async def stored(
    client: httpx.AsyncClient, headers: dict[str, str], zone_set: str, month: str
) -> httpx.Response:
    response = await client.get(f"/v1/operator/publications/{zone_set}/{month}", headers=headers)
    assert response.status_code == 200, response.text
    return response


# -- the tests ---------------------------------------------------------------------------------------------


async def test_months_are_published_once_over_and_nothing_hidden_can_be_recovered(
    app: FastAPI, client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    place = await territory(app, client, operator_headers)
    settings = app.state.settings
    assert await publish_due(app.state.db, settings, now=datetime(2023, 11, 3, tzinfo=UTC)) == 0  # not yet
    assert await publish_due(app.state.db, settings, now=NOVEMBER_DONE) == 4  # October, November; 2 sets
    assert await publish_due(app.state.db, settings, now=NOVEMBER_DONE) == 0  # once only
    listed = (await client.get("/v1/operator/publications", headers=operator_headers)).json()["publications"]
    assert [(p["zone_set"], p["month"]) for p in listed] == [
        ("communes", "2023-10"), ("communes", "2023-11"), ("grid-500m", "2023-10"), ("grid-500m", "2023-11"),
    ]  # fmt: skip
    assert all(p["created_at"].endswith("Z") and p["cells_published"] > 0 for p in listed)
    for name, zone_set_id in (("grid-500m", GRID_ID), ("communes", place["communes"])):
        true = await truth(app, zone_set_id)
        bodies = [(await stored(client, operator_headers, name, m)).json() for m in ("2023-10", "2023-11")]
        november = bodies[1]
        assert november["k"] == K and november["caps"]["passenger_km"] == CAPS[1] / 1000
        assert {w["week"] for w in november["tables"]["weeks"]} == {
            "2023-W44",
            "2023-W45",
            "2023-W46",
            "2023-W47",
        }
        assert november["tables"]["weeks"][0]["from"] == "2023-10-30"  # begins in October
        suppressed = [
            c for row in november["tables"]["days"] for c in [row["total"], *row["modes"]] if c["suppressed"]
        ]
        assert suppressed and all(c["trips"] is None and c["reason"] for c in suppressed)
        assert any("fewer than 11 people" in c["reason"] for c in suppressed)
        # date differencing (days in the month, days in weeks, the week begun in October), place
        # differencing (zones in the month, zones in communes, communes in the month), and the rank test
        assert replay(bodies, true) > 0
        assert "carry" not in november
        # A zone whose total is withheld is not listed at all: where a few people travelled stays unsaid.
        assert all(not z["total"]["suppressed"] for z in november["tables"]["zones"])
        assert all(not p["total"]["suppressed"] for p in november["tables"]["parents"])
        async with app.state.db.session() as session:
            kept = await session.scalar(
                sa.select(Publication.body).where(
                    Publication.zone_set_id == zone_set_id, Publication.month == 202311
                )
            )
        withheld = [z for z in kept["tables"]["zones"] if z["total"]["suppressed"]]
        assert len(november["tables"]["zones"]) == len(kept["tables"]["zones"]) - len(withheld)
        assert withheld or name == "communes"  # on the grid, some cells have too few travellers
        month = november["tables"]["month"]["total"]
        assert month["people"] == len(place["crowd"])  # the resident too, outside every commune
    communes = (await stored(client, operator_headers, "communes", "2023-11")).json()["tables"]
    assert {p["parent"] for p in communes["parents"]} == {"17300", "17000", "17200", None}
    assert {z["zone"]: z["parent"] for z in communes["zones"]}["Z1"] == "17300"
    assert None in {z["zone"] for z in communes["zones"]}  # the resident's car trip, outside every zone


async def test_publications_are_frozen_and_the_week_begun_before_gives_away_no_change(
    app: FastAPI, client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    place = await territory(app, client, operator_headers)
    db, settings = app.state.db, app.state.settings
    assert await publish_due(db, settings, now=OCTOBER_DONE) == 2
    october = (await stored(client, operator_headers, "grid-500m", "2023-10")).content
    true_then = await truth(app, GRID_ID)
    # After October's publication: one of those who travelled on 30-31 October revokes, another's late
    # trip of 31 October arrives.
    async with db.session() as session:
        ids = {p.user_id: p for p in place["crowd"]}
        travelled = set(await session.scalars(
            sa.select(Rollup.user_id).where(Rollup.day.in_([20231030, 20231031]), Rollup.zone_set_id == GRID_ID)
        ))  # fmt: skip
        travellers = [p.user_id for p in place["crowd"] if p.user_id in travelled]
        revoked, late = ids[travellers[0]], ids[travellers[-1]]
        await session.execute(sa.insert(Rollup), [
            {"user_id": late.user_id, "zone_set_id": z, "day": 20231031, "hour": 20, "weekday": 1, "mode": "bike",
             "origin_zone": o, "dest_zone": o, "trips": 1, "distance_m": 4321.0, "co2e_g": 0.0}
            for z, o in ((GRID_ID, GRID_CODES[0]), (place["communes"], "Z1"))
        ])  # fmt: skip
        await session.commit()
    await grant(client, revoked, False)
    assert await publish_due(db, settings, now=NOVEMBER_DONE) == 2
    assert (await stored(client, operator_headers, "grid-500m", "2023-10")).content == october
    november = (await stored(client, operator_headers, "grid-500m", "2023-11")).json()
    # The week of 30 October - 5 November, minus its published days (October's as October's publication
    # has them): never the revoked person's October days, nor the late trip, nor fewer than k people.
    true_now = await truth(app, GRID_ID)
    october_body = (await stored(client, operator_headers, "grid-500m", "2023-10")).json()
    cells = {**published(october_body), **published(november)}
    week = november["tables"]["weeks"][0]
    start = date.fromisoformat(week["from"])
    first_days = [_int(start + timedelta(days=i)) for i in range(7)]
    for mode in [*{m["mode"] for m in week["modes"]}, "*"]:
        total = cells.get((202311, "week", week["from"], mode))
        if total is None or total[0] is None:
            continue
        residual, unknown = total[0].copy(), set()
        for d in first_days:
            key = (d // 100, "day", d, mode)
            if key in cells and cells[key][0] is not None:
                residual -= cells[key][0]
                if d // 100 == 202310:  # frozen since: what changed is in the residual
                    then, now = true_then.get(key, {}), true_now.get(key, {})
                    unknown |= {
                        p for p in set(then) | set(now) if not np.allclose(then.get(p, 0), now.get(p, 0))
                    }
            else:
                unknown |= set(true_now.get(key, {}))
        assert not unknown or len(unknown) >= K or np.abs(residual).max() < 0.5, (
            mode,
            len(unknown),
            residual,
        )
        for person in (revoked.user_id, late.user_id):
            contribution = sum((true_then.get((d // 100, "day", d, mode), {}).get(person, np.zeros(3))
                                for d in first_days if d < 20231101), np.zeros(3))  # fmt: skip
            assert not contribution.any() or not np.allclose(np.abs(residual), contribution, atol=1.0)
    # November alone, with October as frozen, passes the outsider's replay (October's cells as they were).
    as_published = {k: v for k, v in true_then.items() if k[0] == 202310}
    as_published |= {k: v for k, v in true_now.items() if k[0] == 202311}
    since = {
        key: now
        for key, now in true_now.items()
        if key[:2] == (202310, "day")
        and key[2] >= 20231030
        and (
            set(now) != set(true_then.get(key, {}))
            or not all(np.allclose(v, true_then[key][p]) for p, v in now.items())
        )
    }
    assert since  # the revocation and the late trip changed some of 30-31 October's cells
    assert replay(
        [october_body, november], as_published, changed={revoked.user_id, late.user_id}, since=since
    )
    # Later data and revocations change nothing published.
    frozen = (await stored(client, operator_headers, "grid-500m", "2023-11")).content
    async with db.session() as session:
        await session.execute(sa.insert(Rollup), [
            {"user_id": late.user_id, "zone_set_id": GRID_ID, "day": 20231115, "hour": 9, "weekday": 2,
             "mode": "car", "origin_zone": GRID_CODES[1], "dest_zone": GRID_CODES[1], "trips": 3,
             "distance_m": 30_000.0, "co2e_g": 5_000.0}])  # fmt: skip
        await session.commit()
    await grant(client, place["crowd"][3], False)
    assert await publish_due(db, settings, now=NOVEMBER_DONE + timedelta(days=3)) == 0
    assert (await stored(client, operator_headers, "grid-500m", "2023-11")).content == frozen


async def test_everyone_counted_finds_the_publication_in_their_access_log(
    app: FastAPI, client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    place = await territory(app, client, operator_headers, n=20)
    assert await publish_due(app.state.db, app.state.settings, now=OCTOBER_DONE) == 2
    async with app.state.db.session() as session:
        logged = (await session.execute(sa.select(AccessLogEntry.user_id, AccessLogEntry.actor,
                                                  AccessLogEntry.action, AccessLogEntry.reason))).all()  # fmt: skip
        outsiders = set(await session.scalars(sa.select(Rollup.user_id))) - {
            p.user_id for p in place["crowd"]
        }
    assert logged and {(a, b) for _, a, b, _ in logged} == {("territory publication", "aggregate")}
    assert any("2023-10" in reason and "grid-500m" in reason for *_, reason in logged)
    assert len(outsiders) == 2 and not outsiders & {u for u, *_ in logged}  # never consented: never counted
    mine = (await client.get("/v1/me/access-log", headers=place["crowd"][1].headers)).json()["entries"]
    assert any(e["actor"] == "territory publication" for e in mine)


async def test_official_zone_sets_are_the_administrators_and_publications_answer_clearly(
    app: FastAPI, client: httpx.AsyncClient, operator_headers: dict[str, str], alice: Person
) -> None:
    async with app.state.db.session() as session:
        _, secret = await accounts.create_operator(session, "reader", accounts.ANALYST)
        await session.commit()
    analyst = {"Authorization": f"Bearer {secret}"}
    created = await client.post(
        "/v1/operator/zone-sets?name=communes", headers=operator_headers, json=COMMUNES
    )
    zone_set_id = created.json()["id"]
    for task in list(app.state.import_tasks):
        await task
    official = f"/v1/operator/zone-sets/{zone_set_id}/official"
    assert (await client.put(official, headers=analyst)).status_code == 403
    assert (await client.delete(official, headers=analyst)).status_code == 403
    assert (await client.put(official, headers=alice.headers)).status_code == 403
    assert (await client.get("/v1/operator/publications", headers=alice.headers)).status_code == 403
    unknown = f"/v1/operator/zone-sets/{uuid.uuid4()}/official"
    assert (await client.put(unknown, headers=operator_headers)).status_code == 404
    assert (await client.delete(unknown, headers=operator_headers)).status_code == 404
    made = await client.put(official, headers=operator_headers)
    assert made.status_code == 200 and made.json() == {
        "id": zone_set_id,
        "name": "communes",
        "official": True,
    }
    assert (await client.put(official, headers=operator_headers)).status_code == 200  # again: no change
    async with app.state.db.session() as session:
        query = sa.select(Zone.code, Zone.parent).where(Zone.zone_set_id == uuid.UUID(zone_set_id))
        parents = {code: parent for code, parent in (await session.execute(query)).all()}
    assert parents == PARENT_OF
    # A zone set whose past trips are not all assigned yet waits; the grid does not.
    person = await register(client)
    await grant(client, person)
    async with app.state.db.session() as session:
        await session.execute(sa.insert(Rollup), [
            {"user_id": person.user_id, "zone_set_id": GRID_ID, "day": 20231105 + i, "hour": 8, "weekday": 0,
             "mode": "car", "origin_zone": GRID_CODES[0], "dest_zone": GRID_CODES[0], "trips": 1,
             "distance_m": 1000.0, "co2e_g": 190.0} for i in range(3)])  # fmt: skip
        await session.execute(sa.insert(Rollup), [
            {"user_id": person.user_id, "zone_set_id": uuid.UUID(zone_set_id), "day": 20231105, "hour": 8,
             "weekday": 0, "mode": "car", "origin_zone": "Z1", "dest_zone": "Z1", "trips": 1, "distance_m": 1000.0,
             "co2e_g": 190.0}])  # fmt: skip
        await session.commit()
    assert await publish_due(app.state.db, app.state.settings, now=NOVEMBER_DONE) == 1
    month = (await stored(client, operator_headers, "grid-500m", "2023-11")).json()["tables"]["month"]
    assert month["total"]["suppressed"] is True and month["total"]["reason"] == "fewer than 11 people"
    # Withdrawn: no more publications; those made stay.
    assert (
        await client.delete(f"/v1/operator/zone-sets/{GRID_ID}/official", headers=operator_headers)
    ).status_code == 204
    assert await publish_due(app.state.db, app.state.settings, now=datetime(2024, 1, 10, tzinfo=UTC)) == 0
    assert (await client.get("/v1/operator/publications", headers=analyst)).json()["publications"][0][
        "month"
    ] == "2023-11"
    actions = (await client.get("/v1/operator/actions", headers=analyst)).json()["actions"]
    assert [a["action"] for a in actions][:3] == [
        "zone_set.unofficial",
        "zone_set.official",
        "zone_set.upload",
    ]
    async with app.state.db.session() as session:
        assert (await session.get(ZoneSet, GRID_ID)).official is False  # type: ignore[union-attr]
        assert await session.scalar(sa.select(sa.func.count()).select_from(Publication)) == 1
    # 404s and malformed months
    assert (await client.get("/v1/operator/publications/nowhere/2023-11", headers=analyst)).status_code == 404
    for month_text in ("2023-10", "0001-01", "9999-12"):
        response = await client.get(f"/v1/operator/publications/grid-500m/{month_text}", headers=analyst)
        assert response.status_code == 404 and response.json()["type"] == "/problems/not-found", month_text
    for month_text in ("2023-13", "2023-00", "0000-01", "10000-01", "2023-1", "2023-11-01", "nov"):
        response = await client.get(f"/v1/operator/publications/grid-500m/{month_text}", headers=analyst)
        assert response.status_code == 422, month_text
        assert response.json()["errors"][0]["field"] == "month"


def test_zones_may_name_their_parent() -> None:
    shapes = parse_zones(COMMUNES)
    assert {z.code: z.parent for z in shapes} == PARENT_OF
    for bad, message in (("x" * 65, "longer than 64"), ("a\x00b", "NUL"), (["17300"], "must be a string")):
        document = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": _square(0), "properties": {"code": "A", "parent": bad}}]}  # fmt: skip
        with pytest.raises(ZoneFormatError, match=message):
            parse_zones(document)
    numeric = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": _square(0), "properties": {"code": "A", "commune": 17300}}]}  # fmt: skip
    assert parse_zones(numeric)[0].parent == "17300"


def test_the_audit_finds_exactly_the_cells_linear_algebra_determines() -> None:
    """The audit solves the place relations as a graph (bridges) and the time relations densely, linked by
    the month's cells: on random tables and random hidden cells it finds exactly what a rank test per
    cell over every relation at once finds."""
    for trial in range(60):
        rng = random.Random(trial)
        modes = ["car", "bus", "bike", "walk"][: rng.randint(1, 4)]
        zones = [f"Z{i}" for i in range(rng.randint(1, 7))]
        parents = {z: rng.choice(["A", "B", None]) for z in zones} if trial % 2 else None
        days, origins = [], []
        for user in range(rng.randint(2, 12)):
            for _ in range(rng.randint(1, 6)):
                day, mode, zone = 20231100 + rng.randint(1, 30), rng.choice(modes), rng.choice([*zones, None])
                days.append((day, mode, user, 1, 1000.0, 10.0))
                origins.append((zone, mode, user, 1, 1000.0, 10.0))
        model = build(MonthInput("x", 202311, days, origins, [], [], parents, None), 2)
        audit = Audit(model, 2)
        share = rng.random()
        for i in range(audit.n):
            audit.hidden[i] = model.linked.hidden[i] = rng.random() < share
        hidden = sorted(np.flatnonzero(audit.hidden).tolist())
        column = {c: j for j, c in enumerate(hidden)}
        rows = []
        for rel in model.relations:
            row = np.zeros(len(hidden))
            for c, sign in [(rel.total, 1.0), *((c, -1.0) for c in rel.comps.tolist())]:
                if c in column:
                    row[column[c]] += sign
            if row.any():
                rows.append(row)
        expected = set()
        if rows:
            a = np.array(rows)
            rank = int(np.linalg.matrix_rank(a))
            for c, j in column.items():
                unit = np.zeros((1, len(hidden)))
                unit[0, j] = 1.0
                if np.linalg.matrix_rank(np.vstack([a, unit])) == rank:
                    expected.add(c)
        assert set(audit.determined()) == expected, trial


async def test_the_command_line_publishes_what_is_due(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    today = datetime.now(UTC).date()
    month = date(today.year - (today.month <= 2), (today.month - 3) % 12 + 1, 10)  # two months ago: due
    rows = []
    for _ in range(12):
        person = await register(client)
        await grant(client, person)
        rows.append({"user_id": person.user_id, "zone_set_id": GRID_ID, "day": _int(month), "hour": 8,
                     "weekday": month.weekday(), "mode": "car", "origin_zone": GRID_CODES[0],
                     "dest_zone": GRID_CODES[0], "trips": 1, "distance_m": 5000.0, "co2e_g": 950.0})  # fmt: skip
    async with app.state.db.session() as session:
        await session.execute(sa.insert(Rollup), rows)
        await session.commit()
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [COACHCO2, "publications", "publish"]
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert f"published grid-500m {month:%Y-%m}: " in done.stdout and "publication(s) made" in done.stdout
