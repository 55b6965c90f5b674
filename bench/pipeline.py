#!/usr/bin/env python3
"""Points per second through the whole pure pipeline plus CO2e, against trackintel 1.4, on one core.

Simulates about `--points` phone points (many simulated user-days of commutes by foot, bus, car, bike and
train, recorded like a duty-cycled phone with wild and poor fixes), writes them to a temporary `.npz`, and
runs, each in its own process pinned to CPU 0 with OMP/BLAS threads set to 1:

- ours: `app.mobility.process` (cleaning, stays, trips, legs, modes) per person over all their days, then
  `app.emissions.leg_emission` for every leg; timed once, then once more under tracemalloc for the peak
  Python memory, and the process's maximum resident set (ru_maxrss) is reported;
- trackintel 1.4 (in its own virtualenv, `bench/.venv-peers`, created here when missing): the same points
  through `generate_staypoints` + `generate_triplegs` + `predict_transport_mode` (see
  bench/_peer_trackintel.py).

Both get the same points and no motion-activity hints. Each side runs `--runs` times (3 by default),
alternately, and the medians count. Prints one JSON line with both rates and `speedup` = ours /
trackintel, medians (target >= 10), and our peak memory (target <= 500 MB).

    .venv/bin/python bench/pipeline.py            # creates bench/.venv-peers on the first run
    .venv/bin/python bench/pipeline.py --no-peer  # our figures only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, emit, log, machine

PEERS = ROOT / "bench" / ".venv-peers"
ONE_CORE_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
}


def pin() -> None:
    os.sched_setaffinity(0, {0})


def generate(path: Path, target_points: int, days_per_user: int) -> dict:
    from _common import simulated_days

    users, ts, lat, lon, acc = [], [], [], [], []
    total = 0
    u = 0
    start = 1_760_000_000.0  # 2025-10-09
    while total < target_points:
        sims = simulated_days(days_per_user, seed=u, start_ts_s=start)
        t = np.concatenate([s.points.ts_s for s in sims])
        keep = np.concatenate(([True], np.diff(t) > 0))  # the simulator may repeat a time after a trip
        ts.append(t[keep])
        lat.append(np.concatenate([s.points.lat for s in sims])[keep])
        lon.append(np.concatenate([s.points.lon for s in sims])[keep])
        acc.append(np.concatenate([s.points.accuracy_m for s in sims])[keep])
        users.append(np.full(int(keep.sum()), u, dtype=np.int64))
        total += int(keep.sum())
        u += 1
    np.savez(
        path,
        user=np.concatenate(users),
        ts_s=np.concatenate(ts),
        lat=np.concatenate(lat),
        lon=np.concatenate(lon),
        accuracy_m=np.concatenate(acc),
    )
    return {"points": total, "people": u, "user_days": u * days_per_user}


def run_ours(path: str, peak: bool) -> None:
    """In a pinned subprocess: time the pipeline and CO2e on the points (and, with ``peak``, once more
    under tracemalloc), print one JSON line."""
    import tracemalloc

    from app.emissions import great_circle_m, leg_emission
    from app.mobility import PointArrays, process

    with np.load(path) as npz:  # each npz access reads the whole array again: read each once
        data = {k: npz[k] for k in ("user", "ts_s", "lat", "lon", "accuracy_m")}
    user = data["user"]
    bounds = np.flatnonzero(np.diff(user)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [user.size]))
    people = [
        PointArrays.from_arrays(
            data["ts_s"][a:b].copy(),
            data["lat"][a:b].copy(),
            data["lon"][a:b].copy(),
            data["accuracy_m"][a:b].copy(),
        )
        for a, b in zip(starts, ends, strict=True)
    ]
    n = int(user.size)
    del data

    def once() -> dict:
        trips = legs = 0
        co2 = 0.0
        modes: dict[str, int] = {}
        for pts in people:
            result = process(pts, None, now_s=float(pts.ts_s[-1]) + 86400)
            for trip in result.trips:
                trips += 1
                for leg in trip.legs:
                    (lon0, lat0), (lon1, lat1) = leg.coordinates[0], leg.coordinates[-1]
                    e = leg_emission(
                        leg.mode, float(leg.distance_m), great_circle_m=great_circle_m(lat0, lon0, lat1, lon1)
                    )
                    co2 += e.co2e_g
                    legs += 1
                    modes[leg.mode] = modes.get(leg.mode, 0) + 1
        return {"trips": trips, "legs": legs, "co2e_kg": round(co2 / 1000, 1), "modes": modes}

    # warm-up on one person (imports, caches), not counted
    process(people[0], None, now_s=float(people[0].ts_s[-1]) + 86400)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    found = once()
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - cpu0
    peak_bytes = None
    if peak:
        tracemalloc.start()
        once()
        _, peak_bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(
        json.dumps(
            {
                "points": n,
                "people": len(people),
                **found,
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu_seconds, 3),
                "pps": round(n / seconds, 1),
                "tracemalloc_peak_mb": round(peak_bytes / 1e6, 1) if peak_bytes is not None else None,
                "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "affinity": sorted(os.sched_getaffinity(0)),
            }
        ),
        flush=True,
    )


def ensure_peers() -> str | None:
    """The peers' virtualenv with trackintel 1.4; None when it is there, else why it could not be made."""
    py = PEERS / "bin" / "python"
    if py.exists():
        ok = subprocess.run([str(py), "-c", "import trackintel"], capture_output=True)
        if ok.returncode == 0:
            return None
    log(f"creating {PEERS} with trackintel 1.4 (one time) …")
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEERS)], check=True)
        (PEERS / ".gitignore").write_text("*\n")  # never committed
        r = subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "trackintel==1.4.*", "pandas<3"],
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            return "pip install trackintel==1.4.* failed: " + (r.stderr or r.stdout)[-500:]
    except Exception as exc:
        return f"could not create {PEERS}: {exc}"
    return None


def run_child(cmd: list[str], timeout: float) -> tuple[dict | None, str | None]:
    env = {**os.environ, **ONE_CORE_ENV}
    try:
        r = subprocess.run(
            cmd, capture_output=True, text=True, env=env, preexec_fn=pin, timeout=timeout, cwd=str(ROOT)
        )
    except subprocess.TimeoutExpired:
        return None, f"did not finish within {timeout:.0f} s"
    if r.stderr.strip():
        log(r.stderr[-3000:])
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    if r.returncode != 0 or not lines:
        return None, f"exit {r.returncode}: {(r.stderr or r.stdout)[-800:]}"
    return json.loads(lines[-1]), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--days-per-user", type=int, default=3)
    parser.add_argument("--no-peer", action="store_true", help="skip trackintel")
    parser.add_argument("--peer-timeout", type=float, default=1800)
    parser.add_argument("--runs", type=int, default=3, help="runs of each side; the medians count")
    parser.add_argument("--run-ours", help=argparse.SUPPRESS)
    parser.add_argument("--peak", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_ours:
        run_ours(args.run_ours, args.peak)
        return

    with tempfile.TemporaryDirectory(prefix="coachco2_bench_pipeline_") as folder:
        path = Path(folder) / "points.npz"
        t0 = time.perf_counter()
        gen = generate(path, args.points, args.days_per_user)
        log(f"simulated {gen} in {time.perf_counter() - t0:.1f} s")
        ours_runs: list[dict] = []
        peer_runs: list[dict] = []
        peer_error: str | None = None if args.no_peer else ensure_peers()
        for run in range(args.runs):  # alternately, so that both sides meet the same load
            cmd = [sys.executable, str(Path(__file__).resolve()), "--run-ours", str(path)]
            one, err = run_child(cmd + (["--peak"] if run == 0 else []), 1800)
            if one is None:
                raise SystemExit(f"our pipeline failed: {err}")
            log(f"ours: {one}")
            ours_runs.append(one)
            if not args.no_peer and peer_error is None:
                theirs, peer_error = run_child(
                    [str(PEERS / "bin" / "python"), str(ROOT / "bench" / "_peer_trackintel.py"), str(path)],
                    args.peer_timeout,
                )
                log(f"trackintel: {theirs or peer_error}")
                if theirs is not None:
                    peer_runs.append(theirs)
    ours = dict(ours_runs[0])
    ours["seconds"] = statistics.median(r["seconds"] for r in ours_runs)
    ours["pps"] = round(ours["points"] / ours["seconds"], 1)
    ours["cpu_seconds"] = statistics.median(r["cpu_seconds"] for r in ours_runs)
    peer: dict | None = None
    if peer_runs and peer_error is None:
        peer = dict(peer_runs[0])
        for key in ("seconds", "cpu_seconds", "seconds_staypoints", "seconds_triplegs", "seconds_modes"):
            peer[key] = statistics.median(r[key] for r in peer_runs)
        peer["pps"] = round(peer["points"] / peer["seconds"], 1)
        peer["seconds_runs"] = [r["seconds"] for r in peer_runs]
    speedup = ours["pps"] / peer["pps"] if peer else None
    # CPU time of each process: on a machine busy with other work, the time each side actually ran
    speedup_cpu = peer["cpu_seconds"] / ours["cpu_seconds"] if peer else None
    peak_mb = max(ours["tracemalloc_peak_mb"], ours["ru_maxrss_mb"])
    emit(
        {
            "benchmark": "pipeline",
            **gen,
            "ours_pps": ours["pps"],
            "ours_seconds": ours["seconds"],
            "ours_seconds_runs": [r["seconds"] for r in ours_runs],
            "runs": args.runs,
            "ours_trips": ours["trips"],
            "ours_legs": ours["legs"],
            "ours_modes": ours["modes"],
            "ours_tracemalloc_peak_mb": ours["tracemalloc_peak_mb"],
            "ours_ru_maxrss_mb": ours["ru_maxrss_mb"],
            "trackintel": peer,
            "trackintel_error": peer_error,
            "speedup": round(speedup, 2) if speedup else None,
            "speedup_cpu": round(speedup_cpu, 2) if speedup_cpu else None,
            "ours_cpu_seconds": ours["cpu_seconds"],
            "target_speedup": 10,
            "speedup_met": speedup >= 10 if speedup else None,
            "target_peak_mb": 500,
            "memory_met": peak_mb <= 500,
            "one_core": "sched_setaffinity({0}) and OMP/OPENBLAS/MKL/NUMEXPR threads = 1 in both processes",
            "machine": machine(pg=False),
        }
    )


if __name__ == "__main__":
    main()
