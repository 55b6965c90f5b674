"""Queries of imports: a person's history-file imports and their progress."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Import, utcnow


async def add(session: AsyncSession, row: Import) -> Import:
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, import_id: uuid.UUID) -> Import | None:
    return await session.get(Import, import_id)


async def of_user(session: AsyncSession, user_id: uuid.UUID, limit: int) -> list[Import]:
    """The person's imports, newest first."""
    rows = await session.scalars(
        sa.select(Import).where(Import.user_id == user_id).order_by(Import.created_at.desc()).limit(limit)
    )
    return list(rows)


async def fail_unfinished(session: AsyncSession, started_before: datetime, error: str) -> int:
    """Mark as failed the imports still under way that began before a time; how many there were."""
    result = await session.execute(
        sa.update(Import)
        .where(Import.status.in_(("received", "checking", "storing")), Import.created_at < started_before)
        .values(status="failed", error=error, finished_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
