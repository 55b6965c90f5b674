#!/usr/bin/env python3
"""Load test: a few hundred simulated phones posting to one `coachco2 serve` with its worker on.

Starts `coachco2 serve` (in-process worker ON) on a fresh database and registers `--phones` people. For
`--duration` seconds each phone (an asyncio task) posts its simulated day of points (duty-cycled phone,
with accuracy and motion-activity hints, starting 20 hours ago) in time order, in batches of 50-500
points with 0.5-1.5 s between posts; 3 % of batches are sent twice on purpose (a lost answer). A request
that fails (connection error, time-out, 5xx, 429, 503) is retried up to 5 times with back-off (at least
Retry-After on a 429); a point counts as acknowledged once a 202 covered it. All phones come from
127.0.0.1, so the server's per-IP abuse limits are raised for the run (`bench/_common.py`, `server`).

Afterwards it waits (at most `--drain-timeout` s) until `GET /v1/me/pipeline` says `pending_points: 0` for
every phone, then checks in the database that every acknowledged point is stored exactly once and nothing
else is stored, that every phone has trips, and that no request was answered 5xx. Prints one JSON line:
requests, points, throughput, p50/p99 latency, retries, statuses, drain time and the checks.

    .venv/bin/python bench/load.py --database postgresql
    .venv/bin/python bench/load.py --database sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid

import numpy as np
from _common import emit, fresh_store, log, machine, percentiles, server, simulated_days

RETRYABLE = {429, 500, 502, 503, 504}


class Phone:
    def __init__(self, token: str, user_id: str, sim) -> None:
        self.token = token
        self.user_id = user_id
        p = sim.points
        ts_ms = np.round(p.ts_s * 1000).astype(np.int64)
        first = np.concatenate(([True], np.diff(ts_ms) > 0))
        self.ts_ms = ts_ms[first]
        self.lat = np.round(p.lat[first], 7)
        self.lon = np.round(p.lon[first], 7)
        self.acc = np.round(p.accuracy_m[first], 1)
        a = sim.activities
        self.act_ts = a.ts_s if a is not None else np.zeros(0)
        self.act_kind = a.kind if a is not None else np.zeros(0, dtype=object)
        self.act_conf = a.confidence if a is not None else np.zeros(0)
        self.cursor = 0
        self.acked: set[int] = set()

    def body(self, lo: int, hi: int) -> bytes:
        pts = [
            {"ts": int(t) / 1000, "lat": float(la), "lon": float(lo_), "accuracy": float(ac)}
            for t, la, lo_, ac in zip(
                self.ts_ms[lo:hi], self.lat[lo:hi], self.lon[lo:hi], self.acc[lo:hi], strict=True
            )
        ]
        t0, t1 = self.ts_ms[lo] / 1000, self.ts_ms[hi - 1] / 1000
        sel = (self.act_ts >= t0) & (self.act_ts <= t1)
        acts = [
            {"ts": float(t), "type": str(k), "confidence": int(c)}
            for t, k, c in zip(self.act_ts[sel], self.act_kind[sel], self.act_conf[sel], strict=True)
        ]
        return json.dumps({"points": pts, "activities": acts}, separators=(",", ":")).encode()


async def phone_loop(client, phone: Phone, deadline: float, stats: dict, rng: random.Random) -> None:
    headers = {"Authorization": f"Bearer {phone.token}", "Content-Type": "application/json"}
    await asyncio.sleep(rng.uniform(0, 1.5))  # phones do not start in step
    n = phone.ts_ms.size
    while phone.cursor < n and time.monotonic() < deadline:
        lo = phone.cursor
        hi = min(n, lo + rng.randint(50, 500))
        body = phone.body(lo, hi)
        sends = 2 if rng.random() < 0.03 else 1
        for _ in range(sends):
            for attempt in range(6):
                t0 = time.perf_counter()
                try:
                    r = await client.post("/v1/me/locations", content=body, headers=headers)
                    code = r.status_code
                except Exception as exc:  # time-out, connection reset: retry
                    code = None
                    stats["errors"][type(exc).__name__] = stats["errors"].get(type(exc).__name__, 0) + 1
                stats["latencies"].append(time.perf_counter() - t0)
                stats["statuses"][str(code)] = stats["statuses"].get(str(code), 0) + 1
                if code == 202:
                    answer = r.json()
                    stats["accepted"] += answer["accepted"]
                    stats["duplicates"] += answer["duplicates"]
                    phone.acked.update(int(t) for t in phone.ts_ms[lo:hi])
                    break
                if code is not None and code not in RETRYABLE:
                    stats["failed"] += 1
                    break
                if attempt == 5:
                    stats["gave_up"] += 1
                    break
                stats["retries"] += 1
                backoff = min(8.0, 0.25 * 2**attempt) * rng.uniform(0.5, 1.5)
                if code == 429:  # a phone honours Retry-After
                    backoff = max(backoff, min(60.0, float(r.headers.get("Retry-After", "1"))))
                await asyncio.sleep(backoff)
        phone.cursor = hi
        await asyncio.sleep(rng.uniform(0.5, 1.5))


async def drain(base: str, phones: list[Phone], timeout_s: float) -> tuple[float, int]:
    """Seconds until every phone's pending_points is 0 (or the time-out); phones still pending."""
    import httpx

    t0 = time.monotonic()
    waiting = list(phones)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while waiting and time.monotonic() - t0 < timeout_s:
            still = []
            for p in waiting:
                r = await client.get("/v1/me/pipeline", headers={"Authorization": f"Bearer {p.token}"})
                if r.status_code != 200 or r.json()["pending_points"] != 0:
                    still.append(p)
            waiting = still
            if waiting:
                await asyncio.sleep(1.0)
    return time.monotonic() - t0, len(waiting)


async def stored(store, phones: list[Phone]) -> dict[str, tuple[set[int], int, int]]:
    """Per phone: stored ts set, row count, trip count (straight from the database)."""
    out = {}
    if store.kind == "postgresql":
        import asyncpg

        conn = await asyncpg.connect(store.raw_dsn)
        try:
            for p in phones:
                u = uuid.UUID(p.user_id)
                ts = await conn.fetch("SELECT ts_ms FROM location_points WHERE user_id = $1", u)
                trips = await conn.fetchval("SELECT count(*) FROM trips WHERE user_id = $1", u)
                out[p.user_id] = ({r[0] for r in ts}, len(ts), int(trips))
        finally:
            await conn.close()
    else:
        import sqlite3

        conn = sqlite3.connect(store.raw_dsn)
        try:
            for p in phones:
                u = uuid.UUID(p.user_id).hex
                ts = [r[0] for r in conn.execute("SELECT ts_ms FROM location_points WHERE user_id = ?", (u,))]
                trips = conn.execute("SELECT count(*) FROM trips WHERE user_id = ?", (u,)).fetchone()[0]
                out[p.user_id] = (set(ts), len(ts), int(trips))
        finally:
            conn.close()
    return out


async def run(base: str, store, n_phones: int, duration: float, drain_timeout: float) -> dict:
    import httpx

    start_s = time.time() - 20 * 3600
    phones: list[Phone] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for i in range(n_phones):
            r = await client.post("/v1/auth/register", json={"device_label": f"bench phone {i}"})
            r.raise_for_status()
            sim = simulated_days(1, seed=5000 + i, start_ts_s=start_s + (i % 60) * 60)[0]
            phones.append(Phone(r.json()["token"], r.json()["user_id"], sim))
    log(f"{n_phones} phones registered; posting for {duration:.0f} s …")
    stats: dict = {"latencies": [], "statuses": {}, "errors": {}, "accepted": 0, "duplicates": 0, "retries": 0,
                   "failed": 0, "gave_up": 0}  # fmt: skip
    limits = httpx.Limits(max_connections=n_phones, max_keepalive_connections=n_phones)
    rng = random.Random(42)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        t0 = time.monotonic()
        deadline = t0 + duration
        tasks = [phone_loop(client, p, deadline, stats, random.Random(rng.random())) for p in phones]
        # bounded: every loop stops at the deadline; the last requests have a 30 s time-out and 6 attempts
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=duration + 300)
        posting_s = time.monotonic() - t0
    log(f"posting done in {posting_s:.1f} s: {stats['statuses']}; waiting for the worker …")
    drain_s, still_pending = await drain(base, phones, drain_timeout)
    log(f"drained in {drain_s:.1f} s, {still_pending} phones still pending")
    held = await stored(store, phones)
    missing = sum(len(p.acked - held[p.user_id][0]) for p in phones)
    unacked_stored = sum(len(held[p.user_id][0] - p.acked) for p in phones)
    duplicated = sum(held[p.user_id][1] - len(held[p.user_id][0]) for p in phones)
    without_trips = sum(1 for p in phones if held[p.user_id][2] == 0 and len(p.acked) > 0)
    acked = sum(len(p.acked) for p in phones)
    five_xx = sum(v for k, v in stats["statuses"].items() if k.startswith("5"))
    return {
        "phones": n_phones,
        "duration_s": duration,
        "posting_s": round(posting_s, 1),
        "requests": len(stats["latencies"]),
        "statuses": stats["statuses"],
        "client_errors": stats["errors"],
        "retries": stats["retries"],
        "gave_up": stats["gave_up"],
        "points_acknowledged": acked,
        "points_accepted": stats["accepted"],
        "duplicates_answered": stats["duplicates"],
        "throughput_pps": round(stats["accepted"] / posting_s, 1),
        "requests_per_s": round(len(stats["latencies"]) / posting_s, 1),
        **{f"latency_{k}": v for k, v in percentiles(stats["latencies"]).items()},
        "drain_s": round(drain_s, 1),
        "phones_still_pending": still_pending,
        "acknowledged_missing": missing,
        "stored_unacknowledged": unacked_stored,
        "stored_twice": duplicated,
        "phones_without_trips": without_trips,
        "answered_5xx": five_xx,
        "ok": still_pending == 0 and missing == 0 and duplicated == 0 and five_xx == 0 and without_trips == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--phones", type=int, default=300)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    args = parser.parse_args()
    with fresh_store(args.database, "load") as store, server(store.url, worker=True) as base:
        figures = asyncio.run(run(base, store, args.phones, args.duration, args.drain_timeout))
    emit({"benchmark": "load", "database": args.database, **figures, "machine": machine()})


if __name__ == "__main__":
    main()
