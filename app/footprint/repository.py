"""Queries of the footprint: the territory's factors, people's declared vehicles, legs' emission columns."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Leg, TerritoryFactor, Trip, UserProfile


async def territory_factors(session: AsyncSession) -> list[TerritoryFactor]:
    """The territory's own emission factors, oldest first (they are never deleted, only superseded)."""
    return list(await session.scalars(sa.select(TerritoryFactor).order_by(TerritoryFactor.valid_from_ms)))


async def add_territory_factor(session: AsyncSession, row: TerritoryFactor) -> TerritoryFactor:
    session.add(row)
    await session.flush()
    return row


async def factor_source_lines(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The source line of each territory factor by id."""
    rows = await session.execute(
        sa.select(TerritoryFactor.id, TerritoryFactor.source).where(TerritoryFactor.id.in_(ids))
    )
    return {factor_id: source for factor_id, source in rows.all()}


async def profile(session: AsyncSession, user_id: uuid.UUID) -> UserProfile | None:
    """What the person declared about their vehicles, if anything."""
    return await session.get(UserProfile, user_id)


async def save_profile(session: AsyncSession, row: UserProfile) -> None:
    session.add(row)
    await session.flush()


async def legs_to_recompute(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Any]:
    """Every leg of a person, with what its emission figures are computed from."""
    rows = await session.execute(
        sa.select(
            Leg.id,
            Leg.mode,
            Leg.mode_source,
            Leg.inferred_mode,
            Leg.distance_m,
            Leg.great_circle_m,
            Leg.occupants,
            Leg.start_ts_ms,
        ).where(Leg.user_id == user_id)
    )
    return rows.all()


async def write_leg_figures(session: AsyncSession, user_id: uuid.UUID, updates: list[dict[str, Any]]) -> None:
    """Write legs' new emission columns, then each of the person's trips as the sum of its legs."""
    await session.execute(sa.update(Leg), [{**update, "user_id": user_id} for update in updates])
    leg_sum = (
        sa.select(sa.func.coalesce(sa.func.sum(Leg.co2e_g), 0.0))
        .where(Leg.user_id == Trip.user_id, Leg.trip_id == Trip.id)
        .scalar_subquery()
    )
    await session.execute(sa.update(Trip).where(Trip.user_id == user_id).values(co2e_g=leg_sum))
