#!/usr/bin/env python3
"""Bytes on disk per stored point, motion hint and trip, on PostgreSQL or SQLite.

On a fresh database, simulated people who granted `territory_statistics` get a week of phone days each
through the real ingest store (`app.ingest.store_columns`, every point with all seven of a phone's fields)
and the real worker (`PipelineWorker.run_until_idle`), so trips, legs and rollups are what the service
writes. Then the size of every table with its indexes is read (PostgreSQL: `pg_table_size` and
`pg_indexes_size` after `VACUUM ANALYZE`; SQLite: the `dbstat` virtual table after a checkpoint) and
divided by its rows. Prints one JSON line: `bytes_per_point` (location_points with its key),
`bytes_per_activity`, `bytes_per_trip` (trips, legs and rollups together), the rows and bytes of each
table. The figures are the ones docs/scaling.md multiplies out.

    .venv/bin/python bench/storage.py --database postgresql
    .venv/bin/python bench/storage.py --database sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from _common import emit, fresh_store, log, machine, migrate, simulated_days
from incremental import DAY_S, columns, person

# the per-trip tables: what the pipeline writes for each trip found
PER_TRIP = ("trips", "legs", "rollups", "rollups_monthly", "stats_person_months")


def full_columns(sim, seed: int):
    """The day's points as a phone sends them: altitude, speed and heading filled in too."""
    pts, acts = columns(sim)
    rng = np.random.default_rng(seed)
    n = len(pts.ts_ms)
    filled = dataclasses.replace(
        pts,
        altitude_m=np.round(rng.normal(12.0, 3.0, n), 1).tolist(),
        speed_mps=np.round(rng.uniform(0.0, 15.0, n), 2).tolist(),
        heading_deg=np.round(rng.uniform(0.0, 360.0, n), 1).tolist(),
    )
    return filled, acts


async def fill(url: str, people: int, days: int, sampling_s: float) -> dict[str, int]:
    from app.core.db import Database
    from app.ingest.service import store_columns
    from app.pipeline.worker import PipelineWorker
    from app.settings import Settings

    db = Database(Settings(database_url=url))
    worker = PipelineWorker(db, batch=8)
    first_s = (
        datetime.now(UTC).replace(hour=5, minute=0, second=0, microsecond=0) - timedelta(days=days + 2)
    ).timestamp()
    consent_at = datetime.fromtimestamp(first_s - DAY_S, UTC)
    points = 0
    for p in range(people):
        uid = await person(db, 365, consent_at)
        for d, sim in enumerate(
            simulated_days(days, seed=100 + p, start_ts_s=first_s, sampling_s=sampling_s)
        ):
            pts, acts = full_columns(sim, seed=p * 1000 + d)
            points += len(pts.ts_ms)
            async with db.session() as session:
                await store_columns(session, uid, pts, acts)
                await session.commit()
        await worker.run_until_idle(now_s=first_s + (days + 1) * DAY_S)
        log(f"  person {p + 1}/{people}: {points} points so far")
    await db.dispose()
    return {"points_sent": points}


async def sizes_postgresql(dsn: str) -> dict[str, dict[str, int]]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM ANALYZE")
        tables = [
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        out = {}
        for name in tables:
            row = await conn.fetchrow(
                f'SELECT count(*) AS n, pg_table_size(\'"{name}"\') AS t, pg_indexes_size(\'"{name}"\') AS i FROM "{name}"'
            )
            out[name] = {"rows": int(row["n"]), "table_bytes": int(row["t"]), "index_bytes": int(row["i"])}
        return out
    finally:
        await conn.close()


def sizes_sqlite(path: str) -> dict[str, dict[str, int]]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        owner = dict(
            conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')")
        )
        out: dict[str, dict[str, int]] = {}
        for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            if table.startswith("sqlite_"):
                continue
            entry = out.setdefault(table, {"rows": 0, "table_bytes": 0, "index_bytes": 0})
            entry["table_bytes" if name == table else "index_bytes"] += int(size)
        for table, entry in out.items():
            entry["rows"] = int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        return out
    finally:
        conn.close()


def per_row(sizes: dict[str, dict[str, int]], names: tuple[str, ...], rows_of: str) -> float | None:
    total = sum(sizes[n]["table_bytes"] + sizes[n]["index_bytes"] for n in names if n in sizes)
    rows = sizes.get(rows_of, {}).get("rows", 0)
    return round(total / rows, 1) if rows else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--days", type=int, default=7, help="simulated days per person (default 7)")
    parser.add_argument(
        "--sampling-s",
        type=float,
        default=1.0,
        help="seconds between a moving phone's points (default 1; 15 gives about the 424 points a day of "
        "the real phone days in ../shared/data/emission-dev)",
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    with fresh_store(args.database, "storage") as store:
        migrate(store.url)
        sent = asyncio.run(fill(store.url, args.people, args.days, args.sampling_s))
        sizes = (
            asyncio.run(sizes_postgresql(store.raw_dsn))
            if args.database == "postgresql"
            else sizes_sqlite(store.raw_dsn)
        )
    kept = {n: s for n, s in sorted(sizes.items()) if s["rows"]}
    emit(
        {
            "benchmark": "storage",
            "database": args.database,
            "people": args.people,
            "days": args.days,
            "sampling_s": args.sampling_s,
            **sent,
            "points_per_person_day": round(sent["points_sent"] / (args.people * args.days)),
            "trips_per_person_day": round(
                kept.get("trips", {}).get("rows", 0) / (args.people * args.days), 2
            ),
            "bytes_per_point": per_row(sizes, ("location_points",), "location_points"),
            "bytes_per_activity": per_row(sizes, ("motion_activities",), "motion_activities"),
            "bytes_per_trip": per_row(sizes, PER_TRIP, "trips"),
            "tables": kept,
            "seconds": round(time.perf_counter() - t0, 1),
            "machine": machine(pg=args.database == "postgresql"),
        }
    )


if __name__ == "__main__":
    main()
