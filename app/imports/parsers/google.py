"""Streaming parsers for Google location history exports.

Google Takeout ``Records.json`` (:func:`parse_google_records`)
----------------------------------------------------------------
Source: https://locationhistoryformat.com/reference/records (community-maintained schema) and
Takeout files as seen in the wild. Shape: ``{"locations": [record, ...]}``, streamed one record at a
time from ``locations``. Per record we read:

* ``timestamp`` (RFC 3339, newer exports) or ``timestampMs`` (epoch milliseconds as a string, older
  exports); a record with neither is an error;
* ``latitudeE7`` / ``longitudeE7`` (degrees x 1e7, integers, negative in the southern / western
  hemispheres). Old exports carry a known overflow bug where a negative value was written as an
  unsigned 32-bit integer: a value above 900000000 (lat) / 1800000000 (lon) is corrected by
  subtracting 2**32 before the ±90 / ±180 check. A record with neither coordinate (a sensor-only
  record) is skipped (its activities are still read); a record with only one is an error;
* ``accuracy`` (m), ``altitude`` (m), ``velocity`` (m/s), ``heading`` (degrees);
* ``activity``: a list of ``{"timestamp" | "timestampMs", "activity": [{"type", "confidence"}, ...]}``;
  each activity record yields one :class:`ImportedActivity` for its most confident candidate
  (confidence 0-100 as given). Google types (UPPER_SNAKE, or the camelCase of pre-2014 exports such
  as ``inVehicle``) map as: IN_VEHICLE, IN_ROAD_VEHICLE, IN_RAIL_VEHICLE, IN_CAR, IN_BUS, IN_TRAIN,
  IN_SUBWAY, IN_TRAM, IN_PASSENGER_VEHICLE, IN_FOUR/TWO_WHEELER_VEHICLE, MOTORCYCLING, IN_TAXI ->
  automotive; ON_BICYCLE, CYCLING -> cycling; ON_FOOT, WALKING, HIKING -> walking; RUNNING -> running;
  STILL -> stationary; TILTING, UNKNOWN, EXITING_VEHICLE, FLYING, anything else -> unknown.
* Ignored: ``verticalAccuracy``, ``source``, ``deviceTag``, ``platformType``, ``activeWifiScan``,
  ``batteryCharging``, ``deviceDesignation``, ``formFactor``, ``osLevel``, ``serverTimestamp``...

Timeline.json, the on-device export (:func:`parse_google_timeline`)
-------------------------------------------------------------------
Written by Google Maps on Android since the 2024 move of Timeline to the device (Settings > Location >
Timeline > Export). Shape ``{"semanticSegments": [...], "rawSignals": [...], "userLocationProfile":
{...}}``; both lists are streamed item by item. Positions are strings ``"46.1591°, -1.1520°"``
(degree signs) or ``"geo:46.1591,-1.1520"`` URIs; times are RFC 3339 with offsets. We take:

* ``semanticSegments[].timelinePath[]`` -- ``{"point", "time"}`` -> one point each (no accuracy);
* ``semanticSegments[].visit`` -- ``topCandidate.placeLocation.latLng`` -> two points, at the
  segment's ``startTime`` and ``endTime``, so a stay is visible to the stay detector. Only visits with
  ``hierarchyLevel`` 0 (or absent) are used: higher levels repeat the same stay for an enclosing
  place (e.g. the mall around the shop);
* ``semanticSegments[].activity.topCandidate.type`` -> one activity at ``startTime`` (mapped as
  above; IN_PASSENGER_VEHICLE etc. -> automotive), confidence = ``topCandidate.probability`` x 100;
* ``rawSignals[].position`` -- ``LatLng``, ``accuracyMeters``, ``altitudeMeters``,
  ``speedMetersPerSecond``, ``timestamp`` -> one point each;
* ``rawSignals[].activityRecord`` -- ``probableActivities[]`` (``type``, ``confidence`` 0-1) and
  ``timestamp`` -> one activity for the most confident candidate, confidence x 100.

Left out: ``activity.start`` / ``activity.end`` positions (the neighbouring visits already give the
endpoints, at the same instants, more precisely), ``activity.distanceMeters`` / ``parking``,
``timelineMemory``, ``rawSignals[].wifiScan``, ``position.source``, ``userLocationProfile``. Points
are yielded in file order (segments first, then raw signals), not sorted by time. The older iOS
variant of this export (a top-level JSON array) is not supported.
"""

from __future__ import annotations

import re
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
    parse_rfc3339,
    parse_time_value,
)
from app.imports.parsers.types import ImportBatch, ImportedActivity, ImportedPoint, ImportFormatError

_RECORDS = "Google Records"
_TIMELINE = "Google Timeline"
# Records.json is the big one (Takeout files reach 1 GB) and shallow, so its records are built by ijson
# in C (ijson.items: over twice as fast as building them in Python, as iter_prefixed does). No Python
# code then sees the events, so the guard bounds what that costs: every array or object three levels
# deep (a record: {"locations": [record, ...]}) to 1 MiB -- real records take a few hundred bytes, a
# few KB with a Wi-Fi scan -- and keys to 128 bytes (Google's are under 30): ijson's prefix string,
# rebuilt at every key, is then at most about 64 x 129 bytes, not 64 keys of 1 MiB each.
_RECORDS_LIMITS: dict[str, Any] = {
    "max_key": 128,
    "item_depth": 3,
    "max_item": 1 << 20,
    "item_name": "location record (an array or object 3 levels deep)",
}
_TIMELINE_LABELS = {"semanticSegments.item": "semanticSegments[{}]", "rawSignals.item": "rawSignals[{}]"}

_AUTOMOTIVE = frozenset(
    {
        "IN_VEHICLE",
        "IN_ROAD_VEHICLE",
        "IN_RAIL_VEHICLE",
        "IN_CAR",
        "IN_BUS",
        "IN_TRAIN",
        "IN_SUBWAY",
        "IN_TRAM",
        "IN_PASSENGER_VEHICLE",
        "IN_FOUR_WHEELER_VEHICLE",
        "IN_TWO_WHEELER_VEHICLE",
        "MOTORCYCLING",
        "IN_TAXI",
        "DRIVING",
    }
)
_SIMPLE = {
    "ON_BICYCLE": "cycling",
    "CYCLING": "cycling",
    "ON_FOOT": "walking",
    "WALKING": "walking",
    "HIKING": "walking",
    "RUNNING": "running",
    "STILL": "stationary",
}
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def map_google_activity(name: object) -> str:
    """Map a Google activity type name (UPPER_SNAKE or camelCase) onto the six service types."""
    if not isinstance(name, str):
        return "unknown"
    key = _CAMEL.sub("_", name.strip()).upper()
    if key in _AUTOMOTIVE:
        return "automotive"
    return _SIMPLE.get(key, "unknown")


def _confidence(value: object, scale: float) -> int | None:
    v = opt_float(value)
    if v is None:
        return None
    return max(0, min(100, round(v * scale)))


# --------------------------------------------------------------------------------------------------
# Records.json
# --------------------------------------------------------------------------------------------------


def _e7(value: object, limit_e7: int, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ImportFormatError(f"{_RECORDS}: {where} has a non-numeric {name} {str(value)[:30]!r}")
    try:
        raw = int(value)
    except ValueError:
        raise ImportFormatError(f"{_RECORDS}: {where} has a non-numeric {name} {str(value)[:30]!r}") from None
    if raw > limit_e7 and raw - 2**32 >= -limit_e7:
        raw -= 2**32  # old Takeout overflow: negative values written as unsigned 32-bit integers
    return raw / 1e7


def _record_time(rec: dict[str, Any], where: str) -> float:
    raw = rec.get("timestamp")
    try:
        if raw is not None:
            return parse_time_value(raw)
        raw = rec.get("timestampMs")
        if raw is not None:
            return float(raw) / 1000.0
    except (TypeError, ValueError):
        shown = str(raw)[:40]
        raise ImportFormatError(f"{_RECORDS}: {where} has an unreadable timestamp {shown!r}") from None
    raise ImportFormatError(f"{_RECORDS}: {where} has no timestamp ('timestamp' or 'timestampMs')")


def _record_activities(rec: dict[str, Any], where: str) -> Iterator[ImportedActivity]:
    records = rec.get("activity")
    if not records:
        return
    if not isinstance(records, list):
        raise ImportFormatError(f"{_RECORDS}: {where} has a malformed 'activity' (not a list)")
    for j, arec in enumerate(records):
        awhere = f"{where} activity {j}"
        if not isinstance(arec, dict):
            raise ImportFormatError(f"{_RECORDS}: {awhere} is not a JSON object")
        candidates = arec.get("activity") or []
        if not isinstance(candidates, list):
            raise ImportFormatError(f"{_RECORDS}: {awhere} has a malformed candidate list")
        best: dict[str, Any] | None = None
        best_conf = -1.0
        for cand in candidates:
            if isinstance(cand, dict):
                conf = opt_float(cand.get("confidence"))
                c = conf if conf is not None else -0.5
                if c > best_conf:
                    best, best_conf = cand, c
        if best is None:
            continue
        ts = _record_time(arec, awhere)
        kind = map_google_activity(best.get("type"))
        yield ImportedActivity(ts, kind, _confidence(best.get("confidence"), 1))


def _record_point(rec: Any, where: str) -> ImportedPoint | None:
    if not isinstance(rec, dict):
        raise ImportFormatError(f"{_RECORDS}: {where} is not a JSON object")
    lat_e7 = rec.get("latitudeE7")
    lon_e7 = rec.get("longitudeE7")
    if lat_e7 is None and lon_e7 is None:
        return None
    if lat_e7 is None or lon_e7 is None:
        missing = "latitudeE7" if lat_e7 is None else "longitudeE7"
        raise ImportFormatError(f"{_RECORDS}: {where} has no {missing}")
    lat = _e7(lat_e7, 900_000_000, "latitudeE7", where)
    lon = _e7(lon_e7, 1_800_000_000, "longitudeE7", where)
    ts = _record_time(rec, where)
    return make_point(
        _RECORDS,
        where,
        ts,
        lat,
        lon,
        accuracy_m=opt_float(rec.get("accuracy")),
        altitude_m=opt_float(rec.get("altitude")),
        speed_mps=opt_float(rec.get("velocity")),
        heading_deg=opt_float(rec.get("heading")),
    )


def parse_google_records(f: BinaryIO, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[ImportBatch]:
    """Yield ``ImportBatch(points, activities)`` from a Google Takeout ``Records.json`` stream.

    Errors name the record index (``location 1203``, 0-based position in ``locations``).
    """
    stream = open_json(f, _RECORDS, **_RECORDS_LIMITS)
    batcher = Batcher(batch_size)
    try:
        for i, rec in enumerate(ijson.items(stream, "locations.item", use_float=True)):
            where = f"location {i}"
            point = _record_point(rec, where)
            if point is not None:
                batcher.points.append(point)
            if "activity" in rec:
                batcher.activities.extend(_record_activities(rec, where))
            if batcher.full:
                yield from batcher.drain()
    except (ijson.JSONError, UnicodeError) as exc:
        raise json_error(_RECORDS, exc, stream) from None
    yield from batcher.flush()


# --------------------------------------------------------------------------------------------------
# Timeline.json
# --------------------------------------------------------------------------------------------------

_LATLNG = re.compile(r"^\s*(?:geo:)?\s*([-+]?\d+(?:\.\d*)?)\s*°?\s*,\s*([-+]?\d+(?:\.\d*)?)\s*°?\s*$")


def parse_latlng(text: object, where: str) -> tuple[float, float]:
    """(lat, lon) from ``"46.1591°, -1.1520°"`` or ``"geo:46.1591,-1.1520"``."""
    m = _LATLNG.match(text) if isinstance(text, str) else None
    if m is None:
        raise ImportFormatError(f"{_TIMELINE}: {where} has an unreadable position {str(text)[:40]!r}")
    return float(m.group(1)), float(m.group(2))


def _tl_time(value: object, where: str) -> float:
    if not isinstance(value, str) or not value:
        raise ImportFormatError(f"{_TIMELINE}: {where} has no time")
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise ImportFormatError(f"{_TIMELINE}: {where} has an unreadable time {value[:40]!r}") from None


def _segment(seg: Any, where: str, batcher: Batcher) -> None:
    if not isinstance(seg, dict):
        raise ImportFormatError(f"{_TIMELINE}: {where} is not a JSON object")
    path = seg.get("timelinePath")
    if path is not None:
        if not isinstance(path, list):
            raise ImportFormatError(f"{_TIMELINE}: {where}.timelinePath is not a list")
        for j, item in enumerate(path):
            pwhere = f"{where}.timelinePath[{j}]"
            if not isinstance(item, dict):
                raise ImportFormatError(f"{_TIMELINE}: {pwhere} is not a JSON object")
            lat, lon = parse_latlng(item.get("point"), pwhere)
            batcher.points.append(make_point(_TIMELINE, pwhere, _tl_time(item.get("time"), pwhere), lat, lon))
    visit = seg.get("visit")
    if isinstance(visit, dict) and int(opt_float(visit.get("hierarchyLevel")) or 0) == 0:
        vwhere = f"{where}.visit"
        cand = visit.get("topCandidate")
        loc = cand.get("placeLocation") if isinstance(cand, dict) else None
        latlng = loc.get("latLng") if isinstance(loc, dict) else loc
        if latlng is not None:
            lat, lon = parse_latlng(latlng, vwhere)
            for key in ("startTime", "endTime"):
                ts = _tl_time(seg.get(key), f"{where}.{key}")
                batcher.points.append(make_point(_TIMELINE, vwhere, ts, lat, lon))
    activity = seg.get("activity")
    if isinstance(activity, dict):
        cand = activity.get("topCandidate")
        if isinstance(cand, dict) and cand.get("type") is not None:
            ts = _tl_time(seg.get("startTime"), f"{where}.startTime")
            kind = map_google_activity(cand.get("type"))
            batcher.activities.append(ImportedActivity(ts, kind, _confidence(cand.get("probability"), 100)))


def _raw_signal(sig: Any, where: str, batcher: Batcher) -> None:
    if not isinstance(sig, dict):
        raise ImportFormatError(f"{_TIMELINE}: {where} is not a JSON object")
    pos = sig.get("position")
    if isinstance(pos, dict):
        pwhere = f"{where}.position"
        lat, lon = parse_latlng(pos.get("LatLng", pos.get("latLng")), pwhere)
        ts = _tl_time(pos.get("timestamp"), pwhere)
        batcher.points.append(
            make_point(
                _TIMELINE,
                pwhere,
                ts,
                lat,
                lon,
                accuracy_m=opt_float(pos.get("accuracyMeters")),
                altitude_m=opt_float(pos.get("altitudeMeters")),
                speed_mps=opt_float(pos.get("speedMetersPerSecond")),
            )
        )
    rec = sig.get("activityRecord")
    if isinstance(rec, dict):
        cands = rec.get("probableActivities")
        if isinstance(cands, list):
            best = max(
                (c for c in cands if isinstance(c, dict)),
                key=lambda c: opt_float(c.get("confidence")) or 0.0,
                default=None,
            )
            if best is not None:
                ts = _tl_time(rec.get("timestamp"), f"{where}.activityRecord")
                kind = map_google_activity(best.get("type"))
                conf = _confidence(best.get("confidence"), 100)
                batcher.activities.append(ImportedActivity(ts, kind, conf))


def parse_google_timeline(f: BinaryIO, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[ImportBatch]:
    """Yield ``ImportBatch(points, activities)`` from an on-device Google Maps ``Timeline.json`` stream.

    Errors name the item, e.g. ``semanticSegments[12].timelinePath[3]`` or ``rawSignals[40].position``.
    """
    stream = open_json(f, _TIMELINE)
    batcher = Batcher(batch_size)
    counters = dict.fromkeys(_TIMELINE_LABELS, 0)
    try:
        for prefix, value in iter_prefixed(stream, _TIMELINE_LABELS, _TIMELINE):
            i = counters[prefix]
            counters[prefix] = i + 1
            if prefix == "semanticSegments.item":
                _segment(value, f"semanticSegments[{i}]", batcher)
            else:
                _raw_signal(value, f"rawSignals[{i}]", batcher)
            if batcher.full:
                yield from batcher.drain()
    except (ijson.JSONError, UnicodeError) as exc:
        raise json_error(_TIMELINE, exc, stream) from None
    yield from batcher.flush()
