#!/usr/bin/env python3
"""The operator's modal-share query with 10,000 and with 1,000,000 trips stored.

On a fresh database, `--people` people (default 2,000) who granted `territory_statistics` get rollup rows
(the `rollups` table the worker maintains with `app.statistics.repository.rebuild_rollups`, one row per person,
local hour, mode and origin/destination 500 m grid cell, a trip counted under its main mode and its
access/egress walk as a second row) for trips spread over the last year: each person has a home, a
workplace and a few other places in the La Rochelle agglomeration, commutes at rush hours, and travels by
car, on foot, by bike, bus or train. First `--small` trips (default 10,000) are stored and
`GET /v1/operator/stats/modal-share` over the year (the endpoint's default: the twelve whole months up to the
end of last month; `--rolling`: the last 365 days up to yesterday) is timed through the app (in-process ASGI
with httpx: operator auth, the read of the territory's monthly totals, the noise, the budget's charge, the
stored release, the access log of everyone counted);
then trips are added up to `--large` (default 1,000,000) for the same people and it is timed again.

Prints one JSON line: the median time of `--repeat` requests at each size and `ratio` = large / small
(target <= 2).

    .venv/bin/python bench/aggregates.py --database postgresql
    .venv/bin/python bench/aggregates.py --database sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import statistics as stats
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from _common import emit, fresh_store, log, machine, migrate

MODES = np.array(["car", "walk", "bike", "bus", "train", "ebike"])
MODE_P = np.array([0.52, 0.2, 0.1, 0.1, 0.04, 0.04])
KM = {"car": 9.0, "walk": 1.0, "bike": 3.5, "bus": 5.0, "train": 30.0, "ebike": 6.0}
G_PER_KM = {"car": 218.0, "walk": 0.0, "bike": 0.0, "bus": 113.0, "train": 5.0, "ebike": 11.0}
CENTRE = (46.16, -1.15)


async def people(db, n: int, consent_at: datetime) -> list[uuid.UUID]:
    import sqlalchemy as sa

    from app.models import Consent, ConsentEvent, PipelineState, User

    ids = [uuid.uuid4() for _ in range(n)]
    async with db.session() as session:
        await session.execute(sa.insert(User), [{"id": u, "created_at": consent_at} for u in ids])
        await session.execute(sa.insert(PipelineState), [{"user_id": u, "pending_points": 0} for u in ids])
        await session.execute(
            sa.insert(Consent),
            [
                {"user_id": u, "purpose": "territory_statistics", "granted": True, "updated_at": consent_at}
                for u in ids
            ],
        )
        await session.execute(
            sa.insert(ConsentEvent),
            [
                {"id": uuid.uuid4(), "user_id": u, "purpose": "territory_statistics", "granted": True,
                 "at": consent_at, "receipt": {"note": "bench"}}
                for u in ids
            ],
        )  # fmt: skip
        await session.commit()
    return ids


def places(n: int, rng: np.random.Generator) -> list[list[str]]:
    """Five grid cells per person: home, work, three others."""
    from app.statistics.zones import grid_codes

    lat = CENTRE[0] + rng.normal(0, 0.03, (n, 5))
    lon = CENTRE[1] + rng.normal(0, 0.04, (n, 5))
    codes = grid_codes(lon.ravel().tolist(), lat.ravel().tolist())
    return [codes[i * 5 : i * 5 + 5] for i in range(n)]


def rollup_rows(ids, cells, n_trips: int, first_day: date, rng: np.random.Generator) -> list[dict]:
    from app.statistics.zones import GRID_ID

    who = rng.integers(0, len(ids), n_trips)
    day_off = rng.integers(0, 365, n_trips)
    hour = np.where(
        rng.random(n_trips) < 0.6, rng.choice([7, 8, 9, 17, 18, 19], n_trips), rng.integers(6, 23, n_trips)
    )
    mode = rng.choice(MODES, n_trips, p=MODE_P)
    o = rng.integers(0, 5, n_trips)
    d = (o + rng.integers(1, 5, n_trips)) % 5
    scale = rng.uniform(0.5, 1.5, n_trips)
    rows = []
    for i in range(n_trips):
        day = first_day + timedelta(days=int(day_off[i]))
        m = str(mode[i])
        km = KM[m] * scale[i]
        base = {
            "user_id": ids[who[i]], "zone_set_id": GRID_ID, "day": day.year * 10000 + day.month * 100 + day.day,
            "hour": int(hour[i]), "weekday": day.weekday(), "origin_zone": cells[who[i]][o[i]],
            "dest_zone": cells[who[i]][d[i]],
        }  # fmt: skip
        rows.append({**base, "mode": m, "trips": 1, "distance_m": km * 1000, "co2e_g": km * G_PER_KM[m]})
        if m in ("bus", "train"):  # the walk to the stop: a second row, counted under the main mode only
            rows.append({**base, "mode": "walk", "trips": 0, "distance_m": 400.0, "co2e_g": 0.0})
    return rows


async def fill(db, ids, cells, n_trips: int, first_day: date, seed: int) -> int:
    import sqlalchemy as sa

    from app.models import Rollup

    rng = np.random.default_rng(seed)
    total = 0
    chunk = 50_000
    for lo in range(0, n_trips, chunk):
        rows = rollup_rows(ids, cells, min(chunk, n_trips - lo), first_day, rng)
        async with db.session() as session:
            await session.execute(sa.insert(Rollup), rows)
            await session.commit()
        total += len(rows)
    # The worker keeps the monthly rollups and the territory's monthly totals person by person; after a bulk
    # load they are redone at once.
    from app.statistics.repository import rebuild_monthly_everyone

    async with db.session() as session:
        await rebuild_monthly_everyone(session)
        await session.commit()
    return total


async def timed_queries(
    app, token: str, params: dict, repeat: int, start: int = 0
) -> tuple[list[float], dict]:
    import httpx

    times = []
    body: dict = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        headers = {"Authorization": f"Bearer {token}"}
        warm = {**params, "epsilon": round(0.01 + start * 1e-6, 9)}
        r = await client.get("/v1/operator/stats/modal-share", params=warm, headers=headers)  # warm-up
        r.raise_for_status()
        for i in range(repeat):
            asked = {**params, "epsilon": round(0.01 + (start + i + 1) * 1e-6, 9)}
            t0 = time.perf_counter()
            r = await client.get("/v1/operator/stats/modal-share", params=asked, headers=headers)
            times.append(time.perf_counter() - t0)
            r.raise_for_status()
            body = r.json()
    return times, body


def summary(body: dict) -> dict:
    periods = body.get("periods", [])
    trips = sum((p["total"].get("trips") or 0) for p in periods)
    cells = sum(len(p["modes"]) for p in periods)
    return {"periods": len(periods), "cells": cells, "published_trips": trips}


async def run(
    url: str,
    n_people: int,
    small: int,
    large: int,
    repeat: int,
    profile: str | None = None,
    rolling: bool = False,
) -> dict:
    from app.accounts import repository as accounts
    from app.core.db import Database
    from app.main import create_app
    from app.settings import Settings

    # Each timed query is another question (another ε), so none is answered from the stored releases.
    settings = Settings(database_url=url, worker_in_process=False, dp_month_epsilon=100.0)
    db = Database(settings)
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=365)
    consent_at = datetime.combine(first_day - timedelta(days=30), datetime.min.time(), UTC)
    rng = np.random.default_rng(1)
    ids = await people(db, n_people, consent_at)
    cells = places(n_people, rng)
    async with db.session() as session:
        _, token = await accounts.create_operator(session, "bench")
        await session.commit()
    app = create_app(settings)
    # The endpoint's default range: the twelve whole months up to the end of last month. With --rolling, the
    # last 365 days up to yesterday: the two partial months at its ends are read person by person.
    params = {"period": "month"}
    if rolling:
        params = {"from": first_day.isoformat(), "to": (today - timedelta(days=1)).isoformat(), **params}

    t0 = time.perf_counter()
    rows_small = await fill(db, ids, cells, small, first_day, seed=2)
    log(f"{small} trips -> {rows_small} rollup rows in {time.perf_counter() - t0:.1f} s")
    t_small, body_small = await timed_queries(app, token, params, repeat)
    log(f"small: median {stats.median(t_small) * 1000:.1f} ms, {summary(body_small)}")

    t0 = time.perf_counter()
    rows_more = await fill(db, ids, cells, large - small, first_day, seed=3)
    log(f"+{large - small} trips -> {rows_more} rollup rows in {time.perf_counter() - t0:.1f} s")
    if db.dialect == "postgresql":
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("COMMIT")
            await conn.exec_driver_sql("ANALYZE")
    t_large, body_large = await timed_queries(app, token, params, repeat, start=repeat + 1)
    log(f"large: median {stats.median(t_large) * 1000:.1f} ms, {summary(body_large)}")
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="enabled")
        profiler.start()
        await timed_queries(app, token, params, 1, start=2 * repeat + 2)
        profiler.stop()
        Path(profile).write_text(profiler.output_text(unicode=False, color=False))  # noqa: ASYNC240
        log(f"profile of one large request written to {profile}")
    await app.state.db.dispose()
    await db.dispose()
    m_small, m_large = stats.median(t_small), stats.median(t_large)
    return {
        "people": n_people,
        "small_trips": small,
        "small_rollup_rows": rows_small,
        "small_ms_median": round(m_small * 1000, 1),
        "small_answer": summary(body_small),
        "large_trips": large,
        "large_rollup_rows": rows_small + rows_more,
        "large_ms_median": round(m_large * 1000, 1),
        "large_ms_p90": round(float(np.percentile(t_large, 90)) * 1000, 1),
        "large_answer": summary(body_large),
        "ratio": round(m_large / m_small, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--profile", help="write a pyinstrument profile of one large request to this file")
    parser.add_argument(
        "--rolling",
        action="store_true",
        help="ask the last 365 days up to yesterday instead of the last 12 months",
    )
    args = parser.parse_args()
    with fresh_store(args.database, "aggr") as store:
        migrate(store.url)
        figures = asyncio.run(
            run(store.url, args.people, args.small, args.large, args.repeat, args.profile, args.rolling)
        )
    emit(
        {
            "benchmark": "aggregates",
            "database": args.database,
            "query": "GET /v1/operator/stats/modal-share over "
            + ("the last 365 days" if args.rolling else "the last 12 whole months")
            + ", period=month, grid-500m",
            **figures,
            "target_ratio": 2,
            "target_met": figures["ratio"] <= 2,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
