"""Leg splits and transport modes on simulated trips."""

import itertools

import numpy as np
import pytest

from app.mobility import ActivityArrays, process
from app.mobility.modes import FAMILY, infer_mode
from app.mobility.motion import motion_features, window_speed
from app.mobility.simulate import LegPlan, StayPlan, TripPlan, mode_agreement, simulate


def _single(mode: str, distance_m: float, seed: int, sampling_s: float):  # type: ignore[no-untyped-def]
    plan = [StayPlan(900), TripPlan((LegPlan(mode, distance_m),)), StayPlan(900)]
    return simulate(plan, seed=seed, sampling_s=sampling_s)


@pytest.mark.parametrize(
    ("mode", "distance_m"),
    [("walk", 1200), ("bike", 4000), ("car", 9000), ("bus", 5000), ("train", 40000)],
)
@pytest.mark.parametrize("sampling_s", [1, 5])
def test_mode_of_single_leg_trips(mode: str, distance_m: float, sampling_s: float) -> None:
    hits = 0
    for seed in range(3):
        sim = _single(mode, distance_m, seed, sampling_s)
        res = process(sim.points)
        assert len(res.trips) == 1
        legs = res.trips[0].legs
        main = max(legs, key=lambda leg: leg.end_ts_s - leg.start_ts_s)
        hits += FAMILY.get(main.mode) == FAMILY[mode]
        assert all(leg.mode_source == "inferred" for leg in legs)
    assert hits >= 2, f"{mode} found {hits}/3"


def test_walk_bus_walk_is_split_at_the_right_times() -> None:
    for seed in range(3):
        plan = [
            StayPlan(1200),
            TripPlan((LegPlan("walk", 500), LegPlan("bus", 5000), LegPlan("walk", 400))),
            StayPlan(1200),
        ]
        sim = simulate(plan, seed=seed, sampling_s=1)
        res = process(sim.points)
        assert len(res.trips) == 1
        legs = res.trips[0].legs
        assert [leg.mode for leg in legs] == ["walk", "bus", "walk"]
        true = sim.trips[0].legs
        # the change points are within a minute and a half of the true ones
        assert abs(legs[1].start_ts_s - true[1].start_ts_s) <= 90
        assert abs(legs[2].start_ts_s - true[2].start_ts_s) <= 90
        # legs are contiguous: no uncovered time inside the trip
        for a, b in itertools.pairwise(legs):
            assert a.end_ts_s == b.start_ts_s


def test_bus_stops_do_not_become_walks() -> None:
    # a long bus ride stops every 300-500 m; none of these stops is a transfer
    plan = [StayPlan(900), TripPlan((LegPlan("bus", 12000),)), StayPlan(900)]
    sim = simulate(plan, seed=5, sampling_s=1)
    res = process(sim.points)
    assert [leg.mode for leg in res.trips[0].legs] == ["bus"]


def test_phone_hints_decide_the_family() -> None:
    plan = [
        StayPlan(1800),
        TripPlan((LegPlan("walk", 600), LegPlan("car", 8000), LegPlan("walk", 400))),
        StayPlan(1800),
        TripPlan((LegPlan("bike", 3000),)),
        StayPlan(1800),
    ]
    sim = simulate(plan, seed=9, sampling_s=30, phone=True)
    assert sim.activities is not None
    res = process(sim.points, sim.activities)
    assert mode_agreement(sim.trips, res.trips, motorised=True) >= 0.8
    assert any(leg.mode_source == "activity" for t in res.trips for leg in t.legs)


def test_hints_that_contradict_the_speed_are_ignored() -> None:
    plan = [StayPlan(900), TripPlan((LegPlan("car", 9000),)), StayPlan(900)]
    sim = simulate(plan, seed=1, sampling_s=5)
    ts = np.arange(sim.points.ts_s[0], sim.points.ts_s[-1], 30.0)
    walking = ActivityArrays(ts, np.full(ts.size, "walking", dtype=object), np.full(ts.size, 90.0))
    res = process(sim.points, walking)
    modes = {leg.mode for t in res.trips for leg in t.legs}
    assert "walk" not in modes


def test_too_little_data_is_unknown() -> None:
    t = np.array([0.0, 10.0])
    f = motion_features(t, np.array([0.0, 50.0]), np.array([0.0, 0.0]), np.array([5.0, 5.0]))
    assert infer_mode(f).mode != "unknown"
    one = motion_features(t[:1], np.zeros(1), np.zeros(1), np.zeros(1))
    assert infer_mode(one).mode == "unknown"
    assert infer_mode(one).confidence == 0.0


def test_legs_carry_geometry_distance_and_confidence() -> None:
    sim = _single("bike", 4000, 0, 5)
    res = process(sim.points)
    for trip in res.trips:
        assert trip.distance_m == pytest.approx(sum(leg.distance_m for leg in trip.legs))
        assert 3500 <= trip.distance_m <= 4600
        for leg in trip.legs:
            assert len(leg.coordinates) >= 2
            assert 0.0 <= leg.confidence <= 1.0
            lon, lat = leg.coordinates[0]
            assert -2 < lon < 0 and 45 < lat < 47
            # simplified: far fewer vertices than fixes
            assert len(leg.coordinates) < leg.point_count


def test_flight_without_fix_is_a_plane() -> None:
    # phones are in flight mode: two fixes 600 km and 80 minutes apart, walking at both ends
    t = np.concatenate((np.arange(0.0, 300.0, 5.0), 5100.0 + np.arange(0.0, 300.0, 5.0)))
    x = np.concatenate((np.arange(60) * 7.0, 600_000.0 + np.arange(60) * 7.0))
    y = np.zeros(t.size)
    f = motion_features(t, x, y, window_speed(t, x, y))
    assert infer_mode(f).mode == "plane"
    # the same distance at motorway speed with fixes all along is not a plane
    t2 = np.arange(0.0, 20_000.0, 5.0)
    x2 = t2 * 30.0
    f2 = motion_features(t2, x2, np.zeros(t2.size), window_speed(t2, x2, np.zeros(t2.size)))
    assert infer_mode(f2).mode != "plane"
