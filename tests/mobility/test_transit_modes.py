"""The territory's network as positive evidence: a bus riding a line from stop to stop, a ride between
two stations of one line; never a car because the halts are away from stops, nothing concluded from a
kind of service the feeds lack, and nothing changes where the network does not reach."""

from __future__ import annotations

import numpy as np
import pytest

from app.mobility import TransitStops, process
from app.mobility.modes import FAMILY
from app.mobility.simulate import Simulation, simulate
from app.transit import BUS, METRO, TRAIN, TRAM
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


def test_halting_away_from_any_stop_is_no_evidence_of_a_car(ride: Simulation) -> None:
    lat, lon, _ = bus_halts(ride)
    # stops of other lines 200 m off the road: the vehicle never halts at one; geometry alone decides
    network = _network(lat + 0.0018, lon, BUS, [{f"line-{i}"} for i in range(lat.size)])
    assert _vehicle_legs(ride, network) == _vehicle_legs(ride, None)


def test_a_rail_only_feed_changes_no_bus_leg(ride: Simulation) -> None:
    lat, lon, ends = bus_halts(ride)
    alone = _vehicle_legs(ride, None)
    assert [mode for mode, _ in alone] == ["bus"]
    # a territory that publishes only its trains: stations near where the bus set off, halted and
    # arrived, none of them one line's two ends
    stations_lat = np.concatenate((lat, [e[0] for e in ends]))
    stations_lon = np.concatenate((lon, [e[1] for e in ends]))
    lines = [{f"ter-{i}"} for i in range(stations_lat.size)]
    assert _vehicle_legs(ride, _network(stations_lat, stations_lon, TRAIN, lines)) == alone
    # and stations a few hundred metres off the route
    assert _vehicle_legs(ride, _network(stations_lat + 0.004, stations_lon, TRAIN, lines)) == alone


def test_a_bus_line_s_reasons_name_the_line_and_its_stops(ride: Simulation) -> None:
    lat, lon, ends = bus_halts(ride)
    all_lat = np.concatenate((lat, [e[0] for e in ends]))
    all_lon = np.concatenate((lon, [e[1] for e in ends]))
    network = _network(all_lat, all_lon, BUS, [{"line-3"}] * all_lat.size)
    (trip,) = process(ride.points, transit=network).trips
    (bus,) = [leg for leg in trip.legs if leg.mode == "bus"]
    reason = bus.reasons[0]
    assert reason["rule"] == "line_stops" and reason["line"] == "line-3" and reason["kind"] == "bus"
    assert reason["stops_served"] == all_lat.size


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


def test_rail_found_by_geometry_is_named_after_the_published_network() -> None:
    from app.mobility.modes import urban_rail_mode
    from app.mobility.transit import NO_EVIDENCE, TransitEvidence

    assert urban_rail_mode(NO_EVIDENCE) == "train"  # no network: nothing says a metro exists
    assert urban_rail_mode(TransitEvidence(False, network_kinds=BUS | TRAIN)) == "train"
    assert urban_rail_mode(TransitEvidence(False, network_kinds=BUS | TRAM)) == "tram"
    assert urban_rail_mode(TransitEvidence(False, network_kinds=METRO | TRAM)) == "metro"


def test_every_inferred_leg_says_why(ride: Simulation) -> None:
    (trip,) = process(ride.points).trips
    for leg in trip.legs:
        assert leg.reasons, leg
        assert all(isinstance(r["rule"], str) for r in leg.reasons)
        assert set(leg.features) >= {"log_v_p95", "log_stop_rate", "log_km"}
