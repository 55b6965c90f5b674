"""Reading a territory's public transport network from its GTFS feed.

A GTFS feed (https://gtfs.org/schedule/reference/) is a zip of CSV tables. Mode inference needs only
where vehicles stop and which lines serve each stop, so this reads four tables, streaming:

- ``routes.txt``: each line's ``route_type`` (bus, tram, metro, rail...);
- ``trips.txt``: which line each scheduled trip runs on;
- ``stop_times.txt``: which stops each trip serves (the largest table: read row by row, never whole);
- ``stops.txt``: where each stop is; a station (``location_type`` 1) takes the lines of its platforms.

Pure Python, no database and no web framework. Bad input raises :class:`GtfsError` naming the file,
row and column.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

#: kinds of service at a stop, as bits, from the lines that call there
BUS = 1
TRAM = 2
METRO = 4
TRAIN = 8
FERRY = 16
RAIL = TRAM | METRO | TRAIN

#: GTFS route types (basic and extended, https://gtfs.org/schedule/reference/#routestxt and Google's
#: extended route types) to the kinds above; other types (cable cars, funiculars...) are left out
_BASIC_TYPES = {0: TRAM, 1: METRO, 2: TRAIN, 3: BUS, 4: FERRY, 5: TRAM, 7: TRAM, 11: BUS, 12: METRO}


def route_kind(route_type: int) -> int:
    """The kind bit of a GTFS ``route_type`` (0 when it is none of ours)."""
    if route_type in _BASIC_TYPES:
        return _BASIC_TYPES[route_type]
    if 100 <= route_type < 200 or 300 <= route_type < 400:  # railway, suburban railway
        return TRAIN
    if 200 <= route_type < 300 or 700 <= route_type < 800:  # coach, bus
        return BUS
    if route_type == 800:  # trolleybus
        return BUS
    if 400 <= route_type < 500:  # urban railway, metro, underground
        return METRO
    if 900 <= route_type < 1000:  # tram
        return TRAM
    if 1000 <= route_type < 1100 or 1200 <= route_type < 1300:  # water transport, ferry
        return FERRY
    return 0


#: the name an operator gives a feed (its URL segment): 1 to 40 lower-case letters, digits and dashes
FEED_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class GtfsError(ValueError):
    """The file is not a usable GTFS feed; the message names the file, row and column."""


@dataclass(frozen=True)
class TransitStop:
    """A place where vehicles stop: its position, kinds of service and the lines calling there."""

    stop_id: str
    name: str
    lat: float
    lon: float
    kinds: int
    routes: tuple[str, ...]


@dataclass(frozen=True)
class GtfsNetwork:
    """The stops of a feed that at least one line of a known kind serves, and the number of lines."""

    stops: list[TransitStop]
    routes: int


#: the tables read, with the columns each must have
REQUIRED = {
    "stops.txt": ("stop_id", "stop_lat", "stop_lon"),
    "routes.txt": ("route_id", "route_type"),
    "trips.txt": ("route_id", "trip_id"),
    "stop_times.txt": ("trip_id", "stop_id"),
}


def _rows(archive: zipfile.ZipFile, name: str) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of one table as dicts (row numbers from 2, the header being row 1)."""
    member = next((m for m in archive.namelist() if m.rsplit("/", 1)[-1] == name), None)
    if member is None:
        raise GtfsError(f"{name}: the feed has no such file (a GTFS feed needs {', '.join(REQUIRED)})")
    with archive.open(member) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(text)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED[name] if c not in header]
        if missing:
            raise GtfsError(f"{name}: column {missing[0]} is missing")
        reader.fieldnames = header
        try:
            yield from enumerate(reader, start=2)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise GtfsError(f"{name}: row {reader.line_num}: {exc}") from exc


def _text(row: dict[str, str], column: str) -> str:
    return (row.get(column) or "").strip()


def _float(name: str, number: int, column: str, value: str | None, lo: float, hi: float) -> float:
    try:
        out = float((value or "").strip())
    except ValueError:
        raise GtfsError(f"{name}: row {number}: column {column} is not a number") from None
    if not (lo <= out <= hi) or math.isnan(out):
        raise GtfsError(f"{name}: row {number}: column {column} is outside [{lo}, {hi}]")
    return out


def read_gtfs(source: str | Path | IO[bytes]) -> GtfsNetwork:
    """The stops of a GTFS zip with the kinds of service and lines calling at each.

    Raises:
        GtfsError: not a zip, a table or column missing, a bad number; the message says where.
    """
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise GtfsError(f"the file is not a zip archive ({exc})") from None
    with archive:
        kind_of_route: dict[str, int] = {}
        for number, row in _rows(archive, "routes.txt"):
            try:
                route_type = int(_text(row, "route_type"))
            except ValueError:
                raise GtfsError(f"routes.txt: row {number}: column route_type is not an integer") from None
            kind = route_kind(route_type)
            if kind:
                kind_of_route[_text(row, "route_id")] = kind
        route_of_trip: dict[str, str] = {}
        for _, row in _rows(archive, "trips.txt"):
            route = _text(row, "route_id")
            if route in kind_of_route:
                route_of_trip[_text(row, "trip_id")] = route
        routes_at: dict[str, set[str]] = defaultdict(set)
        for _, row in _rows(archive, "stop_times.txt"):
            served = route_of_trip.get(_text(row, "trip_id"))
            if served is not None:
                routes_at[_text(row, "stop_id")].add(served)
        places: dict[str, tuple[str, float, float, str]] = {}
        for number, row in _rows(archive, "stops.txt"):
            lat_text, lon_text = row.get("stop_lat"), row.get("stop_lon")
            if not (lat_text or "").strip() and not (lon_text or "").strip():
                continue  # generic nodes and boarding areas may have no position
            lat = _float("stops.txt", number, "stop_lat", lat_text, -90.0, 90.0)
            lon = _float("stops.txt", number, "stop_lon", lon_text, -180.0, 180.0)
            stop_id = _text(row, "stop_id")
            places[stop_id] = (
                _text(row, "stop_name"),
                lat,
                lon,
                _text(row, "parent_station"),
            )
    # a station serves the lines of its platforms
    for stop_id, (_, _, _, parent) in places.items():
        if parent and parent in places and stop_id in routes_at:
            routes_at[parent] |= routes_at[stop_id]
    stops = []
    for stop_id, (name, lat, lon, _) in places.items():
        lines = routes_at.get(stop_id)
        if not lines:
            continue
        kinds = 0
        for route in lines:
            kinds |= kind_of_route[route]
        stops.append(TransitStop(stop_id, name, lat, lon, kinds, tuple(sorted(lines))))
    if not stops:
        raise GtfsError("stops.txt: no stop is served by a bus, tram, metro, train or ferry line")
    return GtfsNetwork(stops, len({r for s in stops for r in s.routes}))
