"""The territory's network as evidence: a bus halting at its stops, a car halting elsewhere, a ride
between two stations of one line; and nothing changes where the network does not reach."""

from __future__ import annotations

import numpy as np
import pytest

from app.mobility import TransitStops, process
from app.mobility.geo import Projection
from app.mobility.modes import FAMILY
from app.mobility.motion import window_speed
from app.mobility.simulate import LegPlan, Simulation, StayPlan, TripPlan, simulate
from app.transit import BUS, TRAM

PLAN = [
    StayPlan(900),
    TripPlan((LegPlan("walk", 700), LegPlan("bus", 6000), LegPlan("walk", 700))),
    StayPlan(900),
]


@pytest.fixture(scope="module")
def ride() -> Simulation:
    return simulate(PLAN, seed=11, sampling_s=2.0)


def _places(sim: Simulation) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float]]]:
    """Where the bus halted on its way (below 0.6 m/s for 5 s or more), and its first and last fix."""
    bus = sim.trips[0].legs[1]
    p = sim.points
    sel = np.flatnonzero((p.ts_s >= bus.start_ts_s) & (p.ts_s <= bus.end_ts_s))
    proj = Projection.for_points(p.lat[sel], p.lon[sel])
    x, y = proj.to_xy(p.lat[sel], p.lon[sel])
    t = p.ts_s[sel]
    v = window_speed(t, x, y)
    slow = np.concatenate(([0], (v < 0.6).astype(np.int8), [0]))
    starts, ends = np.flatnonzero(np.diff(slow) == 1), np.flatnonzero(np.diff(slow) == -1) - 1
    halts = [
        (a, b) for a, b in zip(starts, ends, strict=True) if t[b] - t[a] >= 5 and a > 0 and b < t.size - 1
    ]
    lon, lat = proj.to_lonlat(
        np.array([x[a : b + 1].mean() for a, b in halts]), np.array([y[a : b + 1].mean() for a, b in halts])
    )
    ends_ll = [(float(p.lat[sel[0]]), float(p.lon[sel[0]])), (float(p.lat[sel[-1]]), float(p.lon[sel[-1]]))]
    return lat, lon, ends_ll


def _network(lat: np.ndarray, lon: np.ndarray, kinds: int, routes: list[set[str]]) -> TransitStops:
    return TransitStops(
        np.asarray(lat, dtype=np.float64),
        np.asarray(lon, dtype=np.float64),
        np.full(len(lat), kinds, dtype=np.intp),
        tuple(frozenset(r) for r in routes),
    )


def _vehicle_legs(sim: Simulation, transit: TransitStops | None) -> list[tuple[str, float]]:
    (trip,) = process(sim.points, transit=transit).trips
    return [(leg.mode, leg.confidence) for leg in trip.legs if FAMILY[leg.mode] != "walk"]


def test_a_ride_between_stops_of_one_line_halting_at_its_stops_is_a_bus(ride: Simulation) -> None:
    lat, lon, ends = _places(ride)
    assert lat.size >= 5
    all_lat = np.concatenate((lat, [e[0] for e in ends]))
    all_lon = np.concatenate((lon, [e[1] for e in ends]))
    network = _network(all_lat, all_lon, BUS, [{"line-1"}] * all_lat.size)
    ((mode, confidence),) = _vehicle_legs(ride, network)
    assert mode == "bus" and confidence >= 0.8
    # the halts alone tell, even when the ends are out of the stops' reach (a late first fix)
    network = _network(lat, lon, BUS, [{"line-1"}] * lat.size)
    ((mode, _),) = _vehicle_legs(ride, network)
    assert mode == "bus"


def test_the_same_motion_halting_away_from_any_stop_is_a_car(ride: Simulation) -> None:
    lat, lon, _ = _places(ride)
    # stops of other lines 200 m off the road: the vehicle never halts at one
    network = _network(lat + 0.0018, lon, BUS, [{f"line-{i}"} for i in range(lat.size)])
    ((mode, confidence),) = _vehicle_legs(ride, network)
    assert mode == "car" and confidence >= 0.7


def test_a_ride_between_two_stations_of_one_tram_line_halting_at_stations_is_a_tram(ride: Simulation) -> None:
    lat, lon, ends = _places(ride)
    stations_lat = np.concatenate(([ends[0][0]], lat, [ends[1][0]]))
    stations_lon = np.concatenate(([ends[0][1]], lon, [ends[1][1]]))
    lines = [{"tram-A"}] + [{"tram-A"}] * lat.size + [{"tram-A", "tram-B"}]
    ((mode, _),) = _vehicle_legs(ride, _network(stations_lat, stations_lon, TRAM, lines))
    assert mode == "tram"
    # the same two stations, but halting elsewhere on the way: not a tram
    ends_only = _network([e[0] for e in ends], [e[1] for e in ends], TRAM, [{"tram-A"}, {"tram-A"}])
    ((mode, _),) = _vehicle_legs(ride, ends_only)
    assert mode != "tram"


def test_a_network_out_of_reach_changes_nothing(ride: Simulation) -> None:
    lat, lon, _ = _places(ride)
    far = _network(lat + 0.5, lon, BUS, [{"line-1"}] * lat.size)  # 55 km away
    assert _vehicle_legs(ride, far) == _vehicle_legs(ride, None)
    empty = _network(np.zeros(0), np.zeros(0), BUS, [])
    assert _vehicle_legs(ride, empty) == _vehicle_legs(ride, None)
