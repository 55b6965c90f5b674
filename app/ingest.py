"""Ingest: turn a validated batch into columns and store it in one transaction.

Points that repeat a time already held (or repeated within the batch) are duplicates: the first one wins,
so a phone may resend a batch after a lost answer without creating anything twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.schemas.ingest import ActivityIn, LocationBatchIn, PointIn
from app.store import points as store
from app.store.points import ActivityColumns, PointColumns


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    activities_received: int


def _first_per_ts(items: Sequence[PointIn | ActivityIn]) -> list[int]:
    """Indices of the first item for each distinct ts, in time order."""
    first: dict[int, int] = {}
    for i, item in enumerate(items):
        first.setdefault(item.ts, i)
    return [first[ts] for ts in sorted(first)]


def point_columns(points: list[PointIn]) -> PointColumns:
    keep = [points[i] for i in _first_per_ts(points)]
    return PointColumns(
        ts_ms=[p.ts for p in keep],
        lat=[p.lat for p in keep],
        lon=[p.lon for p in keep],
        accuracy_m=[p.accuracy for p in keep],
        altitude_m=[p.altitude for p in keep],
        speed_mps=[p.speed for p in keep],
        heading_deg=[p.heading for p in keep],
    )


def activity_columns(activities: list[ActivityIn]) -> ActivityColumns:
    keep = [activities[i] for i in _first_per_ts(activities)]
    return ActivityColumns(
        ts_ms=[a.ts for a in keep],
        activity_type=[a.type.value for a in keep],
        confidence=[a.confidence for a in keep],
    )


async def store_columns(
    session: AsyncSession, user_id: uuid.UUID, cols: PointColumns, acts: ActivityColumns
) -> int:
    """Store points and activities, and count the new points for the pipeline; returns how many were new.
    Every way in (the phone's API, e-mission phones, imports) goes through here. The caller commits."""
    accepted, earliest = await store.insert_points(session, user_id, cols)
    await store.insert_activities(session, user_id, acts)
    if accepted and earliest is not None:
        await store.mark_pending(session, user_id, accepted, earliest)
    return accepted


async def ingest_batch(session: AsyncSession, user_id: uuid.UUID, batch: LocationBatchIn) -> IngestResult:
    """Store a batch and count it for the pipeline; commits, so a 202 means it is on disk."""
    cols = point_columns(batch.points)
    acts = activity_columns(batch.activities)
    accepted = await store_columns(session, user_id, cols, acts)
    await session.commit()
    return IngestResult(
        accepted=accepted, duplicates=len(batch.points) - accepted, activities_received=len(acts)
    )
