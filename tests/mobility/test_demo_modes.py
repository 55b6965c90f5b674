"""The demo's simulated residents: realistic driving, and inferred modes that match those simulated.

The population is the demo's own (``app.demo.simulate_residents``), seeded and on fixed days, run through
the pure pipeline without a network or activity hints, as the demo's worker does.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np

from app.demo import infer, simulate_residents
from app.mobility.simulate import ModeComparison, TrueTrip, compare_modes, leg_motion
from app.mobility.types import Trip

FIRST_DAY = datetime(2025, 3, 3, tzinfo=ZoneInfo("Europe/Paris"))  # a Monday

#: Each family's share of trips may differ by this many points: the pipeline counts the short walk to
#: a stop with the ride (GeoLife's labels do) and a wait of 3-4 minutes at a stop is a stay (Li et
#: al.'s 5 min within 100 m, the walk there included), which moves a few points between walk and
#: bus; a family read as another (town cars as buses: 18 points) is far beyond.
SHARE_POINTS = 0.10


@cache
def _people() -> tuple[tuple[list[TrueTrip], list[Trip]], ...]:
    return tuple((sim.trips, infer(sim)) for sim in simulate_residents(50, 14, FIRST_DAY, seed=2026))


def _population() -> ModeComparison:
    return compare_modes(list(_people()))


def _halts(speed: np.ndarray) -> int:
    stopped = np.concatenate(([0], (speed == 0).astype(np.int8)))
    return int(np.count_nonzero(np.diff(stopped) == 1))


def test_cars_halt_at_some_junctions_and_buses_at_every_stop() -> None:
    rng = np.random.default_rng(5)
    car_km = car_halts = 0.0
    for _ in range(40):
        x, y, metres, _ = leg_motion("car", (0.0, 0.0), rng, target_xy=(1200.0, 1200.0))  # 1.7 km: town only
        speed = np.hypot(np.diff(x), np.diff(y))
        car_halts += _halts(speed)
        car_km += metres / 1000
        assert speed.max() < 16.5  # 50 km/h roads (and drivers a little above)
    # lights and give-ways, not every junction: GeoLife's car legs halt 0.14 times per km (median)
    assert 0.1 <= car_halts / car_km <= 0.5
    fast = []
    for _ in range(20):
        x, y, metres, _ = leg_motion("car", (0.0, 0.0), rng, target_xy=(9000.0, 4000.0))
        fast.append(float(np.percentile(np.hypot(np.diff(x), np.diff(y)), 95)))
    assert 19.0 <= float(np.median(fast)) <= 31.0  # the ring road, 70-110 km/h
    bus_km = bus_halts = 0.0
    for _ in range(20):
        x, y, metres, _ = leg_motion("bus", (0.0, 0.0), rng, target_xy=(3000.0, 1000.0))
        bus_halts += _halts(np.hypot(np.diff(x), np.diff(y)))
        bus_km += metres / 1000
        assert 3.5 <= metres / (x.size) <= 6.5  # 13-23 km/h with its stops
    assert 1.8 <= bus_halts / bus_km <= 3.4  # a stop every 300-500 m


def test_the_demo_population_is_read_mostly_right() -> None:
    result = _population()
    assert result.agreement >= 0.8
    for family in ("walk", "bike"):
        simulated, inferred = result.trip_share[family]
        assert abs(simulated - inferred) <= SHARE_POINTS, family
    assert result.confusion["bike"].get("bike", 0.0) >= 0.9
    assert result.confusion["bus"].get("bus", 0.0) >= 0.9
    assert result.confusion["car"].get("car", 0.0) >= 0.7


def test_inferred_family_shares_match_the_simulated_ones() -> None:
    result = _population()
    for family, (simulated, inferred) in result.trip_share.items():
        assert abs(simulated - inferred) <= SHARE_POINTS, (family, simulated, inferred)
    # La Rochelle has no metro and the demo publishes no network: no leg is called one
    modes = {leg.mode for _, trips in _people() for trip in trips for leg in trip.legs}
    assert "metro" not in modes and {"car", "bus", "bike", "walk"} <= modes
