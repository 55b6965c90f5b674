"""Stay detection and trip boundaries on simulated days, for loggers and duty-cycled phones."""

from dataclasses import replace

import numpy as np
import pytest

from app.mobility import DEFAULT_PARAMS, TransitStops, process
from app.mobility.pipeline import departure_lead
from app.mobility.simulate import LegPlan, StayPlan, TripPlan, commute_plan, simulate
from app.mobility.stays import Span, move_extent, segment
from app.transit import METRO


def _boundary_errors(sim_trips, trips):  # type: ignore[no-untyped-def]
    """For each true trip, the predicted trip overlapping it most: start and end errors (s)."""
    errs = []
    for tt in sim_trips:
        best = max(
            trips,
            key=lambda p: min(p.end_ts_s, tt.end_ts_s) - max(p.start_ts_s, tt.start_ts_s),
        )
        errs.append((abs(best.start_ts_s - tt.start_ts_s), abs(best.end_ts_s - tt.end_ts_s)))
    return np.array(errs)


@pytest.mark.parametrize(
    ("sampling_s", "phone", "tol_s"), [(1, False, 120), (5, False, 120), (30, True, 180)]
)
def test_trips_match_the_true_trips(sampling_s: float, phone: bool, tol_s: float) -> None:
    # a trip ends at the middle of the first 5-minute dwell window (as e-mission), hence the
    # extra 150 s allowed on the end
    for seed in (0, 1):
        sim = simulate(
            commute_plan(np.random.default_rng(seed)), seed=seed, sampling_s=sampling_s, phone=phone
        )
        res = process(sim.points, sim.activities)
        assert len(res.trips) == len(sim.trips)
        errs = _boundary_errors(sim.trips, res.trips)
        assert errs[:, 0].max() <= tol_s, errs
        assert errs[:, 1].max() <= tol_s + 150, errs
        # stays sit between the trips
        assert len(res.stays) >= len(sim.trips) - 1
        for a, b in zip(res.trips[:-1], res.trips[1:], strict=True):
            assert a.end_ts_s <= b.start_ts_s
            assert any(a.end_ts_s <= s.start_ts_s and s.end_ts_s <= b.start_ts_s for s in res.stays)


def test_stays_are_found_where_the_user_stayed() -> None:
    sim = simulate(commute_plan(np.random.default_rng(4)), seed=4, sampling_s=5)
    res = process(sim.points)
    for true in sim.stays[1:-1]:
        covering = [s for s in res.stays if s.start_ts_s < true.end_ts_s and s.end_ts_s > true.start_ts_s]
        assert len(covering) == 1
        s = covering[0]
        # within the 5-minute dwell window of the start, and near the departure
        assert abs(s.start_ts_s - true.start_ts_s) <= 400
        assert abs(s.end_ts_s - true.end_ts_s) <= 120


def test_duty_cycled_phone_silence_is_a_stay_not_a_trip() -> None:
    # the phone sleeps a few minutes into each stay: hours without a fix at the same place
    plan = [
        StayPlan(3 * 3600),
        TripPlan((LegPlan("car", 5000),)),
        StayPlan(4 * 3600),
        TripPlan((LegPlan("car", 5000),)),
        StayPlan(3600),
    ]
    sim = simulate(plan, seed=7, sampling_s=30, phone=True)
    gaps = np.diff(sim.points.ts_s)
    assert gaps.max() > 3600  # the simulated phone really was silent
    res = process(sim.points, sim.activities)
    assert len(res.trips) == 2
    long_stays = [s for s in res.stays if s.end_ts_s - s.start_ts_s > 3000]
    assert len(long_stays) >= 2


def test_gap_ending_far_away_is_a_trip_with_missing_data() -> None:
    # underground: no fix for the whole metro leg, the walk resumes kilometres away
    plan = [
        StayPlan(1200),
        TripPlan((LegPlan("walk", 400), LegPlan("metro", 8000), LegPlan("walk", 300))),
        StayPlan(1200),
    ]
    sim = simulate(plan, seed=11, sampling_s=5)
    res = process(sim.points)
    assert len(res.trips) == 1
    trip = res.trips[0]
    assert trip.distance_m > 7000
    # rail underground; without a published network nothing says the territory has a metro
    assert [leg.mode for leg in trip.legs] == ["walk", "train", "walk"]
    metro = TransitStops(np.array([0.0]), np.array([0.0]), np.array([METRO]), (frozenset({"m1"}),))
    (trip,) = process(sim.points, transit=metro).trips
    assert [leg.mode for leg in trip.legs] == ["walk", "metro", "walk"]


def test_short_jitter_is_not_a_trip() -> None:
    # wandering 60 m around a place is no trip (e-mission drops trips under 100 m)
    plan = [StayPlan(1800), TripPlan((LegPlan("walk", 60),)), StayPlan(1800)]
    sim = simulate(plan, seed=2, sampling_s=5)
    res = process(sim.points)
    assert res.trips == []
    assert len(res.stays) == 1


def test_departure_lead_after_a_silent_phone() -> None:
    # 140 m from the place at the first fix: about 100 s of walking
    assert departure_lead(140.0, 3600.0, "walk", DEFAULT_PARAMS) == pytest.approx(100.0)
    # a driver walks the first 100 m, then drives
    assert departure_lead(1100.0, 3600.0, "car", DEFAULT_PARAMS) == pytest.approx(100 / 1.4 + 100.0)
    # never more than half the silence
    assert departure_lead(1000.0, 120.0, "walk", DEFAULT_PARAMS) == pytest.approx(60.0)


def _track(*parts: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixes of a phone as (t, x, y) arrays from pieces ``(t0, t1, x, y)`` sampled every 30 s."""
    t, x, y = [], [], []
    for t0, t1, px, py in parts:
        ts = np.arange(t0, t1 + 1e-9, 30.0)
        t.append(ts)
        x.append(np.full(ts.size, px))
        y.append(np.full(ts.size, py))
    return np.concatenate(t), np.concatenate(x), np.concatenate(y)


def test_two_nearby_places_with_a_silent_walk_between_are_two_stays() -> None:
    # 20 minutes at A, a 7-minute silence (shorter than a session break), then the phone wakes 110 m
    # from A and follows the last 95 m of the walk to B, 205 m from A, where the user stays. The
    # first dwell window at B starts with the first fix after the silence, right after A's last
    # window: windows that share no fix are two places, with the walk between them a trip.
    t, x, y = _track(
        (0, 1200, 0.0, 0.0),
        (1640, 1640, 0.0, 110.0),
        (1670, 1670, 0.0, 150.0),
        (1700, 1700, 0.0, 190.0),
        (1730, 3000, 0.0, 205.0),
    )
    seg = segment(t, x, y)
    assert len(seg.stays) == 2
    assert len(seg.moves) == 1
    mv = seg.moves[0]
    assert t[mv.first] == 1640 and y[mv.last] == 205.0
    # the union of all dwell windows made one stay of A and B and lost the walk
    chained = segment(t, x, y, replace(DEFAULT_PARAMS, stay_split_places=False))
    assert len(chained.stays) == 1 and chained.moves == []


def test_a_short_walk_the_phone_slept_through_the_start_of_is_a_trip() -> None:
    # an hour without a fix at A (the phone sleeps at a stay), then it wakes 150 m away, 60 m from
    # where the user stays next: the jump belongs to the trip, which goes 150 m (e-mission extends
    # the trip back to the last place)
    t, x, y = _track((0, 1200, 0.0, 0.0), (4800, 4860, 150.0, 0.0), (4890, 6000, 150.0, 60.0))
    seg = segment(t, x, y)
    assert len(seg.moves) == 1
    mv = seg.moves[0]
    assert t[mv.first] == 4800
    assert move_extent(t, x, y, mv, DEFAULT_PARAMS) >= 150.0
    # without the jump the fixes after the silence span 60 m only: jitter, dropped
    off = replace(DEFAULT_PARAMS, trip_across_silence=False)
    assert move_extent(t, x, y, mv, off) < DEFAULT_PARAMS.min_trip_distance_m
    assert segment(t, x, y, off).moves == []


def test_jump_across_silence_counts_only_for_a_trip_that_could_start_there() -> None:
    t = np.array([0.0, 30.0, 3600.0, 3630.0, 3660.0])
    x = np.array([0.0, 0.0, 150.0, 170.0, 190.0])
    y = np.zeros(5)
    # two fixes after an hour's silence 150 m away: the jump counts
    assert move_extent(t, x, y, Span(2, 4), DEFAULT_PARAMS) == pytest.approx(190.0)
    # a lone fix after the silence is no evidence of a trip
    assert move_extent(t, x, y, Span(4, 4), DEFAULT_PARAMS) == 0.0
    # a jump of several kilometres at walking pace or slower is untracked time, not part of the trip
    far = x.copy()
    far[2:] += 5000.0
    assert move_extent(t, far, y, Span(2, 4), DEFAULT_PARAMS) == pytest.approx(40.0)
    # no silence before the move: only its own fixes
    assert move_extent(t, x, y, Span(3, 4), DEFAULT_PARAMS) == pytest.approx(20.0)
