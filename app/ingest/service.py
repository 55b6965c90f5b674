"""Ingest: store a batch read into columns (app/ingest/reader.py) in one transaction.

Points that repeat a time already held (or repeated within the batch) are duplicates: the first one wins,
so a phone may resend a batch after a lost answer without creating anything twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.ingest import repository as store
from app.ingest.reader import Batch
from app.ingest.repository import ActivityColumns, PointColumns


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    activities_received: int


async def store_columns(
    session: AsyncSession, user_id: uuid.UUID, cols: PointColumns, acts: ActivityColumns
) -> int:
    """Store points and activities, and count the new points for the pipeline; returns how many were new.
    Every way in (the phone's API, e-mission phones, imports) goes through here. The caller commits."""
    accepted = await store.store_points(session, user_id, cols)
    await store.insert_activities(session, user_id, acts)
    return accepted


async def ingest_batch(session: AsyncSession, user_id: uuid.UUID, batch: Batch) -> IngestResult:
    """Store a batch and count it for the pipeline; commits, so a 202 means it is on disk."""
    accepted = await store_columns(session, user_id, batch.points, batch.activities)
    await session.commit()
    return IngestResult(
        accepted=accepted,
        duplicates=batch.points_sent - accepted,
        activities_received=len(batch.activities),
    )
