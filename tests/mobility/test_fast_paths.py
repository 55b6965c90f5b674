"""The pipeline's fast paths agree with the plain definitions they replace, on random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from app.mobility.clean import MAX_BURST, clean_points
from app.mobility.geo import haversine_between, haversine_steps
from app.mobility.legs import FAST, SLOW, StepRun, _absorb_short, _merge_adjacent
from app.mobility.params import DEFAULT_PARAMS
from app.mobility.stays import WINDOW_SAMPLES, _dwell_evidence
from app.mobility.types import PointArrays


def _absorb_plainly(runs: list[StepRun], t: np.ndarray, min_s: float) -> list[StepRun]:
    """The definition: flip the shortest run under ``min_s`` (the first of equals), merge, again."""
    runs = _merge_adjacent(runs)
    while len(runs) > 1:
        durs = [r.duration(t) for r in runs]
        k = int(np.argmin(durs))
        if durs[k] >= min_s:
            break
        if k == 0:
            runs[0].kind = runs[1].kind
        elif k == len(runs) - 1:
            runs[k].kind = runs[k - 1].kind
        else:
            runs[k].kind = runs[k - 1].kind if durs[k - 1] >= durs[k + 1] else runs[k + 1].kind
        runs = _merge_adjacent(runs)
    return runs


@pytest.mark.parametrize("seed", range(40))
def test_absorb_short_is_the_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    steps = int(rng.integers(1, 400))
    # whole seconds make equal durations, so ties are exercised
    t = np.cumsum(rng.integers(1, 30, steps + 1)).astype(np.float64)
    kinds = rng.choice([SLOW, FAST, 10, 11, 12][: int(rng.integers(2, 6))], steps)
    cuts = np.flatnonzero(np.diff(kinds) != 0) + 1
    firsts = np.concatenate(([0], cuts))
    lasts = np.concatenate((cuts - 1, [steps - 1]))
    runs = [StepRun(int(a), int(b), int(kinds[a])) for a, b in zip(firsts, lasts, strict=True)]
    fresh = [StepRun(r.first, r.last, r.kind) for r in runs]
    assert _absorb_short(runs, t, 60.0) == _absorb_plainly(fresh, t, 60.0)


def _dwell_plainly(t: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every window judged on all its samples, one fix at a time."""
    p = DEFAULT_PARAMS
    firsts, inliers, lasts = [], [], []
    for c in range(1, t.size):
        k = int(np.searchsorted(t, t[c] - p.stay_min_duration_s, side="right")) - 1
        if k < 0:
            continue
        w = max(c - k, 1)
        j = np.arange(1, WINDOW_SAMPLES + 1)
        offsets = np.minimum(j, w) if w <= WINDOW_SAMPLES else np.ceil(w * j / WINDOW_SAMPLES).astype(int)
        used = (j <= w) | (w > WINDOW_SAMPLES)
        others = c - offsets[used]
        near = np.hypot(x[others] - x[c], y[others] - y[c]) <= p.stay_radius_m
        span = t[c] - min(t[others][near].min(initial=np.inf), t[c])
        if near.sum() / used.sum() >= p.stay_inlier_share - 1e-9 and span >= 0.8 * p.stay_min_duration_s:
            firsts.append(k)
            inliers.append(min(int(np.searchsorted(t, t[c] - span)), c))
            lasts.append(c)
    return np.array(firsts), np.array(inliers), np.array(lasts)


@pytest.mark.parametrize("seed", range(6))
def test_dwell_evidence_is_the_definition(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = 1500
    t = np.cumsum(rng.choice([1.0, 5.0, 30.0, 400.0], n, p=[0.6, 0.25, 0.14, 0.01]))
    # stays and walks, with fixes landing on the radius itself now and then
    speed = np.where((t // 900) % 2 == 0, 0.0, rng.uniform(0.5, 3.0))
    x = np.cumsum(speed * np.diff(t, prepend=t[0])) + rng.normal(0.0, 20.0, n)
    y = rng.normal(0.0, 20.0, n)
    edge = rng.random(n) < 0.05
    x[edge] = x[np.maximum(np.arange(n)[edge] - 3, 0)] + 100.0
    y[edge] = y[np.maximum(np.arange(n)[edge] - 3, 0)]
    got = _dwell_evidence(t, x, y, DEFAULT_PARAMS)
    want = _dwell_plainly(t, x, y)
    assert want[0].size > 50  # dwells were found, and not everywhere
    assert want[0].size < n - 100
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g, w)


def _spikes_plainly(ts: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """The spike rule on every run of one to three fixes, from scratch."""
    p = DEFAULT_PARAMS
    n = ts.size
    bad = np.zeros(n, dtype=bool)
    if n < 3:
        if n == 2 and haversine_steps(lat, lon)[0] / max(ts[1] - ts[0], 1e-3) > p.max_speed_mps:
            bad[1] = True
        return bad
    v = haversine_steps(lat, lon) / np.maximum(np.diff(ts), 1e-3)
    for k in range(1, MAX_BURST + 1):
        for first in range(1, n - k):
            v_min = min(v[first - 1], v[first + k - 1])
            skip = haversine_between(lat, lon, np.array([first - 1]), np.array([first + k]))[0]
            v_skip = skip / max(ts[first + k] - ts[first - 1], 1e-3)
            if v_min > p.max_speed_mps or (v_min > p.spike_min_speed_mps and v_min > p.spike_ratio * v_skip):
                bad[first : first + k] = True
    bad[-1] |= v[-1] > p.max_speed_mps and v[-2] <= p.max_speed_mps
    bad[0] |= v[0] > p.max_speed_mps and v[1] <= p.max_speed_mps
    return bad


@pytest.mark.parametrize("seed", range(8))
def test_clean_points_is_the_definition(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    n = 600
    ts = np.cumsum(rng.choice([1.0, 5.0, 30.0], n))
    ts[rng.random(n) < 0.02] = ts[0]  # repeated times
    lat = 46.15 + np.cumsum(rng.normal(0.0, 2e-5, n))
    lon = -1.15 + np.cumsum(rng.normal(0.0, 2e-5, n))
    wild = rng.random(n) < 0.06  # lone wild fixes, and bursts of neighbours
    wild |= np.roll(wild, 1) & (rng.random(n) < 0.4)
    lat[wild] += rng.choice([-1, 1], int(wild.sum())) * rng.uniform(0.01, 0.3, int(wild.sum()))
    acc = rng.uniform(3.0, 300.0, n)
    points = PointArrays.from_arrays(ts, lat, lon, acc)
    # the definition: sort, drop, then rounds of spike removal from scratch
    keep = np.flatnonzero(acc < DEFAULT_PARAMS.max_accuracy_m)
    keep = keep[np.argsort(ts[keep], kind="stable")]
    keep = keep[np.concatenate(([True], np.diff(ts[keep]) > 0))]
    rounds = 0
    for _ in range(4):
        bad = _spikes_plainly(ts[keep], lat[keep], lon[keep])
        if not bad.any():
            break
        rounds += 1
        keep = keep[~bad]
    got = clean_points(points)
    assert rounds >= 1
    assert np.array_equal(got.ts_s, ts[keep])
    assert np.array_equal(got.lat, lat[keep])
    assert np.array_equal(got.accuracy_m, acc[keep])
