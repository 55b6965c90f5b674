"""The territory's network as evidence: a bus halting at its stops, a car halting elsewhere, a ride
between two stations of one line; and nothing changes where the network does not reach."""

from __future__ import annotations

import numpy as np
import pytest

from app.mobility import TransitStops, process
from app.mobility.modes import FAMILY
from app.mobility.simulate import Simulation, simulate
from app.transit import BUS, TRAM
from tests.support.traces import PLAN, bus_halts


@pytest.fixture(scope="module")
def ride() -> Simulation:
    return simulate(PLAN, seed=11, sampling_s=2.0)


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
    lat, lon, ends = bus_halts(ride)
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
    lat, lon, _ = bus_halts(ride)
    # stops of other lines 200 m off the road: the vehicle never halts at one
    network = _network(lat + 0.0018, lon, BUS, [{f"line-{i}"} for i in range(lat.size)])
    ((mode, confidence),) = _vehicle_legs(ride, network)
    assert mode == "car" and confidence >= 0.7


def test_a_ride_between_two_stations_of_one_tram_line_halting_at_stations_is_a_tram(ride: Simulation) -> None:
    lat, lon, ends = bus_halts(ride)
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
    lat, lon, _ = bus_halts(ride)
    far = _network(lat + 0.5, lon, BUS, [{"line-1"}] * lat.size)  # 55 km away
    assert _vehicle_legs(ride, far) == _vehicle_legs(ride, None)
    empty = _network(np.zeros(0), np.zeros(0), BUS, [])
    assert _vehicle_legs(ride, empty) == _vehicle_legs(ride, None)
