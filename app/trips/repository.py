"""Queries behind the person's trips: pages, one trip, corrections, deletion."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from app.models import Leg, LocationPoint, MotionActivity, Trip


async def page(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    from_ms: int | None,
    to_ms: int | None,
    limit: int,
    after: tuple[int, uuid.UUID] | None,
) -> list[Trip]:
    """Up to `limit` trips, newest first, that overlap [from, to), after the cursor position."""
    query = sa.select(Trip).where(Trip.user_id == user_id)
    if from_ms is not None:
        query = query.where(Trip.end_ts_ms >= from_ms)
    if to_ms is not None:
        query = query.where(Trip.start_ts_ms < to_ms)
    if after is not None:
        start, trip_id = after
        query = query.where(
            sa.or_(Trip.start_ts_ms < start, sa.and_(Trip.start_ts_ms == start, Trip.id < trip_id))
        )
    query = query.order_by(Trip.start_ts_ms.desc(), Trip.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def legs_of(
    session: AsyncSession, user_id: uuid.UUID, trip_ids: list[uuid.UUID], *, geometry: bool
) -> dict[uuid.UUID, list[Leg]]:
    """The legs of some of the person's trips, by trip, in order."""
    if not trip_ids:
        return {}
    query = (
        sa.select(Leg)
        .where(Leg.user_id == user_id, Leg.trip_id.in_(trip_ids))
        .order_by(Leg.trip_id, Leg.seq)
        # rows rebuilt under the same id (the pipeline) are read afresh, not from the session's memory
        .execution_options(populate_existing=True)
    )
    if not geometry:
        query = query.options(defer(Leg.geometry))
    result: dict[uuid.UUID, list[Leg]] = {}
    for leg in await session.scalars(query):
        result.setdefault(leg.trip_id, []).append(leg)
    return result


async def get_trip(session: AsyncSession, user_id: uuid.UUID, trip_id: uuid.UUID) -> Trip | None:
    return await session.scalar(sa.select(Trip).where(Trip.id == trip_id, Trip.user_id == user_id))


async def trips_by_id(session: AsyncSession, user_id: uuid.UUID, trip_ids: set[uuid.UUID]) -> list[Trip]:
    if not trip_ids:
        return []
    return list(await session.scalars(sa.select(Trip).where(Trip.user_id == user_id, Trip.id.in_(trip_ids))))


async def get_leg(
    session: AsyncSession, user_id: uuid.UUID, trip_id: uuid.UUID, leg_id: uuid.UUID
) -> Leg | None:
    return await session.scalar(
        sa.select(Leg).where(Leg.id == leg_id, Leg.trip_id == trip_id, Leg.user_id == user_id)
    )


async def refresh_trip_co2(session: AsyncSession, trip: Trip) -> None:
    """The trip's CO2e as the sum of its legs' (pending changes to the legs are written first)."""
    await session.flush()
    total = await session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Leg.co2e_g), 0.0)).where(
            Leg.user_id == trip.user_id, Leg.trip_id == trip.id
        )
    )
    trip.co2e_g = round(float(total or 0.0), 3)


async def delete_trip(session: AsyncSession, trip: Trip) -> None:
    """Delete a trip, its legs, and the points and motion hints recorded during it."""
    span = (LocationPoint.ts_ms >= trip.start_ts_ms, LocationPoint.ts_ms <= trip.end_ts_ms)
    await session.execute(sa.delete(LocationPoint).where(LocationPoint.user_id == trip.user_id, *span))
    await session.execute(
        sa.delete(MotionActivity).where(
            MotionActivity.user_id == trip.user_id,
            MotionActivity.ts_ms >= trip.start_ts_ms,
            MotionActivity.ts_ms <= trip.end_ts_ms,
        )
    )
    await session.execute(sa.delete(Leg).where(Leg.user_id == trip.user_id, Leg.trip_id == trip.id))
    await session.execute(sa.delete(Trip).where(Trip.user_id == trip.user_id, Trip.id == trip.id))


async def between(session: AsyncSession, user_id: uuid.UUID, from_ms: int, to_ms: int) -> list[Trip]:
    """The person's trips starting in [from, to), oldest first."""
    return list(
        await session.scalars(
            sa.select(Trip)
            .where(Trip.user_id == user_id, Trip.start_ts_ms >= from_ms, Trip.start_ts_ms < to_ms)
            .order_by(Trip.start_ts_ms)
        )
    )


async def update_trips(session: AsyncSession, user_id: uuid.UUID, updates: list[dict[str, Any]]) -> None:
    """Write columns of many of the person's trips at once (each dict holds a trip's `id` and its new
    values)."""
    if updates:
        await session.execute(sa.update(Trip), [{**update, "user_id": user_id} for update in updates])
