"""Queries of imports: a person's history-file imports and their progress."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.ingest.repository import ActivityColumns, PointColumns
from app.models import Import, StagedActivity, StagedPoint, utcnow

#: the states of an import under way
LIVE = ("received", "checking", "storing")


async def add(session: AsyncSession, row: Import) -> Import:
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, user_id: uuid.UUID, import_id: uuid.UUID) -> Import | None:
    return await session.get(Import, (user_id, import_id))


async def of_user(session: AsyncSession, user_id: uuid.UUID, limit: int) -> list[Import]:
    """The person's imports, newest first."""
    rows = await session.scalars(
        sa.select(Import).where(Import.user_id == user_id).order_by(Import.created_at.desc()).limit(limit)
    )
    return list(rows)


# -- staging: a file's points are written in short transactions, then moved into the history in chunks --

_PG_STAGE_POINTS = sa.text(
    """
    INSERT INTO import_staged_points
        (user_id, import_id, ts_ms, lat, lon, accuracy_m, altitude_m, speed_mps, heading_deg)
    SELECT CAST(:user_id AS UUID), CAST(:import_id AS UUID), t.*
    FROM unnest(CAST(:ts_ms AS BIGINT[]), CAST(:lat AS FLOAT8[]), CAST(:lon AS FLOAT8[]),
                CAST(:accuracy_m AS FLOAT4[]), CAST(:altitude_m AS FLOAT4[]),
                CAST(:speed_mps AS FLOAT4[]), CAST(:heading_deg AS FLOAT4[])) AS t
    ON CONFLICT DO NOTHING
    """
)
_SQLITE_STAGE_POINTS = sa.text(
    """
    INSERT INTO import_staged_points
        (user_id, import_id, ts_ms, lat, lon, accuracy_m, altitude_m, speed_mps, heading_deg)
    SELECT :user_id, :import_id, json_extract(value, '$[0]'), json_extract(value, '$[1]'),
           json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'),
           json_extract(value, '$[5]'), json_extract(value, '$[6]')
    FROM json_each(:rows) WHERE true
    ON CONFLICT DO NOTHING
    """
)
_PG_STAGE_ACTIVITIES = sa.text(
    """
    INSERT INTO import_staged_activities (user_id, import_id, ts_ms, activity_type, confidence)
    SELECT CAST(:user_id AS UUID), CAST(:import_id AS UUID), t.*
    FROM unnest(CAST(:ts_ms AS BIGINT[]), CAST(:activity_type AS VARCHAR[]), CAST(:confidence AS INT2[])) AS t
    ON CONFLICT DO NOTHING
    """
)
_SQLITE_STAGE_ACTIVITIES = sa.text(
    """
    INSERT INTO import_staged_activities (user_id, import_id, ts_ms, activity_type, confidence)
    SELECT :user_id, :import_id, json_extract(value, '$[0]'), json_extract(value, '$[1]'),
           json_extract(value, '$[2]')
    FROM json_each(:rows) WHERE true
    ON CONFLICT DO NOTHING
    """
)
_PUBLISH_POINTS = """
    INSERT INTO location_points (user_id, ts_ms, lat, lon, accuracy_m, altitude_m, speed_mps, heading_deg)
    SELECT user_id, ts_ms, lat, lon, accuracy_m, altitude_m, speed_mps, heading_deg
    FROM import_staged_points
    WHERE user_id = :user_id AND import_id = :import_id AND ts_ms <= :through_ms {order}
    ON CONFLICT (user_id, ts_ms) DO NOTHING
"""
_PUBLISH_ACTIVITIES = """
    INSERT INTO motion_activities (user_id, ts_ms, activity_type, confidence)
    SELECT user_id, ts_ms, activity_type, confidence
    FROM import_staged_activities
    WHERE user_id = :user_id AND import_id = :import_id AND ts_ms <= :through_ms {order}
    ON CONFLICT (user_id, ts_ms) DO NOTHING
"""


def _ids(session: AsyncSession, user_id: uuid.UUID, import_id: uuid.UUID) -> dict[str, str]:
    # SQLAlchemy's Uuid type stores 32 hex digits on SQLite; PostgreSQL has a native uuid.
    if session.get_bind().dialect.name == "sqlite":
        return {"user_id": user_id.hex, "import_id": import_id.hex}
    return {"user_id": str(user_id), "import_id": str(import_id)}


async def stage(
    session: AsyncSession,
    user_id: uuid.UUID,
    import_id: uuid.UUID,
    points: PointColumns,
    activities: ActivityColumns,
) -> None:
    """Write a batch of a file's points and hints to the staging tables (a time repeated within the file
    is kept once)."""
    ids = _ids(session, user_id, import_id)
    postgres = session.get_bind().dialect.name == "postgresql"
    if len(points):
        if postgres:
            fields = {name: getattr(points, name) for name in points.__dataclass_fields__}
            await session.execute(_PG_STAGE_POINTS, {**ids, **fields})
        else:
            rows = list(zip(points.ts_ms, points.lat, points.lon, points.accuracy_m, points.altitude_m,
                            points.speed_mps, points.heading_deg, strict=True))  # fmt: skip
            await session.execute(_SQLITE_STAGE_POINTS, {**ids, "rows": json.dumps(rows)})
    if len(activities):
        if postgres:
            fields = {"ts_ms": activities.ts_ms, "activity_type": activities.activity_type,
                      "confidence": activities.confidence}  # fmt: skip
            await session.execute(_PG_STAGE_ACTIVITIES, {**ids, **fields})
        else:
            rows_a = list(zip(activities.ts_ms, activities.activity_type, activities.confidence, strict=True))
            await session.execute(_SQLITE_STAGE_ACTIVITIES, {**ids, "rows": json.dumps(rows_a)})


@dataclass(frozen=True)
class Published:
    """What one chunk of publishing moved: new points, their earliest possible time, new hints, and
    whether the staging tables are now empty for the import."""

    points: int
    earliest_ms: int | None
    activities: int
    done: bool


async def publish_chunk(
    session: AsyncSession, user_id: uuid.UUID, import_id: uuid.UUID, max_points: int
) -> Published:
    """Move the earliest `max_points` staged points of an import (and the hints up to the same time) into
    the person's history, deduplicated against what is held, and drop them from staging. Idempotent: a
    chunk cut short by a crash is moved again, and what was moved before is a duplicate."""
    ids = _ids(session, user_id, import_id)
    staged = (StagedPoint.user_id == user_id) & (StagedPoint.import_id == import_id)
    first = await session.scalar(sa.select(sa.func.min(StagedPoint.ts_ms)).where(staged))
    through = await session.scalar(
        sa.select(StagedPoint.ts_ms).where(staged).order_by(StagedPoint.ts_ms).offset(max_points - 1).limit(1)
    )
    done = through is None
    if done:  # the last chunk takes every hint that is left, whatever its time
        through = 2**62
    # "ORDER BY" keeps SQLite's insert in key order; PostgreSQL needs no hint
    order = "ORDER BY ts_ms" if session.get_bind().dialect.name == "sqlite" else ""
    moved = await session.execute(
        sa.text(_PUBLISH_POINTS.format(order=order)), {**ids, "through_ms": through}
    )
    hints = await session.execute(
        sa.text(_PUBLISH_ACTIVITIES.format(order=order)), {**ids, "through_ms": through}
    )
    await session.execute(sa.delete(StagedPoint).where(staged, StagedPoint.ts_ms <= through))
    await session.execute(
        sa.delete(StagedActivity).where(
            StagedActivity.user_id == user_id,
            StagedActivity.import_id == import_id,
            StagedActivity.ts_ms <= through,
        )
    )
    points = int(moved.rowcount)  # type: ignore[attr-defined]
    return Published(points, first if points else None, int(hints.rowcount), done)  # type: ignore[attr-defined]


async def drop_staged(session: AsyncSession, user_id: uuid.UUID, import_id: uuid.UUID, max_rows: int) -> bool:
    """Delete up to `max_rows` staged points of an import (and, at the end, its hints); True when none is
    left. Done in chunks, so a failed import's cleanup never holds the write lock long."""
    staged = (StagedPoint.user_id == user_id) & (StagedPoint.import_id == import_id)
    through = await session.scalar(
        sa.select(StagedPoint.ts_ms).where(staged).order_by(StagedPoint.ts_ms).offset(max_rows - 1).limit(1)
    )
    if through is not None:
        await session.execute(sa.delete(StagedPoint).where(staged, StagedPoint.ts_ms <= through))
        return False
    await session.execute(sa.delete(StagedPoint).where(staged))
    await session.execute(
        sa.delete(StagedActivity).where(
            StagedActivity.user_id == user_id, StagedActivity.import_id == import_id
        )
    )
    return True


def _the(user_id: uuid.UUID, import_id: uuid.UUID) -> sa.ColumnElement[bool]:
    return (Import.user_id == user_id) & (Import.id == import_id)


async def heartbeat(
    session: AsyncSession, user_id: uuid.UUID, import_id: uuid.UUID, **values: object
) -> None:
    """Note that the import's process is alive (and set `values` on it)."""
    await session.execute(
        sa.update(Import).where(_the(user_id, import_id)).values(heartbeat_at=utcnow(), **values)
    )


async def advance(
    session: AsyncSession, user_id: uuid.UUID, import_id: uuid.UUID, from_status: str, **values: object
) -> bool:
    """Move an import on from `from_status` (setting `values`); False when it is no longer there."""
    result = await session.execute(
        sa.update(Import)
        .where(_the(user_id, import_id), Import.status == from_status)
        .values(heartbeat_at=utcnow(), **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def drop_orphan_staging(session: AsyncSession) -> None:
    """Delete staged rows of imports that are no longer under way (a worker process that went on
    staging after its import was settled)."""
    settled = sa.select(Import.user_id, Import.id).where(Import.status.not_in(LIVE))
    for model in (StagedPoint, StagedActivity):
        await session.execute(sa.delete(model).where(sa.tuple_(model.user_id, model.import_id).in_(settled)))


async def finish(session: AsyncSession, user_id: uuid.UUID, import_id: uuid.UUID, points_read: int) -> None:
    """Mark the import done; what it read and did not add were duplicates of points already held."""
    await session.execute(
        sa.update(Import)
        .where(_the(user_id, import_id))
        .values(
            status="done",
            finished_at=utcnow(),
            duplicates=sa.func.greatest(0, points_read - Import.points_accepted)
            if session.get_bind().dialect.name == "postgresql"
            else sa.func.max(0, points_read - Import.points_accepted),
        )
    )


async def fail_unless_publishing(
    session: AsyncSession, user_id: uuid.UUID, import_id: uuid.UUID, error: str
) -> None:
    """Mark an import under way failed, unless its points already began moving into the history."""
    await session.execute(
        sa.update(Import)
        .where(_the(user_id, import_id), Import.status.in_(LIVE), Import.publishing.is_(False))
        .values(status="failed", error=error, finished_at=utcnow())
    )


async def unfinished(session: AsyncSession) -> list[Import]:
    """Every import under way, whoever runs it."""
    return list(await session.scalars(sa.select(Import).where(Import.status.in_(LIVE))))


async def claim(session: AsyncSession, row: Import, new_runner: str) -> bool:
    """Take over an import from its runner (a stopped process); False when another process took it first."""
    result = await session.execute(
        sa.update(Import)
        .where(
            _the(row.user_id, row.id), Import.status.in_(LIVE), Import.runner.is_not_distinct_from(row.runner)
        )
        .values(runner=new_runner, heartbeat_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def count_published(
    session: AsyncSession, user_id: uuid.UUID, import_id: uuid.UUID, points: int, activities: int
) -> tuple[int, int]:
    """Add a published chunk's counts to the import; returns its totals so far."""
    await session.execute(
        sa.update(Import)
        .where(_the(user_id, import_id))
        .values(
            points_accepted=Import.points_accepted + points,
            activities=Import.activities + activities,
            heartbeat_at=utcnow(),
        )
    )
    row = (
        await session.execute(
            sa.select(Import.points_accepted, Import.activities).where(_the(user_id, import_id))
        )
    ).first()
    return (int(row[0]), int(row[1])) if row is not None else (points, activities)


async def live_of_user(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The ids of a person's imports under way."""
    rows = await session.scalars(
        sa.select(Import.id).where(Import.user_id == user_id, Import.status.in_(LIVE))
    )
    return list(rows)
