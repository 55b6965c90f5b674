#!/usr/bin/env python3
"""Cost of processing one new hour of points: a person with one day of history against one with a year.

On a fresh database (PostgreSQL or SQLite), two people who granted `territory_statistics` get their history
through the real ingest store (`app.ingest.store_columns`) and the real worker
(`app.worker.PipelineWorker.run_once`), a week at a time:

- "day": one simulated day of phone points (about 8,000 points, 6 trips);
- "year": 365 simulated days (about 3 million points, 2,000+ trips and their rollups), retention set to a
  year so that every raw point is still held; its last day is the same day as the "day" person's.

Then the same next day is fed to both, one hour at a time: store the hour's points, then time the
worker's `run_once` (claim, window, pipeline, trips, rollups, release). Prints one JSON line with the
median (and total) time per hour for each person and `ratio` = year / day (target <= 1.5).

    .venv/bin/python bench/incremental.py --database postgresql
    .venv/bin/python bench/incremental.py --database sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import statistics as stats
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
from _common import emit, fresh_store, log, machine, migrate, simulated_days

DAY_S = 86400.0


def columns(sim, lo_s: float = -np.inf, hi_s: float = np.inf):
    from app.ingest.repository import ActivityColumns, PointColumns

    p = sim.points
    keep = (p.ts_s >= lo_s) & (p.ts_s < hi_s)
    ts_ms = np.round(p.ts_s[keep] * 1000).astype(np.int64)
    first = np.concatenate(([True], np.diff(ts_ms) > 0)) if ts_ms.size else np.zeros(0, bool)
    idx = np.flatnonzero(keep)[first]

    def opt(a: np.ndarray) -> list:
        return [None if np.isnan(v) else float(v) for v in a[idx]]

    pts = PointColumns(
        ts_ms=ts_ms[first].tolist(),
        lat=p.lat[idx].tolist(),
        lon=p.lon[idx].tolist(),
        accuracy_m=opt(p.accuracy_m),
        altitude_m=[None] * idx.size,
        speed_mps=[None] * idx.size,
        heading_deg=[None] * idx.size,
    )
    acts = ActivityColumns([], [], [])
    if sim.activities is not None:
        a = sim.activities
        ak = (a.ts_s >= lo_s) & (a.ts_s < hi_s)
        ats = np.round(a.ts_s[ak] * 1000).astype(np.int64)
        afirst = np.concatenate(([True], np.diff(ats) > 0)) if ats.size else np.zeros(0, bool)
        acts = ActivityColumns(
            ats[afirst].tolist(),
            [str(k) for k in a.kind[ak][afirst]],
            [None if np.isnan(c) else int(c) for c in a.confidence[ak][afirst]],
        )
    return pts, acts


async def person(db, retention_days: int, consent_at: datetime) -> uuid.UUID:
    from app.accounts import repository as accounts
    from app.models import ConsentEvent, User
    from app.selfdata.repository import set_consent

    async with db.session() as session:
        user, _, _ = await accounts.register_user(session, "bench")
        event = ConsentEvent(
            id=uuid.uuid4(), user_id=user.id, purpose="territory_statistics", granted=True, at=consent_at,
            receipt={"note": "bench"},
        )  # fmt: skip
        await set_consent(session, user.id, "territory_statistics", True, event)
        (await session.get(User, user.id)).point_retention_days = retention_days
        await session.commit()
        return user.id


async def feed(db, worker, user_id, sims, now_s: float, every_days: int = 7) -> None:
    from app.ingest.service import store_columns

    for i, sim in enumerate(sims):
        pts, acts = columns(sim)
        async with db.session() as session:
            await store_columns(session, user_id, pts, acts)
            await session.commit()
        if (i + 1) % every_days == 0 or i == len(sims) - 1:
            await worker.run_until_idle(now_s=float(sim.points.ts_s[-1]) + 60)
        if (i + 1) % 50 == 0:
            log(f"  {i + 1} days stored and processed")


async def counts(db, user_id) -> dict:
    import sqlalchemy as sa

    from app.models import LocationPoint, Rollup, Trip

    async with db.session() as session:
        out = {}
        for name, model in (("points", LocationPoint), ("trips", Trip), ("rollups", Rollup)):
            out[name] = int(
                await session.scalar(
                    sa.select(sa.func.count()).select_from(model).where(model.user_id == user_id)
                )
            )
        return out


async def run(url: str, days: int, hours: int) -> dict:
    from app.core.db import Database
    from app.pipeline.worker import PipelineWorker
    from app.settings import Settings

    db = Database(Settings(database_url=url))
    worker = PipelineWorker(db, batch=8)
    # the measured day D starts at 05:00 UTC (06:00 in Paris) a few days ago; history ends the day before
    today = datetime.now(UTC).replace(hour=5, minute=0, second=0, microsecond=0) - timedelta(days=3)
    d_s = today.timestamp()
    first_s = d_s - days * DAY_S
    consent_at = datetime.fromtimestamp(first_s - DAY_S, UTC)
    # the same last history day and the same measured day for both people (same seeds)
    log(f"simulating {days} + 1 days …")
    year = simulated_days(days, seed=7, start_ts_s=first_s)
    last = year[-1]  # the "day" person's whole history is the "year" person's last day
    from app.mobility.simulate import commute_plan, simulate

    rng_seed = 99_991
    measured = simulate(
        commute_plan(np.random.default_rng(rng_seed)), seed=rng_seed, phone=True, outlier_rate=0.002,
        start_ts_s=d_s,
    )  # fmt: skip

    short = await person(db, 30, consent_at)
    long_ = await person(db, 365, consent_at)
    t0 = time.perf_counter()
    await feed(db, worker, short, [last], now_s=d_s)
    log(f"day history built in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    await feed(db, worker, long_, year, now_s=d_s)
    log(f"year history built in {time.perf_counter() - t0:.1f} s")
    sizes = {"day": await counts(db, short), "year": await counts(db, long_)}
    log(f"history: {sizes}")

    from app.ingest.service import store_columns
    from app.pipeline import repository as pstore

    timings: dict[str, list[float]] = {"day": [], "year": []}
    points_per_hour = []
    for h in range(hours):
        lo, hi = d_s + h * 3600, d_s + (h + 1) * 3600
        pts, acts = columns(measured, lo, hi)
        if not len(pts):
            continue
        points_per_hour.append(len(pts))
        # alternate who goes first, so caches favour neither
        order = [("day", short), ("year", long_)] if h % 2 == 0 else [("year", long_), ("day", short)]
        for name, uid in order:
            async with db.session() as session:
                await store_columns(session, uid, pts, acts)
                await session.commit()
            async with db.session() as session:
                claims = await pstore.claim(session, worker.owner, worker.lease_s, 8)
            assert [c.user_id for c in claims] == [uid], claims
            t0 = time.perf_counter()
            await worker.process_claim(claims[0], now_s=hi + 60)
            timings[name].append(time.perf_counter() - t0)
    await db.dispose()
    med = {k: stats.median(v) for k, v in timings.items()}
    return {
        "history": sizes,
        "hours": len(points_per_hour),
        "points_per_hour_median": int(stats.median(points_per_hour)),
        "day_ms_median": round(med["day"] * 1000, 1),
        "year_ms_median": round(med["year"] * 1000, 1),
        "day_ms_total": round(sum(timings["day"]) * 1000, 1),
        "year_ms_total": round(sum(timings["year"]) * 1000, 1),
        "day_ms_each": [round(t * 1000, 1) for t in timings["day"]],
        "year_ms_each": [round(t * 1000, 1) for t in timings["year"]],
        "ratio": round(med["year"] / med["day"], 3),
        "ratio_total": round(sum(timings["year"]) / sum(timings["day"]), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--days", type=int, default=365, help="history of the long person (default 365)")
    parser.add_argument("--hours", type=int, default=16, help="new hours measured (default 16)")
    args = parser.parse_args()
    with fresh_store(args.database, "incr") as store:
        migrate(store.url)
        figures = asyncio.run(run(store.url, args.days, args.hours))
    emit(
        {
            "benchmark": "incremental",
            "database": args.database,
            "history_days": args.days,
            **figures,
            "target_ratio": 1.5,
            "target_met": figures["ratio"] <= 1.5,
            "measured": "PipelineWorker.process_claim after claim(): window, pipeline, trips, rollups, release",
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
