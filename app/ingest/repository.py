"""Bulk writes and reads of raw points and motion activities.

A batch of points costs a fixed number of statements, whatever its size. On PostgreSQL the columns travel
as arrays and `unnest` turns them into rows, in one statement that also counts the new points and finds
the earliest of them. On SQLite one indexed read lists the times already held within the batch's span, and
the new rows go in as one `executemany` (bound in C, the rows built by `zip`): cheaper than encoding them
as a JSON text for `json_each` and decoding them back, and the transaction holds SQLite's write lock
(`BEGIN IMMEDIATE`, app/core/db.py), so what the read found is still true when the rows are written.
Both keep `ON CONFLICT DO NOTHING` on the `(user_id, ts_ms)` key: deduplication is an index probe per point,
never a scan of the person's history.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations, compress, repeat
from typing import cast

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import PipelineState, utcnow

_OPTIONAL_READINGS = ("accuracy_m", "altitude_m", "speed_mps", "heading_deg")
_ARRAY_TYPES = {"ts_ms": "BIGINT[]", "lat": "FLOAT8[]", "lon": "FLOAT8[]"} | dict.fromkeys(
    _OPTIONAL_READINGS, "FLOAT4[]"
)


def _pg_points_pending(readings: tuple[str, ...]) -> sa.TextClause:
    # The new points stored and counted as pending (`mark_pending`) in one statement: one round trip, and
    # one row back rather than one per point. A data-modifying CTE runs once whether or not the final
    # SELECT reads it; with no new point it changes nothing.
    names = ("ts_ms", "lat", "lon", *readings)  # fixed names, never a client's
    sql = """
    WITH ins AS (
        INSERT INTO location_points (user_id, {})
        SELECT CAST(:user_id AS UUID), t.* FROM unnest({}) AS t
        ON CONFLICT (user_id, ts_ms) DO NOTHING
        RETURNING ts_ms
    ),
    new AS (SELECT count(*) AS accepted, min(ts_ms) AS earliest FROM ins),
    pending AS (
        UPDATE pipeline_states AS s
        SET pending_points = s.pending_points + new.accepted,
            dirty_from_ms = CASE
                WHEN s.dirty_from_ms IS NULL OR s.dirty_from_ms > new.earliest THEN new.earliest
                ELSE s.dirty_from_ms
            END,
            updated_at = CAST(:now AS TIMESTAMPTZ)
        FROM new
        WHERE s.user_id = CAST(:user_id AS UUID) AND new.accepted > 0
    )
    SELECT accepted, earliest FROM new
    """
    arrays = ", ".join(f"CAST(:{name} AS {_ARRAY_TYPES[name]})" for name in names)
    return sa.text(sql.format(", ".join(names), arrays))


_SQLITE_HELD = sa.text(
    "SELECT ts_ms FROM location_points WHERE user_id = :user_id AND ts_ms BETWEEN :first AND :last"
)


def _sqlite_points(readings: tuple[str, ...]) -> str:
    names = ("user_id", "ts_ms", "lat", "lon", *readings)  # fixed names, never a client's
    sql = "INSERT INTO location_points ({}) VALUES ({}) ON CONFLICT (user_id, ts_ms) DO NOTHING"
    return sql.format(", ".join(names), ", ".join("?" * len(names)))


# The insert of points for each set of optional readings. A reading no point of the batch carries is left
# out of the statement rather than sent as NULL for every row: on SQLite, binding is most of the insert's
# cost, and three absent readings (altitude, speed and heading, which many phones never send) made it twice
# as long; on PostgreSQL each array of 5,000 values, NULLs too, costs half a millisecond to encode.
_SUBSETS = [
    readings for k in range(len(_OPTIONAL_READINGS) + 1) for readings in combinations(_OPTIONAL_READINGS, k)
]
_SQLITE_POINTS = {readings: _sqlite_points(readings) for readings in _SUBSETS}
_PG_POINTS_PENDING = {readings: _pg_points_pending(readings) for readings in _SUBSETS}


_PG_ACTIVITIES = sa.text(
    """
    INSERT INTO motion_activities (user_id, ts_ms, activity_type, confidence)
    SELECT CAST(:user_id AS UUID), t.*
    FROM unnest(CAST(:ts_ms AS BIGINT[]), CAST(:activity_type AS VARCHAR[]), CAST(:confidence AS INT2[])) AS t
    ON CONFLICT (user_id, ts_ms) DO NOTHING
    """
)

_SQLITE_ACTIVITIES = sa.text(
    """
    INSERT INTO motion_activities (user_id, ts_ms, activity_type, confidence)
    SELECT :user_id, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
    FROM json_each(:rows) WHERE true
    ON CONFLICT (user_id, ts_ms) DO NOTHING
    """
)


# (ts_ms, lat, lon, accuracy_m, altitude_m, speed_mps, heading_deg)
PointRow = tuple[int, float, float, float | None, float | None, float | None, float | None]


@dataclass(frozen=True)
class PointColumns:
    """A batch of points as columns, sorted by time, one entry per distinct `ts_ms`."""

    ts_ms: list[int]
    lat: list[float]
    lon: list[float]
    accuracy_m: list[float | None]
    altitude_m: list[float | None]
    speed_mps: list[float | None]
    heading_deg: list[float | None]

    def __len__(self) -> int:
        return len(self.ts_ms)

    @classmethod
    def from_rows(cls, rows: Iterable[PointRow]) -> PointColumns:
        """Columns of (ts_ms, lat, lon, accuracy, altitude, speed, heading) rows: one point per time (the
        first wins, as a resent point is a duplicate), in time order."""
        first: dict[int, PointRow] = {}
        for row in rows:
            first.setdefault(row[0], row)
        chosen = [first[ts] for ts in sorted(first)]
        if not chosen:
            return cls([], [], [], [], [], [], [])
        ts, lat, lon, acc, alt, speed, heading = (list(column) for column in zip(*chosen, strict=True))
        return cls(ts, lat, lon, acc, alt, speed, heading)


@dataclass(frozen=True)
class ActivityColumns:
    ts_ms: list[int]
    activity_type: list[str]
    confidence: list[int | None]

    def __len__(self) -> int:
        return len(self.ts_ms)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, str, int | None]]) -> ActivityColumns:
        """Columns of (ts_ms, type, confidence) rows: one hint per time (the first wins), in time order."""
        first: dict[int, tuple[int, str, int | None]] = {}
        for row in rows:
            first.setdefault(row[0], row)
        chosen = [first[ts] for ts in sorted(first)]
        return cls([r[0] for r in chosen], [r[1] for r in chosen], [r[2] for r in chosen])


def _uuid_param(session: AsyncSession, user_id: uuid.UUID) -> str:
    # SQLAlchemy's Uuid type stores 32 hex digits on SQLite; PostgreSQL has a native uuid.
    return user_id.hex if session.get_bind().dialect.name == "sqlite" else str(user_id)


def _readings(cols: PointColumns) -> tuple[str, ...]:
    return tuple(name for name in _OPTIONAL_READINGS if getattr(cols, name).count(None) != len(cols))


def _pg_params(uid: str, cols: PointColumns, readings: tuple[str, ...]) -> dict[str, object]:
    return {"user_id": uid, **{name: getattr(cols, name) for name in ("ts_ms", "lat", "lon", *readings)}}


async def store_points(session: AsyncSession, user_id: uuid.UUID, cols: PointColumns) -> int:
    """Store the points that are new and count them as waiting for the pipeline; returns how many were new.
    One statement on PostgreSQL; on SQLite the insert, then `mark_pending`."""
    if not len(cols):
        return 0
    if session.get_bind().dialect.name == "postgresql":
        readings = _readings(cols)
        params = _pg_params(_uuid_param(session, user_id), cols, readings) | {"now": utcnow()}
        accepted, _ = (await session.execute(_PG_POINTS_PENDING[readings], params)).one()
        return int(accepted)
    accepted, earliest = await _insert_points_sqlite(session, user_id, cols)
    if accepted and earliest is not None:
        await mark_pending(session, user_id, accepted, earliest)
    return accepted


async def _insert_points_sqlite(
    session: AsyncSession, user_id: uuid.UUID, cols: PointColumns
) -> tuple[int, int | None]:
    """Store the points that are new; return how many were and the earliest of their times."""
    uid = _uuid_param(session, user_id)
    readings = _readings(cols)
    first, last = min(cols.ts_ms), max(cols.ts_ms)
    held = (await session.execute(_SQLITE_HELD, {"user_id": uid, "first": first, "last": last})).scalars()
    rows = zip(
        repeat(uid),
        cols.ts_ms,
        cols.lat,
        cols.lon,
        *(getattr(cols, name) for name in readings),
        strict=False,  # repeat() is endless; the columns have one length (PointColumns)
    )
    held_ms = np.fromiter(held, dtype=np.int64)
    if held_ms.size:  # a resent or overlapping batch: leave out the times already held
        fresh = ~np.isin(np.asarray(cols.ts_ms, dtype=np.int64), held_ms)
        if not fresh.any():
            return 0, None
        new = list(compress(rows, fresh.tolist()))
        earliest = int(np.asarray(cols.ts_ms, dtype=np.int64)[fresh].min())
    else:
        new, earliest = list(rows), first
    connection = await session.connection()
    result = await connection.exec_driver_sql(_SQLITE_POINTS[readings], new)
    return int(result.rowcount), earliest


async def insert_activities(session: AsyncSession, user_id: uuid.UUID, cols: ActivityColumns) -> None:
    if not len(cols):
        return
    uid = _uuid_param(session, user_id)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            _PG_ACTIVITIES,
            {
                "user_id": uid,
                "ts_ms": cols.ts_ms,
                "activity_type": cols.activity_type,
                "confidence": cols.confidence,
            },
        )
    else:
        rows = list(zip(cols.ts_ms, cols.activity_type, cols.confidence, strict=True))
        await session.execute(_SQLITE_ACTIVITIES, {"user_id": uid, "rows": json.dumps(rows)})


_STATES = cast(sa.Table, PipelineState.__table__)
_dirty_from = _STATES.c.dirty_from_ms
# Built once, on the table rather than the mapped class: the request pays neither for building the
# statement nor for the ORM's bulk-update bookkeeping (no loaded state to synchronise here).
_MARK_PENDING = (
    sa.update(_STATES)
    .where(_STATES.c.user_id == sa.bindparam("person"))
    .values(
        pending_points=_STATES.c.pending_points + sa.bindparam("accepted"),
        dirty_from_ms=sa.case(
            (sa.or_(_dirty_from.is_(None), _dirty_from > sa.bindparam("earliest")), sa.bindparam("earliest")),
            else_=_dirty_from,
        ),
        updated_at=sa.bindparam("now"),
    )
)


async def mark_pending(session: AsyncSession, user_id: uuid.UUID, accepted: int, earliest_ts_ms: int) -> None:
    """Count newly stored points as waiting for the pipeline, from their earliest time on."""
    await session.execute(
        _MARK_PENDING, {"person": user_id, "accepted": accepted, "earliest": earliest_ts_ms, "now": utcnow()}
    )


async def pipeline_state(session: AsyncSession, user_id: uuid.UUID) -> PipelineState | None:
    return await session.get(PipelineState, user_id)
