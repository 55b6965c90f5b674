"""Cleaning: accuracy, duplicates, order and speed outliers."""

import numpy as np

from app.mobility import PointArrays
from app.mobility.clean import clean_points
from app.mobility.simulate import LegPlan, StayPlan, TripPlan, simulate


def _line(n: int = 120, step_m: float = 10.0, dt_s: float = 5.0) -> PointArrays:
    """A straight walk-ish track heading north."""
    lat = 46.16 + np.arange(n) * step_m / 111_195.0
    return PointArrays.from_arrays(np.arange(n) * dt_s, lat, np.full(n, -1.15))


def test_drops_poor_accuracy_but_keeps_unknown_accuracy() -> None:
    pts = _line()
    acc = np.full(len(pts), np.nan)
    acc[10] = 250.0  # dropped: e-mission's phones drop >= 200 m
    acc[11] = 199.0  # kept
    acc[12] = 15.0
    cleaned = clean_points(PointArrays(pts.ts_s, pts.lat, pts.lon, acc, pts.speed_mps, pts.altitude_m))
    assert len(cleaned) == len(pts) - 1
    assert pts.ts_s[10] not in cleaned.ts_s
    assert pts.ts_s[11] in cleaned.ts_s


def test_sorts_and_removes_duplicate_timestamps_and_invalid_coordinates() -> None:
    pts = _line(50)
    order = np.random.default_rng(1).permutation(len(pts))
    ts = np.concatenate((pts.ts_s[order], pts.ts_s[:5]))
    lat = np.concatenate((pts.lat[order], pts.lat[:5]))
    lon = np.concatenate((pts.lon[order], pts.lon[:5]))
    lat[3] = np.nan
    cleaned = clean_points(PointArrays.from_arrays(ts, lat, lon))
    assert np.all(np.diff(cleaned.ts_s) > 0)
    assert len(cleaned) == len(pts) - 1


def test_removes_simulated_jumps_and_keeps_the_track() -> None:
    plan = [StayPlan(600), TripPlan((LegPlan("car", 6000),)), StayPlan(600)]
    sim = simulate(plan, seed=3, sampling_s=2, outlier_rate=0.02)
    assert sim.outlier_ts_s.size >= 10
    cleaned = clean_points(sim.points)
    removed = np.setdiff1d(sim.points.ts_s, cleaned.ts_s)
    caught = np.isin(sim.outlier_ts_s, removed).mean()
    assert caught >= 0.9
    # hardly any genuine fix goes with them
    genuine_removed = np.setdiff1d(removed, sim.outlier_ts_s).size
    assert genuine_removed <= 0.01 * len(sim.points)


def test_keeps_a_fast_but_consistent_train() -> None:
    # 80 m/s for a long time is fast, but consistent: not a spike
    n = 200
    lat = 46.16 + np.arange(n) * 80.0 / 111_195.0
    pts = PointArrays.from_arrays(np.arange(n, dtype=float), lat, np.full(n, -1.15))
    assert len(clean_points(pts)) == n
