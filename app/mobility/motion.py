"""Per-point kinematics and per-segment motion features (Zheng et al. 2008 style).

Speeds are measured over a short time window (``speed_half_window_s`` either side) rather than
point to point: 1 s loggers jitter by metres, which would otherwise look like walking while
stopped. Steps longer than ``gap_s`` are gaps (no fix, e.g. underground) and are never used as
a speed baseline; they are summarised separately (gap share, speed across gaps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from app.mobility.numeric import percentile
from app.mobility.params import DEFAULT_PARAMS, PipelineParams
from app.mobility.types import FloatArray


def window_speed(
    t: FloatArray, x: FloatArray, y: FloatArray, params: PipelineParams = DEFAULT_PARAMS
) -> FloatArray:
    """Speed (m/s) at each point over +- ``speed_half_window_s``, at least one neighbour each side.

    A neighbour across a gap longer than ``gap_s`` is not used; points isolated by gaps on both
    sides take the speed of the nearest point that has one (0 when none has).
    """
    n = t.size
    if n < 2:
        return np.zeros(n)
    i = np.arange(n)
    h = params.speed_half_window_s
    lo = np.minimum(np.searchsorted(t, t - h, side="left"), np.maximum(i - 1, 0))
    hi = np.maximum(np.searchsorted(t, t + h, side="right") - 1, np.minimum(i + 1, n - 1))
    # never reach across a gap: fall back to the point itself on that side
    lo = np.where(t - t[lo] > params.gap_s, i, lo)
    hi = np.where(t[hi] - t > params.gap_s, i, hi)
    # shrink windows that still straddle a gap further inside (multi-point windows)
    dt = t[hi] - t[lo]
    v = np.full(n, np.nan)
    ok = dt > 0
    v[ok] = np.hypot(x[hi[ok]] - x[lo[ok]], y[hi[ok]] - y[lo[ok]]) / dt[ok]
    if not ok.any():
        return np.zeros(n)
    if not ok.all():
        good = np.flatnonzero(ok)
        nearest = good[np.clip(np.searchsorted(good, i), 0, good.size - 1)]
        prev = good[np.clip(np.searchsorted(good, i) - 1, 0, good.size - 1)]
        pick = np.where(np.abs(prev - i) < np.abs(nearest - i), prev, nearest)
        v = v[pick]
    return v


#: seconds between instants of the uniform grid used for stop, velocity-change and acceleration
#: statistics (independent of the device's sampling rate)
GRID_S = 5.0
#: plateau share: moving means above this speed (m/s, faster than any walk), and the plateau is
#: the 85th percentile speed +- this share of it
PLATEAU_MOVING_MPS = 2.0
PLATEAU_BAND = 0.15
#: Douglas-Peucker tolerance (m) before counting turns, so GPS jitter does not count as turning
TURN_SIMPLIFY_M = 15.0
#: a turn counts only between pieces at least this long (m). Plain Douglas-Peucker (a tenth of the
#: cost of the topology-preserving simplifier: 75 against 715 ns a point, timing `_turns` over the
#: 1,027 legs of bench/pipeline.py) keeps no extra vertices where the path passes the same place
#: twice, so with 30 m pieces it counted 7 % more turns on GeoLife dev legs; with 35 m it counts 0.99
#: as many, and the scores of every left-out user group stay the same or rise (docs/modes.md, "How
#: turns are counted", with the figures with confirmations)
TURN_MIN_PIECE_M = 35.0


def _turns(x: FloatArray, y: FloatArray, params: PipelineParams) -> int:
    """Number of heading changes sharper than ``heading_change_deg`` along the path simplified by
    plain Douglas-Peucker (the topology-preserving variant cost ten times as much for the same scores)."""
    if x.size < 3:
        return 0
    line = shapely.simplify(shapely.linestrings(x, y), TURN_SIMPLIFY_M, preserve_topology=False)
    xy = np.asarray(shapely.get_coordinates(line))
    if xy.shape[0] < 3:
        return 0
    d = np.diff(xy, axis=0)
    length = np.hypot(d[:, 0], d[:, 1])
    head = np.arctan2(d[:, 1], d[:, 0])
    turn = np.abs(np.angle(np.exp(1j * np.diff(head))))
    long_enough = (length[:-1] >= TURN_MIN_PIECE_M) & (length[1:] >= TURN_MIN_PIECE_M)
    return int(np.count_nonzero(long_enough & (turn > np.radians(params.heading_change_deg))))


@dataclass(frozen=True)
class MotionFeatures:
    """Summary of one segment of movement.

    Speeds in m/s, distances in m, durations in s, rates per km.
    """

    duration_s: float
    distance_m: float
    point_count: int
    v_median: float
    v_p85: float
    v_p95: float
    v_mean_moving: float
    overall_speed: float
    gap_share: float
    gap_speed: float
    stop_share: float
    stop_rate_per_km: float
    heading_rate_per_km: float
    velocity_change_rate_per_km: float
    accel_p90: float
    straightness: float
    plateau_share: float = 0.0


def motion_features(
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    v: FloatArray,
    params: PipelineParams = DEFAULT_PARAMS,
) -> MotionFeatures:
    """Features of one segment (its points in time order and their window speeds).

    Following Zheng et al. 2008, beyond speed percentiles: stop rate (stop episodes per km),
    heading change rate (turns sharper than ``heading_change_deg`` per km) and velocity change
    rate (relative speed changes above 0.26 per km, Zheng's threshold quoted in docs/research.md, "Motion features");
    plus gap share and speed across gaps (underground rail loses the fix), acceleration,
    straightness and plateau share (share of the moving time near the 85th percentile speed).
    """
    n = t.size
    duration = float(t[-1] - t[0]) if n else 0.0
    if n < 2:
        return MotionFeatures(
            duration, 0.0, n, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0
        )
    dt = np.diff(t)
    step = np.hypot(np.diff(x), np.diff(y))
    gap = dt > params.gap_s
    # distance from window speeds (1 s jitter while stopped would add up), hops across gaps
    distance = float(np.where(gap, step, 0.5 * (v[:-1] + v[1:]) * dt).sum())
    gap_time = float(dt[gap].sum())
    gap_share = gap_time / duration if duration > 0 else 0.0
    gap_speed = float(step[gap].sum() / gap_time) if gap_time > 0 else 0.0
    # time weights so 1 s and 5 s sampled parts count alike; gaps carry no weight
    w = np.zeros(n)
    wd = np.where(gap, 0.0, dt)
    w[:-1] += wd / 2
    w[1:] += wd / 2
    if w.sum() <= 0:
        w = np.ones(n)
    order = np.argsort(v)
    cw = np.cumsum(w[order]) / w.sum()
    vs = v[order]

    def pct(q: float) -> float:
        return float(vs[min(int(np.searchsorted(cw, q)), n - 1)])

    moving_time = float(wd.sum())
    km = max(distance / 1000.0, 0.05)
    # rates on a uniform time grid so 1 s and 30 s sampling count alike; grid instants inside
    # gaps carry no speed
    grid = np.arange(t[0], t[-1], GRID_S)
    step_of = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, n - 2)
    on = ~gap[step_of]
    vg = np.interp(grid, t, v)[on]
    stopped_g = vg < params.stop_speed_mps
    stop_share = np.count_nonzero(stopped_g) / vg.size if vg.size else 0.0
    # stop episodes (Zheng et al. 2008 stop rate), with hysteresis: a stop ends only once the
    # speed is back above twice the stop speed, so GPS jitter while stopped is one stop
    decided = np.flatnonzero(stopped_g | (vg > 2.0 * params.stop_speed_mps))
    state = stopped_g[decided]
    starts = int(np.count_nonzero(np.diff(state.astype(np.int8)) == 1) + int(state[:1].sum()))
    rel = np.abs(np.diff(vg)) / np.maximum(vg[:-1], 1.0)
    vcr = int(np.count_nonzero(rel > 0.26))
    acc_ok = np.abs(np.diff(vg)) / GRID_S
    # cruising at one speed: share of the moving time (above walking pace) spent within
    # +- PLATEAU_BAND of the 85th percentile speed, i.e. at the line's or road's speed cap
    v85 = pct(0.85)
    moving_g = vg > PLATEAU_MOVING_MPS
    plateau = np.abs(vg[moving_g] - v85) <= PLATEAU_BAND * v85
    plateau_share = np.count_nonzero(plateau) / plateau.size if plateau.size else 0.0
    turns = _turns(x, y, params)
    chord = float(np.hypot(x[-1] - x[0], y[-1] - y[0]))
    return MotionFeatures(
        duration_s=duration,
        distance_m=distance,
        point_count=n,
        v_median=pct(0.5),
        v_p85=v85,
        v_p95=pct(0.95),
        v_mean_moving=float(step[~gap].sum() / moving_time) if moving_time > 0 else 0.0,
        overall_speed=distance / duration if duration > 0 else 0.0,
        gap_share=gap_share,
        gap_speed=gap_speed,
        stop_share=stop_share,
        stop_rate_per_km=starts / km,
        heading_rate_per_km=turns / km,
        velocity_change_rate_per_km=vcr / km,
        accel_p90=percentile(acc_ok, 90) if acc_ok.size else 0.0,
        straightness=chord / distance if distance > 0 else 1.0,
        plateau_share=plateau_share,
    )
