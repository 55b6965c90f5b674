"""Reading a GTFS feed: stops with the kinds of service and lines calling there, and clear errors."""

from __future__ import annotations

import io

import pytest

from app.transit import BUS, METRO, TRAIN, TRAM, GtfsError, read_gtfs, route_kind
from tests.support.gtfs import feed_zip, line_feed, table


def test_a_line_gives_its_stops_their_kind_and_line() -> None:
    network = read_gtfs(
        io.BytesIO(line_feed([("a", 46.15, -1.15), ("b", 46.16, -1.14)], extra_stops=[("x", 46.2, -1.1)]))
    )
    assert network.routes == 1
    assert [(s.stop_id, s.kinds, s.routes) for s in network.stops] == [
        ("a", BUS, ("L1",)),
        ("b", BUS, ("L1",)),
    ]
    assert network.stops[0].lat == 46.15 and network.stops[0].name == "Stop a"


def test_stations_take_their_platforms_lines_and_several_kinds_add_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    files = {
        "stops.txt": table(
            ["stop_id", "stop_name", "stop_lat", "stop_lon", "location_type", "parent_station"],
            [
                ("ST", "Gare", 46.153, -1.145, 1, ""),
                ("P1", "Gare quai 1", 46.1531, -1.1451, 0, "ST"),
                ("P2", "Gare quai 2", 46.1532, -1.1452, 0, "ST"),
                ("B", "Gare bus", 46.1535, -1.1449, 0, ""),
                ("N", "Entrance", "", "", 2, "ST"),
            ],
        ),
        "routes.txt": table(["route_id", "route_type"], [("TER", 2), ("BUS1", 3), ("T", 900), ("M", 401), ("CAB", 6)]),
        "trips.txt": table(["route_id", "service_id", "trip_id"], [("TER", "S", "t1"), ("BUS1", "S", "t2"), ("CAB", "S", "t3")]),
        "stop_times.txt": table(["trip_id", "stop_id", "stop_sequence"], [("t1", "P1", 1), ("t1", "P2", 2), ("t2", "B", 1), ("t2", "P1", 2), ("t3", "B", 3)]),
    }  # fmt: skip
    path = tmp_path / "feed.zip"
    path.write_bytes(feed_zip(files, folder="gtfs/"))  # tables inside a folder are found too
    stops = {s.stop_id: s for s in read_gtfs(path).stops}
    assert set(stops) == {"ST", "P1", "P2", "B"}  # the entrance has no position; nothing calls at it
    assert stops["ST"].routes == ("BUS1", "TER") and stops["ST"].kinds == BUS | TRAIN
    assert stops["P2"].kinds == TRAIN
    assert stops["B"].routes == ("BUS1",)  # the cable car is none of our kinds
    assert (route_kind(0), route_kind(1), route_kind(109), route_kind(715), route_kind(900)) == (
        TRAM,
        METRO,
        TRAIN,
        BUS,
        TRAM,
    )


def test_a_byte_order_mark_and_spaces_in_headers_are_accepted() -> None:
    files = {
        "stops.txt": "\ufeffstop_id, stop_lat, stop_lon\r\na,46.1,-1.1\r\n",
        "routes.txt": table(["route_id", "route_type"], [("R", 3)]),
        "trips.txt": table(["route_id", "trip_id"], [("R", "t")]),
        "stop_times.txt": table(["trip_id", "stop_id"], [("t", "a")]),
    }
    (stop,) = read_gtfs(io.BytesIO(feed_zip(files))).stops
    assert stop.stop_id == "a" and stop.kinds == BUS


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.pop("stop_times.txt"), "stop_times.txt: the feed has no such file"),
        (lambda f: f.update({"stops.txt": table(["stop_id", "stop_lat"], [("a", 46.1)])}), "stops.txt: column stop_lon is missing"),
        (lambda f: f.update({"stops.txt": table(["stop_id", "stop_lat", "stop_lon"], [("a", 46.1, -1.1), ("b", 95, -1.1)])}), "stops.txt: row 3: column stop_lat is outside [-90.0, 90.0]"),
        (lambda f: f.update({"stops.txt": table(["stop_id", "stop_lat", "stop_lon"], [("a", "north", -1.1)])}), "stops.txt: row 2: column stop_lat is not a number"),
        (lambda f: f.update({"routes.txt": table(["route_id", "route_type"], [("R", "bus")])}), "routes.txt: row 2: column route_type is not an integer"),
        (lambda f: f.update({"routes.txt": table(["route_id", "route_type"], [("R", 6)])}), "no stop is served by a bus, tram, metro, train or ferry line"),
    ],
)  # fmt: skip
def test_a_bad_feed_is_refused_naming_the_file_row_and_column(mutate, message) -> None:  # type: ignore[no-untyped-def]
    files = {
        "stops.txt": table(["stop_id", "stop_lat", "stop_lon"], [("a", 46.1, -1.1)]),
        "routes.txt": table(["route_id", "route_type"], [("R", 3)]),
        "trips.txt": table(["route_id", "trip_id"], [("R", "t")]),
        "stop_times.txt": table(["trip_id", "stop_id"], [("t", "a")]),
    }
    mutate(files)
    with pytest.raises(GtfsError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        read_gtfs(io.BytesIO(feed_zip(files)))


def test_a_file_that_is_not_a_zip_is_refused() -> None:
    with pytest.raises(GtfsError, match="not a zip archive"):
        read_gtfs(io.BytesIO(b"stop_id,stop_lat\n"))
