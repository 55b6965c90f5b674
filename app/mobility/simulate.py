"""A small trace simulator with known truth, for tests and benchmarks.

It plays a plan (stays and trips made of legs) into a continuous 1 s trajectory, then records it
the way a device would: a GPS logger (fixed sampling, no accuracy) or a duty-cycled phone (fixes
while moving, silence a few minutes into each stay, a fix only once the user has left the
place, accuracy values, some wild fixes, motion-activity hints). Everything is drawn from a seeded
``numpy.random.Generator``, so a seed always gives the same trace.

Kinematics per mode (cruise speed m/s, acceleration m/s^2, distance between stops m, dwell s):
walking about 1.35 m/s; bikes about 4.5 m/s with lights (e-bikes 6 m/s); buses cruising 9 m/s
stopping every 300-500 m for 10-40 s, about 15-20 km/h door to door
(docs/research.md, "Modes: bus and car"); intercity trains cruising 40 m/s with stations every 8-15 km; metros underground (no fix
at all) at 18 m/s with stations every 0.9-1.8 km; harbour boats at 3.5 m/s, gently.

Cars are driven junction by junction (:func:`drive`): in town a junction every 150-450 m, where the
car halts now and then (a red light for 20-60 s, a give-way or a queue for 3-12 s: 0.3-1 halts per
km), slows down to turn, or goes straight on, between stretches at 30-50 km/h; longer legs take a
fast road (a ring road or an expressway at 70-110 km/h, interchanges and roundabouts every
0.8-2 km) for their middle part, as drivers in a town of 100,000 people do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from app.mobility.modes import FAMILY
from app.mobility.types import ActivityArrays, FloatArray, PointArrays, Trip

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class LegPlan:
    """One leg to simulate: a mode and a distance in metres."""

    mode: str
    distance_m: float


@dataclass(frozen=True)
class StayPlan:
    """Staying at the current place for ``duration_s``."""

    duration_s: float


@dataclass(frozen=True)
class TripPlan:
    """A trip: its legs, in order."""

    legs: tuple[LegPlan, ...]


@dataclass(frozen=True)
class TrueLeg:
    start_ts_s: float
    end_ts_s: float
    mode: str
    distance_m: float


@dataclass(frozen=True)
class TrueTrip:
    start_ts_s: float
    end_ts_s: float
    legs: list[TrueLeg]

    @property
    def distance_m(self) -> float:
        return float(sum(leg.distance_m for leg in self.legs))


@dataclass(frozen=True)
class TrueStay:
    start_ts_s: float
    end_ts_s: float


@dataclass(frozen=True)
class Simulation:
    """A simulated trace and its truth."""

    points: PointArrays
    activities: ActivityArrays | None
    trips: list[TrueTrip]
    stays: list[TrueStay]
    outlier_ts_s: FloatArray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class _Kinematics:
    cruise_mps: float
    accel_mps2: float
    stop_every_m: tuple[float, float]
    stop_prob: float
    dwell_s: tuple[float, float]
    turn_every_m: tuple[float, float]
    turn_deg: float
    activity: str


KINEMATICS: dict[str, _Kinematics] = {
    "walk": _Kinematics(1.35, 0.5, (150, 400), 0.3, (5, 25), (60, 200), 90, "walking"),
    "bike": _Kinematics(4.5, 0.6, (300, 900), 0.5, (5, 30), (150, 500), 90, "cycling"),
    "car": _Kinematics(15.0, 2.5, (500, 1200), 0.3, (10, 50), (200, 800), 90, "automotive"),
    "bus": _Kinematics(9.0, 1.0, (300, 500), 0.95, (10, 40), (300, 1000), 90, "automotive"),
    "train": _Kinematics(40.0, 0.6, (8000, 15000), 1.0, (40, 90), (2000, 5000), 8, "automotive"),
    "metro": _Kinematics(18.0, 1.0, (900, 1800), 1.0, (25, 45), (800, 2000), 30, "automotive"),
    "ebike": _Kinematics(6.0, 0.6, (300, 900), 0.5, (5, 30), (150, 500), 90, "cycling"),
    "boat": _Kinematics(3.5, 0.2, (5000, 8000), 1.0, (30, 60), (300, 800), 25, "automotive"),
}


def _speed_profile(k: _Kinematics, distance_m: float, rng: np.random.Generator) -> FloatArray:
    """Speed at each second of one leg: stop-to-stop blocks with trapezoid profiles and dwells."""
    gaps = []
    total = 0.0
    while total < distance_m:
        d = float(rng.uniform(*k.stop_every_m))
        d = min(d, distance_m - total)
        gaps.append(d)
        total += d
    pieces: list[FloatArray] = []
    for i, d in enumerate(gaps):
        v = k.cruise_mps * float(rng.uniform(0.85, 1.15))
        a = k.accel_mps2
        d_acc = v * v / (2 * a)
        if d < 2 * d_acc:
            v = float(np.sqrt(d * a))
            d_acc = d / 2
        t_acc = v / a
        t_cruise = (d - 2 * d_acc) / v
        n = max(int(np.ceil(2 * t_acc + t_cruise)), 1)
        tt = np.arange(n) + 0.5
        speed = np.minimum.reduce([np.full(n, v), a * tt, a * (2 * t_acc + t_cruise - tt)])
        speed = np.clip(speed, 0.05, None)
        speed *= d / speed.sum()  # exact block distance
        pieces.append(speed)
        last = i == len(gaps) - 1
        if not last and rng.random() < k.stop_prob:
            pieces.append(np.zeros(int(rng.uniform(*k.dwell_s))))
    return np.concatenate(pieces) if pieces else np.zeros(1)


def _path(
    k: _Kinematics, start_xy: tuple[float, float], heading: float, distance_m: float, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, float]:
    """A polyline of straight pieces with turns; returns vertices (x, y) and the final heading."""
    xs = [start_xy[0]]
    ys = [start_xy[1]]
    total = 0.0
    while total < distance_m + 1.0:
        d = float(rng.uniform(*k.turn_every_m))
        xs.append(xs[-1] + d * np.cos(heading))
        ys.append(ys[-1] + d * np.sin(heading))
        total += d
        heading += np.radians(k.turn_deg) * float(rng.choice([-1.0, 0.0, 1.0]))
    return np.array(xs), np.array(ys), heading


def _along(px: FloatArray, py: FloatArray, s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Positions at distances ``s`` along a polyline."""
    cum = np.concatenate(([0.0], np.cumsum(np.hypot(np.diff(px), np.diff(py)))))
    return np.interp(s, cum, px), np.interp(s, cum, py)


@dataclass(frozen=True)
class _Ways:
    """The network a mode travels: straight pieces between junctions, where the way turns now and
    then by up to ``max_turn_deg`` from the heading towards the destination (so a route is about
    1.2 times as long as the straight line, like roads in a town)."""

    piece_m: tuple[float, float]
    turn_share: float
    max_turn_deg: float


WAYS: dict[str, _Ways] = {
    "walk": _Ways((40, 150), 0.5, 60),
    "bike": _Ways((150, 450), 0.4, 60),
    "ebike": _Ways((150, 450), 0.4, 60),
    "car": _Ways((150, 450), 0.4, 60),
    "bus": _Ways((150, 400), 0.5, 60),
    "train": _Ways((1500, 4000), 0.5, 12),
    "metro": _Ways((800, 2000), 0.5, 30),
    "boat": _Ways((200, 600), 0.5, 25),
}
#: a ring road or an expressway: long straights and wide curves between interchanges
FAST_WAYS = _Ways((800, 2000), 0.5, 15)


@dataclass(frozen=True)
class _Traffic:
    """How a car meets the junctions of one kind of road: it halts at a red light (``light_prob``
    of the junctions, for ``light_s``) or at a give-way, a stop sign or in a queue (``yield_prob``,
    ``yield_s``), slows down to ``turn_mps`` where it turns (and at ``slow_prob`` of the others:
    roundabouts), and otherwise goes on at the cruise speed of the next stretch."""

    cruise_mps: tuple[float, float]
    light_prob: float
    light_s: tuple[float, float]
    yield_prob: float
    yield_s: tuple[float, float]
    slow_prob: float
    turn_mps: tuple[float, float]


#: town: 30 km/h zones to 50 km/h boulevards, a junction every 300 m on average, a fifth of them
#: roundabouts taken slowly, and one in twelve making the car halt (a red light for 20-60 s, a
#: give-way or a queue): about 0.25 halts per km. Measured on GeoLife's labelled car legs (dev data,
#: docs/research.md, "Modes: bus and car"): a median of 0.14 halts per km (90th percentile 1.3) and a
#: 95th percentile speed of 54 km/h, where buses halt 0.7 times per km; cars halting 0.65 times per km,
#: as this simulator's did before, drive like buses.
TOWN_TRAFFIC = _Traffic((10.0, 15.0), 0.05, (20, 60), 0.03, (3, 12), 0.2, (4.0, 8.0))
#: fast roads: 70-110 km/h, roundabouts at some interchanges, a queue now and then
FAST_TRAFFIC = _Traffic((19.5, 30.5), 0.0, (0, 0), 0.05, (5, 20), 0.4, (7.0, 11.0))
#: cars pull away and brake at about this rate (m/s2)
CAR_ACCEL_MPS2 = 1.8
#: a turn sharper than this (degrees) makes a car slow down
CAR_TURN_DEG = 30.0
#: car legs longer than this (m) may take a fast road for their middle part, all the more as they
#: are longer: certainly from FAST_ROAD_ALWAYS_M, after a first and before a last stretch in town
FAST_ROAD_MIN_M = 2500.0
FAST_ROAD_ALWAYS_M = 8000.0
FAST_ROAD_MAX_SHARE = 0.95


@dataclass(frozen=True)
class _Piece:
    """A straight piece of a route: its length (m), heading (radians) and whether it is a fast road."""

    length_m: float
    heading: float
    fast: bool


def _wrap(angle: float) -> float:
    return float((angle + np.pi) % (2 * np.pi) - np.pi)


def _fast_stretch(mode: str, distance_m: float, rng: np.random.Generator) -> tuple[float, float]:
    """Where along a leg (from, to in m) a car is on a fast road; (0, 0) for none."""
    if mode != "car" or distance_m < FAST_ROAD_MIN_M:
        return 0.0, 0.0
    p = FAST_ROAD_MAX_SHARE * min(
        1.0, (distance_m - FAST_ROAD_MIN_M) / (FAST_ROAD_ALWAYS_M - FAST_ROAD_MIN_M)
    )
    if rng.random() >= p:
        return 0.0, 0.0
    return distance_m * float(rng.uniform(0.15, 0.3)), distance_m * (1.0 - float(rng.uniform(0.1, 0.25)))


def route(
    mode: str,
    start_xy: tuple[float, float],
    rng: np.random.Generator,
    *,
    target_xy: tuple[float, float] | None = None,
    heading: float = 0.0,
    distance_m: float = 0.0,
) -> list[_Piece]:
    """Straight pieces from ``start_xy`` to ``target_xy`` along the ways of ``mode`` (:data:`WAYS`),
    or, without a target, ``distance_m`` long around ``heading``. A car's middle part may be on a
    fast road (:func:`_fast_stretch`)."""
    ways = WAYS[mode]
    x, y = start_xy
    if target_xy is not None:
        estimate = 1.2 * float(np.hypot(target_xy[0] - x, target_xy[1] - y))
    else:
        estimate = distance_m
    fast_from, fast_to = _fast_stretch(mode, estimate, rng)
    pieces: list[_Piece] = []
    done = 0.0
    h = np.nan
    while len(pieces) < 10_000:
        fast = fast_from <= done < fast_to
        w = FAST_WAYS if fast else ways
        length = float(rng.uniform(*w.piece_m))
        if target_xy is not None:
            remaining = float(np.hypot(target_xy[0] - x, target_xy[1] - y))
            bearing = float(np.arctan2(target_xy[1] - y, target_xy[0] - x))
            if remaining <= length:
                if remaining > 0.5:
                    pieces.append(_Piece(remaining, bearing, fast))
                break
        else:
            bearing = heading
            if done + length >= distance_m:
                pieces.append(_Piece(max(distance_m - done, 0.0), h if np.isfinite(h) else bearing, fast))
                break
        max_turn = np.radians(w.max_turn_deg)
        if not np.isfinite(h) or rng.random() < w.turn_share or abs(_wrap(h - bearing)) > max_turn:
            h = bearing + float(rng.uniform(-max_turn, max_turn))
        pieces.append(_Piece(length, float(h), fast))
        x += length * float(np.cos(h))
        y += length * float(np.sin(h))
        done += length
    return pieces


def vertices(pieces: Sequence[_Piece], start_xy: tuple[float, float]) -> tuple[FloatArray, FloatArray]:
    """The polyline (x, y) of a route's pieces from ``start_xy``."""
    lengths = np.array([p.length_m for p in pieces])
    headings = np.array([p.heading for p in pieces])
    xs = start_xy[0] + np.concatenate(([0.0], np.cumsum(lengths * np.cos(headings))))
    ys = start_xy[1] + np.concatenate(([0.0], np.cumsum(lengths * np.sin(headings))))
    return xs, ys


def _block(d: float, u_in: float, v: float, u_out: float, a: float) -> list[float]:
    """Speed each second over ``d`` metres entered at ``u_in``, cruising at ``v``, left at ``u_out``
    (accelerating and braking at ``a``)."""
    out: list[float] = []
    s = 0.0
    while s < d:
        vs = max(min(v, np.sqrt(u_in**2 + 2 * a * s), np.sqrt(u_out**2 + 2 * a * max(d - s, 0.0))), 0.5)
        mid = s + vs / 2
        vm = max(min(v, np.sqrt(u_in**2 + 2 * a * mid), np.sqrt(u_out**2 + 2 * a * max(d - mid, 0.0))), 0.5)
        out.append(float(vm))
        s += float(vm)
    if out:
        out[-1] = max(out[-1] - (s - d), 0.05)
    return out


def drive(pieces: Sequence[_Piece], rng: np.random.Generator) -> FloatArray:
    """A car's speed each second along a route, junction by junction (see :class:`_Traffic`)."""
    driver = float(rng.uniform(0.9, 1.08))  # drivers keep to their own pace

    def cruise(p: _Piece) -> float:
        lo, hi = (FAST_TRAFFIC if p.fast else TOWN_TRAFFIC).cruise_mps
        return float(rng.uniform(lo, hi)) * driver

    speeds: list[float] = []
    v = [cruise(p) for p in pieces]
    u_in = 0.0
    for i, p in enumerate(pieces):
        halt = 0.0
        if i == len(pieces) - 1:
            u_out = 0.0
        else:
            nxt = pieces[i + 1]
            traffic = FAST_TRAFFIC if nxt.fast else TOWN_TRAFFIC
            r = rng.random()
            turn = np.degrees(abs(_wrap(nxt.heading - p.heading)))
            if r < traffic.light_prob:
                u_out, halt = 0.0, float(rng.uniform(*traffic.light_s))
            elif r < traffic.light_prob + traffic.yield_prob:
                u_out, halt = 0.0, float(rng.uniform(*traffic.yield_s))
            elif turn > CAR_TURN_DEG or rng.random() < traffic.slow_prob:
                u_out = min(float(rng.uniform(*traffic.turn_mps)), v[i], v[i + 1])
            else:
                u_out = min(v[i], v[i + 1])
        speeds += _block(p.length_m, u_in, v[i], u_out, CAR_ACCEL_MPS2)
        speeds += [0.0] * int(halt)
        u_in = u_out
    return np.array(speeds) if speeds else np.zeros(1)


def leg_motion(
    mode: str,
    start_xy: tuple[float, float],
    rng: np.random.Generator,
    *,
    target_xy: tuple[float, float] | None = None,
    heading: float = 0.0,
    distance_m: float = 0.0,
) -> tuple[FloatArray, FloatArray, float, float]:
    """One leg second by second along a :func:`route`: positions (x, y) at the end of each second,
    the distance travelled (m) and the final heading. Cars are driven with :func:`drive`, other
    modes stop to stop (their :data:`KINEMATICS`)."""
    pieces = route(mode, start_xy, rng, target_xy=target_xy, heading=heading, distance_m=distance_m)
    if not pieces:
        return np.array([start_xy[0]]), np.array([start_xy[1]]), 0.0, heading
    total = float(sum(p.length_m for p in pieces))
    speed = drive(pieces, rng) if mode == "car" else _speed_profile(KINEMATICS[mode], total, rng)
    px, py = vertices(pieces, start_xy)
    lx, ly = _along(px, py, np.minimum(np.cumsum(speed), total))
    return lx, ly, total, pieces[-1].heading


def simulate(
    plan: Sequence[StayPlan | TripPlan],
    *,
    seed: int = 0,
    sampling_s: float = 1.0,
    phone: bool = False,
    noise_m: float = 4.0,
    outlier_rate: float = 0.0,
    start_ts_s: float = 1_700_000_000.0,
    origin: tuple[float, float] = (46.16, -1.15),
) -> Simulation:
    """Play ``plan`` and record it.

    Args:
        plan: stays and trips in order (a trip starts where the previous one ended).
        seed: seed of the random generator; the same seed gives the same trace.
        sampling_s: seconds between fixes while recording (1, 5, 30 ...).
        phone: record like a duty-cycled phone (see module docstring) with accuracy values and
            activity hints; otherwise like a logger that records all the time.
        noise_m: standard deviation of the GPS error per axis.
        outlier_rate: share of fixes replaced by a wild jump of 300-2000 m (reported with a normal
            accuracy, so only their speed gives them away).
        start_ts_s: epoch seconds of the start of the plan.
        origin: (lat, lon) of the first place.

    Returns:
        The points (sorted, unique timestamps), the activity hints (phone only) and the truth.
    """
    rng = np.random.default_rng(seed)
    t_parts: list[FloatArray] = []
    x_parts: list[FloatArray] = []
    y_parts: list[FloatArray] = []
    mode_parts: list[FloatArray] = []  # index into ``codes`` (the modes), -1 while staying
    trips: list[TrueTrip] = []
    stays: list[TrueStay] = []
    codes = list(KINEMATICS)
    now = start_ts_s
    pos = (0.0, 0.0)
    heading = float(rng.uniform(0, 2 * np.pi))
    for item in plan:
        if isinstance(item, StayPlan):
            n = max(int(item.duration_s), 1)
            t_parts.append(now + np.arange(n, dtype=np.float64))
            x_parts.append(np.full(n, pos[0]))
            y_parts.append(np.full(n, pos[1]))
            mode_parts.append(np.full(n, -1.0))
            stays.append(TrueStay(now, now + n))
            now += n
            continue
        legs: list[TrueLeg] = []
        trip_start = now
        for leg in item.legs:
            if leg.mode == "car":
                lx, ly, _, heading = leg_motion("car", pos, rng, heading=heading, distance_m=leg.distance_m)
            else:
                k = KINEMATICS[leg.mode]
                speed = _speed_profile(k, leg.distance_m, rng)
                px, py, heading = _path(k, pos, heading, leg.distance_m, rng)
                lx, ly = _along(px, py, np.cumsum(speed))
            n = lx.size
            t_parts.append(now + 1.0 + np.arange(n, dtype=np.float64))
            x_parts.append(lx)
            y_parts.append(ly)
            mode_parts.append(np.full(n, float(codes.index(leg.mode))))
            legs.append(TrueLeg(now, now + n, leg.mode, leg.distance_m))
            now += n
            pos = (float(lx[-1]), float(ly[-1]))
        trips.append(TrueTrip(trip_start, now, legs))
    t = np.concatenate(t_parts)
    x = np.concatenate(x_parts)
    y = np.concatenate(y_parts)
    mode = np.concatenate(mode_parts)

    # recording: every sampling_s seconds, with a random phase
    keep = np.zeros(t.size, dtype=bool)
    step = max(round(sampling_s), 1)
    keep[int(rng.integers(0, step)) :: step] = True
    keep &= mode != float(codes.index("metro"))  # underground: no fix
    if phone:
        keep &= _phone_awake(t, x, y, mode, rng)
    idx = np.flatnonzero(keep)
    t, x, y, mode = t[idx], x[idx], y[idx], mode[idx]
    x = x + rng.normal(0.0, noise_m, x.size)
    y = y + rng.normal(0.0, noise_m, y.size)
    outliers = rng.random(t.size) < outlier_rate
    outliers[0] = outliers[-1] = False
    ang = rng.uniform(0, 2 * np.pi, int(outliers.sum()))
    dist = rng.uniform(300, 2000, int(outliers.sum()))
    x[outliers] += dist * np.cos(ang)
    y[outliers] += dist * np.sin(ang)
    lat0, lon0 = np.radians(origin[0]), origin[1]
    lat = origin[0] + np.degrees(y / EARTH_RADIUS_M)
    lon = lon0 + np.degrees(x / (EARTH_RADIUS_M * np.cos(lat0)))
    if phone:
        accuracy = np.where(mode < 0, rng.uniform(15, 50, t.size), rng.uniform(4, 20, t.size))
        poor = rng.random(t.size) < 0.03
        accuracy[poor] = rng.uniform(300, 1500, int(poor.sum()))
        # poor fixes are where the phone says: far off
        ang = rng.uniform(0, 2 * np.pi, int(poor.sum()))
        lat[poor] += np.degrees(accuracy[poor] * np.sin(ang) / EARTH_RADIUS_M)
        lon[poor] += np.degrees(accuracy[poor] * np.cos(ang) / (EARTH_RADIUS_M * np.cos(lat0)))
        speed = np.full(t.size, np.nan)
    else:
        accuracy = np.full(t.size, np.nan)
        speed = np.full(t.size, np.nan)
    points = PointArrays(t, lat, lon, accuracy, speed, np.full(t.size, np.nan))
    activities = _activities(t_parts, mode_parts, codes, rng) if phone else None
    return Simulation(points, activities, trips, stays, t[outliers])


def _phone_awake(
    t: FloatArray, x: FloatArray, y: FloatArray, mode: FloatArray, rng: np.random.Generator
) -> np.ndarray:
    """Duty cycle: the phone keeps recording ~5-6 min into a stay, then sleeps until the user is
    100 m (its geofence) from where it fell asleep, plus a short delay to get a fix."""
    awake = np.ones(t.size, dtype=bool)
    staying = mode < 0
    m = np.concatenate(([False], staying, [False])).astype(np.int8)
    starts = np.flatnonzero(np.diff(m) == 1)
    ends = np.flatnonzero(np.diff(m) == -1)
    for a, b in zip(starts, ends, strict=True):
        sleep = a + int(rng.uniform(330, 400))
        if sleep >= b:
            continue
        dist = np.hypot(x[sleep:] - x[sleep], y[sleep:] - y[sleep])
        out = np.flatnonzero(dist > 100.0)
        wake = sleep + int(out[0]) + int(rng.uniform(5, 40)) if out.size else t.size
        awake[sleep:wake] = False
    return awake


def _activities(
    t_parts: list[FloatArray], mode_parts: list[FloatArray], codes: list[str], rng: np.random.Generator
) -> ActivityArrays:
    """A hint every ~30 s reflecting the true mode, 10 % of them wrong."""
    t = np.concatenate(t_parts)
    mode = np.concatenate(mode_parts)
    idx = np.arange(0, t.size, 30)
    kinds_of = np.array(["stationary", *[KINEMATICS[c].activity for c in codes]], dtype=object)
    kind = kinds_of[(mode[idx] + 1).astype(np.intp)]
    wrong = rng.random(idx.size) < 0.1
    kind[wrong] = rng.choice(
        np.array(["unknown", "walking", "automotive", "stationary"], dtype=object), int(wrong.sum())
    )
    conf = rng.uniform(50, 100, idx.size).round()
    return ActivityArrays(t[idx] + 0.5, kind, conf)


def commute_plan(rng: np.random.Generator | None = None) -> list[StayPlan | TripPlan]:
    """A typical day: home, walk-bus-walk to work, lunch walk, car to shops, bike home, train trip."""
    r = rng if rng is not None else np.random.default_rng(0)

    def u(a: float, b: float) -> float:
        return float(r.uniform(a, b))

    return [
        StayPlan(u(1800, 3600)),
        TripPlan((LegPlan("walk", u(300, 600)), LegPlan("bus", u(3000, 6000)), LegPlan("walk", u(200, 500)))),
        StayPlan(u(3 * 3600, 4 * 3600)),
        TripPlan((LegPlan("walk", u(600, 1200)),)),
        StayPlan(u(2400, 3600)),
        TripPlan((LegPlan("walk", u(600, 1200)),)),
        StayPlan(u(2 * 3600, 3 * 3600)),
        TripPlan((LegPlan("car", u(5000, 9000)),)),
        StayPlan(u(1200, 2400)),
        TripPlan((LegPlan("bike", u(2500, 4500)),)),
        StayPlan(u(1800, 3000)),
        TripPlan(
            (LegPlan("walk", u(400, 800)), LegPlan("train", u(25000, 40000)), LegPlan("walk", u(300, 600)))
        ),
        StayPlan(u(2400, 3600)),
    ]


def mode_agreement(
    truth: Sequence[TrueTrip], trips: Sequence[Trip], step_s: float = 5.0, motorised: bool = False
) -> float:
    """Share of the true legs' time (sampled every ``step_s``) covered by a predicted leg of the
    same mode family (of the same walk / bike / motorised family when ``motorised``)."""
    starts = np.array([leg.start_ts_s for t in trips for leg in t.legs])
    ends = np.array([leg.end_ts_s for t in trips for leg in t.legs])

    def fam(mode: str) -> str:
        f = FAMILY.get(mode, "unknown")
        return "motorised" if motorised and f in ("car", "bus", "rail", "plane", "boat") else f

    modes = [fam(leg.mode) for t in trips for leg in t.legs]
    agree = total = 0
    for trip in truth:
        for leg in trip.legs:
            ts = np.arange(leg.start_ts_s, leg.end_ts_s, step_s)
            total += ts.size
            if starts.size == 0:
                continue
            i = np.searchsorted(starts, ts, side="right") - 1
            ok = (i >= 0) & (ts <= ends[np.maximum(i, 0)])
            got = np.array([modes[k] for k in np.maximum(i, 0)], dtype=object)
            agree += int(np.count_nonzero(ok & (got == fam(leg.mode))))
    return agree / total if total else 1.0


#: the mode families a comparison shows first, in this order (others follow when present)
FAMILIES_SHOWN = ("walk", "bike", "bus", "car", "rail", "boat")


def _family(mode: str) -> str:
    return FAMILY.get(mode, "unknown")


def _main_family(legs: Sequence[tuple[str, float]]) -> str:
    """A trip's family: that of its longest leg (the bus of a walk-bus-walk commute)."""
    if not legs:
        return "unknown"
    return _family(max(legs, key=lambda leg: leg[1])[0])


def _shares(counts: dict[str, float]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total > 0 else {}


@dataclass(frozen=True)
class ModeComparison:
    """Simulated modes against inferred ones, by family (:data:`app.mobility.modes.FAMILY`).

    ``trip_share`` and ``distance_share`` map a family to its (simulated, inferred) share of trips
    (each trip counted in the family of its longest leg) and of distance; ``agreement`` is the share
    of the simulated legs' time covered by an inferred leg of the same family; ``confusion`` maps a
    simulated family to the shares of its time given to each inferred family ("none": no leg there).
    """

    trips: tuple[int, int]
    trip_share: dict[str, tuple[float, float]]
    distance_share: dict[str, tuple[float, float]]
    agreement: float
    confusion: dict[str, dict[str, float]]

    def line(self) -> str:
        """One line for people: shares of trips and of distance, simulated -> inferred, and the agreement."""

        def shares(table: dict[str, tuple[float, float]]) -> str:
            return ", ".join(f"{f} {round(100 * a)}->{round(100 * b)}" for f, (a, b) in table.items())

        return (
            f"modes, simulated -> inferred (%): trips {shares(self.trip_share)}; "
            f"distance {shares(self.distance_share)}; "
            f"{100 * self.agreement:.0f} % of the simulated leg time given the right family "
            f"({self.trips[0]} simulated trips, {self.trips[1]} inferred)"
        )


def _add(counts: dict[str, float], key: str, value: float) -> None:
    counts[key] = counts.get(key, 0.0) + value


def compare_modes(
    people: Iterable[tuple[Sequence[TrueTrip], Sequence[Trip]]], step_s: float = 5.0
) -> ModeComparison:
    """How the modes inferred match those simulated, over people given as (their simulated trips,
    the trips inferred from their trace): see :class:`ModeComparison`. The legs' time is sampled
    every ``step_s``."""
    true_trips: dict[str, float] = {}
    true_dist: dict[str, float] = {}
    got_trips: dict[str, float] = {}
    got_dist: dict[str, float] = {}
    seconds: dict[str, dict[str, float]] = {}
    n_true = n_got = 0
    for truth, trips in people:
        n_true += len(truth)
        n_got += len(trips)
        for trip in truth:
            _add(true_trips, _main_family([(leg.mode, leg.distance_m) for leg in trip.legs]), 1)
            for leg in trip.legs:
                _add(true_dist, _family(leg.mode), leg.distance_m)
        for got in trips:
            _add(got_trips, _main_family([(part.mode, part.distance_m) for part in got.legs]), 1)
            for part in got.legs:
                _add(got_dist, _family(part.mode), part.distance_m)
        legs = sorted((part for t in trips for part in t.legs), key=lambda part: part.start_ts_s)
        starts = np.array([part.start_ts_s for part in legs])
        ends = np.array([part.end_ts_s for part in legs])
        fams = np.array([_family(part.mode) for part in legs] + ["none"], dtype=object)
        for trip in truth:
            for leg in trip.legs:
                ts = np.arange(leg.start_ts_s, leg.end_ts_s, step_s)
                i = np.searchsorted(starts, ts, side="right") - 1
                inside = (i >= 0) & (ts <= ends[np.maximum(i, 0)]) if starts.size else np.zeros(ts.size, bool)
                got_f = fams[np.where(inside, i, len(legs))].astype(str)
                row = seconds.setdefault(_family(leg.mode), {})
                for f, n in zip(*np.unique(got_f, return_counts=True), strict=True):
                    _add(row, str(f), float(n))
    total = sum(n for row in seconds.values() for n in row.values())
    right = sum(row.get(f, 0.0) for f, row in seconds.items())
    found = set(true_trips) | set(got_trips) | set(true_dist) | set(got_dist)
    order = [f for f in FAMILIES_SHOWN if f in found] + sorted(found - set(FAMILIES_SHOWN))
    ts_, gs_, td_, gd_ = _shares(true_trips), _shares(got_trips), _shares(true_dist), _shares(got_dist)
    return ModeComparison(
        trips=(n_true, n_got),
        trip_share={f: (ts_.get(f, 0.0), gs_.get(f, 0.0)) for f in order},
        distance_share={f: (td_.get(f, 0.0), gd_.get(f, 0.0)) for f in order},
        agreement=right / total if total else 1.0,
        confusion={
            f: {g: n / sum(seconds[f].values()) for g, n in sorted(seconds[f].items(), key=lambda kv: -kv[1])}
            for f in order
            if f in seconds
        },
    )
