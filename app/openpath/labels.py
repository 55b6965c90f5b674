"""The labels people enter in the OpenPATH app, kept as sent and applied to their trips.

The app writes each label as a usercache entry (e-mission-phone ``www/js/survey/multilabel``):
``{"metadata": {"key": "manual/mode_confirm", "write_ts", "time_zone", "platform", ...},
"data": {"start_ts", "end_ts", "label", "start_local_dt", "end_local_dt", ...}}`` -- the trip it labels
is told by its times, as the app knew them. ENKETO survey answers (``manual/trip_user_input``) carry
``xmlResponse`` / ``jsonDocResponse`` instead of a label; notes are ``manual/*_addition_input``.

Here, every such entry is stored once (per key, ``write_ts`` and ``start_ts``) and served back to the
app. A mode or purpose label is then applied to the trip that overlaps its time span most:

* a mode (``vocabulary.MODE_LABELS``) becomes the person's correction of the trip's legs
  (``mode_source`` "user", never overwritten by reprocessing): the longest leg and every other leg not
  on foot take it; legs on foot keep theirs unless the label itself is on foot (then all legs);
* a purpose (``vocabulary.PURPOSE_LABELS``) becomes the trip's purpose (``purpose_source`` "user");
* ``not_a_trip`` deletes the trip, as ``DELETE /v1/me/trips/{id}`` does;
* among labels of one key for one trip, the latest ``write_ts`` wins (status ``superseded`` for the
  others);
* a label whose trip is not built yet stays ``pending``, and the pipeline applies it when the trip is;
* a value not in the tables is kept (``unknown-label``) and changes nothing.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.emissions import EmissionPolicy
from app.footprint.service import leg_figures, load_context
from app.models import Leg, OpenpathInput, Trip
from app.openpath.vocabulary import (
    INPUT_KEYS,
    MODE_KEY,
    MODE_LABELS,
    NOT_A_TRIP,
    PURPOSE_KEY,
    PURPOSE_LABELS,
)
from app.statistics.zones import local_day
from app.trips import repository as trip_store
from app.trips.service import set_purpose, trips_changed

#: keys whose label changes the trip
APPLIED_KEYS = (MODE_KEY, PURPOSE_KEY)
FOOT_MODES = frozenset({"walk", "run"})
MAX_ENTRY_BYTES = 256 * 1024
MAX_LABEL_CHARS = 100
_MIN_TS_S, _MAX_TS_S = 0.0, 253402300799.0  # 1970 .. 9999-12-31T23:59:59Z


@dataclass
class InputReport:
    """What became of the user inputs of one upload (the `labels` part of `/usercache/put`'s answer)."""

    stored: int = 0
    duplicates: int = 0
    applied: int = 0
    pending: int = 0
    unknown: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedInput:
    key: str
    write_ts_ms: int
    start_ts_ms: int
    end_ts_ms: int
    label: str | None
    entry: dict[str, Any]


class InputError(ValueError):
    pass


def _seconds(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name} is not a number")
    try:
        v = float(value)
    except OverflowError:
        raise InputError(f"{name} is out of range") from None
    if not math.isfinite(v) or not _MIN_TS_S <= v <= _MAX_TS_S:
        raise InputError(f"{name} is out of range")
    return v


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def is_input_key(key: str) -> bool:
    return key in INPUT_KEYS


def parse_input(entry: dict[str, Any]) -> ParsedInput:
    """One user-input entry of an upload, checked; raises :class:`InputError` naming what is wrong."""
    metadata, data = entry.get("metadata"), entry.get("data")
    if not isinstance(metadata, dict) or not isinstance(data, dict):
        raise InputError("no metadata or data object")
    key = str(metadata.get("key"))
    write_s = _seconds(metadata.get("write_ts"), "metadata.write_ts")
    start_s = _seconds(data["start_ts"], "data.start_ts") if "start_ts" in data else write_s
    end_s = _seconds(data["end_ts"], "data.end_ts") if "end_ts" in data else start_s
    if end_s < start_s:
        raise InputError("data.end_ts is before data.start_ts")
    label = data.get("label")
    if label is not None and not isinstance(label, str):
        raise InputError("data.label is not a string")
    if label is not None and not 0 < len(label) <= MAX_LABEL_CHARS:
        raise InputError(f"data.label is empty or longer than {MAX_LABEL_CHARS} characters")
    kept = {"metadata": metadata, "data": data}
    if _has_nul(kept):
        raise InputError("a text holds a NUL character")
    if len(json.dumps(kept)) > MAX_ENTRY_BYTES:
        raise InputError(f"the entry is larger than {MAX_ENTRY_BYTES // 1024} KiB")
    return ParsedInput(
        key=key,
        write_ts_ms=round(write_s * 1000),
        start_ts_ms=round(start_s * 1000),
        end_ts_ms=round(end_s * 1000),
        label=label,
        entry=kept,
    )


def _status(parsed: ParsedInput) -> str:
    if parsed.key not in APPLIED_KEYS:
        return "stored"
    table = MODE_LABELS if parsed.key == MODE_KEY else PURPOSE_LABELS
    if parsed.label is None:
        return "stored"
    if parsed.label in table or (parsed.key == MODE_KEY and parsed.label == NOT_A_TRIP):
        return "pending"
    return "unknown-label"


async def store_inputs(
    session: AsyncSession, user_id: uuid.UUID, inputs: Sequence[ParsedInput], report: InputReport
) -> list[uuid.UUID]:
    """Store the inputs not stored yet (one query to find those already there, one insert); the ids of
    those to apply. The caller commits."""
    unique: dict[tuple[str, int, int], ParsedInput] = {}
    for parsed in inputs:
        unique.setdefault((parsed.key, parsed.write_ts_ms, parsed.start_ts_ms), parsed)
    report.duplicates += len(inputs) - len(unique)
    if not unique:
        return []
    for attempt in range(2):
        low = min(k[1] for k in unique)
        high = max(k[1] for k in unique)
        existing = {
            (row.key, row.write_ts_ms, row.start_ts_ms)
            for row in await session.execute(
                sa.select(OpenpathInput.key, OpenpathInput.write_ts_ms, OpenpathInput.start_ts_ms).where(
                    OpenpathInput.user_id == user_id,
                    OpenpathInput.write_ts_ms >= low,
                    OpenpathInput.write_ts_ms <= high,
                )
            )
        }
        fresh = [p for k, p in unique.items() if k not in existing]
        rows: list[dict[str, Any]] = [
            {
                "id": uuid.uuid4(),
                "user_id": user_id,
                "key": p.key,
                "write_ts_ms": p.write_ts_ms,
                "start_ts_ms": p.start_ts_ms,
                "end_ts_ms": p.end_ts_ms,
                "label": p.label,
                "entry": p.entry,
                "trip_id": None,
                "status": _status(p),
            }
            for p in fresh
        ]
        try:
            if rows:
                async with session.begin_nested():  # the same upload sent twice at once: one stores it
                    await session.execute(sa.insert(OpenpathInput), rows)
        except IntegrityError:
            if attempt == 0:
                continue
            raise
        report.duplicates += len(unique) - len(fresh)
        report.stored += len(rows)
        for row in rows:
            if row["status"] == "unknown-label":
                name = f"{row['key'].removeprefix('manual/')}:{row['label']}"
                report.unknown[name] = report.unknown.get(name, 0) + 1
        return [row["id"] for row in rows if row["status"] == "pending"]
    return []


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def _best_trip(item: OpenpathInput, trips: Sequence[Trip]) -> Trip | None:
    """The trip overlapping the label's span most; a label of an instant picks the trip around it."""
    best, best_overlap = None, -1
    for trip in trips:
        if item.end_ts_ms == item.start_ts_ms:
            inside = trip.start_ts_ms <= item.start_ts_ms <= trip.end_ts_ms
            overlap = 0 if inside else -1
        else:
            overlap = _overlap(item.start_ts_ms, item.end_ts_ms, trip.start_ts_ms, trip.end_ts_ms)
            overlap = overlap if overlap > 0 else -1
        if overlap > best_overlap:
            best, best_overlap = trip, overlap
    return best


def mode_targets(legs: Sequence[Leg], mode: str) -> list[Leg]:
    """The legs a trip's mode label applies to: all when the label is on foot, else the longest leg and
    every other leg not on foot."""
    if not legs:
        return []
    if mode in FOOT_MODES:
        return list(legs)
    longest = max(legs, key=lambda leg: leg.distance_m)
    return [leg for leg in legs if leg is longest or leg.mode not in FOOT_MODES]


async def apply_inputs(
    session: AsyncSession,
    policy: EmissionPolicy,
    tz: ZoneInfo,
    user_id: uuid.UUID,
    *,
    ids: Sequence[uuid.UUID] | None = None,
    from_ms: int | None = None,
    rollups: bool = True,
) -> set[int]:
    """Apply the person's mode and purpose labels -- those given by `ids`, or every one from `from_ms`
    on (after the pipeline rebuilt trips from there) -- to their trips; the local days whose trips changed
    (statistics are brought in step here, unless `rollups` is False: the caller then does). The caller
    commits."""
    query = sa.select(OpenpathInput).where(
        OpenpathInput.user_id == user_id,
        OpenpathInput.key.in_(APPLIED_KEYS),
        OpenpathInput.status.in_(("pending", "applied", "superseded")),
    )
    if ids is not None:
        if not ids:
            return set()
        query = query.where(OpenpathInput.id.in_(list(ids)))
    if from_ms is not None:
        query = query.where(OpenpathInput.end_ts_ms >= from_ms)
    items = list((await session.scalars(query.execution_options(populate_existing=True))).all())
    if not items:
        return set()
    low = min(i.start_ts_ms for i in items)
    high = max(i.end_ts_ms for i in items)
    trips = list(
        (
            await session.scalars(
                sa.select(Trip)
                .where(Trip.user_id == user_id, Trip.end_ts_ms >= low, Trip.start_ts_ms <= high)
                .order_by(Trip.start_ts_ms)
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    # the latest label of each key wins for its trip, whichever upload brought it
    matched: dict[tuple[uuid.UUID, str], OpenpathInput] = {}
    for item in items:
        trip = _best_trip(item, trips)
        if trip is None:
            item.status, item.trip_id = "pending", None
            continue
        item.trip_id = trip.id
        slot = (trip.id, item.key)
        if slot in matched and matched[slot].write_ts_ms >= item.write_ts_ms:
            item.status = "superseded"
            continue
        if slot in matched:
            matched[slot].status = "superseded"
        matched[slot] = item
        item.status = "applied"
    if not matched:
        await session.flush()
        return set()
    # an earlier label of the same trip and key stored before this batch loses to a later one
    trip_ids = list({trip_id for trip_id, _ in matched})
    others = await session.scalars(
        sa.select(OpenpathInput).where(
            OpenpathInput.user_id == user_id,
            OpenpathInput.trip_id.in_(trip_ids),
            OpenpathInput.status == "applied",
            OpenpathInput.id.notin_([i.id for i in matched.values()]),
        )
    )
    for other in others:
        mine = matched.get((other.trip_id, other.key)) if other.trip_id else None
        if mine is None:
            continue
        if other.write_ts_ms > mine.write_ts_ms:
            mine.status = "superseded"
            del matched[(other.trip_id, other.key)]  # type: ignore[arg-type]
        else:
            other.status = "superseded"
    by_id = {trip.id: trip for trip in trips}
    legs = await trip_store.legs_of(
        session, user_id, list({trip_id for trip_id, _ in matched}), geometry=False
    )
    days: set[int] = set()
    ctx = None
    for (trip_id, key), item in matched.items():
        trip = by_id[trip_id]
        assert item.label is not None
        if key == PURPOSE_KEY:
            purpose = PURPOSE_LABELS[item.label]
            if trip.purpose != purpose or trip.purpose_source != "user":
                set_purpose(trip, purpose)
                days.add(local_day(trip.start_ts_ms, tz))
            continue
        if item.label == NOT_A_TRIP:
            item.status = "not-a-trip"
            days.add(local_day(trip.start_ts_ms, tz))
            await trip_store.delete_trip(session, trip)
            continue
        meaning = MODE_LABELS[item.label]
        changed = False
        for leg in mode_targets(legs.get(trip_id, []), meaning.mode):
            if leg.mode == meaning.mode and leg.mode_source == "user" and leg.occupants == meaning.occupants:
                continue
            ctx = ctx or await load_context(session, policy, user_id)
            figures = leg_figures(
                ctx,
                mode=meaning.mode,
                mode_source="user",
                distance_m=leg.distance_m,
                great_circle_m=leg.great_circle_m,
                occupants=meaning.occupants,
                start_ts_ms=leg.start_ts_ms,
            )
            for name, value in figures.items():
                setattr(leg, name, value)
            leg.mode_source = "user"
            leg.confidence = 1.0
            changed = True
        if changed:
            await trip_store.refresh_trip_co2(session, trip)
            days.add(local_day(trip.start_ts_ms, tz))
    await session.flush()  # sessions here do not flush by themselves
    if days and rollups:
        await trips_changed(session, user_id, tz, days)
    return days
