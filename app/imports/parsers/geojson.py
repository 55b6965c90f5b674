"""Streaming GeoJSON (RFC 7946) parser for timestamped tracks.

Accepted documents: a ``FeatureCollection`` (features streamed one by one from ``"features"``) or a
single top-level ``Feature``. Coordinates are ``[lon, lat]`` or ``[lon, lat, alt]`` (RFC 7946 §3.1.1);
the third value becomes ``altitude_m``.

Geometries taken:

* ``Point`` -- the time comes from the feature's ``properties``, first present of ``"time"``,
  ``"timestamp"``, ``"ts"``. A missing time is an error.
* ``LineString`` / ``MultiPoint`` -- per-vertex times in ``properties.coordTimes`` (the convention of
  the GPX-to-GeoJSON converters ``togeojson`` / ``@tmcw/togeojson``) or ``properties.times``; the list
  must have one time per vertex.
* ``MultiLineString`` -- the same, with ``coordTimes`` either a list of lists (one per line, what
  togeojson writes) or one flat list over all vertices.
* Features with a ``null`` geometry, and Polygon / MultiPolygon / GeometryCollection features (no
  per-vertex times are defined for them), are skipped.

Time values (:func:`app.imports._common.parse_time_value`): an RFC 3339 string (``Z`` or offset,
fractional seconds; no offset means UTC), or a number -- or a string of digits -- read as epoch
seconds, or as epoch *milliseconds* when its magnitude is at least 1e11 (1e11 s would be the year
5138, 1e11 ms is 1973-03-03, so any real trace is classified correctly).

Optional Point properties read: ``accuracy`` / ``accuracy_m`` / ``horizontal_accuracy`` (m),
``altitude`` / ``ele`` / ``altitude_m`` (m; overrides the third coordinate), ``speed`` / ``speed_mps``
(m/s), ``heading`` / ``course`` / ``bearing`` (degrees). LineString vertices carry only position,
altitude and time.

Memory: features are built one at a time, so a collection of millions of Point features streams in
bounded memory; a single LineString feature is held in memory while it is processed (its coordinates
and times arrive in different parts of the feature and must be paired), so one feature may hold at most
:data:`~app.imports.parsers._common.MAX_ITEM_VALUES` JSON values (a line of 250,000 vertices with
their times). The JSON itself is checked by :class:`~app.imports.parsers.jsonguard.JsonGuard` (nesting,
string and number lengths) before ijson parses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import ijson

from app.imports.parsers._common import (
    DEFAULT_BATCH_SIZE,
    Batcher,
    iter_prefixed,
    json_error,
    make_point,
    open_json,
    opt_float,
    parse_time_value,
)
from app.imports.parsers.types import ImportBatch, ImportedPoint, ImportFormatError

_FMT = "GeoJSON"
_TIME_KEYS = ("time", "timestamp", "ts")
_VERTEX_TIME_KEYS = ("coordTimes", "times")
_PREFIXES = {
    "features.item": "feature {}",
    "type": "the top-level 'type'",
    "geometry": "the feature's geometry",
    "properties": "the feature's properties",
}


def _first(props: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = props.get(key)
        if value is not None:
            return value
    return None


def _position(coord: Any, where: str) -> tuple[float, float, float | None]:
    if not isinstance(coord, list) or len(coord) < 2:
        raise ImportFormatError(f"{_FMT}: {where} has no [lon, lat] position (got {str(coord)[:40]})")
    try:
        lon = float(coord[0])
        lat = float(coord[1])
    except (TypeError, ValueError):
        raise ImportFormatError(f"{_FMT}: {where} has a non-numeric position {str(coord)[:40]}") from None
    alt = opt_float(coord[2]) if len(coord) > 2 else None
    return lon, lat, alt


def _time(value: Any, where: str) -> float:
    try:
        return parse_time_value(value)
    except ValueError:
        raise ImportFormatError(f"{_FMT}: {where} has an unreadable time {str(value)[:40]!r}") from None


def _point_feature(coords: Any, props: dict[str, Any], where: str) -> ImportedPoint:
    lon, lat, alt = _position(coords, where)
    raw_time = _first(props, _TIME_KEYS)
    if raw_time is None:
        raise ImportFormatError(f"{_FMT}: {where} (Point) has no time property ('time', 'timestamp' or 'ts')")
    ts = _time(raw_time, where)
    altitude = opt_float(_first(props, ("altitude", "ele", "altitude_m")))
    return make_point(
        _FMT,
        where,
        ts,
        lat,
        lon,
        accuracy_m=opt_float(_first(props, ("accuracy", "accuracy_m", "horizontal_accuracy"))),
        altitude_m=altitude if altitude is not None else alt,
        speed_mps=opt_float(_first(props, ("speed", "speed_mps"))),
        heading_deg=opt_float(_first(props, ("heading", "course", "bearing"))),
    )


def _vertex_points(gtype: str, coords: Any, props: dict[str, Any], where: str) -> Iterator[ImportedPoint]:
    times = _first(props, _VERTEX_TIME_KEYS)
    if times is None:
        raise ImportFormatError(
            f"{_FMT}: {where} ({gtype}) has no per-vertex times (properties 'coordTimes' or 'times')"
        )
    if not isinstance(coords, list) or not isinstance(times, list):
        raise ImportFormatError(f"{_FMT}: {where} ({gtype}) has malformed coordinates or times")
    if gtype == "MultiLineString":
        lines: list[Any] = coords
        if times and all(isinstance(t, list) for t in times):
            line_times: list[Any] = times
        else:
            flat_coords = [c for line in lines if isinstance(line, list) for c in line]
            lines, line_times = [flat_coords], [times]
    else:
        lines, line_times = [coords], [times]
    if len(lines) != len(line_times):
        raise ImportFormatError(
            f"{_FMT}: {where} ({gtype}) has {len(lines)} lines but {len(line_times)} lists of times"
        )
    for li, (line, ltimes) in enumerate(zip(lines, line_times, strict=True)):
        if not isinstance(line, list) or len(line) != len(ltimes):
            n = len(line) if isinstance(line, list) else 0
            raise ImportFormatError(
                f"{_FMT}: {where} ({gtype}) has {n} vertices but {len(ltimes)} times"
                + (f" in line {li}" if len(lines) > 1 else "")
            )
        for vi, (coord, raw_time) in enumerate(zip(line, ltimes, strict=True)):
            vwhere = f"{where} vertex {vi}" if len(lines) == 1 else f"{where} line {li} vertex {vi}"
            lon, lat, alt = _position(coord, vwhere)
            if raw_time is None:
                raise ImportFormatError(f"{_FMT}: {vwhere} has no time")
            yield make_point(_FMT, vwhere, _time(raw_time, vwhere), lat, lon, altitude_m=alt)


def _feature_points(feature: Any, where: str) -> Iterator[ImportedPoint]:
    if not isinstance(feature, dict):
        raise ImportFormatError(f"{_FMT}: {where} is not a JSON object")
    geometry = feature.get("geometry")
    if geometry is None:
        return
    if not isinstance(geometry, dict):
        raise ImportFormatError(f"{_FMT}: {where} has a malformed geometry")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise ImportFormatError(f"{_FMT}: {where} has malformed properties")
    gtype = geometry.get("type")
    coords = geometry.get("coordinates")
    if gtype == "Point":
        yield _point_feature(coords, props, where)
    elif gtype in ("LineString", "MultiLineString", "MultiPoint"):
        yield from _vertex_points(str(gtype), coords, props, where)
    # Polygon, MultiPolygon, GeometryCollection: no per-vertex time convention, skipped


def parse_geojson(f: BinaryIO, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[ImportBatch]:
    """Yield ``ImportBatch(points, [])`` batches from a GeoJSON FeatureCollection or Feature stream.

    Raises :class:`ImportFormatError` on malformed or truncated JSON, a Point without time, a line
    whose times do not match its vertices, or impossible coordinates.
    """
    stream = open_json(f, _FMT)
    batcher = Batcher(batch_size)
    top_type: str | None = None
    single: dict[str, Any] = {}
    index = 0
    try:
        for prefix, value in iter_prefixed(stream, _PREFIXES, _FMT):
            if prefix == "features.item":
                for point in _feature_points(value, f"feature {index}"):
                    batcher.points.append(point)
                    if batcher.full:
                        yield batcher.take()
                index += 1
            elif prefix == "type":
                top_type = str(value)
            else:
                single[prefix] = value
    except (ijson.JSONError, UnicodeError) as exc:
        raise json_error(_FMT, exc, stream) from None
    if top_type == "Feature":
        for point in _feature_points(single, "the feature"):
            batcher.points.append(point)
            if batcher.full:
                yield batcher.take()
    elif top_type not in (None, "FeatureCollection"):
        raise ImportFormatError(
            f"{_FMT}: a bare {top_type} geometry has no times; expected a FeatureCollection"
        )
    elif top_type is None and index == 0:
        raise ImportFormatError(f"{_FMT}: no 'type' and no 'features' found: not a GeoJSON document")
    yield from batcher.flush()
