#!/usr/bin/env python3
"""Ingest throughput of one `coachco2 serve` process, against a raw bulk load of the same rows.

Starts `coachco2 serve` (in-process worker off, so only ingest is measured) on a fresh database, registers
one person per client, and has `--clients` concurrent asyncio + httpx clients post pre-encoded batches of
`--batch` simulated phone points (JSON, with accuracy) to `POST /v1/me/locations`: authentication,
validation, dedupe, one insert statement and a durable commit per request. Then, in the same database and
run, the same rows are loaded for fresh people with no API in between:

- PostgreSQL: asyncpg `copy_records_to_table` into `location_points`, one COPY (and commit) per batch of
  the same size, from the same number of concurrent connections (capped at 16): the reference of the ratio.
  A single COPY of every row is reported as well (`copy_single_pps`).
- SQLite: `executemany` of the same rows into the same file, one commit per batch, same pragmas as the app
  (WAL, synchronous=FULL), from one connection (SQLite has one writer).

Then, on the same server, one phone alone: one client posting `--single-points` points of its own, one
request after the other, in batches of 1,000 and of 5,000 points, as JSON and as gzip (a fresh person for
each of the four runs). The many-client rate is divided by the machine's CPUs (the clients, the server and
the database share them) to give a rate per core, and `single_ratio` = the one phone's rate with batches
of 1,000 / that rate per core (target >= 0.5). Each run also gives the server process's CPU time per
point (from its own `process_cpu_seconds_total`).

Prints one JSON line: points, seconds, points per second, p50/p99 request latency, the reference rate and
`ratio` = API points per second / reference points per second (target >= 0.5 on PostgreSQL), and the
one-phone figures.

    .venv/bin/python bench/ingest.py --database postgresql
    .venv/bin/python bench/ingest.py --database sqlite
    .venv/bin/python bench/ingest.py --single-only      # the one-phone runs alone
    .venv/bin/python bench/ingest.py --columns          # the same points, one array per field
                                                        # (POST /v1/me/locations/columns)
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import sqlite3
import time
import uuid

import numpy as np
from _common import emit, fresh_store, log, machine, percentiles, server, simulated_days


def make_streams(
    clients: int, points_per_client: int, start_ts_s: float, seed: int = 1000
) -> list[list[tuple]]:
    """Per client, `points_per_client` simulated phone points (ts_s, lat, lon, accuracy), in time order."""
    per_day = 7000
    days = max(1, -(-points_per_client // per_day) + 1)
    streams = []
    for c in range(clients):
        sims = simulated_days(days, seed=seed + c, start_ts_s=start_ts_s)
        ts = np.concatenate([s.points.ts_s for s in sims])[:points_per_client]
        lat = np.concatenate([s.points.lat for s in sims])[:points_per_client]
        lon = np.concatenate([s.points.lon for s in sims])[:points_per_client]
        acc = np.concatenate([s.points.accuracy_m for s in sims])[:points_per_client]
        # the simulator repeats a timestamp where a stay follows a trip: keep the first, as the API does
        ts_ms = np.round(ts * 1000).astype(np.int64)
        first = np.concatenate(([True], np.diff(ts_ms) > 0))
        ts, lat, lon, acc = ts[first], lat[first], lon[first], acc[first]
        rows = list(
            zip(
                np.round(ts, 3).tolist(),
                np.round(lat, 7).tolist(),
                np.round(lon, 7).tolist(),
                np.round(acc, 1).tolist(),
                strict=True,
            )
        )
        streams.append(rows)
    return streams


#: where each body form is posted: one JSON object per point, or one array per field
PATHS = {False: "/v1/me/locations", True: "/v1/me/locations/columns"}


def body(rows: list[tuple], columns: bool = False) -> bytes:
    """A batch as the phone sends it: `{"points": [{...}, ...]}`, or with `columns` one array per field."""
    if columns:
        ts, lat, lon, acc = (list(c) for c in zip(*rows, strict=True))
        data: dict = {"ts": ts, "lat": lat, "lon": lon, "accuracy": acc}
    else:
        data = {"points": [{"ts": t, "lat": la, "lon": lo, "accuracy": a} for t, la, lo, a in rows]}
    return json.dumps(data, separators=(",", ":")).encode()


async def register(client, n: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        r = await client.post("/v1/auth/register", json={})
        r.raise_for_status()
        out.append((r.json()["user_id"], r.json()["token"]))
    return out


def server_cpu_s(base: str) -> float | None:
    """CPU seconds the server process has used so far, from its own metrics (served to loopback clients)."""
    import httpx

    try:
        text = httpx.get(base + "/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith("process_cpu_seconds_total "):
            return float(line.split()[1])
    return None


async def api_run(
    base: str,
    tokens: list[str],
    bodies: list[list[bytes]],
    timeout_s: float,
    gzipped: bool = False,
    path: str = PATHS[False],
) -> dict:
    import httpx

    cpu_before = server_cpu_s(base)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    accepted = 0
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        deadline = time.monotonic() + timeout_s

        async def one(token: str, mine: list[bytes]) -> None:
            nonlocal accepted
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            if gzipped:
                headers["Content-Encoding"] = "gzip"
            for b in mine:
                if time.monotonic() > deadline:
                    return
                t0 = time.perf_counter()
                r = await client.post(path, content=b, headers=headers)
                latencies.append(time.perf_counter() - t0)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code == 202:
                    accepted += r.json()["accepted"]

        t0 = time.perf_counter()
        await asyncio.gather(*(one(t, b) for t, b in zip(tokens, bodies, strict=True)))
        seconds = time.perf_counter() - t0
    cpu_after = server_cpu_s(base)
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return {
        "points": accepted,
        "requests": len(latencies),
        "seconds": round(seconds, 3),
        "pps": round(accepted / seconds, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        **percentiles(latencies),
        "server_cpu_s": round(cpu, 2) if cpu is not None else None,
        "server_cpu_us_per_point": round(cpu / accepted * 1e6, 2) if cpu and accepted else None,
    }


def single_phone(
    base: str, rows: list[tuple], batches: tuple[int, ...], timeout_s: float, columns: bool = False
) -> dict:
    """One phone alone: its points in batches of each size, as JSON and as gzip, each run a fresh person."""
    import httpx

    out = {}
    for batch in batches:
        plain = [body(rows[i : i + batch], columns) for i in range(0, len(rows), batch)]
        for encoding, bodies in (("json", plain), ("gzip", [gzip.compress(b, 6) for b in plain])):

            async def person() -> str:
                async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                    return (await register(c, 1))[0][1]

            token = asyncio.run(person())
            gzipped = encoding == "gzip"
            run = asyncio.run(api_run(base, [token], [bodies], timeout_s, gzipped, PATHS[columns]))
            run["bytes_per_point"] = round(sum(len(b) for b in bodies) / len(rows), 1)
            log(f"one phone, batches of {batch}, {encoding}: {run}")
            out[f"{encoding}_{batch}"] = run
    return out


async def pg_copy(dsn: str, user_ids: list[str], streams: list[list[tuple]], batch: int, conc: int) -> dict:
    import asyncpg

    cols = ["user_id", "ts_ms", "lat", "lon", "accuracy_m", "altitude_m", "speed_mps", "heading_deg"]
    jobs = []
    for uid, rows in zip(user_ids, streams, strict=True):
        u = uuid.UUID(uid)
        recs = [(u, round(t * 1000), la, lo, a, None, None, None) for t, la, lo, a in rows]
        jobs.extend(recs[i : i + batch] for i in range(0, len(recs), batch))
    total = sum(len(j) for j in jobs)
    pool = await asyncpg.create_pool(dsn, min_size=conc, max_size=conc)
    queue = list(reversed(jobs))

    async def worker() -> None:
        async with pool.acquire() as conn:
            while queue:
                recs = queue.pop()
                await conn.copy_records_to_table("location_points", records=recs, columns=cols)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    seconds = time.perf_counter() - t0
    await pool.close()
    return {
        "points": total,
        "seconds": round(seconds, 3),
        "pps": round(total / seconds, 1),
        "connections": conc,
    }


async def pg_copy_single(dsn: str, user_ids: list[str], streams: list[list[tuple]]) -> dict:
    import asyncpg

    cols = ["user_id", "ts_ms", "lat", "lon", "accuracy_m", "altitude_m", "speed_mps", "heading_deg"]
    recs = [
        (uuid.UUID(uid), round(t * 1000), la, lo, a, None, None, None)
        for uid, rows in zip(user_ids, streams, strict=True)
        for t, la, lo, a in rows
    ]
    conn = await asyncpg.connect(dsn)
    t0 = time.perf_counter()
    await conn.copy_records_to_table("location_points", records=recs, columns=cols)
    seconds = time.perf_counter() - t0
    await conn.close()
    return {"points": len(recs), "seconds": round(seconds, 3), "pps": round(len(recs) / seconds, 1)}


def sqlite_executemany(path: str, user_ids: list[str], streams: list[list[tuple]], batch: int) -> dict:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    sql = (
        "INSERT INTO location_points (user_id, ts_ms, lat, lon, accuracy_m, altitude_m, speed_mps, heading_deg)"
        " VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL)"
    )
    total = 0
    t0 = time.perf_counter()
    for uid, rows in zip(user_ids, streams, strict=True):
        u = uuid.UUID(uid).hex
        recs = [(u, round(t * 1000), la, lo, a) for t, la, lo, a in rows]
        for i in range(0, len(recs), batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, recs[i : i + batch])
            conn.execute("COMMIT")
            total += len(recs[i : i + batch])
    seconds = time.perf_counter() - t0
    conn.close()
    return {"points": total, "seconds": round(seconds, 3), "pps": round(total / seconds, 1), "connections": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1000, help="points per request (default 1000)")
    parser.add_argument("--batches-per-client", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=300, help="stop posting after this many seconds")
    parser.add_argument(
        "--single-points", type=int, default=65_000, help="points of the one-phone runs (default 65,000)"
    )
    parser.add_argument("--single-only", action="store_true", help="the one-phone runs alone, no reference")
    parser.add_argument(
        "--columns",
        action="store_true",
        help="post one array per field to POST /v1/me/locations/columns instead of an object per point",
    )
    args = parser.parse_args()

    start_ts = time.time() - 20 * 86400
    n_per_client = args.batch * args.batches_per_client
    streams: list[list[tuple]] = []
    bodies: list[list[bytes]] = []
    if not args.single_only:
        log(f"simulating {args.clients} x {n_per_client} points …")
        streams = make_streams(args.clients, n_per_client, start_ts)
        bodies = [
            [body(rows[i : i + args.batch], args.columns) for i in range(0, len(rows), args.batch)]
            for rows in streams
        ]
        mb = sum(len(b) for bs in bodies for b in bs) / 1e6
        log(f"{sum(len(s) for s in streams)} points, {mb:.0f} MB of JSON")
    phone = make_streams(1, args.single_points, start_ts, seed=5000)[0]
    warm_rows = phone[:2000]

    api: dict | None = None
    with fresh_store(args.database, "ingest") as store:
        with server(store.url, worker=False) as base:
            import httpx

            async def setup() -> tuple[list, list, list]:
                async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                    api_users = await register(c, 0 if args.single_only else args.clients)
                    raw_users = await register(c, 0 if args.single_only else args.clients)
                    warm = await register(c, 1)
                return api_users, raw_users, warm

            api_users, raw_users, warm = asyncio.run(setup())
            # warm-up (imports, pools, caches) by another person, not counted
            asyncio.run(api_run(base, [warm[0][1]], [[body(warm_rows[:1000]), body(warm_rows[1000:])]], 30))
            if not args.single_only:
                log("posting …")
                tokens = [t for _, t in api_users]
                api = asyncio.run(api_run(base, tokens, bodies, args.timeout, path=PATHS[args.columns]))
                log(f"API: {api}")
            log(f"one phone, {len(phone)} points …")
            one = single_phone(base, phone, (1000, 5000), args.timeout, args.columns)
        if api is None:
            ref, single = None, None
        elif args.database == "postgresql":
            raw_ids = [u for u, _ in raw_users]
            ref = asyncio.run(pg_copy(store.raw_dsn, raw_ids, streams, args.batch, min(args.clients, 16)))
            ref["method"] = f"asyncpg copy_records_to_table, one COPY per {args.batch} rows"
            single_users = []
            # a single COPY of every row, for fresh people (new ids: the rows above are taken)
            import asyncpg

            async def more_users() -> list[str]:
                conn = await asyncpg.connect(store.raw_dsn)
                ids = []
                for _ in range(args.clients):
                    u = uuid.uuid4()
                    await conn.execute("INSERT INTO users (id, created_at) VALUES ($1, now())", u)
                    ids.append(str(u))
                await conn.close()
                return ids

            try:
                single_users = asyncio.run(more_users())
                single = asyncio.run(pg_copy_single(store.raw_dsn, single_users, streams))
            except Exception as exc:  # a side figure: report why rather than fail the run
                single = {"error": f"{type(exc).__name__}: {exc}"[:200]}
            log(f"COPY per batch: {ref}; single COPY: {single}")
        else:
            raw_ids = [u for u, _ in raw_users]
            ref = sqlite_executemany(store.raw_dsn, raw_ids, streams, args.batch)
            ref["method"] = f"sqlite3 executemany, one transaction per {args.batch} rows"
            single = None
            log(f"executemany: {ref}")

    cores = os.cpu_count() or 1
    phone_figures = {
        name: {k: run[k] for k in ("pps", "p50_ms", "p99_ms", "server_cpu_us_per_point", "bytes_per_point")}
        for name, run in one.items()
    }
    figures: dict = {
        "benchmark": "ingest",
        "database": args.database,
        "body": "columns" if args.columns else "points",
        "single_phone": phone_figures,
    }
    if api is not None and ref is not None:
        ratio = api["pps"] / ref["pps"] if ref["pps"] else None
        per_core = api["pps"] / cores
        single_ratio = one["json_1000"]["pps"] / per_core
        figures |= {
            "clients": args.clients,
            "batch": args.batch,
            "api_points": api["points"],
            "api_requests": api["requests"],
            "api_seconds": api["seconds"],
            "api_pps": api["pps"],
            "api_statuses": api["statuses"],
            "api_server_cpu_us_per_point": api["server_cpu_us_per_point"],
            "latency_p50_ms": api["p50_ms"],
            "latency_p99_ms": api["p99_ms"],
            "latency_max_ms": api["max_ms"],
            "reference": ref,
            "copy_single_pps": single.get("pps") if isinstance(single, dict) else None,
            "ratio": round(ratio, 3) if ratio else None,
            "target_ratio": 0.5 if args.database == "postgresql" else None,
            "target_met": (ratio >= 0.5) if args.database == "postgresql" and ratio else None,
            "cpus": cores,
            "api_pps_per_core": round(per_core, 1),
            "single_ratio": round(single_ratio, 3),
            "single_ratio_batch_5000": round(one["json_5000"]["pps"] / per_core, 3),
            "target_single_ratio": 0.5,
            "single_target_met": single_ratio >= 0.5,
        }
    emit({**figures, "machine": machine(), "pid": os.getpid()})


if __name__ == "__main__":
    main()
