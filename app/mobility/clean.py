"""Cleaning: drop fixes that cannot be trusted before anything else looks at them."""

from __future__ import annotations

import numpy as np

from app.mobility.geo import haversine_between, haversine_steps
from app.mobility.params import DEFAULT_PARAMS, PipelineParams
from app.mobility.types import BoolArray, FloatArray, PointArrays


def clean_points(points: PointArrays, params: PipelineParams = DEFAULT_PARAMS) -> PointArrays:
    """Remove invalid, imprecise, duplicated and impossible points.

    Steps:
      1. non-finite or out-of-range coordinates and timestamps;
      2. accuracy at or above ``params.max_accuracy_m`` (e-mission's phones drop >= 200 m fixes);
      3. duplicate timestamps (the first is kept) after a stable sort by time;
      4. spikes: a point reached from its previous neighbour and left to its next one faster than
         ``params.max_speed_mps`` (340 m/s, e-mission), or faster than ``params.spike_min_speed_mps``
         while the direct hop between the neighbours is ``params.spike_ratio`` times slower
         (an out-and-back jump of the fix, not movement). Repeated a few times since removing one
         spike can reveal the next one of a burst.

    Args:
        points: one user's points (any order).
        params: thresholds, see :class:`PipelineParams`.

    Returns:
        The kept points, sorted by time.
    """
    ok = (
        np.isfinite(points.ts_s)
        & np.isfinite(points.lat)
        & np.isfinite(points.lon)
        & (np.abs(points.lat) <= 90.0)
        & (np.abs(points.lon) <= 180.0)
        & ~((points.lat == 0.0) & (points.lon == 0.0))
    )
    acc = points.accuracy_m
    ok &= ~(np.isfinite(acc) & (acc >= params.max_accuracy_m))
    idx = np.flatnonzero(ok)
    idx = idx[np.argsort(points.ts_s[idx], kind="stable")]
    if idx.size > 1:
        keep = np.ones(idx.size, dtype=bool)
        keep[1:] = np.diff(points.ts_s[idx]) > 0
        idx = idx[keep]
    # the spike rounds read times and positions only: the other columns are taken once at the end
    ts, lat, lon = points.ts_s[idx], points.lat[idx], points.lon[idx]
    step = haversine_steps(lat, lon)
    for _ in range(4):
        bad = _spikes(ts, lat, lon, step, params)
        if not bad.any():
            break
        kept = np.flatnonzero(~bad)
        # a hop between fixes that stay neighbours is the same; only the hops over removed fixes are new
        same = kept[1:] == kept[:-1] + 1
        hop = np.empty(max(kept.size - 1, 0))
        hop[same] = step[kept[:-1][same]]
        over = np.flatnonzero(~same)
        hop[over] = haversine_between(lat, lon, kept[over], kept[over + 1])
        idx, ts, lat, lon, step = idx[kept], ts[kept], lat[kept], lon[kept], hop
    return points.take(idx)


#: longest run of consecutive wild fixes removed as one burst
MAX_BURST = 3


def _spikes(
    ts: FloatArray, lat: FloatArray, lon: FloatArray, step: FloatArray, params: PipelineParams
) -> BoolArray:
    """Flag points that jump away and back (see :func:`clean_points`); ``step`` holds the spherical
    distances between neighbours (:func:`app.mobility.geo.haversine_steps`)."""
    n = ts.size
    bad = np.zeros(n, dtype=bool)
    if n < 3:
        if n == 2:
            dt = max(ts[1] - ts[0], 1e-3)
            if step[0] / dt > params.max_speed_mps:
                bad[1] = True
        return bad
    dt = np.maximum(np.diff(ts), 1e-3)
    v = step / dt
    # bursts of k consecutive wild fixes (k = 1..MAX_BURST): the run is entered and left too fast
    # while the hop from the fix before to the fix after the run is plausible
    # a spike is entered and left faster than the lower of the two speed bounds: only those runs
    # need the hop over them
    floor = min(params.max_speed_mps, params.spike_min_speed_mps)
    for k in range(1, MAX_BURST + 1):
        if n < k + 2:
            break
        v_min = np.minimum(v[: n - k - 1], v[k : n - 1])  # entering run first..first+k-1, leaving it
        fast = np.flatnonzero(v_min > floor)
        first = fast + 1  # first fix of the run; the run is first..first+k-1
        v_min = v_min[fast]
        skip = haversine_between(lat, lon, first - 1, first + k)
        v_skip = skip / np.maximum(ts[first + k] - ts[first - 1], 1e-3)
        spike = (v_min > params.max_speed_mps) | (
            (v_min > params.spike_min_speed_mps) & (v_min > params.spike_ratio * v_skip)
        )
        for j in range(k):
            bad[first[spike] + j] = True
    # ends: a last point arriving impossibly fast has no second neighbour to confirm it
    bad[-1] |= v[-1] > params.max_speed_mps and v[-2] <= params.max_speed_mps
    bad[0] |= v[0] > params.max_speed_mps and v[1] <= params.max_speed_mps
    return bad
