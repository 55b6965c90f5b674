"""Cleaning: drop fixes that cannot be trusted before anything else looks at them."""

from __future__ import annotations

import numpy as np

from app.mobility.geo import haversine_between, haversine_steps
from app.mobility.params import DEFAULT_PARAMS, PipelineParams
from app.mobility.types import BoolArray, PointArrays


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
    pts = points.take(np.flatnonzero(ok))
    order = np.argsort(pts.ts_s, kind="stable")
    pts = pts.take(order)
    if len(pts) > 1:
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = np.diff(pts.ts_s) > 0
        pts = pts.take(np.flatnonzero(keep))
    for _ in range(4):
        bad = _spikes(pts, params)
        if not bad.any():
            break
        pts = pts.take(np.flatnonzero(~bad))
    return pts


#: longest run of consecutive wild fixes removed as one burst
MAX_BURST = 3


def _spikes(pts: PointArrays, params: PipelineParams) -> BoolArray:
    """Flag points that jump away and back (see :func:`clean_points`)."""
    n = len(pts)
    bad = np.zeros(n, dtype=bool)
    if n < 3:
        if n == 2:
            dt = max(pts.ts_s[1] - pts.ts_s[0], 1e-3)
            if haversine_steps(pts.lat, pts.lon)[0] / dt > params.max_speed_mps:
                bad[1] = True
        return bad
    step = haversine_steps(pts.lat, pts.lon)
    dt = np.maximum(np.diff(pts.ts_s), 1e-3)
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
        skip = haversine_between(pts.lat, pts.lon, first - 1, first + k)
        v_skip = skip / np.maximum(pts.ts_s[first + k] - pts.ts_s[first - 1], 1e-3)
        spike = (v_min > params.max_speed_mps) | (
            (v_min > params.spike_min_speed_mps) & (v_min > params.spike_ratio * v_skip)
        )
        for j in range(k):
            bad[first[spike] + j] = True
    # ends: a last point arriving impossibly fast has no second neighbour to confirm it
    bad[-1] |= v[-1] > params.max_speed_mps and v[-2] <= params.max_speed_mps
    bad[0] |= v[0] > params.max_speed_mps and v[1] <= params.max_speed_mps
    return bad
