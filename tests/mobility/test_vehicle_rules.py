"""Rules that tell motor vehicles apart, and the leg-sequence smoothing, on synthetic traces."""

import numpy as np

from app.mobility import DEFAULT_PARAMS, process
from app.mobility.modes import FAMILY, ModeGuess, infer_mode
from app.mobility.motion import MotionFeatures, motion_features, window_speed
from app.mobility.pipeline import _Part, _smooth_sandwiches
from app.mobility.simulate import LegPlan, StayPlan, TripPlan, simulate


def _features(
    speed: np.ndarray, seed: int, turn_every_s: float = 600.0, noise_m: float = 3.0
) -> MotionFeatures:
    """Features of a 1 s trace following ``speed`` (m/s per second) on a road that turns by 30
    degrees every ``turn_every_s`` seconds, with GPS noise."""
    rng = np.random.default_rng(seed)
    heading = np.radians(30.0) * np.floor(np.arange(speed.size) / turn_every_s)
    x = np.cumsum(speed * np.cos(heading)) + rng.normal(0.0, noise_m, speed.size)
    y = np.cumsum(speed * np.sin(heading)) + rng.normal(0.0, noise_m, speed.size)
    t = np.arange(speed.size, dtype=np.float64)
    return motion_features(t, x, y, window_speed(t, x, y))


def _ramp(v0: float, v1: float, accel: float) -> np.ndarray:
    n = max(int(abs(v1 - v0) / accel), 1)
    return np.linspace(v0, v1, n)


def _metro(rng: np.random.Generator) -> np.ndarray:
    """Urban rail above ground: 1 m/s2 to the line's 19 m/s cap, stations every 1.8-2.4 km."""
    out = []
    for _ in range(8):
        cruise = float(rng.uniform(18.5, 19.5))
        up = _ramp(0.0, cruise, 1.0)
        down = _ramp(cruise, 0.0, 1.0)
        d = float(rng.uniform(1800, 2400)) - up.sum() - down.sum()
        out += [up, np.full(int(d / cruise), cruise), down, np.zeros(int(rng.uniform(30, 45)))]
    return np.concatenate(out)


def _expressway_car(rng: np.random.Generator) -> np.ndarray:
    """A car on an urban expressway: speed wandering between 8 and 20 m/s with the traffic."""
    out = []
    v = 14.0
    for _ in range(60):
        target = float(rng.uniform(8.0, 20.0))
        out.append(_ramp(v, target, float(rng.uniform(0.5, 1.5))))
        out.append(np.full(int(rng.uniform(5, 30)), target))
        v = target
    return np.concatenate(out)


def test_urban_rail_cruises_at_a_plateau_and_an_expressway_car_does_not() -> None:
    for seed in range(3):
        rng = np.random.default_rng(seed)
        rail = _features(_metro(rng), seed, turn_every_s=900.0)
        car = _features(_expressway_car(rng), seed)
        assert rail.plateau_share >= 0.5 > car.plateau_share
        assert FAMILY[infer_mode(rail).mode] == "rail"
        assert infer_mode(car).mode == "car"


def test_a_smooth_train_is_rail_and_a_motorway_car_is_not() -> None:
    rng = np.random.default_rng(4)
    # a regional train: 0.3 m/s2 to 30 m/s, holds it for 90 km
    train = np.concatenate((_ramp(0.0, 30.0, 0.3), np.full(3000, 30.0), _ramp(30.0, 0.0, 0.3)))
    train = train + rng.normal(0.0, 0.1, train.size)
    f_train = _features(np.clip(train, 0.0, None), 4, turn_every_s=1e9)
    assert infer_mode(f_train).mode == "train"
    # a car on the motorway at the same speed: overtaking, slowing behind lorries
    car = np.concatenate(
        [_ramp(0.0, 30.0, 2.0)]
        + [
            np.concatenate((_ramp(30.0, v, 1.0), np.full(40, v), _ramp(v, 30.0, 1.0), np.full(60, 30.0)))
            for v in rng.uniform(22.0, 27.0, 12)
        ]
    )
    f_car = _features(car, 5, turn_every_s=1e9)
    assert infer_mode(f_car).mode == "car"


def _bus(rng: np.random.Generator) -> np.ndarray:
    """A city bus: stops every 300-500 m for 10-40 s, 1 m/s2, about 9 m/s between stops."""
    out = []
    for _ in range(20):
        v = float(rng.uniform(8.0, 10.5))
        up, down = _ramp(0.0, v, 1.0), _ramp(v, 0.0, 1.0)
        d = float(rng.uniform(300, 500)) - up.sum() - down.sum()
        out += [up, np.full(max(int(d / v), 1), v), down, np.zeros(int(rng.uniform(10, 40)))]
    return np.concatenate(out)


def _car_in_traffic(rng: np.random.Generator) -> np.ndarray:
    """A car in stop-and-go traffic on an arterial: 15-22 m/s (54-79 km/h) between lights every
    1-2 km, and long queues crawling at 1-3 m/s."""
    out = []
    for _ in range(6):
        v = float(rng.uniform(15.0, 22.0))
        out += [_ramp(0.0, v, 2.0), np.full(int(rng.uniform(1000, 2000) / v), v), _ramp(v, 0.0, 2.5)]
        out += [
            np.zeros(int(rng.uniform(30, 80))),
            np.full(int(rng.uniform(40, 90)), float(rng.uniform(1, 3))),
        ]
    return np.concatenate(out)


def test_a_bus_with_regular_stops_and_a_car_in_stop_and_go_traffic_are_told_apart() -> None:
    for seed in range(3):
        rng = np.random.default_rng(seed)
        bus = infer_mode(_features(_bus(rng), seed, turn_every_s=120.0))
        car = infer_mode(_features(_car_in_traffic(rng), seed, turn_every_s=300.0))
        assert bus.mode == "bus"
        assert car.mode == "car"


def test_a_speed_pedelec_is_a_bike_at_any_sampling_and_a_bus_at_its_speed_is_not() -> None:
    """Smooth riding at a 27 km/h median (pedelecs, fast cyclists) is cycling; a bus reaching
    the same speeds between stops accelerates harder and is not."""
    t = np.arange(1800.0)
    speed = 7.5 + 1.0 * np.sin(2 * np.pi * t / 120.0)
    for step in (1, 10):
        rng = np.random.default_rng(step)
        x = np.cumsum(speed) + rng.normal(0.0, 3.0, t.size)
        y = rng.normal(0.0, 3.0, t.size)
        keep = slice(None, None, step)
        f = motion_features(t[keep], x[keep], y[keep], window_speed(t[keep], x[keep], y[keep]))
        assert f.v_median > 7.0
        assert infer_mode(f).mode == "bike"
    bus = infer_mode(_features(_bus(np.random.default_rng(4)), 4, turn_every_s=120.0))
    assert bus.mode == "bus"


def test_confidence_is_lower_for_weak_decisions() -> None:
    rng = np.random.default_rng(1)
    clear_bus = infer_mode(_features(_bus(rng), 1, turn_every_s=120.0))
    # a leg with a bus's speeds but no stops and few turns: a weak car
    cruise = np.concatenate((_ramp(0.0, 9.0, 1.0), np.full(900, 9.0), _ramp(9.0, 0.0, 1.0)))
    weak = infer_mode(_features(cruise, 1, turn_every_s=1e9))
    assert weak.mode == "car"
    assert clear_bus.confidence > weak.confidence
    assert 0.0 < weak.confidence <= 0.5


def _part(first: int, last: int, mode: str, source: str = "inferred", conf: float = 0.6) -> _Part:
    return _Part(first, last, ModeGuess(mode, conf, source))


def test_a_short_leg_between_two_legs_of_one_vehicle_joins_them() -> None:
    t = np.arange(0.0, 4000.0, 10.0)
    parts = [
        _part(0, 99, "walk"),
        _part(100, 199, "bus", conf=0.7),
        _part(200, 229, "metro"),
        _part(230, 329, "bus", conf=0.6),
        _part(330, 398, "walk"),
    ]
    out = _smooth_sandwiches(parts, t)
    assert [(p.first, p.last, p.guess.mode) for p in out] == [
        (0, 99, "walk"),
        (100, 329, "bus"),
        (330, 398, "walk"),
    ]
    assert out[1].guess.confidence == 0.7
    # a walk between two buses is a transfer; a vehicle between two bike legs may carry the bike;
    # what the phone's hints decided stays
    for mid, sides in (("walk", "bus"), ("car", "bike")):
        parts = [_part(0, 99, sides), _part(100, 129, mid), _part(130, 229, sides)]
        assert len(_smooth_sandwiches(parts, t)) == 3
    parts = [_part(0, 99, "car"), _part(100, 129, "bike", source="activity"), _part(130, 229, "car")]
    assert len(_smooth_sandwiches(parts, t)) == 3
    # a long leg between two short ones is not swallowed
    parts = [_part(0, 9, "car"), _part(10, 299, "metro"), _part(300, 309, "car")]
    assert len(_smooth_sandwiches(parts, t)) == 3


def test_a_bus_losing_its_fix_for_minutes_stays_one_bus_leg() -> None:
    plan = [
        StayPlan(900),
        TripPlan((LegPlan("walk", 600), LegPlan("bus", 9000), LegPlan("walk", 600))),
        StayPlan(900),
    ]
    sim = simulate(plan, seed=3, sampling_s=1)
    bus = sim.trips[0].legs[1]
    t = sim.points.ts_s
    mid = 0.5 * (bus.start_ts_s + bus.end_ts_s)
    lost = (t > mid - 200) & (t < mid + 200)  # 400 s without fix, e.g. a tunnel
    res = process(sim.points.take(np.flatnonzero(~lost)))
    assert len(res.trips) == 1
    assert [leg.mode for leg in res.trips[0].legs] == ["walk", "bus", "walk"]


def test_a_walk_of_a_few_minutes_to_the_stop_is_part_of_the_ride() -> None:
    """Under ``min_walk_leg_s`` at a trip's end, a walk joins the vehicle leg; longer, it is a leg."""
    plan = [
        StayPlan(900),
        TripPlan((LegPlan("walk", 200), LegPlan("bus", 6000), LegPlan("walk", 700))),
        StayPlan(900),
    ]
    sim = simulate(plan, seed=5, sampling_s=2)
    res = process(sim.points)
    assert len(res.trips) == 1
    legs = res.trips[0].legs
    assert [leg.mode for leg in legs] == ["bus", "walk"]
    walk_start = sim.trips[0].legs[2].start_ts_s
    assert abs(legs[1].start_ts_s - walk_start) < 60
    assert legs[1].end_ts_s - legs[1].start_ts_s >= DEFAULT_PARAMS.min_walk_leg_s
