"""Retention: raw points are kept a limited time after they were taken into trips.

Each person chooses how long (`point_retention_days`, 0 to 365, default 30); trips are kept until the
person deletes them or the account. The purge runs in the worker about once an hour and with
`coachco2 purge`. It never deletes points the pipeline still needs: nothing newer than the start of the
person's open tail or than unprocessed points, and never from inside a trip: the cut is moved back to the
start of the trip it would split. Trips before the cut are never rebuilt (the worker starts its windows
at the cut at the earliest), so a purge cannot erase a trip by rebuilding it from missing points.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.selfdata import repository as store

DAY_MS = 86_400_000


@dataclass(frozen=True)
class PurgeResult:
    people: int
    points: int


async def purge_cutoff(session: AsyncSession, user_id: uuid.UUID, now_ms: int) -> int | None:
    """The time before which this person's raw points may go, or None when nothing may."""
    user = await store.user(session, user_id)
    state = await store.pipeline_state(session, user_id)
    if user is None or state is None or state.processed_until_ms is None:
        return None
    limits = [now_ms - user.point_retention_days * DAY_MS, state.processed_until_ms + 1]
    for still_needed in (state.resume_from_ms, state.dirty_from_ms, state.claimed_from_ms):
        if still_needed is not None:
            limits.append(still_needed)
    cutoff = min(limits)
    # Never cut through a trip: trips do not overlap, so the last one starting before the cut is the only
    # one that may straddle it.
    straddling = await store.start_of_trip_across(session, user_id, cutoff)
    if straddling is not None:
        cutoff = straddling
    if state.purged_until_ms is not None and cutoff <= state.purged_until_ms:
        return None
    return cutoff


async def purge_user(session: AsyncSession, user_id: uuid.UUID, now_ms: int) -> int:
    """Delete this person's raw points past their retention; returns how many. The caller commits."""
    cutoff = await purge_cutoff(session, user_id, now_ms)
    if cutoff is None:
        return 0
    deleted = await store.purge_points(session, user_id, cutoff)
    await store.mark_purged(session, user_id, cutoff)
    return deleted


async def purge_all(db: Database, now_ms: int) -> PurgeResult:
    """One pass over everyone due, one short transaction per person."""
    async with db.session() as session:
        people = await store.due_for_purge(session, now_ms)
        await session.commit()
    total = 0
    for user_id in people:
        async with db.session() as session:
            total += await purge_user(session, user_id, now_ms)
            await session.commit()
    return PurgeResult(len(people), total)
