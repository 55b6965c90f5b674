"""Reading a phone's batch from its JSON bytes straight into columns.

The contract's models (`app/ingest/schemas.py`) build one Python object per point and call a Python
function for each point's time: at 5,000 points a request, that was most of the request's time and, through
the garbage collector, the cause of its slowest answers. A valid batch is read here instead, without a
Python statement per point:

1. pydantic-core checks the body against a mirror of the contract made of plain dictionaries
   (`_FastBatch`): every type, range and required field of `PointIn`, `ActivityIn` and `LocationBatchIn`,
   with times taken as finite numbers or strings;
2. each field becomes a list in one C-level pass (`map(itemgetter(...))`);
3. numpy turns epoch seconds into milliseconds (rounded as `round(seconds * 1000)` is, half to even),
   checks them against the phone's plausible range (1980 to 24 h ahead), and keeps the first point of each
   time, in time order. Times sent as RFC 3339 strings go one by one through the contract's own parser,
   `parse_ts_ms`, since a date-time has to be read as text anyway.

Anything this path cannot accept (a type, a range, a time out of range, an unreadable string) is read again
with the contract's models, whose errors name every offending field (`points/17/lat`). So the models stay
the one definition of what is refused and how it is said; this reader never accepts what they refuse
(tests/ingest/test_reader.py holds both to that, on valid and invalid batches).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter, methodcaller
from typing import Annotated, Any, Literal, NotRequired

import numpy as np
from fastapi.exceptions import RequestValidationError
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic reads TypedDicts from here before Python 3.12

from app.core.schemas import MAX_FUTURE_S, MIN_TS_S, parse_ts_ms
from app.ingest.repository import ActivityColumns, PointColumns
from app.ingest.schemas import (
    MAX_ACTIVITIES,
    MAX_POINTS,
    AccuracyValue,
    ActivityIn,
    ActivityType,
    AltitudeValue,
    ConfidenceValue,
    HeadingValue,
    LatitudeValue,
    LocationBatchIn,
    LongitudeValue,
    PointIn,
    SpeedValue,
)

_Seconds = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Time = _Seconds | Annotated[str, Field(strict=True)]


class _FastPoint(TypedDict):
    __pydantic_config__ = ConfigDict(extra="ignore")  # type: ignore[misc]

    ts: _Time
    lat: LatitudeValue
    lon: LongitudeValue
    accuracy: NotRequired[AccuracyValue]
    altitude: NotRequired[AltitudeValue]
    speed: NotRequired[SpeedValue]
    heading: NotRequired[HeadingValue]


class _FastActivity(TypedDict):
    __pydantic_config__ = ConfigDict(extra="ignore")  # type: ignore[misc]

    ts: _Time
    type: Literal[tuple(t.value for t in ActivityType)]  # type: ignore[valid-type]
    confidence: NotRequired[ConfidenceValue]


class _FastBatch(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    points: Annotated[list[_FastPoint], Field(min_length=1, max_length=MAX_POINTS)]
    activities: NotRequired[Annotated[list[_FastActivity], Field(max_length=MAX_ACTIVITIES)]]


_FAST = TypeAdapter(_FastBatch)
_CONTRACT = TypeAdapter(LocationBatchIn)

#: each model of the contract and its mirror here, whose fields must be the same (a test checks it)
MIRRORS = ((LocationBatchIn, _FastBatch), (PointIn, _FastPoint), (ActivityIn, _FastActivity))


@dataclass(frozen=True)
class Batch:
    """A batch as the store takes it: one point per time, in time order, and how many points were sent."""

    points: PointColumns
    activities: ActivityColumns
    points_sent: int


class _Refused(Exception):
    """The fast path cannot accept the batch; the contract's models say why."""


def _times_ms(values: list[Any], now_s: float) -> np.ndarray:
    """Epoch seconds or RFC 3339 strings as int64 milliseconds, within the phone's plausible range."""
    kinds = set(map(type, values))
    if str in kinds:
        # RFC 3339 strings: each through the contract's parser (it refuses what the contract refuses)
        try:
            values = [parse_ts_ms(v) / 1000 if type(v) is str else v for v in values]
        except ValueError:
            raise _Refused from None
    seconds = np.array(values, dtype=np.float64)
    ms = np.round(seconds * 1000.0)
    if not bool(np.all((ms >= MIN_TS_S * 1000) & (ms <= (now_s + MAX_FUTURE_S) * 1000))):
        raise _Refused
    # strings were parsed to exact milliseconds: dividing then multiplying by 1000 rounds back to them
    return ms.astype(np.int64)


def _first_of_each_time(ts_ms: np.ndarray) -> np.ndarray | None:
    """Indices of the first point of each distinct time, in time order; None when the batch is already
    in strictly increasing time (what phones send), so that nothing has to be reordered."""
    if ts_ms.size < 2 or bool(np.all(ts_ms[1:] > ts_ms[:-1])):
        return None
    _, first = np.unique(ts_ms, return_index=True)  # first occurrences, sorted by time
    return first


def _pick(column: list[Any], order: list[int] | None) -> list[Any]:
    return column if order is None else list(map(column.__getitem__, order))


def _point_columns(points: Sequence[Mapping[str, object]], now_s: float) -> PointColumns:
    ts_ms = _times_ms(list(map(itemgetter("ts"), points)), now_s)
    first = _first_of_each_time(ts_ms)
    order = None if first is None else first.tolist()
    ts = ts_ms.tolist() if first is None else ts_ms[first].tolist()
    lat = _pick(list(map(itemgetter("lat"), points)), order)
    lon = _pick(list(map(itemgetter("lon"), points)), order)
    optional = [
        _pick(list(map(methodcaller("get", name), points)), order)
        for name in ("accuracy", "altitude", "speed", "heading")
    ]
    return PointColumns(ts, lat, lon, *optional)


def _activity_columns(activities: Sequence[Mapping[str, object]], now_s: float) -> ActivityColumns:
    if not activities:
        return ActivityColumns([], [], [])
    ts_ms = _times_ms(list(map(itemgetter("ts"), activities)), now_s)
    first = _first_of_each_time(ts_ms)
    order = None if first is None else first.tolist()
    ts = ts_ms.tolist() if first is None else ts_ms[first].tolist()
    kinds = _pick(list(map(itemgetter("type"), activities)), order)
    confidence = _pick(list(map(methodcaller("get", "confidence"), activities)), order)
    return ActivityColumns(ts, kinds, confidence)


def validate_contract(contract: TypeAdapter[Any], body: bytes) -> Any:
    """The body read with a contract's model; a RequestValidationError (422) naming every offending field
    (under `body`, as FastAPI names them) when it refuses it."""
    try:
        return contract.validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None


def read_with_models(body: bytes) -> Batch:
    """The batch read with the contract's models; a RequestValidationError (422) naming every offending
    field when they refuse it."""
    batch = validate_contract(_CONTRACT, body)
    points = PointColumns.from_rows(
        (p.ts, p.lat, p.lon, p.accuracy, p.altitude, p.speed, p.heading) for p in batch.points
    )
    acts = ActivityColumns.from_rows((a.ts, a.type.value, a.confidence) for a in batch.activities)
    return Batch(points, acts, len(batch.points))


def _read_fast(body: bytes, now_s: float) -> Batch:
    raw = _FAST.validate_json(body)
    points = raw["points"]
    return Batch(
        _point_columns(points, now_s), _activity_columns(raw.get("activities", []), now_s), len(points)
    )


def read_fast(body: bytes, now_s: float) -> Batch | None:
    """The batch read without a Python statement per point; None when this path cannot accept it.

    The garbage collector is paused meanwhile (a few milliseconds, with no await). The checked body is one
    dictionary per point, alive until its columns are made: enough new objects to set off collections
    that would move them to the oldest generation, whose growth then sets off a full collection, 100 ms or
    more in a server, every few batches. Paused, nothing is collected or moved; the dictionaries are freed
    (by reference counting, as they hold no cycle) before it resumes, so they leave nothing to collect.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _read_fast(body, now_s)
    except (ValidationError, _Refused):
        return None
    finally:
        if paused:
            gc.enable()


def read_batch(body: bytes) -> Batch:
    """The batch in `body` as columns, or a RequestValidationError (422) naming every offending field."""
    # What the fast path refuses, the models read again: they say why, and should they accept it (no case
    # is known: tests/ingest/test_reader.py looks for one), theirs is the contract's reading.
    return read_fast(body, time.time()) or read_with_models(body)
