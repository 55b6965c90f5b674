"""Zones of the territory and the rollup rows that feed its statistics. Pure: geometry and arithmetic.

- The built-in zone set is a 500 m grid in Lambert-93 (EPSG:2154), France's official projection, where a
  square of 500 m is a square of 500 m. A cell's code is its column and row: `E{ix}N{iy}`.
- Operators may upload polygons (communes, neighbourhoods) as GeoJSON; trip ends are located in them with
  a shapely STRtree.
- A rollup row is a person's shared travel in one local hour, per mode and per origin-destination pair.
  Only trips made while the person had granted `territory_statistics` count, cut to what their privacy
  zones let through (`Trip.shared_*`); a trip entirely inside privacy zones does not count at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import shape
from shapely.validation import explain_validity

GRID_ID = uuid.UUID("9b7c6d5e-0000-4000-8000-000000000500")
GRID_CELL_M = 500


@lru_cache(maxsize=1)
def _to_lambert() -> Transformer:
    return Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)


@lru_cache(maxsize=1)
def _from_lambert() -> Transformer:
    return Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)


def grid_codes(lon: Sequence[float], lat: Sequence[float], cell_m: int = GRID_CELL_M) -> list[str]:
    x, y = _to_lambert().transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    ix = np.floor(np.asarray(x) / cell_m).astype(np.int64)
    iy = np.floor(np.asarray(y) / cell_m).astype(np.int64)
    return [f"E{a}N{b}" for a, b in zip(ix.tolist(), iy.tolist(), strict=True)]


def grid_cell_polygon(code: str, cell_m: int = GRID_CELL_M) -> dict[str, Any]:
    """The GeoJSON polygon (WGS 84) of a grid cell, for maps."""
    ix, iy = (int(part) for part in code[1:].split("N"))
    xs = np.array([ix, ix + 1, ix + 1, ix, ix], dtype=float) * cell_m
    ys = np.array([iy, iy, iy + 1, iy + 1, iy], dtype=float) * cell_m
    lon, lat = _from_lambert().transform(xs, ys)
    return {
        "type": "Polygon",
        "coordinates": [[[round(a, 6), round(b, 6)] for a, b in zip(lon, lat, strict=True)]],
    }


class ZoneFormatError(ValueError):
    """An uploaded zone file that cannot be used; the message names what is wrong and where."""


# Limits of an uploaded zone set: enough for every commune of a département or the IRIS of a large city.
MAX_ZONES = 5000
MAX_VERTICES = 2_000_000


@dataclass(frozen=True)
class ZoneShape:
    code: str
    name: str
    geometry: dict[str, Any]
    parent: str | None = None  # the larger zone (commune) this one is in, for the publications' parents table


def parse_zones(document: Any) -> list[ZoneShape]:
    """Validate a GeoJSON FeatureCollection of Polygon/MultiPolygon features (RFC 7946, WGS 84)."""
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ZoneFormatError("the body must be a GeoJSON FeatureCollection")
    crs = document.get("crs")
    if crs is not None:
        crs_properties = crs.get("properties") if isinstance(crs, dict) else None
        name = str(crs_properties.get("name", "")) if isinstance(crs_properties, dict) else ""
        if not any(tag in name for tag in ("CRS84", "EPSG::4326", "EPSG:4326")):
            raise ZoneFormatError(
                f"coordinates must be WGS 84 longitude/latitude (RFC 7946), not {name or crs!r}"
            )
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise ZoneFormatError("the FeatureCollection has no features")
    if len(features) > MAX_ZONES:
        raise ZoneFormatError(f"{len(features)} zones is more than the {MAX_ZONES} accepted")
    zones, codes, vertices = [], set(), 0
    for index, feature in enumerate(features):
        where = f"features/{index}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise ZoneFormatError(f"{where} is not a GeoJSON Feature")
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            raise ZoneFormatError(f"{where}/geometry must be a Polygon or a MultiPolygon")
        try:
            polygon = shape(geometry)
        except Exception as exc:
            raise ZoneFormatError(f"{where}/geometry cannot be read: {exc}") from None
        if polygon.is_empty or not polygon.is_valid:
            raise ZoneFormatError(f"{where}/geometry is not a valid polygon: {explain_validity(polygon)}")
        minx, miny, maxx, maxy = polygon.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise ZoneFormatError(f"{where}/geometry has coordinates outside longitude/latitude ranges")
        vertices += shapely.get_num_coordinates(polygon)
        if vertices > MAX_VERTICES:
            raise ZoneFormatError(f"the zones have more than {MAX_VERTICES} vertices in all")
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            raise ZoneFormatError(f"{where}: `properties` must be an object (or null)")
        code = str(properties.get("code") or properties.get("id") or feature.get("id") or index)[:64]
        if "\x00" in code:
            raise ZoneFormatError(f"{where}: the zone code must not contain NUL characters")
        if code in codes:
            raise ZoneFormatError(f"{where}: the code {code!r} is used twice")
        codes.add(code)
        name = str(properties.get("name") or properties.get("nom") or code)[:200]
        if "\x00" in name:
            raise ZoneFormatError(f"{where}: the zone name must not contain NUL characters")
        zones.append(ZoneShape(code, name, shapely.geometry.mapping(polygon), _parent(properties, where)))
    return zones


def _parent(properties: dict[str, Any], where: str) -> str | None:
    """The optional `parent` (or `commune`) property: the code of the larger zone this one is in."""
    value = properties.get("parent")
    if value is None or value == "":
        value = properties.get("commune")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ZoneFormatError(f"{where}: the parent zone (`parent` or `commune`) must be a string")
    parent = str(value)
    if len(parent) > 64:
        raise ZoneFormatError(f"{where}: the parent zone code is longer than 64 characters")
    if "\x00" in parent:
        raise ZoneFormatError(f"{where}: the parent zone code must not contain NUL characters")
    return parent


class ZoneIndex:
    """Locates points in one set of polygons."""

    def __init__(self, zones: Sequence[ZoneShape]) -> None:
        self.codes = [z.code for z in zones]
        self.tree = shapely.STRtree([shape(z.geometry) for z in zones])

    def locate(self, lon: Sequence[float], lat: Sequence[float]) -> list[str | None]:
        points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        found: list[str | None] = [None] * len(points)
        point_index, zone_index = self.tree.query(points, predicate="within")
        for p, z in zip(point_index.tolist(), zone_index.tolist(), strict=True):
            if found[p] is None:
                found[p] = self.codes[z]
        return found


@dataclass(frozen=True)
class SharedTrip:
    """What the statistics may use of a trip."""

    user_id: uuid.UUID
    start_ts_ms: int
    start_lat: float
    start_lon: float
    end_lat: float
    end_lon: float
    share: float  # shared distance / distance, in [0, 1]
    legs: Sequence[tuple[str, float, float]]  # (mode, distance_m, co2e_g)


def granted_at(history: Sequence[tuple[int, bool]], ts_ms: int) -> bool:
    """Whether the consent stood at a time, from its time-ordered (change time, granted) history."""
    state = False
    for at_ms, granted in history:
        if at_ms > ts_ms:
            break
        state = granted
    return state


def local_day(ts_ms: int, zone: ZoneInfo) -> int:
    moment = datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(zone)
    return moment.year * 10000 + moment.month * 100 + moment.day


def rollup_rows(
    trips: Sequence[SharedTrip],
    history: Sequence[tuple[int, bool]],
    zone_sets: Sequence[tuple[uuid.UUID, ZoneIndex | None]],
    tz: ZoneInfo,
) -> list[dict[str, Any]]:
    """Rollup rows for one person's trips: one per zone set, local hour, mode and origin-destination."""
    kept = [t for t in trips if granted_at(history, t.start_ts_ms) and t.share > 0]
    if not kept:
        return []
    lon0 = [t.start_lon for t in kept]
    lat0 = [t.start_lat for t in kept]
    lon1 = [t.end_lon for t in kept]
    lat1 = [t.end_lat for t in kept]
    acc: dict[tuple[Any, ...], list[float]] = {}
    for zone_set_id, index in zone_sets:
        if index is None:
            origins: list[str | None] = list(grid_codes(lon0, lat0))
            dests: list[str | None] = list(grid_codes(lon1, lat1))
        else:
            origins, dests = index.locate(lon0, lat0), index.locate(lon1, lat1)
        for trip, origin, dest in zip(kept, origins, dests, strict=True):
            moment = datetime.fromtimestamp(trip.start_ts_ms / 1000, UTC).astimezone(tz)
            day = moment.year * 10000 + moment.month * 100 + moment.day
            main = max(trip.legs, key=lambda leg: leg[1])[0] if trip.legs else "unknown"
            for mode in {leg[0] for leg in trip.legs} or {"unknown"}:
                key = (trip.user_id, zone_set_id, day, moment.hour, moment.weekday(), mode, origin, dest)
                row = acc.setdefault(key, [0.0, 0.0, 0.0])
                row[0] += 1 if mode == main else 0
                row[1] += sum(leg[1] for leg in trip.legs if leg[0] == mode) * trip.share
                row[2] += sum(leg[2] for leg in trip.legs if leg[0] == mode) * trip.share
    return [
        {
            "user_id": key[0],
            "zone_set_id": key[1],
            "day": key[2],
            "hour": key[3],
            "weekday": key[4],
            "mode": key[5],
            "origin_zone": key[6],
            "dest_zone": key[7],
            "trips": int(values[0]),
            "distance_m": values[1],
            "co2e_g": values[2],
        }
        for key, values in acc.items()
    ]


@lru_cache(maxsize=8)
def grid_codes_in(bbox: str, cell_m: int = GRID_CELL_M) -> tuple[str, ...]:
    """Every grid cell over the territory's extent (`lon_min,lat_min,lon_max,lat_max`, WGS 84): the zones
    of the grid, fixed by the territory, not by where people went."""
    lon_min, lat_min, lon_max, lat_max = (float(part) for part in bbox.split(","))
    # The extent's outline, densely, in Lambert-93: its bounding box there covers the whole extent.
    steps = np.linspace(0.0, 1.0, 33)
    lons = np.concatenate([lon_min + (lon_max - lon_min) * steps, np.full(33, lon_max),
                           lon_max - (lon_max - lon_min) * steps, np.full(33, lon_min)])  # fmt: skip
    lats = np.concatenate([np.full(33, lat_min), lat_min + (lat_max - lat_min) * steps,
                           np.full(33, lat_max), lat_max - (lat_max - lat_min) * steps])  # fmt: skip
    x, y = _to_lambert().transform(lons, lats)
    xs = range(int(np.floor(np.min(x) / cell_m)), int(np.floor(np.max(x) / cell_m)) + 1)
    ys = range(int(np.floor(np.min(y) / cell_m)), int(np.floor(np.max(y) / cell_m)) + 1)
    return tuple(f"E{a}N{b}" for a in xs for b in ys)
