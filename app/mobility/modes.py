"""Mode inference for one leg from its motion features and the phone's activity hints.

Geometric rules follow the findings collected in docs/research.md: speed percentiles separate walking,
cycling and motorised travel (Zheng et al. 2008; e-mission's 1.7 m/s walk/bike median); among
motorised legs buses stop regularly (every 300-500 m) and turn more often than cars, rail runs
straight and fast or is lost underground (gaps with a jump), cruises at its line's speed cap
between stations (a speed plateau) and accelerates more gently than road traffic, and anything
faster than 150 km/h end to end over a long distance is a plane (e-mission). Acceleration separates cycling (smooth,
muscle-powered) from motor vehicles at the same speed (Dabiri & Heaslip 2018 use it as input).

The phone's activity hints are strong for walk / bike / vehicle and weak for bus versus car
(docs/research.md, "Modes: activity hints"), so when they cover a leg they decide that family (``mode_source`` "activity") and
geometry decides the vehicle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from app.mobility.motion import MotionFeatures
from app.mobility.transit import NO_EVIDENCE, TransitEvidence
from app.mobility.types import ActivityArrays, Reason
from app.transit.gtfs import BUS, METRO, TRAIN, TRAM

#: mode families (as the evaluation and the emission factors group modes)
FAMILY: dict[str, str] = {
    "walk": "walk",
    "run": "walk",
    "bike": "bike",
    "ebike": "bike",
    "escooter": "bike",
    "car": "car",
    "ecar": "car",
    "carpool": "car",
    "moped": "car",
    "motorcycle": "car",
    "bus": "bus",
    "coach": "bus",
    "tram": "rail",
    "metro": "rail",
    "train": "rail",
    "hsr": "rail",
    "plane": "plane",
    "boat": "boat",
    "unknown": "unknown",
}

#: an activity hint is taken to last until the next one, but no longer than this (s); phones
#: report a change of activity, and re-report every minute or two while it persists.
ACTIVITY_HOLD_S = 300.0


@dataclass(frozen=True)
class ModeGuess:
    """A mode id with its confidence in [0, 1], where it came from and why.

    ``reasons`` name the rules that decided, with their figures (speeds in km/h, rates per km), so
    an app can explain the mode and a person can trust or correct it (see docs/modes.md).
    """

    mode: str
    confidence: float
    source: str = "inferred"
    reasons: tuple[Reason, ...] = ()
    #: the leg features it was judged on (:func:`app.mobility.personal.leg_features`), once known
    features: Mapping[str, float] = field(default_factory=dict)


def _kmh(v_mps: float) -> float:
    return round(v_mps * 3.6, 1)


def _r(value: float) -> float:
    return round(float(value), 2)


def activity_shares(acts: ActivityArrays | None, t0: float, t1: float) -> dict[str, float]:
    """Confidence-weighted seconds of each activity kind overlapping ``[t0, t1]``.

    Each hint holds until the next one, at most ``ACTIVITY_HOLD_S``; an unknown confidence counts
    as 0.5.
    """
    if acts is None or len(acts) == 0 or t1 <= t0:
        return {}
    ts = acts.ts_s
    end = np.minimum(np.append(ts[1:], np.inf), ts + ACTIVITY_HOLD_S)
    overlap = np.clip(np.minimum(end, t1) - np.maximum(ts, t0), 0.0, None)
    conf = np.where(np.isfinite(acts.confidence), acts.confidence / 100.0, 0.5)
    w = overlap * conf
    out: dict[str, float] = {}
    sel = np.flatnonzero(w > 0)
    for kind in np.unique(acts.kind[sel]).tolist():
        out[str(kind)] = float(w[sel][acts.kind[sel] == kind].sum())
    return out


#: share of a leg's time without fix, and the highest median speed of its fixes, for an
#: underground ride
METRO_GAP_SHARE = 0.6
METRO_GAP_FIX_SPEED_MPS = 3.0
#: 90th percentile of acceleration (m/s2, on a 5 s grid) below which a fast two-wheeler is a
#: bicycle: GeoLife bike legs median 0.12, buses 0.42, cars 0.38 (sampled every 8 s or more:
#: bikes 0.09, buses 0.29, cars 0.28)
BIKE_SMOOTH_ACCEL = 0.15
#: ... up to these speeds (m/s): a 95th percentile of 40 km/h and a median of 30 km/h, the speeds
#: of fast cyclists, pedelecs (assisted to 25 km/h in the EU) and speed pedelecs (45 km/h). GeoLife
#: bike legs logged every 8 s or more have medians up to 8.5 m/s and 95th percentiles up to 10 m/s.
BIKE_SMOOTH_MAX_P95_MPS = 11.0
BIKE_SMOOTH_MAX_MEDIAN_MPS = 8.5
#: speeds (m/s) at which a ride entirely without fix is taken as underground rail
UNDERGROUND_SPEED_MPS = (4.0, 30.0)
#: fast rail cruises above motorway limits: 36 m/s is 130 km/h
TRAIN_P85_MPS = 36.0
#: high-speed rail: above 200 km/h
HSR_P85_MPS = 55.0
#: planes: faster than 150 km/h end to end is plane or high-speed rail (e-mission); 55 m/s is
#: about 200 km/h, over at least PLANE_MIN_DISTANCE_M, and either mostly without fix (flight
#: mode) or faster than any train (100 m/s, 360 km/h)
PLANE_MIN_SPEED_MPS = 55.0
PLANE_MIN_DISTANCE_M = 20_000.0
PLANE_GPS_SPEED_MPS = 100.0
#: between stations urban rail holds its cruising speed (the line's cap): it spends at least this
#: share of its moving time within 15 % of its 85th percentile speed. The old test, a median of at
#: least 0.65 of the 85th percentile, missed rail legs with long station dwells (GeoLife: median
#: 0.5 of p85, plateau share 0.5-0.7) and caught cars on expressways (plateau share 0.2-0.45):
#: better on each of three left-out user groups.
METRO_PLATEAU_SHARE = 0.5
#: ... while moving most of the time: the median is at least this share of the 85th percentile
#: (GeoLife rail legs 0.46 and more; a car queueing between fast stretches has a plateau too,
#: but a median at walking pace)
METRO_MEDIAN_SHARE = 0.4
#: stations per km at most (one every 1.7 km or more)
METRO_MAX_STOP_RATE = 0.6
#: speed range of the 85th percentile of urban rail legs above ground (m/s): 54-79 km/h
METRO_P85_MPS = (15.0, 22.0)
#: rail tracks have wide curves: few turns sharper than 19 degrees per km (GeoLife rail legs: median
#: 0.4, cars 1.2). Among legs that already hold a plateau at 54-79 km/h, rail legs reach 1.0 (GPS
#: jumps in and near stations read as turns) while roads with bends go beyond; 1.2 helped each of
#: three left-out user groups over 0.8.
METRO_MAX_HEADING_RATE = 1.2
#: smooth rail: 90th percentile acceleration (5 s grid) at most this (m/s2; GeoLife rail legs
#: cruising at 65-110 km/h: 0.09-0.12, cars on motorways 0.15-0.30), above 54 km/h (p85), few
#: turns and stops, over at least 10 km
RAIL_SMOOTH_ACCEL = 0.12
RAIL_SMOOTH_P85_MPS = 15.0
RAIL_SMOOTH_MAX_HEADING_RATE = 0.6
RAIL_SMOOTH_MAX_STOP_RATE = 0.2
RAIL_SMOOTH_MIN_DISTANCE_M = 10_000.0
#: bus evidence (Zheng et al. 2008 features; thresholds checked on GeoLife labelled legs)
BUS_STOP_RATE = 0.8  # stops per km
BUS_HEADING_RATE = 1.5  # turns > 19 degrees per km (simplified path)
BUS_P95_MAX_MPS = 16.0  # 58 km/h
BUS_VCR = 4.0  # relative speed changes > 0.26 per km
#: confidence of the bus / car decision by number of bus votes: about the share of labelled
#: points the decision got right on GeoLife dev legs (4 votes: bus 0.78, 3: bus 0.83, 2: bus 0.80
#: or car 0.71, 1: car 0.39 - as often a bus -, 0: car 0.70), shrunk towards 0.5 since bus and
#: car are told apart far less reliably across users than within them
BUS_CAR_CONFIDENCE = {4: 0.75, 3: 0.7, 2: 0.6, 1: 0.4, 0: 0.65}
#: two votes, but faster than a city bus: a car, somewhat less sure than with no bus vote at all
CAR_TWO_VOTES_CONFIDENCE = 0.55


#: halts (other than the first and last) a leg needs before the share of them at stops tells
MIN_HALTS = 3
#: a bus halts mostly at its stops: at least half of its halts (lights and queues take the rest)
BUS_HALT_SHARE = 0.5
#: a leg that starts and ends near stops of one line "follows" it when it passes at least this many
#: distinct stops of that line, its two ends included: one stop on the way. Cars cross bus lines
#: everywhere in a city; starting and ending at stops of one line and passing a third is rarer.
LINE_MIN_STOPS = 3
_RAIL_MODE = {TRAM: "tram", METRO: "metro", TRAIN: "train"}
_KIND_NAME = {BUS: "bus", TRAM: "tram", METRO: "metro", TRAIN: "train"}


def urban_rail_mode(ev: TransitEvidence) -> str:
    """What to call rail found by geometry alone (gaps underground, a speed plateau): a metro only
    where the published network has one, a tram where it has trams but no metro, else a train.
    Without a network nothing says a metro exists (a town of La Rochelle's size has none)."""
    if ev.network_kinds & METRO:
        return "metro"
    if ev.network_kinds & TRAM:
        return "tram"
    return "train"


def network_rail(f: MotionFeatures, ev: TransitEvidence) -> ModeGuess | None:
    """A rail line's mode when the leg starts and ends at stations of one line and halts (if it halts)
    mostly at stations, else None. Positive evidence only."""
    if not (ev.covered and ev.rail_kind):
        return None
    if ev.halts >= MIN_HALTS and ev.halts_at_rail_stops < BUS_HALT_SHARE * ev.halts:
        return None
    mode = _RAIL_MODE[ev.rail_kind]
    if mode == "train" and f.v_p85 >= HSR_P85_MPS:
        mode = "hsr"
    reason: Reason = {
        "rule": "line_stops",
        "line": ev.rail_line.split("/", 1)[-1],
        "kind": _KIND_NAME[ev.rail_kind],
        "stops_served": ev.rail_stops_served,
    }
    return ModeGuess(mode, 0.8, reasons=(reason,))


def network_bus(f: MotionFeatures, ev: TransitEvidence) -> ModeGuess | None:
    """A bus when the leg starts and ends near stops of one bus line and passes its stops on the
    way; else None (never a car: see :mod:`app.mobility.transit`)."""
    if not ev.covered:
        return None
    if ev.bus_line and ev.bus_stops_served >= LINE_MIN_STOPS:
        reason: Reason = {
            "rule": "line_stops",
            "line": ev.bus_line.split("/", 1)[-1],
            "kind": "bus",
            "stops_served": ev.bus_stops_served,
            "halts": ev.halts,
            "halts_at_stops": ev.halts_at_bus_stops,
        }
        return ModeGuess("bus", 0.85, reasons=(reason,))
    # Halting mostly at bus stops is not enough: bus stops sit at crossings and lights, where cars halt
    # too (on GeoLife with Beijing's bus network, a fifth of the points it called bus were cars, and it
    # cost one held-out group of users 4 points).
    return None


def motorised_mode(f: MotionFeatures, transit: TransitEvidence = NO_EVIDENCE) -> ModeGuess:
    """Car, bus or rail for a leg known (or judged) to be motorised.

    Order: rail from geometry that nothing else moves like (gaps underground, fast and straight),
    rail from the network (positive evidence), rail from smoothness and speed plateaus, then a bus
    from the network (positive evidence), then the geometric bus / car votes. The network never
    calls a car, and never pre-empts the geometric rail rules with a bus.
    """
    # underground rail: a large share of the leg without fix, crossed faster than walking, while
    # the fixes there are (in and around stations) are at walking pace (docs/research.md, "Modes: rail": subways lose
    # GPS underground, long gaps then a jump). Fast fixes between gaps are a vehicle sampled sparsely.
    if (
        f.gap_share >= METRO_GAP_SHARE
        and f.gap_speed >= 4.0
        and f.v_median <= METRO_GAP_FIX_SPEED_MPS
        and f.distance_m >= 1500
    ):
        reason: Reason = {
            "rule": "underground_gaps",
            "gap_share": _r(f.gap_share),
            "gap_speed_kmh": _kmh(f.gap_speed),
        }
        return ModeGuess(urban_rail_mode(transit), 0.6, reasons=(reason,))
    # fast rail: cruising above motorway limits (130 km/h) on a straight line; high-speed rail
    # above 200 km/h
    if f.v_p85 >= TRAIN_P85_MPS and f.heading_rate_per_km <= 0.5 and f.distance_m >= 10_000:
        reason = {"rule": "fast_straight", "p85_kmh": _kmh(f.v_p85), "km": _r(f.distance_m / 1000)}
        return ModeGuess("hsr" if f.v_p85 >= HSR_P85_MPS else "train", 0.6, reasons=(reason,))
    by_network = network_rail(f, transit)
    if by_network is not None:
        return by_network
    # smooth rail: electric trains pull away and brake gently and hold their speed for tens of
    # kilometres, while road traffic keeps changing speed (Dabiri & Heaslip 2018 use acceleration)
    if (
        f.accel_p90 <= RAIL_SMOOTH_ACCEL
        and f.v_p85 >= RAIL_SMOOTH_P85_MPS
        and f.heading_rate_per_km <= RAIL_SMOOTH_MAX_HEADING_RATE
        and f.stop_rate_per_km <= RAIL_SMOOTH_MAX_STOP_RATE
        and f.distance_m >= RAIL_SMOOTH_MIN_DISTANCE_M
    ):
        reason = {"rule": "smooth_rail", "accel_p90": _r(f.accel_p90), "p85_kmh": _kmh(f.v_p85)}
        return ModeGuess("train", 0.5, reasons=(reason,))
    # urban rail above ground: a speed plateau (the line's speed cap, 70-80 km/h in Beijing, median
    # 35 km/h with stops, docs/research.md, "Modes: rail") reached between stations, few turns, rare stops
    plateau = (
        f.plateau_share >= METRO_PLATEAU_SHARE
        and f.v_median >= METRO_MEDIAN_SHARE * f.v_p85
        and f.v_p95 <= 1.3 * f.v_p85
    )
    if (
        plateau
        and METRO_P85_MPS[0] <= f.v_p85 <= METRO_P85_MPS[1]
        and f.heading_rate_per_km <= METRO_MAX_HEADING_RATE
        and f.stop_rate_per_km <= METRO_MAX_STOP_RATE
        and f.distance_m >= 3000
    ):
        reason = {
            "rule": "speed_plateau",
            "p85_kmh": _kmh(f.v_p85),
            "plateau_share": _r(f.plateau_share),
            "turns_per_km": _r(f.heading_rate_per_km),
        }
        return ModeGuess(urban_rail_mode(transit), 0.5, reasons=(reason,))
    by_network = network_bus(f, transit)
    if by_network is not None:
        return by_network
    # bus: regular stops every 300-500 m, in town, turns, rarely above 50 km/h (docs/research.md, "Modes: bus and car",
    # Zheng et al. 2008 stop rate, heading change rate and velocity change rate)
    votes = (
        int(f.stop_rate_per_km >= BUS_STOP_RATE)
        + int(f.heading_rate_per_km >= BUS_HEADING_RATE)
        + int(f.v_p95 < BUS_P95_MAX_MPS)
        + int(f.velocity_change_rate_per_km >= BUS_VCR)
    )
    reason = {
        "rule": "bus_votes",
        "votes": votes,
        "stops_per_km": _r(f.stop_rate_per_km),
        "turns_per_km": _r(f.heading_rate_per_km),
        "p95_kmh": _kmh(f.v_p95),
        "speed_changes_per_km": _r(f.velocity_change_rate_per_km),
    }
    if votes >= 3:
        return ModeGuess("bus", BUS_CAR_CONFIDENCE[votes], reasons=(reason,))
    if votes == 2:
        # under a bus's top speed, a bus only if it also stops or surges like one: turning alone is no
        # bus cue (cars turn in town too; GeoLife dev legs voting on speed and turns alone were cars
        # 1,187 points to buses' 716)
        bus = f.v_p95 < BUS_P95_MAX_MPS and (
            f.stop_rate_per_km >= BUS_STOP_RATE or f.velocity_change_rate_per_km >= BUS_VCR
        )
        return ModeGuess(
            "bus" if bus else "car",
            BUS_CAR_CONFIDENCE[2] if bus else CAR_TWO_VOTES_CONFIDENCE,
            reasons=(reason,),
        )
    return ModeGuess("car", BUS_CAR_CONFIDENCE[votes], reasons=(reason,))


def infer_mode(
    f: MotionFeatures, shares: dict[str, float] | None = None, transit: TransitEvidence = NO_EVIDENCE
) -> ModeGuess:
    """Mode of one leg.

    Args:
        f: the leg's motion features.
        shares: confidence-weighted seconds per activity kind (:func:`activity_shares`), or None.
        transit: what the territory's network says about the leg (:func:`app.mobility.transit.leg_evidence`).

    Returns:
        The guessed mode, confidence and source ("activity" when the phone's hints decided the
        family: walk, bike or motorised).
    """
    if f.point_count < 2 or f.duration_s <= 0:
        return ModeGuess("unknown", 0.0)
    if (
        f.distance_m >= PLANE_MIN_DISTANCE_M
        and max(f.overall_speed, f.gap_speed) >= PLANE_MIN_SPEED_MPS
        and (f.gap_share >= 0.5 or f.v_p95 >= PLANE_GPS_SPEED_MPS)
    ):
        reason: Reason = {
            "rule": "plane_speed",
            "speed_kmh": _kmh(max(f.overall_speed, f.gap_speed)),
            "km": _r(f.distance_m / 1000),
        }
        return ModeGuess("plane", 0.9, reasons=(reason,))
    if shares:
        guess = _from_activities(f, shares, transit)
        if guess is not None:
            return guess
    return _from_geometry(f, transit)


def _from_activities(
    f: MotionFeatures, shares: dict[str, float], transit: TransitEvidence
) -> ModeGuess | None:
    """The family the hints give a leg they mostly cover, if its speed does not contradict it."""
    running = shares.get("running", 0.0)
    walk = shares.get("walking", 0.0) + running
    bike = shares.get("cycling", 0.0)
    car = shares.get("automotive", 0.0)
    total = walk + bike + car
    # only a leg mostly covered by moving hints is decided by them
    if total < 0.3 * f.duration_s or total <= 0:
        return None
    best = max((walk, "walk"), (bike, "bike"), (car, "motor"))
    share = best[0] / total
    if share < 0.5:
        return None
    conf = float(min(0.95, 0.5 + 0.5 * share))
    names = {"walk": "walking", "bike": "cycling", "motor": "automotive"}
    hint: Reason = {"rule": "phone_activity", "activity": names[best[1]], "share": _r(share)}
    # hints are evidence, not truth: a "walk" at car speed is not a walk
    if best[1] == "walk" and f.v_median <= 3.0:
        return ModeGuess("run" if running > walk / 2 else "walk", conf, "activity", (hint,))
    if best[1] == "bike" and f.v_median <= 9.0:
        return ModeGuess("bike", conf, "activity", (hint,))
    if best[1] == "motor" and f.v_median >= 1.5:
        m = motorised_mode(f, transit)
        return ModeGuess(m.mode, conf * (0.5 + 0.5 * m.confidence), "activity", (hint, *m.reasons))
    return None


def _speeds(rule: str, f: MotionFeatures) -> Reason:
    """A speed rule's reason with the figures it read."""
    return {
        "rule": rule,
        "median_kmh": _kmh(f.v_median),
        "p95_kmh": _kmh(f.v_p95),
        "accel_p90": _r(f.accel_p90),
    }


def _from_geometry(f: MotionFeatures, transit: TransitEvidence) -> ModeGuess:
    """Mode from the motion features alone."""
    # a long stretch without any fix crossed at vehicle speed: road tunnels take a minute or two,
    # metros lose the fix for whole rides (docs/research.md, "Modes: rail"); a weak guess: on GeoLife such gaps were
    # as often a bus or car losing the fix (tunnels, logger off) as a metro ride
    if (
        f.point_count == 2
        and f.gap_share >= 0.99
        and UNDERGROUND_SPEED_MPS[0] <= f.gap_speed <= UNDERGROUND_SPEED_MPS[1]
    ):
        reason: Reason = {"rule": "no_fix_at_vehicle_speed", "gap_speed_kmh": _kmh(f.gap_speed)}
        return ModeGuess(urban_rail_mode(transit), 0.3, reasons=(reason,))
    # mostly without fix: only the speed across the gaps tells (underground rail, tunnels)
    if f.gap_share >= 0.5 and f.gap_speed >= 4.0:
        return motorised_mode(f, transit)
    # walking: median 5.3 km/h in GeoLife (docs/research.md, "Modes: speed"); e-mission calls <= 1.7 m/s median walking
    if f.v_median <= 1.9 and f.v_p85 <= 3.0 and f.gap_speed < 4.0:
        return ModeGuess("walk", 0.8, reasons=(_speeds("walking_speed", f),))
    # cycling: median 10.7 km/h (docs/research.md, "Modes: speed"), smooth: low acceleration, rarely above 30 km/h
    if f.v_p95 <= 8.0 and f.accel_p90 <= 0.3 and f.v_median <= 6.0 and f.gap_speed < 6.0:
        return ModeGuess("bike", 0.6, reasons=(_speeds("cycling_speed", f),))
    # fast or assisted cycling: faster, but just as smooth (no bus stops, no traffic surges)
    if (
        f.v_p95 <= BIKE_SMOOTH_MAX_P95_MPS
        and f.accel_p90 <= BIKE_SMOOTH_ACCEL
        and f.v_median <= BIKE_SMOOTH_MAX_MEDIAN_MPS
        and f.gap_speed < 6.0
    ):
        return ModeGuess("bike", 0.5, reasons=(_speeds("smooth_cycling", f),))
    if f.v_median <= 1.9 and f.v_p85 <= 3.0:
        return ModeGuess("walk", 0.5, reasons=(_speeds("walking_speed", f),))
    return motorised_mode(f, transit)
