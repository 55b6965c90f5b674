"""Mapping of the e-mission / OpenPATH phone ``usercache`` envelope onto points and activities.

Sources: e-mission-server ``emission/core/wrapper/location.py`` and ``motionactivity.py`` (field names
and the ``MotionTypes`` enum), ``emission/net/usercache/formatters/{android,ios}/`` (how the server
reads the raw phone entries), and e-mission-data-collection ``src/android/wrapper/SimpleLocation.java``,
``MotionActivity.java``, ``src/ios/Wrapper/SimpleLocation.h``, ``MotionActivity.h`` (what the
phones write).

Input: the decoded JSON body of ``POST /usercache/put``::

    {"user": <token>, "phone_to_server": [{"metadata": {"key", "platform", "write_ts", "time_zone",
                                                        "type", ...},
                                           "data": {...}}, ...]}

A body that is not an object with a ``phone_to_server`` list raises :class:`ImportFormatError`
(the request itself is malformed). Past that, :func:`map_usercache` never raises: each bad entry is
reported in ``errors`` as ``"entry <index> (<key>): <reason>"`` and skipped.

Keys handled
------------
``background/location`` and ``background/filtered_location`` -> :class:`ImportedPoint`. Data fields:
``ts`` (epoch seconds; a value >= 1e11 is taken as milliseconds, as very old Android clients sent),
``latitude``, ``longitude``, ``accuracy`` (m), ``altitude`` (m), ``sensed_speed`` (m/s), ``bearing``
(Android, iOS) or ``heading`` (already-formatted entries), degrees. When ``latitude``/``longitude``
are absent, ``loc`` (a GeoJSON Point ``[lon, lat]``) is used; when ``ts`` is absent, the entry is
an error. The raw Android ``Location`` dump of the first app versions (``mLatitude``, ``mLongitude``,
``mTime`` ms, ``mAltitude``, ``mAccuracy``, ``mSpeed``, ``mBearing``) is read too. Negative accuracy,
speed or bearing (iOS ``CLLocation`` uses -1 for "invalid") become ``None``, and so does any optional
reading outside its physical range (the ranges of ``app/ingest/schemas.py``: accuracy 0 to 1,000 km,
altitude -12 to 100 km, speed up to 1,000 m/s, bearing up to 360 degrees) or too large for a number (a
400-digit integer): the point is kept without it, since a phone's bad reading says nothing about its
position. A required field (``ts``, latitude, longitude) that is not a finite number makes the entry an
error. Ignored data fields:
``fmt_time``, ``elapsedRealtimeNanos``, ``filter``, ``provider``, ``vaccuracy``, ``floor``,
``local_dt``. Both keys map to points; when both carry the same ``ts`` the filtered one is kept
(one point per ``ts``; points are returned sorted by ``ts``).

``background/motion_activity`` -> :class:`ImportedActivity`, ``ts`` from ``data.ts`` (falling back to
``metadata.write_ts``, which is what the server's iOS formatter uses):

* Android form ``{"type": int, "confidence": int, "ts"}`` with Google ``DetectedActivity`` codes:
  IN_VEHICLE=0 -> automotive, ON_BICYCLE=1 -> cycling, ON_FOOT=2 -> walking, STILL=3 -> stationary,
  UNKNOWN=4 -> unknown, TILTING=5 -> unknown, WALKING=7 -> walking, RUNNING=8 -> running; the
  server-side codes STOPPED_WHILE_IN_VEHICLE=9 and AIR_OR_HSR=10 -> automotive; any other int ->
  unknown. The first clients' ``agb`` / ``agc`` fields (type / confidence) are read too, and a type
  given as a Google name string (``"IN_VEHICLE"``) is mapped by name.
* iOS form ``{"ts", "confidence_level": "high"|"medium"|"low", "automotive", "cycling", "running",
  "walking", "stationary", "unknown"}`` (``CMMotionActivity``; the phone writes the level under
  ``confidence``, the server renames it ``confidence_level`` -- both are read). Confidence map used
  here: high=90, medium=60, low=30 (the e-mission server itself uses 100/75/50; ours is a deliberate
  service choice, kept below 100 since CoreMotion's "high" is not certainty). Several flags may be
  true at once (CoreMotion reports e.g. stationary+automotive when stopped in a car); the type is
  the first true flag in the order automotive, cycling, running, walking, stationary, unknown;
  no flag true -> unknown.

Keys kept out (counted in ``ignored`` by key, never an error): ``statemachine/transition``,
``stats/*`` (``stats/client_time``, ``stats/client_nav_event``, ``stats/client_error``...),
``background/battery``, ``background/bluetooth_ble``, ``config/*``, ``usercache/*`` and any other key.

User inputs (the keys of ``app.openpath.vocabulary.INPUT_KEYS``: labels, surveys, notes) are handed back
untouched in ``inputs`` with their index, for ``app/openpath/labels.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from app.imports.parsers.google import map_google_activity
from app.imports.parsers.types import ImportedActivity, ImportedPoint, ImportFormatError
from app.ingest.schemas import ACCURACY_RANGE_M, ALTITUDE_RANGE_M, HEADING_RANGE_DEG, SPEED_RANGE_MPS
from app.openpath.vocabulary import INPUT_KEYS

LOCATION_KEYS = ("background/location", "background/filtered_location")
MOTION_KEY = "background/motion_activity"

ANDROID_ACTIVITY_TYPES: dict[int, str] = {
    0: "automotive",  # IN_VEHICLE
    1: "cycling",  # ON_BICYCLE
    2: "walking",  # ON_FOOT
    3: "stationary",  # STILL
    4: "unknown",  # UNKNOWN
    5: "unknown",  # TILTING
    7: "walking",  # WALKING
    8: "running",  # RUNNING
    9: "automotive",  # STOPPED_WHILE_IN_VEHICLE (server-side)
    10: "automotive",  # AIR_OR_HSR (server-side)
}
IOS_CONFIDENCE: dict[str, int] = {"high": 90, "medium": 60, "low": 30}
IOS_FLAG_ORDER = ("automotive", "cycling", "running", "walking", "stationary", "unknown")

_MS_THRESHOLD = 1e11


class EnvelopeFormatError(ImportFormatError):
    """The request is not a usercache envelope at all (a problem with its `phone_to_server` field)."""


@dataclass(frozen=True)
class UsercacheBatch:
    """Result of :func:`map_usercache`: what was mapped, what was kept out and what was broken."""

    points: list[ImportedPoint] = field(default_factory=list)
    activities: list[ImportedActivity] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    inputs: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (index, entry) of user inputs


class _EntryError(Exception):
    pass


def _num(value: object, name: str, *, required: bool = False) -> float | None:
    if value is None or isinstance(value, bool):
        if required:
            raise _EntryError(f"missing {name}")
        if isinstance(value, bool):
            raise _EntryError(f"{name} is not a number ({value!r})")
        return None
    if not isinstance(value, int | float | str):
        raise _EntryError(f"{name} is not a number ({str(value)[:30]!r})")
    try:
        v = float(value)
    except ValueError:
        raise _EntryError(f"{name} is not a number ({str(value)[:30]!r})") from None
    except OverflowError:  # an integer too large for a float: as good as infinite
        v = math.inf
    if not math.isfinite(v):
        if required:
            raise _EntryError(f"{name} is not finite")
        return None
    return v


def _reading(value: object, name: str, bounds: tuple[float, float]) -> float | None:
    """An optional reading, or None when absent, negative (iOS's -1, "invalid") or out of `bounds`."""
    v = _num(value, name)
    return v if v is not None and max(bounds[0], 0.0) <= v <= bounds[1] else None


def _altitude(value: object) -> float | None:
    v = _num(value, "altitude")
    return v if v is not None and ALTITUDE_RANGE_M[0] <= v <= ALTITUDE_RANGE_M[1] else None


def _seconds(value: float) -> float:
    return value / 1000.0 if abs(value) >= _MS_THRESHOLD else value


def _ts(data: dict[str, Any], metadata: dict[str, Any]) -> float:
    raw = data.get("ts")
    if raw is None:
        raw = metadata.get("write_ts")
    ts = _num(raw, "ts", required=True)
    assert ts is not None
    return _seconds(ts)


def _location(data: dict[str, Any]) -> ImportedPoint:
    if "mLatitude" in data:  # raw android.location.Location dump (first app versions)
        lat = _num(data.get("mLatitude"), "mLatitude", required=True)
        lon = _num(data.get("mLongitude"), "mLongitude", required=True)
        t = _num(data.get("mTime"), "mTime", required=True)
        assert lat is not None and lon is not None and t is not None
        ts = t / 1000.0
        acc, alt = data.get("mAccuracy"), data.get("mAltitude")
        speed, heading = data.get("mSpeed"), data.get("mBearing")
    else:
        lat_raw, lon_raw = data.get("latitude"), data.get("longitude")
        if lat_raw is None and lon_raw is None:
            loc = data.get("loc")
            coords = loc.get("coordinates") if isinstance(loc, dict) else None
            if isinstance(coords, list) and len(coords) >= 2:
                lon_raw, lat_raw = coords[0], coords[1]
        lat = _num(lat_raw, "latitude", required=True)
        lon = _num(lon_raw, "longitude", required=True)
        t = _num(data.get("ts"), "ts", required=True)
        assert lat is not None and lon is not None and t is not None
        ts = _seconds(t)
        acc, alt = data.get("accuracy"), data.get("altitude")
        speed = data.get("sensed_speed")
        heading = data.get("bearing", data.get("heading"))
    if not -90.0 <= lat <= 90.0:
        raise _EntryError(f"latitude {lat} out of range")
    if not -180.0 <= lon <= 180.0:
        raise _EntryError(f"longitude {lon} out of range")
    return ImportedPoint(
        ts_s=ts,
        lat=lat,
        lon=lon,
        accuracy_m=_reading(acc, "accuracy", ACCURACY_RANGE_M),
        altitude_m=_altitude(alt),
        speed_mps=_reading(speed, "sensed_speed", SPEED_RANGE_MPS),
        heading_deg=_reading(heading, "bearing", HEADING_RANGE_DEG),
    )


def _confidence(value: object) -> int | None:
    if isinstance(value, str):
        level = value.strip().lower()
        if level in IOS_CONFIDENCE:
            return IOS_CONFIDENCE[level]
    v = _num(value, "confidence")
    return None if v is None else max(0, min(100, round(v)))


def _activity(data: dict[str, Any], metadata: dict[str, Any]) -> ImportedActivity:
    ts = _ts(data, metadata)
    raw_type = data.get("type", data.get("agb"))
    if raw_type is not None:  # Android
        if isinstance(raw_type, str) and not raw_type.strip().lstrip("-").isdigit():
            kind = map_google_activity(raw_type)
        else:
            code = _num(raw_type, "type", required=True)
            assert code is not None
            kind = ANDROID_ACTIVITY_TYPES.get(int(code), "unknown")
        return ImportedActivity(ts, kind, _confidence(data.get("confidence", data.get("agc"))))
    flags = [name for name in IOS_FLAG_ORDER if data.get(name) is True]
    if not flags and not any(name in data for name in IOS_FLAG_ORDER):
        raise _EntryError("neither an Android 'type' nor iOS activity flags")
    kind = flags[0] if flags else "unknown"
    level = data.get("confidence_level", data.get("confidence"))
    return ImportedActivity(ts, kind, _confidence(level))


def map_usercache(body: dict[str, Any]) -> UsercacheBatch:
    """Map a ``/usercache/put`` body to points (deduplicated by ts, sorted) and activities (sorted).

    Raises :class:`ImportFormatError` only when ``body`` is not an envelope at all.
    """
    if not isinstance(body, dict):
        raise EnvelopeFormatError("usercache: the body is not a JSON object")
    entries = body.get("phone_to_server")
    if not isinstance(entries, list):
        raise EnvelopeFormatError("usercache: the body has no 'phone_to_server' list")

    by_ts: dict[float, tuple[bool, ImportedPoint]] = {}
    activities: dict[tuple[float, str, int | None], ImportedActivity] = {}
    ignored: dict[str, int] = {}
    errors: list[str] = []
    inputs: list[tuple[int, dict[str, Any]]] = []
    for index, entry in enumerate(entries):
        key = "?"
        try:
            if not isinstance(entry, dict):
                raise _EntryError("not a JSON object")
            metadata = entry.get("metadata")
            if not isinstance(metadata, dict):
                raise _EntryError("no metadata object")
            raw_key = metadata.get("key")
            if not isinstance(raw_key, str) or not raw_key:
                raise _EntryError("no metadata.key")
            key = raw_key
            if key in INPUT_KEYS:
                inputs.append((index, entry))
                continue
            if key not in LOCATION_KEYS and key != MOTION_KEY:
                ignored[key] = ignored.get(key, 0) + 1
                continue
            data = entry.get("data")
            if not isinstance(data, dict):
                raise _EntryError("no data object")
            if key == MOTION_KEY:
                act = _activity(data, metadata)
                activities.setdefault((act.ts_s, act.type, act.confidence), act)
                continue
            point = _location(data)
            filtered = key == "background/filtered_location"
            previous = by_ts.get(point.ts_s)
            if previous is None or (filtered and not previous[0]):
                by_ts[point.ts_s] = (filtered, point)
        except _EntryError as exc:
            errors.append(f"entry {index} ({key}): {exc}")
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:  # defensive: never raise
            errors.append(f"entry {index} ({key}): malformed ({type(exc).__name__}: {str(exc)[:80]})")
    points = [p for _, p in sorted(by_ts.values(), key=lambda fp: fp[1].ts_s)]
    acts = sorted(activities.values(), key=lambda a: a.ts_s)
    return UsercacheBatch(points=points, activities=acts, ignored=ignored, errors=errors, inputs=inputs)
