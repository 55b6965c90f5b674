"""The OpenPATH app's diary and dashboard, built from our trips: pure functions, no database.

Shapes follow what the app reads (e-mission-phone ``www/js/types/diaryTypes.ts``, ``serverData.ts``,
``diary/timelineHelper.ts``, ``survey/inputMatcher.ts``, ``survey/multilabel/confirmHelper.ts``,
``metrics/metricsTypes.ts``) and what e-mission-server writes (``emission/core/wrapper/confirmedtrip.py``,
``compositetrip.py``, ``confirmedplace.py``, ``section.py``, ``localdate.py``).

* Every object is a wrapped entry ``{"_id": {"$oid"}, "user_id": {"$uuid"}, "metadata": {"key",
  "write_ts", "platform": "server", "time_zone", "type": "document", ...}, "data": {...}}``; the app
  flattens ``data`` and keys its timeline by ``_id.$oid``, so ids are unique per object and stable
  from one call to the next: a trip's id is its own uuid (hex), a section's its leg's, and the ids of
  places, locations and confirmed trips are uuid5 names derived from them.
* The place between two trips is one object with one id, the end place of the first and the start
  place of the second (named after the trip it follows). Only the person's very first place (no
  ``enter_*``, no ``duration``) and their current place (no ``exit_*``, no ``duration``) are
  open-ended: the app shows both and treats their missing end as "still there".
* Legs keep no per-point times: a location's ``ts`` is interpolated along its leg's geometry by
  distance, from the leg's start to its end, so every location lies inside its section's time range.
* ``user_input`` holds plain strings for ``mode_confirm``, ``purpose_confirm``, ``replaced_mode`` (the
  names the app reads) and the raw entry for ``trip_user_input`` / ``place_user_input``; notes
  (``*_addition_input``) go to ``additions``. See :func:`user_input_for`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from app.core.lang import Msg
from app.core.problems import invalid_field
from app.emissions import great_circle_m
from app.models import Leg, OpenpathInput, Trip
from app.openpath.vocabulary import (
    BASE_MODE,
    INPUT_KEYS,
    MODE_KEY,
    MODE_LABELS,
    OPENPATH_MODE,
    OPENPATH_PURPOSE,
    PURPOSE_KEY,
    PURPOSE_LABELS,
    REPLACED_MODE_KEY,
)

COMPOSITE_TRIP_KEY = "analysis/composite_trip"
CONFIRMED_TRIP_KEY = "analysis/confirmed_trip"
CONFIRMED_PLACE_KEY = "analysis/confirmed_place"
SECTION_KEY = "analysis/cleaned_section"
LOCATION_KEY = "analysis/recreated_location"
SOURCE = "coachco2"

#: the time fields a `find_entries` call may filter on (e-mission-phone ``commHelper.getRawEntries``)
TIME_KEYS = (
    "metadata.write_ts",
    "data.start_ts",
    "data.end_ts",
    "data.ts",
    "data.enter_ts",
    "data.exit_ts",
)
TRUNC_METHODS = ("first", "last", "sample")
MAX_KEYS = 20
MAX_KEY_CHARS = 100
#: the last second of 9999 (UTC): the largest time a call may name
MAX_TS_S = 253_402_300_799.0
#: at most this many trips (oldest first) in one answer, and this many locations per trip (sampled
#: evenly, each leg's ends kept; e-mission itself keeps 100)
MAX_TRIPS = 1000
MAX_LOCATIONS = 100
#: at most this many user inputs of one key in one answer (oldest first)
MAX_INPUTS = 5000
#: the app shows an inferred label only above this probability (``confirmHelper.inferFinalLabels``)
CONFIDENCE_THRESHOLD = 0.5
#: the probability given to a purpose inherited from an earlier labelled trip between the same places
INHERITED_PURPOSE_P = 0.8
#: what e-mission-common's ``metrics_summaries`` groups a trip without a label under
UNLABELED = "UNLABELED"
#: the metrics and grouping fields of the dashboard served here (``metrics/metricsHelper.ts``)
METRICS = ("distance", "duration", "count", "footprint")
GROUPING_FIELDS = ("mode_confirm", "purpose_confirm", "replaced_mode_confirm")
DEFAULT_METRIC_LIST = {metric: ["mode_confirm"] for metric in METRICS}
MAX_METRIC_DAYS = 366

#: the namespace of the uuid5 ids of places, locations and confirmed trips (fixed: ids stay stable)
NAMESPACE = uuid.UUID("47a790f1-2cae-4a31-b83c-285e97bf1abf")

#: our mode -> e-mission's ``MotionTypes`` (``emission/core/wrapper/motionactivity.py``)
MOTION_TYPE: dict[str, int] = {
    "walk": 7,  # WALKING
    "run": 8,  # RUNNING
    "bike": 1,  # BICYCLING
    "ebike": 1,
    "escooter": 1,
    "plane": 11,  # AIR_OR_HSR
    "hsr": 11,
    "unknown": 4,  # UNKNOWN
}
IN_VEHICLE = 0

#: input keys -> the name under which the app reads them in ``user_input`` (the part after ``manual/``)
TRIP_LABEL_KEYS = (MODE_KEY, PURPOSE_KEY, REPLACED_MODE_KEY)
TRIP_SURVEY_KEY = "manual/trip_user_input"
TRIP_NOTE_KEY = "manual/trip_addition_input"
PLACE_SURVEY_KEY = "manual/place_user_input"
PLACE_NOTE_KEY = "manual/place_addition_input"
PLACE_KEYS = (PLACE_SURVEY_KEY, PLACE_NOTE_KEY)
TRIP_KEYS = (*TRIP_LABEL_KEYS, TRIP_SURVEY_KEY, TRIP_NOTE_KEY)
#: input rows shown on a trip: labels applied to it (`trip_id` set), and those the label matcher does
#: not link to trips (replaced modes, surveys, notes, unknown values), matched here by time
LINKED_STATUS = "applied"
UNLINKED_STATUSES = ("stored", "unknown-label")


# -- requests ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FindQuery:
    keys: list[str]
    start_s: float
    end_s: float
    time_key: str
    max_entries: int | None
    trunc_method: str

    # times in seconds as the app has them (from our own `*_ts`) name whole milliseconds: round first,
    # so that `x / 1000 * 1000` lands on x, not next to it

    @property
    def start_ms(self) -> int:
        return math.ceil(round(self.start_s * 1000, 3))

    @property
    def end_ms(self) -> int:
        return math.floor(round(self.end_s * 1000, 3))


@dataclass(frozen=True)
class MetricsQuery:
    start: date
    end: date
    metric_list: dict[str, list[str]]


_END_BEFORE_START = Msg("end_time is before start_time", "end_time précède start_time")
_A_DATE = Msg("a date, YYYY-MM-DD", "une date, AAAA-MM-JJ")


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid_field("body", Msg("the body is a JSON object", "le corps est un objet JSON"))
    return body


def _seconds(body: dict[str, Any], name: str) -> float:
    value = body.get(name)
    if value is None:
        raise invalid_field(
            name,
            Msg(
                "required: a time in epoch seconds",
                "obligatoire : un instant en secondes depuis 1970 (epoch)",
            ),
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_field(
            name,
            Msg(
                "a number: a time in epoch seconds", "un nombre : un instant en secondes depuis 1970 (epoch)"
            ),
        )
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_TS_S:
        raise invalid_field(
            name,
            Msg(
                "a time between 0 (1970) and {most:.0f} (9999-12-31), epoch seconds",
                "un instant entre 0 (1970) et {most:.0f} (9999-12-31), en secondes depuis 1970",
                most=MAX_TS_S,
            ),
        )
    return seconds


def parse_find_query(raw: Any) -> FindQuery:
    """The body of ``/datastreams/find_entries/timestamp`` (``commHelper.getRawEntries``), checked: a
    422 names the first bad field."""
    body = _object(raw)
    keys = body.get("key_list")
    if not isinstance(keys, list):
        raise invalid_field(
            "key_list",
            Msg(
                "required: a list of entry keys (analysis/composite_trip, ...)",
                "obligatoire : une liste de clés d'entrées (analysis/composite_trip, ...)",
            ),
        )
    if len(keys) > MAX_KEYS:
        raise invalid_field("key_list", Msg("at most {most} keys", "au plus {most} clés", most=MAX_KEYS))
    for i, key in enumerate(keys):
        if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS:
            raise invalid_field(
                f"key_list/{i}",
                Msg(
                    "an entry key: a text of 1 to {most} characters",
                    "une clé d'entrée : un texte de 1 à {most} caractères",
                    most=MAX_KEY_CHARS,
                ),
            )
    start_s, end_s = _seconds(body, "start_time"), _seconds(body, "end_time")
    if end_s < start_s:
        raise invalid_field("end_time", _END_BEFORE_START)
    time_key = body.get("key_time", "metadata.write_ts")
    if time_key is None:
        time_key = "metadata.write_ts"
    if time_key not in TIME_KEYS:
        raise invalid_field("key_time", Msg("one of {keys}", "l'une de {keys}", keys=", ".join(TIME_KEYS)))
    max_entries = body.get("max_entries")
    if max_entries is not None and (
        isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1
    ):
        raise invalid_field(
            "max_entries",
            Msg("a whole number of entries, 1 or more", "un nombre entier d'entrées, 1 ou plus"),
        )
    trunc = body.get("trunc_method", "sample")
    if trunc is None:
        trunc = "sample"
    if trunc not in TRUNC_METHODS:
        raise invalid_field(
            "trunc_method", Msg("one of {methods}", "l'une de {methods}", methods=", ".join(TRUNC_METHODS))
        )
    return FindQuery(list(dict.fromkeys(keys)), start_s, end_s, str(time_key), max_entries, str(trunc))


def _ymd(body: dict[str, Any], name: str) -> date:
    value = body.get(name)
    if not isinstance(value, str) or len(value) != 10 or value[4] != "-" or value[7] != "-":
        raise invalid_field(name, _A_DATE)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid_field(name, _A_DATE) from None


def parse_metrics_query(raw: Any) -> MetricsQuery:
    """The body of ``/result/metrics/yyyy_mm_dd`` (``MetricsTab.fetchAggMetrics``), checked."""
    body = _object(raw)
    start, end = _ymd(body, "start_time"), _ymd(body, "end_time")
    if end < start:
        raise invalid_field("end_time", _END_BEFORE_START)
    if (end - start).days >= MAX_METRIC_DAYS:
        raise invalid_field(
            "end_time",
            Msg(
                "at most {most} days from start_time",
                "au plus {most} jours après start_time",
                most=MAX_METRIC_DAYS,
            ),
        )
    freq = body.get("freq", "D")
    if freq not in (None, "D"):
        raise invalid_field(
            "freq", Msg('only daily figures are served: "D"', 'seuls les chiffres par jour sont servis : "D"')
        )
    metric_list = body.get("metric_list")
    if metric_list is None:
        metric_list = DEFAULT_METRIC_LIST
    if not isinstance(metric_list, dict):
        raise invalid_field(
            "metric_list",
            Msg(
                "an object: metric -> list of grouping fields",
                "un objet : indicateur -> liste de champs de regroupement",
            ),
        )
    wanted: dict[str, list[str]] = {}
    for metric, fields in metric_list.items():
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise invalid_field(
                f"metric_list/{metric}",
                Msg(
                    "a list of grouping fields (mode_confirm, ...)",
                    "une liste de champs de regroupement (mode_confirm, ...)",
                ),
            )
        if metric in METRICS:
            wanted[metric] = [f for f in dict.fromkeys(fields) if f in GROUPING_FIELDS]
    return MetricsQuery(start, end, wanted)


# -- times, places, wrapping ------------------------------------------------------------------------


def _moment(ts_s: float, zone: ZoneInfo) -> datetime:
    try:
        return datetime.fromtimestamp(ts_s, zone)
    except (OverflowError, OSError, ValueError):  # past 9999 in the zone: say it in UTC
        return datetime.fromtimestamp(min(max(ts_s, 0.0), MAX_TS_S), UTC)


def local_dt(moment: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """e-mission's ``LocalDate`` (``localdate.py``): ``weekday`` 0 is Monday, as the server writes."""
    return {
        "year": moment.year,
        "month": moment.month,
        "day": moment.day,
        "hour": moment.hour,
        "minute": moment.minute,
        "second": moment.second,
        "weekday": moment.weekday(),
        "timezone": zone.key,
    }


def times(prefix: str, ts_ms: int, zone: ZoneInfo) -> dict[str, Any]:
    """``<prefix>_ts``, ``<prefix>_fmt_time`` (ISO 8601 with the offset) and ``<prefix>_local_dt``."""
    moment = _moment(ts_ms / 1000, zone)
    return {
        f"{prefix}_ts": ts_ms / 1000,
        f"{prefix}_fmt_time": moment.isoformat(),
        f"{prefix}_local_dt": local_dt(moment, zone),
    }


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def oid(value: uuid.UUID) -> dict[str, str]:
    return {"$oid": value.hex}


def derived_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts))


def wrap(
    entry_id: uuid.UUID,
    user_id: uuid.UUID,
    key: str,
    write_ts: float,
    zone: ZoneInfo,
    data: dict[str, Any],
    *,
    origin_key: str | None = None,
    brief: bool = False,
) -> dict[str, Any]:
    """An entry as e-mission stores it (``emission/core/wrapper/entry.py``, ``metadata.py``)."""
    metadata: dict[str, Any] = {
        "key": key,
        "write_ts": write_ts,
        "platform": "server",
        "time_zone": zone.key,
        "type": "document",
    }
    if not brief:
        moment = _moment(write_ts, zone)
        metadata["write_fmt_time"] = moment.isoformat()
        metadata["write_local_dt"] = local_dt(moment, zone)
    if origin_key is not None:
        metadata["origin_key"] = origin_key
    return {"_id": oid(entry_id), "user_id": {"$uuid": user_id.hex}, "metadata": metadata, "data": data}


def place_id(before: Trip | None, after: Trip | None) -> uuid.UUID:
    """The place after trip `before` (or, for the person's first place, the place before `after`)."""
    if before is not None:
        return derived_id("place-after", before.id)
    assert after is not None
    return derived_id("place-before", after.id)


@dataclass
class Place:
    """A stay between two trips (either may be None: the first or the current place)."""

    id: uuid.UUID
    before: Trip | None
    after: Trip | None
    user_input: dict[str, Any] = field(default_factory=dict)
    additions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def enter_ms(self) -> int | None:
        return self.before.end_ts_ms if self.before is not None else None

    @property
    def exit_ms(self) -> int | None:
        return self.after.start_ts_ms if self.after is not None else None

    @property
    def write_ts(self) -> float:
        trip = self.before if self.before is not None else self.after
        assert trip is not None
        return trip.updated_at.timestamp()


def make_place(before: Trip | None, after: Trip | None) -> Place:
    return Place(place_id(before, after), before, after)


def place_entry(place: Place, user_id: uuid.UUID, zone: ZoneInfo) -> dict[str, Any]:
    """A confirmed place (``confirmedplace.py``, ``place.py``)."""
    data: dict[str, Any] = {"source": SOURCE, "display_name": "", "raw_places": []}
    if place.before is not None:
        data["location"] = point(place.before.end_lon, place.before.end_lat)
        data.update(times("enter", place.before.end_ts_ms, zone))
        data["ending_trip"] = oid(place.before.id)
    if place.after is not None:
        if place.before is None:
            data["location"] = point(place.after.start_lon, place.after.start_lat)
        data.update(times("exit", place.after.start_ts_ms, zone))
        data["starting_trip"] = oid(place.after.id)
    if place.enter_ms is not None and place.exit_ms is not None:
        data["duration"] = max(0, place.exit_ms - place.enter_ms) / 1000
    data["cleaned_place"] = oid(place.id)
    data["user_input"] = place.user_input
    data["additions"] = place.additions
    return wrap(place.id, user_id, CONFIRMED_PLACE_KEY, place.write_ts, zone, data)


# -- labels -----------------------------------------------------------------------------------------


def input_entry(row: OpenpathInput) -> dict[str, Any]:
    """A user input served back as the phone sent it, under its own id."""
    entry = row.entry if isinstance(row.entry, dict) else {}
    metadata = dict(entry.get("metadata") or {})
    metadata["key"] = row.key
    metadata.setdefault("write_ts", row.write_ts_ms / 1000)
    data = entry.get("data")
    return {
        "_id": oid(row.id),
        "user_id": {"$uuid": row.user_id.hex},
        "metadata": metadata,
        "data": data if isinstance(data, dict) else {},
    }


def openpath_mode(leg: Leg) -> str:
    """The OpenPATH value the app shows for a leg's mode (a car with passengers is a shared ride)."""
    if leg.occupants is not None and leg.occupants >= 2 and leg.mode in ("car", "ecar"):
        return "shared_ride" if leg.mode == "car" else "e_car_shared_ride"
    return OPENPATH_MODE.get(leg.mode, "other")


def main_leg(legs: Sequence[Leg]) -> Leg | None:
    return max(legs, key=lambda leg: leg.distance_m) if legs else None


def _latest(rows: Iterable[OpenpathInput]) -> OpenpathInput | None:
    return max(rows, key=lambda row: (row.write_ts_ms, row.id.hex), default=None)


def user_input_for(trip: Trip, legs: Sequence[Leg], rows: Sequence[OpenpathInput]) -> dict[str, Any]:
    """The trip's ``user_input``: per key, the latest input matched to it; else a correction the person
    made through our own API (a leg with ``mode_source`` "user", a purpose with ``purpose_source``
    "user"), as the OpenPATH value. A mode label contradicted by a later correction of the legs (no
    corrected leg has the mode it means) gives way to that correction; likewise for the purpose."""
    result: dict[str, Any] = {}
    by_key: dict[str, list[OpenpathInput]] = {}
    for row in rows:
        if row.key in TRIP_LABEL_KEYS and not row.label:
            continue  # a label entry without a value (a survey-style answer) says nothing of the label
        by_key.setdefault(row.key, []).append(row)
    corrected = [leg for leg in legs if leg.mode_source == "user"]
    mode_row = _latest(by_key.get(MODE_KEY, []))
    fixed = main_leg(corrected)
    if mode_row is not None and mode_row.label:
        meaning = MODE_LABELS.get(mode_row.label)
        if fixed is None or meaning is None or any(leg.mode == meaning.mode for leg in corrected):
            result["mode_confirm"] = mode_row.label
    if "mode_confirm" not in result and fixed is not None:
        result["mode_confirm"] = openpath_mode(fixed)
    purpose_row = _latest(by_key.get(PURPOSE_KEY, []))
    own_purpose = trip.purpose if trip.purpose_source == "user" else None
    if purpose_row is not None and purpose_row.label:
        meaning_p = PURPOSE_LABELS.get(purpose_row.label)
        if own_purpose is None or meaning_p is None or meaning_p == own_purpose:
            result["purpose_confirm"] = purpose_row.label
    if "purpose_confirm" not in result and own_purpose is not None:
        result["purpose_confirm"] = OPENPATH_PURPOSE.get(own_purpose, "other")
    replaced = _latest(by_key.get(REPLACED_MODE_KEY, []))
    if replaced is not None and replaced.label:
        result["replaced_mode"] = replaced.label
    survey = _latest(by_key.get(TRIP_SURVEY_KEY, []))
    if survey is not None:
        result["trip_user_input"] = input_entry(survey)
    return result


def inferred_labels_for(trip: Trip, legs: Sequence[Leg], user_input: dict[str, Any]) -> list[dict[str, Any]]:
    """Our inference as the app's ``inferred_labels`` (one possibility, ``confirmHelper.inferFinalLabels``):
    the main leg's mode with its confidence, and a purpose inherited from an earlier labelled trip
    between the same places. A label the person gave is repeated in the possibility, so that the app
    keeps it when it filters possibilities against the labels (it drops those that disagree)."""
    labels: dict[str, str] = {}
    probabilities: list[float] = []
    leg = main_leg(legs)
    if "mode_confirm" in user_input:
        labels["mode_confirm"] = str(user_input["mode_confirm"])
    elif leg is not None and leg.mode != "unknown":
        labels["mode_confirm"] = openpath_mode(leg)
        probabilities.append(float(leg.confidence))
    if "purpose_confirm" in user_input:
        labels["purpose_confirm"] = str(user_input["purpose_confirm"])
    elif trip.purpose is not None and trip.purpose_source == "inherited":
        labels["purpose_confirm"] = OPENPATH_PURPOSE.get(trip.purpose, "other")
        probabilities.append(INHERITED_PURPOSE_P)
    if not probabilities:
        return []
    p = min(probabilities)
    return [{"labels": labels, "p": round(p if math.isfinite(p) else 0.0, 3)}]


# -- matching inputs that carry no trip ---------------------------------------------------------------


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def best_span(row: OpenpathInput, spans: Sequence[tuple[int, int]]) -> int | None:
    """The index of the span the input overlaps most (an input of an instant: the span around it)."""
    best, best_overlap = None, 0
    for i, (s0, s1) in enumerate(spans):
        if row.end_ts_ms <= row.start_ts_ms:
            overlap = 1 if s0 <= row.start_ts_ms <= s1 else 0
        else:
            overlap = _overlap(row.start_ts_ms, row.end_ts_ms, s0, s1)
        if overlap > best_overlap:
            best, best_overlap = i, overlap
    return best


FAR_MS = int(MAX_TS_S * 1000)


def place_span(place: Place) -> tuple[int, int]:
    enter, exit_ = place.enter_ms, place.exit_ms
    return (enter if enter is not None else 0, exit_ if exit_ is not None else FAR_MS)


# -- trips ------------------------------------------------------------------------------------------


def _coords(leg: Leg) -> list[tuple[float, float]]:
    """The leg's geometry as (lon, lat) pairs, anything else left out."""
    out = []
    for c in leg.geometry if isinstance(leg.geometry, list) else []:
        if isinstance(c, list | tuple) and len(c) >= 2 and all(isinstance(v, int | float) for v in c[:2]):
            lon, lat = float(c[0]), float(c[1])
            if math.isfinite(lon) and math.isfinite(lat):
                out.append((lon, lat))
    return out


def _leg_points(leg: Leg) -> list[tuple[float, float, int, float]]:
    """(lon, lat, ts_ms, metres from the previous point) along the leg, times interpolated by distance."""
    coords = _coords(leg)
    if not coords:
        return []
    steps = [0.0] + [
        great_circle_m(lat0, lon0, lat1, lon1) for (lon0, lat0), (lon1, lat1) in pairwise(coords)
    ]
    total = sum(steps)
    span = max(0, leg.end_ts_ms - leg.start_ts_ms)
    out, run = [], 0.0
    last = len(coords) - 1
    for i, ((lon, lat), step) in enumerate(zip(coords, steps, strict=True)):
        run += step
        frac = run / total if total > 0 else (i / last if last else 0.0)
        ts_ms = leg.end_ts_ms if i == last else leg.start_ts_ms + min(span, round(frac * span))
        out.append((lon, lat, ts_ms, step))
    return out


def locations_for(legs: Sequence[Leg], user_id: uuid.UUID, zone: ZoneInfo) -> list[dict[str, Any]]:
    """The trip's locations (``CompositeTripLocation``): each leg's geometry with interpolated times,
    sampled down to about :data:`MAX_LOCATIONS` (each leg keeps its first and last point)."""
    per_leg = [(leg, _leg_points(leg)) for leg in legs]
    total = sum(len(points) for _, points in per_leg)
    stride = max(1, math.ceil(total / MAX_LOCATIONS))
    out: list[dict[str, Any]] = []
    idx = 0
    for leg, points in per_leg:
        duration_s = (leg.end_ts_ms - leg.start_ts_ms) / 1000
        speed = leg.distance_m / duration_s if duration_s > 0 else 0.0
        mode = MOTION_TYPE.get(leg.inferred_mode, IN_VEHICLE)
        for i, (lon, lat, ts_ms, step) in enumerate(points):
            if i % stride and i != len(points) - 1:
                continue
            moment = _moment(ts_ms / 1000, zone)
            data = {
                "loc": point(lon, lat),
                "latitude": lat,
                "longitude": lon,
                "ts": ts_ms / 1000,
                "fmt_time": moment.isoformat(),
                "local_dt": local_dt(moment, zone),
                "speed": speed,
                "distance": step,
                "idx": idx,
                "mode": mode,
                "section": oid(leg.id),
            }
            out.append(wrap(derived_id("location", leg.id, i), user_id, LOCATION_KEY, ts_ms / 1000, zone,
                            data, brief=True))  # fmt: skip
            idx += 1
    return out


def section_entry(trip: Trip, leg: Leg, user_id: uuid.UUID, zone: ZoneInfo) -> dict[str, Any]:
    """A section (``section.py``, ``cleanedsection.py``): the sensed mode is what the pipeline found
    (``inferred_mode``); ``mode`` is the leg's mode now (the person's correction if any)."""
    coords = _coords(leg)
    start = point(*coords[0]) if coords else None
    end = point(*coords[-1]) if coords else None
    data: dict[str, Any] = {
        "trip_id": oid(trip.id),
        **times("start", leg.start_ts_ms, zone),
        **times("end", leg.end_ts_ms, zone),
        "start_loc": start or point(trip.start_lon, trip.start_lat),
        "end_loc": end or point(trip.end_lon, trip.end_lat),
        "duration": (leg.end_ts_ms - leg.start_ts_ms) / 1000,
        "distance": leg.distance_m,
        "sensed_mode": MOTION_TYPE.get(leg.inferred_mode, IN_VEHICLE),
        "sensed_mode_str": BASE_MODE.get(leg.inferred_mode, "UNKNOWN"),
        "source": SOURCE,
        "cleaned_section": oid(leg.id),
        "mode": leg.mode,
        "mode_source": leg.mode_source,
        "confidence": leg.confidence,
        "co2e_g": leg.co2e_g,
    }
    return wrap(leg.id, user_id, SECTION_KEY, trip.updated_at.timestamp(), zone, data)


def section_summary(legs: Sequence[Leg]) -> dict[str, dict[str, float]]:
    """``{count, distance, duration}`` by base mode key of the sensed modes (``matcher.get_section_summary``)."""
    summary: dict[str, dict[str, float]] = {"count": {}, "distance": {}, "duration": {}}
    for leg in legs:
        key = BASE_MODE.get(leg.inferred_mode, "UNKNOWN")
        summary["count"][key] = summary["count"].get(key, 0) + 1
        summary["distance"][key] = summary["distance"].get(key, 0.0) + leg.distance_m
        summary["duration"][key] = (
            summary["duration"].get(key, 0.0) + (leg.end_ts_ms - leg.start_ts_ms) / 1000
        )
    return summary


@dataclass
class TripView:
    """A trip with what its entry is built from."""

    trip: Trip
    legs: list[Leg]
    start_place: Place
    end_place: Place
    user_input: dict[str, Any]
    additions: list[dict[str, Any]]


def trip_entry(view: TripView, user_id: uuid.UUID, zone: ZoneInfo, *, composite: bool) -> dict[str, Any]:
    """A composite trip (``compositetrip.py``) or, without locations, sections and places, the
    confirmed trip it comes from (``confirmedtrip.py``)."""
    trip, legs = view.trip, view.legs
    confirmed_id = derived_id("confirmed-trip", trip.id)
    summary = section_summary(legs)
    data: dict[str, Any] = {
        "source": SOURCE,
        **times("start", trip.start_ts_ms, zone),
        **times("end", trip.end_ts_ms, zone),
        "start_loc": point(trip.start_lon, trip.start_lat),
        "end_loc": point(trip.end_lon, trip.end_lat),
        "distance": trip.distance_m,
        "duration": (trip.end_ts_ms - trip.start_ts_ms) / 1000,
        "co2e_g": trip.co2e_g,
        "start_place": oid(view.start_place.id),
        "end_place": oid(view.end_place.id),
        "cleaned_section_summary": summary,
        "inferred_section_summary": summary,
        "ble_sensed_summary": {"count": {}, "distance": {}, "duration": {}},
        "user_input": view.user_input,
        "additions": view.additions,
        "inferred_labels": inferred_labels_for(trip, legs, view.user_input),
        "expectation": {"to_label": True},
        "confidence_threshold": CONFIDENCE_THRESHOLD,
    }
    write_ts = trip.updated_at.timestamp()
    if not composite:
        return wrap(confirmed_id, user_id, CONFIRMED_TRIP_KEY, write_ts, zone, data)
    data["confirmed_trip"] = oid(confirmed_id)
    data["locations"] = locations_for(legs, user_id, zone)
    data["sections"] = [section_entry(trip, leg, user_id, zone) for leg in legs]
    data["start_confirmed_place"] = place_entry(view.start_place, user_id, zone)
    data["end_confirmed_place"] = place_entry(view.end_place, user_id, zone)
    return wrap(trip.id, user_id, COMPOSITE_TRIP_KEY, write_ts, zone, data, origin_key=CONFIRMED_TRIP_KEY)


def build_views(
    trips: Sequence[Trip],
    legs: dict[uuid.UUID, list[Leg]],
    inputs: Sequence[OpenpathInput],
    *,
    before: Trip | None,
    after: Trip | None,
    spine: Sequence[Trip] | None = None,
) -> list[TripView]:
    """The trips with their places and inputs. `before` / `after` are the person's trips just before
    the first and just after the last (None at either end of their history); `spine`, when given, holds
    every trip between the first and the last (for a selection with gaps: trips written in a range).

    Inputs linked to a trip by the label matcher (``trip_id``, status applied) go to that trip; the
    others (replaced modes, surveys, notes, unknown values) to the trip or place they overlap most."""
    if not trips:
        return []
    chain = sorted({t.id: t for t in [*(spine or trips), *trips]}.values(), key=lambda t: t.start_ts_ms)
    position = {t.id: i for i, t in enumerate(chain)}
    places: dict[uuid.UUID, Place] = {}

    def shared_place(prev: Trip | None, nxt: Trip | None) -> Place:
        made = make_place(prev, nxt)
        return places.setdefault(made.id, made)

    views: list[TripView] = []
    for trip in trips:
        i = position[trip.id]
        prev = chain[i - 1] if i > 0 else before
        nxt = chain[i + 1] if i + 1 < len(chain) else after
        start, end = shared_place(prev, trip), shared_place(trip, nxt)
        views.append(TripView(trip, legs.get(trip.id, []), start, end, {}, []))
    by_trip = {view.trip.id: view for view in views}
    linked: dict[uuid.UUID, list[OpenpathInput]] = {}
    # candidates for unlinked inputs: our trips and the trips around them (whose matches are dropped)
    candidates: list[Trip | None] = [before, *chain, after]
    spans = [(t.start_ts_ms, t.end_ts_ms) if t is not None else (-1, -1) for t in candidates]
    place_list = list(places.values())
    place_spans = [place_span(p) for p in place_list]
    place_rows: dict[uuid.UUID, list[OpenpathInput]] = {}
    for row in inputs:
        if row.key in PLACE_KEYS:
            j = best_span(row, place_spans)
            if j is not None:
                place_rows.setdefault(place_list[j].id, []).append(row)
            continue
        if row.key not in TRIP_KEYS:
            continue
        if row.trip_id is not None:
            if row.trip_id in by_trip and row.status == LINKED_STATUS:
                linked.setdefault(row.trip_id, []).append(row)
            continue
        j = best_span(row, spans)
        target = candidates[j] if j is not None else None
        if target is not None and target.id in by_trip:
            linked.setdefault(target.id, []).append(row)
    for view in views:
        rows = linked.get(view.trip.id, [])
        view.user_input = user_input_for(view.trip, view.legs, rows)
        view.additions = [input_entry(r) for r in sorted(rows, key=_write_order) if r.key == TRIP_NOTE_KEY]
    for p in place_list:
        rows = place_rows.get(p.id, [])
        survey = _latest(r for r in rows if r.key == PLACE_SURVEY_KEY)
        if survey is not None:
            p.user_input = {"place_user_input": input_entry(survey)}
        p.additions = [input_entry(r) for r in sorted(rows, key=_write_order) if r.key == PLACE_NOTE_KEY]
    return views


def _write_order(row: OpenpathInput) -> tuple[int, str]:
    return (row.write_ts_ms, row.id.hex)


def place_entries(
    views: Sequence[TripView], user_id: uuid.UUID, zone: ZoneInfo, query: FindQuery
) -> list[dict[str, Any]]:
    """The distinct places of the trips whose time field (`query.time_key`) lies in the range."""
    seen: dict[uuid.UUID, Place] = {}
    for view in views:
        seen.setdefault(view.start_place.id, view.start_place)
        seen.setdefault(view.end_place.id, view.end_place)
    low, high = query.start_ms, query.end_ms
    out = []
    for p in sorted(seen.values(), key=lambda p: place_span(p)[0]):
        if query.time_key == "data.enter_ts":
            value = p.enter_ms
        elif query.time_key == "data.exit_ts":
            value = p.exit_ms
        elif query.time_key == "metadata.write_ts":
            value = round(p.write_ts * 1000)
        else:
            value = None
        if value is not None and low <= value <= high:
            out.append(place_entry(p, user_id, zone))
    return out


def is_trip_key(key: str) -> bool:
    return key in (COMPOSITE_TRIP_KEY, CONFIRMED_TRIP_KEY)


def is_input_key(key: str) -> bool:
    return key in INPUT_KEYS


def truncate(entries: list[dict[str, Any]], max_entries: int | None, method: str) -> list[dict[str, Any]]:
    """e-mission's truncation (``cfc_webapp.getTimeseriesEntries``): the first or last `max_entries`,
    or every n-th entry so that at most `max_entries` remain."""
    if max_entries is None or len(entries) <= max_entries:
        return entries
    if method == "first":
        return entries[:max_entries]
    if method == "last":
        return entries[-max_entries:]
    return entries[:: len(entries) // max_entries + 1]


# -- metrics ----------------------------------------------------------------------------------------


def _group_value(grouping: str, user_input: dict[str, Any]) -> str:
    name = "replaced_mode" if grouping == "replaced_mode_confirm" else grouping
    value = user_input.get(name)
    return str(value) if isinstance(value, str) and value else UNLABELED


def metrics_answer(
    views: Sequence[TripView], query: MetricsQuery, zone: ZoneInfo
) -> dict[str, list[dict[str, Any]]]:
    """The person's own figures per local day and group, in the app's older ``MetricsData`` form
    (``metricsTypes.ts``; what e-mission-common ``munge_agg_metrics`` makes of its summaries):
    ``{metric: [{"date", "nUsers": 1, "<field>_<value>": figure}]}``. A trip counts on the local day it
    starts; a trip without a label counts under ``UNLABELED``, as e-mission-common groups it; distance
    in metres, duration in seconds, footprint ``{"kg_co2": our CO2e / 1000, "kwh": 0}``."""
    days: dict[str, list[TripView]] = {}
    for view in views:
        day = _moment(view.trip.start_ts_ms / 1000, zone).date()
        if query.start <= day <= query.end:
            days.setdefault(day.isoformat(), []).append(view)
    answer: dict[str, list[dict[str, Any]]] = {metric: [] for metric in METRICS}
    for metric, fields in query.metric_list.items():
        for day_name in sorted(days):
            row: dict[str, Any] = {"date": day_name, "nUsers": 1}
            for view in days[day_name]:
                trip = view.trip
                for grouping in fields:
                    name = f"{grouping}_{_group_value(grouping, view.user_input)}"
                    if metric == "footprint":
                        acc = row.setdefault(name, {"kg_co2": 0.0, "kwh": 0.0})
                        acc["kg_co2"] = round(acc["kg_co2"] + trip.co2e_g / 1000, 6)
                    elif metric == "count":
                        row[name] = row.get(name, 0) + 1
                    elif metric == "distance":
                        row[name] = round(row.get(name, 0.0) + trip.distance_m, 3)
                    else:
                        row[name] = row.get(name, 0.0) + (trip.end_ts_ms - trip.start_ts_ms) / 1000
            answer[metric].append(row)
    return answer
