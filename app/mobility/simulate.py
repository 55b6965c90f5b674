"""A small trace simulator with known truth, for tests and benchmarks.

It plays a plan (stays and trips made of legs) into a continuous 1 s trajectory, then records it
the way a device would: a GPS logger (fixed sampling, no accuracy) or a duty-cycled phone (fixes
while moving, silence a few minutes into each stay, a fix only once the user has left the
place, accuracy values, some wild fixes, motion-activity hints). Everything is drawn from a seeded
``numpy.random.Generator``, so a seed always gives the same trace.

Kinematics per mode (cruise speed m/s, acceleration m/s^2, distance between stops m, dwell s):
walking about 1.35 m/s; bikes about 4.5 m/s with lights; cars cruising 15 m/s stopping at a third
of the lights every 0.5-1.2 km; buses cruising 9 m/s stopping every 300-500 m for 10-40 s (docs/research.md, "Modes: bus and car"); intercity
trains cruising 40 m/s with stations every 8-15 km; metros underground (no fix at all) at 18 m/s
with stations every 0.9-1.8 km.
"""

from __future__ import annotations

from collections.abc import Sequence
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
            k = KINEMATICS[leg.mode]
            speed = _speed_profile(k, leg.distance_m, rng)
            s = np.cumsum(speed)
            px, py, heading = _path(k, pos, heading, leg.distance_m, rng)
            lx, ly = _along(px, py, s)
            n = speed.size
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
