#!/usr/bin/env python3
"""One phone end to end, HTTP ingest and the pipeline to its last trip, against trackintel's compute alone.

Simulates one phone's points (`--points`, about 64,000: nine commute days recorded like a duty-cycled
phone with wild and poor fixes, as bench/pipeline.py simulates them), then:

- ours: a fresh `coachco2 serve` (its pipeline worker in the process) on a fresh database, pinned to one
  CPU with OMP/BLAS threads set to 1, so the server, its worker and, on SQLite, the database share that one
  core; the process pool it hands big windows to inherits the pin. The client runs on another CPU. After a
  warm-up by other people (a day posted as the phone will, a history imported: imports, caches, the
  process pool; not counted, see `warm_up`), the phone registers and
  posts its points in batches of `--batch` (5,000) one after the other, pre-encoded JSON (`--gzip`: gzip),
  one object per point to `POST /v1/me/locations`, or (`--columns`) one array per field to
  `POST /v1/me/locations/columns`, the numbers written alike in both,
  then asks `GET /v1/me/pipeline` and `GET /v1/me/trips` every 20 ms until nothing is pending and its
  trips are there. Timed: from the first byte of the first batch to that answer.
- trackintel 1.4 on the same points (in bench/.venv-peers, made by bench/pipeline.py's `ensure_peers`),
  pinned to the same CPU: `generate_staypoints`, `generate_triplegs`, `predict_transport_mode`, as
  bench/_peer_trackintel.py times them (its imports and the building of its GeoDataFrame not counted).

One run of each, one after the other. Prints one JSON line: our upload and processing times, points per
second end to end, trackintel's time, and `ratio` = trackintel's seconds / ours (target >= 1: the phone's
points through HTTP, storage and the whole pipeline in no more time than trackintel's compute alone).

    .venv/bin/python bench/end_to_end.py                  # SQLite
    .venv/bin/python bench/end_to_end.py --database postgresql
    .venv/bin/python bench/end_to_end.py --columns            # the columnar body
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, emit, fresh_store, log, machine, server, simulated_days
from ingest import server_cpu_s
from pipeline import ONE_CORE_ENV, PEERS, ensure_peers, run_child

#: the CPU the server (and then trackintel) runs on, and the one the client runs on
SERVER_CPU = 0
CLIENT_CPU = 1


def phone_points(target: int, seed: int, end_ts_s: float) -> dict[str, np.ndarray]:
    """About `target` points of one simulated phone, days ending before `end_ts_s`, one point per time,
    rounded as a phone's JSON carries them."""
    days = max(1, -(-target // 7000))
    sims = simulated_days(days, seed=seed, start_ts_s=end_ts_s - (days + 1) * 86400.0)
    ts = np.concatenate([s.points.ts_s for s in sims])
    lat = np.concatenate([s.points.lat for s in sims])
    lon = np.concatenate([s.points.lon for s in sims])
    acc = np.concatenate([s.points.accuracy_m for s in sims])
    ts = np.round(ts, 3)
    keep = np.concatenate(([True], np.diff(ts) > 0))  # the simulator may repeat a time after a trip
    return {
        "ts_s": ts[keep][:target],
        "lat": np.round(lat[keep], 7)[:target],
        "lon": np.round(lon[keep], 7)[:target],
        "accuracy_m": np.round(acc[keep], 1)[:target],
    }


#: where each form of the batch is posted
ENDPOINTS = {False: "/v1/me/locations", True: "/v1/me/locations/columns"}


def column_bodies(points: dict[str, np.ndarray], batch: int, gzipped: bool) -> list[bytes]:
    """The batches as columns: the same Python floats as the object form's bodies, so the same digits."""
    names = {"ts": "ts_s", "lat": "lat", "lon": "lon", "accuracy": "accuracy_m"}
    values = {field: points[column].tolist() for field, column in names.items()}
    out = []
    for i in range(0, len(values["ts"]), batch):
        data = {field: column[i : i + batch] for field, column in values.items()}
        raw = json.dumps(data, separators=(",", ":")).encode()
        out.append(gzip.compress(raw, 6) if gzipped else raw)
    return out


def bodies(points: dict[str, np.ndarray], batch: int, gzipped: bool, columns: bool = False) -> list[bytes]:
    if columns:
        return column_bodies(points, batch, gzipped)
    rows = list(
        zip(
            points["ts_s"].tolist(),
            points["lat"].tolist(),
            points["lon"].tolist(),
            points["accuracy_m"].tolist(),
            strict=True,
        )
    )
    out = []
    for i in range(0, len(rows), batch):
        data = {
            "points": [{"ts": t, "lat": la, "lon": lo, "accuracy": a} for t, la, lo, a in rows[i : i + batch]]
        }
        raw = json.dumps(data, separators=(",", ":")).encode()
        out.append(gzip.compress(raw, 6) if gzipped else raw)
    return out


async def one_phone(
    base: str, payloads: list[bytes], gzipped: bool, timeout_s: float, columns: bool = False
) -> dict:
    """Register, post every batch in turn (to the columnar endpoint with `columns`), then wait through the
    API for the last trip."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        r = await client.post("/v1/auth/register", json={})
        r.raise_for_status()
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        headers = {**auth, "Content-Type": "application/json"}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        accepted = 0
        latencies = []
        cpu_before = server_cpu_s(base)
        t0 = time.perf_counter()
        for payload in payloads:
            t = time.perf_counter()
            r = await client.post(ENDPOINTS[columns], content=payload, headers=headers)
            latencies.append(time.perf_counter() - t)
            if r.status_code != 202:
                raise RuntimeError(f"POST {ENDPOINTS[columns]} answered {r.status_code}: {r.text[:300]}")
            accepted += r.json()["accepted"]
        uploaded = time.perf_counter()
        polls = 0
        deadline = uploaded + timeout_s
        while True:
            polls += 1
            state = (await client.get("/v1/me/pipeline", headers=auth)).json()
            if state["pending_points"] == 0:
                trips = (await client.get("/v1/me/trips", headers=auth, params={"limit": 1})).json()
                if trips["trips"]:
                    break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"still pending after {timeout_s:.0f} s: {state}")
            await asyncio.sleep(0.02)
        done = time.perf_counter()
        cpu_after = server_cpu_s(base)
        # every trip, for the figures (after the clock stopped)
        found, legs, cursor = 0, 0, None
        while True:
            params: dict = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/me/trips", headers=auth, params=params)).json()
            found += len(page["trips"])
            legs += sum(len(t["legs"]) for t in page["trips"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return {
        "accepted": accepted,
        "requests": len(payloads),
        "upload_s": round(uploaded - t0, 3),
        "processing_after_upload_s": round(done - uploaded, 3),
        "seconds": round(done - t0, 3),
        "request_p50_ms": round(float(np.median(latencies)) * 1000, 1),
        "request_max_ms": round(max(latencies) * 1000, 1),
        "status_polls": polls,
        # the server process's CPU time meanwhile (ingest, worker, SQLite), not its process pool's
        "server_cpu_s": round(cpu_after - cpu_before, 2)
        if cpu_before is not None and cpu_after is not None
        else None,
        "trips": found,
        "legs": legs,
    }


def gpx(points: dict[str, np.ndarray]) -> bytes:
    """The points as a GPX track, for the warm-up's import."""
    from datetime import UTC, datetime

    fixes = "".join(
        f'<trkpt lat="{la}" lon="{lo}"><time>'
        f"{datetime.fromtimestamp(t, UTC).isoformat(timespec='milliseconds').replace('+00:00', 'Z')}"
        "</time></trkpt>"
        for t, la, lo in zip(
            points["ts_s"].tolist(), points["lat"].tolist(), points["lon"].tolist(), strict=True
        )
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" creator="bench" '
        f'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{fixes}</trkseg></trk></gpx>'
    ).encode()


async def warm_up(
    base: str, day: dict[str, np.ndarray], history: dict[str, np.ndarray], timeout_s: float, columns: bool
) -> None:
    """Other people through the same paths, not counted: one posts a day of points as the phone will (imports,
    caches, the worker's thread), another imports a history of more than 20,000 points, whose pipeline window
    goes to the process pool the server hands big windows to, so that the pool is started before the phone's
    run, as it is in a server that has been up for a while."""
    import httpx

    await one_phone(base, bodies(day, 5000, gzipped=False, columns=columns), False, timeout_s, columns)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        r = await client.post("/v1/auth/register", json={})
        r.raise_for_status()
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        r = await client.post(
            "/v1/me/imports", params={"filename": "history.gpx"}, content=gpx(history), headers=auth
        )
        if r.status_code != 202:
            raise RuntimeError(f"the warm-up import answered {r.status_code}: {r.text[:300]}")
        import_id = r.json()["id"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = (await client.get(f"/v1/me/imports/{import_id}", headers=auth)).json()["status"]
            pending = (await client.get("/v1/me/pipeline", headers=auth)).json()["pending_points"]
            if status == "failed":
                raise RuntimeError("the warm-up import failed")
            if status == "done" and pending == 0:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("the warm-up import was not processed in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--points", type=int, default=64_000)
    parser.add_argument("--batch", type=int, default=5000, help="points per request (default 5,000)")
    parser.add_argument("--gzip", action="store_true", help="send the batches gzip-compressed")
    parser.add_argument(
        "--columns", action="store_true", help="post one array per field to POST /v1/me/locations/columns"
    )
    parser.add_argument("--no-peer", action="store_true", help="skip trackintel")
    parser.add_argument("--timeout", type=float, default=600, help="give up waiting for trips after this")
    args = parser.parse_args()

    cpus = os.sched_getaffinity(0)
    if not {SERVER_CPU, CLIENT_CPU} <= cpus:
        raise SystemExit(f"needs CPUs {SERVER_CPU} and {CLIENT_CPU}; this process may use {sorted(cpus)}")
    now = time.time()
    phone = phone_points(args.points, seed=4242, end_ts_s=now)
    warm_day = phone_points(7_000, seed=4343, end_ts_s=now)
    warm_history = phone_points(25_000, seed=4444, end_ts_s=now)
    payloads = bodies(phone, args.batch, args.gzip, args.columns)
    n = int(phone["ts_s"].size)
    log(f"{n} points, {len(payloads)} batches, {sum(map(len, payloads)) / n:.1f} bytes per point")

    with tempfile.TemporaryDirectory(prefix="coachco2_bench_e2e_") as folder:
        npz = Path(folder) / "points.npz"
        np.savez(npz, user=np.zeros(n, dtype=np.int64), **phone)
        load_before = os.getloadavg()
        with fresh_store(args.database, "e2e") as store:
            # the server inherits this process's CPU at its start; the client then moves to the other one
            os.sched_setaffinity(0, {SERVER_CPU})
            try:
                with server(store.url, worker=True, extra_env=ONE_CORE_ENV) as base:
                    os.sched_setaffinity(0, {CLIENT_CPU})
                    asyncio.run(warm_up(base, warm_day, warm_history, args.timeout, args.columns))
                    log("warm; the phone posts …")
                    ours = asyncio.run(one_phone(base, payloads, args.gzip, args.timeout, args.columns))
                    log(f"ours: {ours}")
            finally:
                os.sched_setaffinity(0, cpus)
        peer: dict | None = None
        peer_error: str | None = None
        if not args.no_peer:
            peer_error = ensure_peers()
            if peer_error is None:  # run_child pins it to CPU 0, the server's
                peer, peer_error = run_child(
                    [str(PEERS / "bin" / "python"), str(ROOT / "bench" / "_peer_trackintel.py"), str(npz)],
                    1800,
                )
            log(f"trackintel: {peer or peer_error}")

    ratio = peer["seconds"] / ours["seconds"] if peer else None
    emit(
        {
            "benchmark": "end_to_end",
            "database": args.database,
            "points": n,
            "batch": args.batch,
            "encoding": ("columns+gzip" if args.gzip else "columns")
            if args.columns
            else ("gzip" if args.gzip else "json"),
            "ours": ours,
            "ours_pps": round(n / ours["seconds"], 1),
            "ours_upload_pps": round(n / ours["upload_s"], 1),
            "trackintel": peer,
            "trackintel_error": peer_error,
            "ratio": round(ratio, 3) if ratio else None,
            "target_ratio": 1.0,
            "target_met": ratio >= 1.0 if ratio else None,
            "one_core": f"server, its worker and its process pool on CPU {SERVER_CPU} (sched_setaffinity, "
            f"OMP/OPENBLAS/MKL/NUMEXPR threads = 1), trackintel on the same CPU after; the client on CPU "
            f"{CLIENT_CPU}"
            + ("; PostgreSQL's own processes are not pinned" if args.database == "postgresql" else ""),
            "load_average_before": [round(x, 2) for x in load_before],
            "machine": machine(pg=args.database == "postgresql"),
        }
    )


if __name__ == "__main__":
    main()
