"""The mobility pipeline: clean -> stays -> trips -> legs -> modes.

``process`` is pure: one user's points (and activity hints) in, stays and trips out. The worker
calls it again later on the points from ``resume_from_ts_s`` onward; since a stay or a trip start
is decided by the points around it only, a window starting there gives the same trips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from app.mobility.clean import clean_points
from app.mobility.geo import Projection, geodesic_steps
from app.mobility.legs import change_points
from app.mobility.modes import ModeGuess, activity_shares, infer_mode
from app.mobility.motion import motion_features, window_speed
from app.mobility.params import DEFAULT_PARAMS, PipelineParams
from app.mobility.stays import Span, segment
from app.mobility.types import ActivityArrays, FloatArray, Leg, PipelineResult, PointArrays, Stay, Trip


@dataclass
class _Part:
    """A leg in the making: steps ``[first, last]`` of a trip and its guessed mode."""

    first: int
    last: int
    guess: ModeGuess


def process(
    points: PointArrays,
    activities: ActivityArrays | None = None,
    *,
    now_s: float | None = None,
    params: PipelineParams = DEFAULT_PARAMS,
) -> PipelineResult:
    """Turn one user's points into stays and trips with legs and modes.

    Args:
        points: the user's points (cleaned here: see :func:`app.mobility.clean.clean_points`).
        activities: the phone's motion-activity hints, if any.
        now_s: the current time; None means the data is complete and everything is closed.
        params: thresholds (:class:`PipelineParams`).

    Returns:
        Stays and trips in time order, and where the next incremental run must restart.
    """
    pts = clean_points(points, params)
    n = len(pts)
    awake = _awake_times(points, activities)
    if n == 0:
        return PipelineResult([], [], None)
    proj = Projection.for_points(pts.lat, pts.lon)
    x, y = proj.to_xy(pts.lat, pts.lon)
    t = pts.ts_s
    seg = segment(t, x, y, params, awake)

    stays = [
        Stay(
            float(t[s.first]),
            float(t[s.last]),
            float(np.median(pts.lat[s.first : s.last + 1])),
            float(np.median(pts.lon[s.first : s.last + 1])),
        )
        for s in seg.stays
    ]
    trips: list[Trip] = []
    resume: float | None = None
    for mv, followed in zip(seg.moves, seg.moves_closed_by_data, strict=True):
        timed_out = now_s is None or float(t[mv.last]) < now_s - params.trip_timeout_s
        closed = followed or timed_out
        extent = float(np.hypot(np.ptp(x[mv.first : mv.last + 1]), np.ptp(y[mv.first : mv.last + 1])))
        if extent < params.min_trip_distance_m:
            if not closed and resume is None:
                resume = float(t[mv.first])  # an open tail that may become a trip
            continue
        lead = 0.0
        if mv.first > 0 and t[mv.first] - t[mv.first - 1] > params.gap_s:
            lead = min(params.departure_lead_s, 0.5 * float(t[mv.first] - t[mv.first - 1]))
        trip = _build_trip(pts, x, y, mv, activities, closed, proj, params, lead)
        trips.append(trip)
        if not closed and resume is None:
            resume = trip.start_ts_s
    if resume is None and now_s is not None and seg.stays and seg.stays[-1].last == n - 1:
        resume = stays[-1].start_ts_s  # the user may still be there
    return PipelineResult(stays, trips, resume)


#: activity kinds that show the user moving
MOVING_KINDS = ("walking", "running", "cycling", "automotive")


def _awake_times(points: PointArrays, activities: ActivityArrays | None) -> FloatArray:
    """Times at which the phone was tracking: every fix it produced (even the imprecise ones
    cleaning drops) and every confident moving activity hint (>= 50, the platforms' own "likely"
    level)."""
    ts = points.ts_s[np.isfinite(points.ts_s)]
    if activities is not None and len(activities):
        conf = np.where(np.isfinite(activities.confidence), activities.confidence, 50.0)
        moving = np.isin(activities.kind, MOVING_KINDS) & (conf >= 50.0)
        ts = np.concatenate((ts, activities.ts_s[moving]))
    return np.unique(ts)


def _build_trip(
    pts: PointArrays,
    x: FloatArray,
    y: FloatArray,
    mv: Span,
    activities: ActivityArrays | None,
    closed: bool,
    proj: Projection,
    params: PipelineParams,
    lead_s: float = 0.0,
) -> Trip:
    sl = slice(mv.first, mv.last + 1)
    t, tx, ty = pts.ts_s[sl], x[sl], y[sl]
    lat, lon = pts.lat[sl], pts.lon[sl]
    v = window_speed(t, tx, ty, params)
    parts = _legs_of_trip(t, tx, ty, v, activities, params)
    legs = [_make_leg(p, t, tx, ty, lat, lon, proj, params) for p in parts]
    if not legs:
        legs = [
            _make_leg(
                _Part(0, max(t.size - 2, 0), ModeGuess("unknown", 0.0)), t, tx, ty, lat, lon, proj, params
            )
        ]
    if lead_s > 0:
        first = legs[0]
        legs[0] = Leg(
            first.start_ts_s - lead_s,
            first.end_ts_s,
            first.mode,
            first.mode_source,
            first.confidence,
            first.distance_m,
            first.coordinates,
            first.point_count,
        )
    return Trip(
        start_ts_s=float(t[0]) - lead_s,
        end_ts_s=float(t[-1]),
        start_lat=float(lat[0]),
        start_lon=float(lon[0]),
        end_lat=float(lat[-1]),
        end_lon=float(lon[-1]),
        distance_m=float(sum(leg.distance_m for leg in legs)),
        closed=closed,
        legs=legs,
    )


def _guess(
    first: int,
    last: int,
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    v: FloatArray,
    activities: ActivityArrays | None,
    params: PipelineParams,
) -> ModeGuess:
    sl = slice(first, last + 2)
    f = motion_features(t[sl], x[sl], y[sl], v[sl], params)
    return infer_mode(f, activity_shares(activities, float(t[first]), float(t[last + 1])))


def _legs_of_trip(
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    v: FloatArray,
    activities: ActivityArrays | None,
    params: PipelineParams,
) -> list[_Part]:
    """Change points, a mode per part, then merging of same-mode and too-short legs."""
    runs = change_points(t, x, y, v, params)
    parts = [
        _Part(
            r.first,
            r.last,
            ModeGuess("walk", 0.7)
            if False
            else _guess(r.first, r.last, t, x, y, v, activities, params),
        )
        for r in runs
    ]
    changed = True
    while changed and len(parts) > 1:
        changed = False
        # same mode side by side: one leg
        merged: list[_Part] = [parts[0]]
        for p in parts[1:]:
            if p.guess.mode == merged[-1].guess.mode:
                merged[-1] = _Part(merged[-1].first, p.last, merged[-1].guess)
                changed = True
            else:
                merged.append(p)
        parts = merged
        if len(parts) < 2:
            break
        durs = [float(t[p.last + 1] - t[p.first]) for p in parts]
        k = int(np.argmin(durs))
        if durs[k] < params.min_leg_s:
            if k == 0:
                j = 1
            elif k == len(parts) - 1:
                j = k - 1
            else:
                j = k - 1 if durs[k - 1] >= durs[k + 1] else k + 1
            a, b = min(parts[k].first, parts[j].first), max(parts[k].last, parts[j].last)
            parts[min(k, j)] = _Part(a, b, _guess(a, b, t, x, y, v, activities, params))
            del parts[max(k, j)]
            changed = True
    return parts


def _make_leg(
    p: _Part,
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    lat: FloatArray,
    lon: FloatArray,
    proj: Projection,
    params: PipelineParams,
) -> Leg:
    a, b = p.first, min(p.last + 1, t.size - 1)
    lx, ly = x[a : b + 1], y[a : b + 1]
    if lx.size >= 2:
        line = shapely.simplify(shapely.linestrings(np.column_stack((lx, ly))), params.simplify_tolerance_m)
        xy = np.asarray(shapely.get_coordinates(line))
        slon, slat = proj.to_lonlat(xy[:, 0], xy[:, 1])
    else:
        slon, slat = np.repeat(lon[a : b + 1], 2), np.repeat(lat[a : b + 1], 2)
    dist = float(geodesic_steps(slat, slon).sum())
    coords = [(float(o), float(a_)) for o, a_ in zip(slon, slat, strict=True)]
    if len(coords) < 2:
        coords = coords * 2
    return Leg(
        start_ts_s=float(t[a]),
        end_ts_s=float(t[b]),
        mode=p.guess.mode,
        mode_source=p.guess.source,
        confidence=float(np.clip(p.guess.confidence, 0.0, 1.0)),
        distance_m=dist,
        coordinates=coords,
        point_count=int(b - a + 1),
    )
