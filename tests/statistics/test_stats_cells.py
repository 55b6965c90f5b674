"""The territory's monthly totals (`stats_cells`), kept up to date as people's rollups, consents and accounts
change, give the same releases as bounding every person's rollups at the time of the release: the same
sums per cell after the per-person-month caps, the same counts of people, the same people counted.

Generated people on both databases: some far above the caps, some who never consented, some who revoke,
grant again or erase their account, rollups rewritten month by month as the worker rewrites them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa
from fastapi import FastAPI

from app.mobility.types import MODES
from app.models import Consent, ConsentEvent, Rollup, StatsCell, StatsPersonMonth, User
from app.selfdata import repository as selfdata
from app.statistics import privacy
from app.statistics import repository as store
from app.statistics.service import CAPS, Question, Scope, period_of, periods, read_contributions
from app.statistics.zones import GRID_ID

SOME_MODES = ["car", "walk", "bike", "bus", "train", "ebike"]
MONTHS = [202309, 202310, 202311, 202312]
AT = datetime(2023, 1, 1, tzinfo=UTC)


async def _person(session: Any, consent: bool) -> uuid.UUID:
    user_id = uuid.uuid4()
    session.add(User(id=user_id, created_at=AT))
    await session.flush()
    if consent:
        event = ConsentEvent(
            id=uuid.uuid4(), user_id=user_id, purpose=store.PURPOSE, granted=True, at=AT, receipt={}
        )
        await selfdata.set_consent(session, user_id, store.PURPOSE, True, event)
    return user_id


def _rollups(
    user_id: uuid.UUID, months: list[int], heavy: bool, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """A person's rollup rows over some months: a few trips a month, or far more than the caps."""
    rows = []
    for month in months:
        for _ in range(int(rng.integers(90, 170) if heavy else rng.integers(1, 8))):
            mode = str(rng.choice(SOME_MODES))
            km = float(rng.uniform(0.5, 60.0 if heavy else 15.0))
            row = {
                "user_id": user_id, "zone_set_id": GRID_ID, "day": month * 100 + int(rng.integers(1, 29)),
                "hour": int(rng.integers(0, 24)), "weekday": 0, "origin_zone": "E1N1", "dest_zone": "E1N2",
            }  # fmt: skip
            rows.append({**row, "mode": mode, "trips": 1, "distance_m": km * 1000, "co2e_g": km * 150.7})
            if mode in ("bus", "train"):
                rows.append({**row, "mode": "walk", "trips": 0, "distance_m": 400.0, "co2e_g": 0.0})
    return rows


async def _write(
    session: Any, user_id: uuid.UUID, months: list[int], heavy: bool, rng: np.random.Generator
) -> None:
    """What the worker does for a person's changed months: replace their rollups, then the monthly ones."""
    days = sa.and_(Rollup.day >= min(months) * 100, Rollup.day < max(months) * 100 + 100)
    await session.execute(sa.delete(Rollup).where(Rollup.user_id == user_id, days))
    rows = _rollups(user_id, months, heavy, rng)
    if rows:
        await session.execute(sa.insert(Rollup), rows)
    await store.rebuild_monthly(session, user_id, set(months), None)


def _question(dims: tuple[str, ...], day_from: int, day_to: int) -> Question:
    starts = periods(day_from, day_to, "month")
    if dims == ("day", "mode"):
        return Question(
            "modal-share", {"period": "month"}, dims, [(p, m) for p in starts for m in MODES],
            key_of=lambda row: (period_of(row[0], "month"), row[1]), measures=("trips",), monthly=True,
        )  # fmt: skip
    return Question(
        "timeseries", {"period": "month"}, dims, starts, key_of=lambda row: period_of(row[0], "month"),
        measures=("trips",), monthly=True,
    )  # fmt: skip


async def _both(app: FastAPI, dims: tuple[str, ...], day_from: int, day_to: int) -> tuple[Any, Any]:
    """A release's bounded sums from the kept totals, and from every person's monthly rollups."""
    question = _question(dims, day_from, day_to)
    zone_set = await _grid(app)
    sc = Scope(zone_set, day_from, day_to, None, 1.0)
    n = len(dims)
    async with app.state.db.session() as session:
        rows, totals, counted = await read_contributions(session, sc, question)
        reference = await store.person_month_rows(session, GRID_ID, day_from, day_to, dims, None, True)
        await session.commit()
    assert totals, "whole months are read from the kept totals"
    if day_from % 100 != 1:
        assert rows, "people above the caps in a partial month are bounded person by person"
    kept = privacy.bound(question.keys, [(question.key_of(r[:n]), *r[n:]) for r in rows], CAPS)
    privacy.add_bounded(kept, [(question.key_of(r[:n]), *r[n:]) for r in totals], counted)
    computed = privacy.bound(question.keys, [(question.key_of(r[:n]), *r[n:]) for r in reference], CAPS)
    return kept, computed


async def _grid(app: FastAPI) -> Any:
    async with app.state.db.session() as session:
        zone_set = await store.zone_set(session, GRID_ID)
        await session.commit()
    return zone_set


async def _assert_same(app: FastAPI) -> None:
    for dims in (("day", "mode"), ("day",)):
        for day_from, day_to in ((20230901, 20231231), (20230915, 20231210), (20231001, 20231130)):
            kept, computed = await _both(app, dims, day_from, day_to)
            for name in ("trips", "passenger_km", "co2e_g", "people"):
                assert kept.values[name].tolist() == computed.values[name].tolist(), (name, dims, day_from)
            assert kept.people == computed.people
            assert computed.values["trips"].sum() > 0


async def _cells_from_scratch(app: FastAPI) -> dict[Any, list[int]]:
    async with app.state.db.session() as session:
        kept = {
            (z, m, mode, shard): [p, t, d, c]
            for z, m, mode, shard, p, t, d, c in (await session.execute(sa.select(
                StatsCell.zone_set_id, StatsCell.month, StatsCell.mode, StatsCell.shard, StatsCell.people,
                StatsCell.milli_trips, StatsCell.distance_m, StatsCell.co2e_g))).all()
            if (p, t, d, c) != (0, 0, 0, 0)
        }  # fmt: skip
        months = set(
            (await session.execute(sa.select(StatsPersonMonth.user_id, StatsPersonMonth.month))).all()
        )
        await store.rebuild_cells_everyone(session)
        again = {
            (z, m, mode, shard): [p, t, d, c]
            for z, m, mode, shard, p, t, d, c in (await session.execute(sa.select(
                StatsCell.zone_set_id, StatsCell.month, StatsCell.mode, StatsCell.shard, StatsCell.people,
                StatsCell.milli_trips, StatsCell.distance_m, StatsCell.co2e_g))).all()
        }  # fmt: skip
        months_again = set(
            (await session.execute(sa.select(StatsPersonMonth.user_id, StatsPersonMonth.month))).all()
        )
        await session.rollback()
    assert months == months_again
    return {"kept": kept, "again": again}


async def test_kept_totals_answer_as_every_person_bounded_at_release_time(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    rng = np.random.default_rng(7)
    people: list[tuple[uuid.UUID, bool]] = []
    async with app.state.db.session() as session:
        for i in range(36):
            heavy = i % 6 == 0
            user_id = await _person(session, consent=i % 9 != 4)
            await _write(session, user_id, MONTHS, heavy, rng)
            people.append((user_id, heavy))
        await session.commit()
    await _assert_same(app)

    async with app.state.db.session() as session:
        # The worker rewrites some people's months: fewer trips, more, none at all.
        for user_id, heavy in people[::4]:
            await _write(session, user_id, [202310], not heavy, rng)
        for user_id, _ in people[1::7]:
            await _write(session, user_id, [202311], False, rng)
        await session.execute(sa.delete(Rollup).where(Rollup.user_id == people[2][0]))
        await store.rebuild_monthly(session, people[2][0], None, None)
        # Revoking, granting again, erasing.
        for user_id, _ in (people[3], people[6], people[12]):
            event = ConsentEvent(
                id=uuid.uuid4(), user_id=user_id, purpose=store.PURPOSE, granted=False, at=AT, receipt={}
            )
            await selfdata.set_consent(session, user_id, store.PURPOSE, False, event)
        event = ConsentEvent(
            id=uuid.uuid4(), user_id=people[6][0], purpose=store.PURPOSE, granted=True, at=AT, receipt={}
        )
        await selfdata.set_consent(session, people[6][0], store.PURPOSE, True, event)
        # Granting what was already granted moves nothing.
        event = ConsentEvent(
            id=uuid.uuid4(), user_id=people[0][0], purpose=store.PURPOSE, granted=True, at=AT, receipt={}
        )
        await selfdata.set_consent(session, people[0][0], store.PURPOSE, True, event)
        await selfdata.erase(session, people[0][0])
        await selfdata.erase(session, people[4][0])  # one who never consented
        # A revoked person's rollups rewritten: still outside the totals.
        await _write(session, people[3][0], [202309], True, rng)
        await session.commit()
    await _assert_same(app)

    cells = await _cells_from_scratch(app)
    assert cells["kept"] == cells["again"]
    async with app.state.db.session() as session:
        granted = set(await session.scalars(sa.select(Consent.user_id).where(Consent.granted.is_(True))))
        await session.commit()
    assert people[0][0] not in granted and people[6][0] in granted and people[3][0] not in granted
