"""The mobility pipeline: clean -> stays -> trips -> legs -> modes.

``process`` is pure: one user's points (and activity hints) in, stays and trips out. The worker
calls it again later on the points from ``resume_from_ts_s`` onward; since a stay or a trip start
is decided by the points around it only, a window starting there gives the same trips (see
:class:`app.mobility.types.PipelineResult` for where that is).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import shapely

from app.mobility.clean import clean_points
from app.mobility.geo import Projection, geodesic_steps
from app.mobility.legs import change_points
from app.mobility.modes import FAMILY, ModeGuess, activity_shares, infer_mode
from app.mobility.motion import motion_features, window_speed
from app.mobility.numeric import median
from app.mobility.params import DEFAULT_PARAMS, PipelineParams
from app.mobility.personal import PersonalModel, leg_features, personal_guess
from app.mobility.stays import Span, move_extent, segment
from app.mobility.transit import ProjectedNetwork, TransitStops, leg_evidence
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
    transit: TransitStops | None = None,
    personal: PersonalModel | None = None,
) -> PipelineResult:
    """Turn one user's points into stays and trips with legs and modes.

    Args:
        points: the user's points (cleaned here: see :func:`app.mobility.clean.clean_points`).
        activities: the phone's motion-activity hints, if any.
        now_s: the current time; None means the data is complete and everything is closed.
        params: thresholds (:class:`PipelineParams`).
        transit: the territory's public transport stops (from its GTFS feeds), if any: evidence
            for bus or rail (:mod:`app.mobility.transit`).
        personal: what the person's confirmed legs teach (:mod:`app.mobility.personal`), if anything.

    Returns:
        Stays and trips in time order, and where the next incremental run must restart.
    """
    pts = clean_points(points, params)
    n = len(pts)
    activities = _sorted_activities(activities)
    awake = _awake_times(points, activities)
    if n == 0:
        return PipelineResult([], [], None)
    proj = Projection.for_points(pts.lat, pts.lon)
    x, y = proj.to_xy(pts.lat, pts.lon)
    net = ProjectedNetwork(transit, proj) if transit is not None and len(transit) else None
    t = pts.ts_s
    seg = segment(t, x, y, params, awake, pts.accuracy_m)

    trips: list[Trip] = []
    starts_after_gap: dict[int, float] = {}  # first fix index -> trip start, for trips after a gap
    resume: float | None = None
    last_restart: float | None = None  # where a run must start to rebuild the last trip whole
    last_followed = False
    for mv, followed in zip(seg.moves, seg.moves_closed_by_data, strict=True):
        timed_out = now_s is None or float(t[mv.last]) < now_s - params.trip_timeout_s
        closed = followed or timed_out
        # after a silent gap a run must re-read the last fix before it, which tells that the trip
        # started during untracked time (see departure speeds in PipelineParams)
        after_gap = mv.first > 0 and float(t[mv.first] - t[mv.first - 1]) > params.gap_s
        restart = float(t[mv.first - 1]) if after_gap else float(t[mv.first])
        extent = move_extent(t, x, y, mv, params)
        if extent < params.min_trip_distance_m:
            if not closed and resume is None:
                resume = restart  # an open tail that may become a trip
            continue
        trip = _build_trip(pts, x, y, mv, activities, closed, proj, params, after_gap, net, personal)
        trips.append(trip)
        last_restart, last_followed = restart, followed
        if after_gap:
            starts_after_gap[mv.first] = trip.start_ts_s
        if not closed and resume is None:
            resume = restart
    stays = [_make_stay(pts, s, starts_after_gap.get(s.last + 1), params) for s in seg.stays]
    if resume is None and now_s is not None and trips and last_restart is not None:
        last_move_first = seg.moves[-1].first if seg.moves else -1
        ends_in_stay = bool(seg.stays) and seg.stays[-1].first > last_move_first
        evidence = float(t[max(seg.stays[-1].evidence_first, 0)]) if ends_in_stay else None
        if not last_followed or (evidence is not None and evidence < trips[-1].end_ts_s):
            # the last trip was closed by the time-out only (late uploads may continue it), or the
            # dwell after it starts inside it: the next run rebuilds it whole
            resume = last_restart
        elif evidence is not None:
            resume = evidence  # the user may still be there: the next run must see the whole dwell
    elif resume is None and now_s is not None and seg.stays:
        resume = float(t[max(seg.stays[-1].evidence_first, 0)])
    if now_s is not None:
        resume = resume_point(stays, trips, resume)
    return PipelineResult(stays, trips, resume)


def resume_point(stays: list[Stay], trips: list[Trip], resume: float | None) -> float | None:
    """Where the next run must start reading: never inside a trip.

    This is the one place that decides it (the worker stores what :func:`process` returns). The answer
    of the segmentation (``resume``) is moved back to the start of the last trip when no stay was seen
    after it: a trip closed only by the time-out (old points uploaded late, or a phone that went quiet)
    may still be continued by the next batch, which must then extend it rather than start a new trip. If the
    answer falls before the end of a trip (a stay whose start overlaps the trip's last points), the window
    starts with that trip, so that the trip is rebuilt whole rather than cut. A trip's start, here, is
    where reading must begin to rebuild it (:attr:`Trip.read_from_ts_s`): after a silent gap, the fix
    before the gap, which tells how far the person went unseen.
    """
    if trips:
        last = trips[-1]
        stayed_after = any(stay.end_ts_s > last.end_ts_s for stay in stays)
        if not stayed_after and (resume is None or last.read_from < resume):
            resume = last.read_from
    if resume is not None:
        for trip in trips:
            if trip.read_from < resume < trip.end_ts_s or (
                trip.read_from < resume and trip.end_ts_s == resume
            ):
                resume = trip.read_from
    return resume


def _make_stay(pts: PointArrays, s: Span, next_trip_start: float | None, params: PipelineParams) -> Stay:
    """A stay at the median position of its fixes. A duty-cycled phone falls silent while the user
    stays: when the next trip starts after such a silence, the stay lasts until that start."""
    t = pts.ts_s
    end = float(t[s.last])
    if next_trip_start is not None:
        end = max(end, next_trip_start)
    elif s.last + 1 < t.size and t[s.last + 1] - t[s.last] > params.gap_s:
        end = float(t[s.last + 1])  # silence, then more of the same place or untracked time
    return Stay(
        float(t[s.first]),
        end,
        median(pts.lat[s.first : s.last + 1]),
        median(pts.lon[s.first : s.last + 1]),
    )


def departure_lead(distance_m: float, gap_s: float, first_mode: str, params: PipelineParams) -> float:
    """How long before its first fix a trip after a silent gap started.

    A duty-cycled phone sleeps while the user stays and wakes only once they have left (its
    geofence); by the first fix the user has covered the distance from the last fix at the place.
    At the typical speed of the first leg's mode that took ``distance / speed`` (e-mission's
    cleaned trips start the same way); for a vehicle the first ``stay_radius_m`` are walked to it.
    Never more than half the gap nor ``departure_lead_max_s``.
    """
    family = FAMILY.get(first_mode, "car")
    if family == "walk":
        lead = distance_m / params.departure_walk_speed_mps
    elif family == "bike":
        lead = distance_m / params.departure_bike_speed_mps
    else:
        # walking out of the place (its geofence, ``stay_radius_m``), then driving
        on_foot = min(distance_m, params.stay_radius_m)
        lead = (
            on_foot / params.departure_walk_speed_mps
            + (distance_m - on_foot) / params.departure_vehicle_speed_mps
        )
    return float(min(lead, 0.5 * gap_s, params.departure_lead_max_s))


def _sorted_activities(activities: ActivityArrays | None) -> ActivityArrays | None:
    """The hints with a finite time, in time order (None when there are none)."""
    if activities is None or len(activities) == 0:
        return None
    ok = np.flatnonzero(np.isfinite(activities.ts_s))
    order = ok[np.argsort(activities.ts_s[ok], kind="stable")]
    if order.size == 0:
        return None
    return ActivityArrays(activities.ts_s[order], activities.kind[order], activities.confidence[order])


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
    after_gap: bool = False,
    net: ProjectedNetwork | None = None,
    personal: PersonalModel | None = None,
) -> Trip:
    """The trip made of the fixes of ``mv``: legs with modes, and a start moved back by the
    departure lead when it follows a silent gap (:func:`departure_lead`). Its distance is the sum
    of the legs' geodesic lengths along their simplified lines."""
    sl = slice(mv.first, mv.last + 1)
    t, tx, ty = pts.ts_s[sl], x[sl], y[sl]
    lat, lon = pts.lat[sl], pts.lon[sl]
    v = window_speed(t, tx, ty, params)
    parts = _legs_of_trip(t, tx, ty, v, activities, params, net, personal)
    if not parts:
        parts = [_Part(0, max(t.size - 2, 0), ModeGuess("unknown", 0.0))]
    legs = _make_legs(parts, t, tx, ty, lat, lon, params)
    lead_s = 0.0
    if after_gap:
        i = mv.first
        hop = float(np.hypot(x[i] - x[i - 1], y[i] - y[i - 1]))
        lead_s = departure_lead(hop, float(pts.ts_s[i] - pts.ts_s[i - 1]), legs[0].mode, params)
    if lead_s > 0:
        legs[0] = replace(legs[0], start_ts_s=legs[0].start_ts_s - lead_s)
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
        read_from_ts_s=float(pts.ts_s[mv.first - 1]) if after_gap else float(t[0]),
    )


def _moving_core(x: FloatArray, y: FloatArray, params: PipelineParams) -> tuple[int, int]:
    """The moving core of a trip, as fix indices: from the last fix near its start to the first fix
    near its end (the whole trip when it never leaves either end).

    The still fixes before departure and after arrival (the trip ends in the middle of the dwell
    window) belong to the trip's time but say nothing about how it moved.
    """
    near = params.stay_radius_m / 4.0
    away_start = np.hypot(x - x[0], y - y[0]) > near
    away_end = np.hypot(x - x[-1], y - y[-1]) > near
    if not (away_start.any() and away_end.any()):
        return 0, x.size - 1
    return max(int(np.argmax(away_start)) - 1, 0), int(away_end.size - np.argmax(away_end[::-1]))


def _legs_of_trip(
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    v: FloatArray,
    activities: ActivityArrays | None,
    params: PipelineParams,
    net: ProjectedNetwork | None = None,
    personal: PersonalModel | None = None,
) -> list[_Part]:
    """Change points, a mode per part, then merging of same-mode and too-short legs."""
    core_first, core_last = _moving_core(x, y, params)

    def guess(first: int, last: int) -> ModeGuess:
        """Mode of the part made of steps ``first..last``, from its fixes inside the moving core,
        revised by the person's confirmations; it carries the features it was judged on."""
        a, b = first, last + 1
        ca, cb = max(a, core_first), min(b, core_last)
        if cb > ca:
            a, b = ca, cb
        sl = slice(a, b + 1)
        f = motion_features(t[sl], x[sl], y[sl], v[sl], params)
        evidence = leg_evidence(net, t[sl], x[sl], y[sl], v[sl])
        found = infer_mode(f, activity_shares(activities, float(t[first]), float(t[last + 1])), evidence)
        features = leg_features(f)
        found = personal_guess(personal, found, features, float(t[first]))
        return replace(found, features=features)

    runs = change_points(t, x, y, v, params, activities)
    parts = [_Part(r.first, r.last, guess(r.first, r.last)) for r in runs]
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
            parts[min(k, j)] = _Part(a, b, guess(a, b))
            del parts[max(k, j)]
            changed = True
    return _smooth_sandwiches(parts, t)


#: mode families of motor vehicles (:data:`app.mobility.modes.FAMILY`)
_VEHICLE_FAMILIES = ("car", "bus", "rail")


def _smooth_sandwiches(parts: list[_Part], t: FloatArray) -> list[_Part]:
    """People walk between any two modes (Zheng et al. 2008): a leg that is not a walk, between
    two legs of one vehicle mode with no walk on either side, is most likely that vehicle too
    (a tunnel or a GPS loss read as metro, a smooth stretch of a bus read as cycling), when it
    is shorter than its two neighbours together. The three become one leg. A leg the phone's
    hints decided is kept, and so is a vehicle between two bike legs (a bike taken on a train)."""
    k = 1
    while k < len(parts) - 1:
        a, mid, b = parts[k - 1], parts[k], parts[k + 1]
        d_mid = float(t[mid.last + 1] - t[mid.first])
        d_sides = float(t[a.last + 1] - t[a.first] + t[b.last + 1] - t[b.first])
        if (
            a.guess.mode == b.guess.mode
            and FAMILY.get(a.guess.mode) in _VEHICLE_FAMILIES
            and FAMILY.get(mid.guess.mode) != "walk"
            and mid.guess.source == "inferred"
            and d_mid < d_sides
        ):
            best = a.guess if a.guess.confidence >= b.guess.confidence else b.guess
            parts[k - 1 : k + 2] = [_Part(a.first, b.last, best)]
            k = max(k - 1, 1)
        else:
            k += 1
    return parts


def _make_legs(
    parts: list[_Part],
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    lat: FloatArray,
    lon: FloatArray,
    params: PipelineParams,
) -> list[Leg]:
    """The legs of a trip, each covering fixes ``first..last + 1`` of it. A leg's line is simplified
    with shapely (Douglas-Peucker, ``simplify_tolerance_m`` in projected metres) and its distance is
    geodesic along that line, which also drops GPS zig-zags smaller than the tolerance. The trip's
    lines go through shapely and the geodesic at once."""
    ends = [(p.first, min(p.last + 1, t.size - 1)) for p in parts]
    lines = [k for k, (a, b) in enumerate(ends) if b > a]
    line_lon: list[FloatArray] = []
    line_lat: list[FloatArray] = []
    if lines:
        take = np.concatenate([np.arange(ends[k][0], ends[k][1] + 1) for k in lines])
        which = np.repeat(np.arange(len(lines)), [ends[k][1] - ends[k][0] + 1 for k in lines])
        # Douglas-Peucker without topology repair: a track may cross itself, and the repair is slow. The
        # fix's index rides along as the lines' z (GEOS keeps a kept vertex's z and measures in x, y), so
        # the kept fixes' own coordinates are taken as sent, with no projection back.
        simple = shapely.simplify(
            shapely.linestrings(np.column_stack((x[take], y[take], take)), indices=which),
            params.simplify_tolerance_m,
            preserve_topology=False,
        )
        xyz, of = shapely.get_coordinates(simple, include_z=True, return_index=True)
        kept = xyz[:, 2].astype(np.intp)
        slon, slat = lon[kept], lat[kept]
        cut = np.searchsorted(of, np.arange(1, len(lines))).tolist()
        line_lon, line_lat = np.split(slon, cut), np.split(slat, cut)
        steps = geodesic_steps(slat, slon)  # the steps between two lines are never read
        bounds = [0, *cut, slon.size]
    geometry: dict[int, tuple[FloatArray, FloatArray, float]] = {}
    for i, k in enumerate(lines):
        geometry[k] = (line_lon[i], line_lat[i], float(steps[bounds[i] : bounds[i + 1] - 1].sum()))
    legs: list[Leg] = []
    for k, (p, (a, b)) in enumerate(zip(parts, ends, strict=True)):
        if k in geometry:
            llon, llat, dist = geometry[k]
        else:
            llon, llat = np.repeat(lon[a : b + 1], 2), np.repeat(lat[a : b + 1], 2)
            dist = float(geodesic_steps(llat, llon).sum())
        coords = list(zip(llon.tolist(), llat.tolist(), strict=True))
        if len(coords) < 2:
            coords = coords * 2
        legs.append(
            Leg(
                start_ts_s=float(t[a]),
                end_ts_s=float(t[b]),
                mode=p.guess.mode,
                mode_source=p.guess.source,
                confidence=float(np.clip(p.guess.confidence, 0.0, 1.0)),
                distance_m=dist,
                coordinates=coords,
                point_count=int(b - a + 1),
                reasons=p.guess.reasons,
                features=dict(p.guess.features),
            )
        )
    return legs
