"""Queries behind the territory's statistics: zone sets, rollup maintenance, grouped reads, the budget."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.models import Consent, ConsentEvent, Leg, PrivacyBudget, Rollup, Trip, Zone, ZoneSet
from app.territory import SharedTrip, ZoneIndex, ZoneShape, rollup_rows

PURPOSE = "territory_statistics"
_indexes: dict[tuple[uuid.UUID, datetime], ZoneIndex] = {}


async def zone_sets(session: AsyncSession) -> list[ZoneSet]:
    return list(await session.scalars(sa.select(ZoneSet).order_by(ZoneSet.created_at, ZoneSet.name)))


async def zone_shapes(session: AsyncSession, zone_set_id: uuid.UUID) -> list[ZoneShape]:
    rows = await session.scalars(sa.select(Zone).where(Zone.zone_set_id == zone_set_id).order_by(Zone.code))
    return [ZoneShape(z.code, z.name, z.geometry) for z in rows]


async def indexes(
    session: AsyncSession, only: set[uuid.UUID] | None = None
) -> list[tuple[uuid.UUID, ZoneIndex | None]]:
    """Every zone set with its point locator (None for the grid), built once per process and set."""
    result: list[tuple[uuid.UUID, ZoneIndex | None]] = []
    for zs in await zone_sets(session):
        if only is not None and zs.id not in only:
            continue
        if zs.kind == "grid":
            result.append((zs.id, None))
            continue
        key = (zs.id, zs.created_at)
        if key not in _indexes:
            _indexes[key] = ZoneIndex(await zone_shapes(session, zs.id))
        result.append((zs.id, _indexes[key]))
    return result


async def consent_history(session: AsyncSession, user_id: uuid.UUID) -> list[tuple[int, bool]]:
    rows = await session.execute(
        sa.select(ConsentEvent.at, ConsentEvent.granted)
        .where(ConsentEvent.user_id == user_id, ConsentEvent.purpose == PURPOSE)
        .order_by(ConsentEvent.at)
    )
    return [(int(at.timestamp() * 1000), granted) for at, granted in rows.all()]


def _day_bounds(days: set[int], tz: ZoneInfo) -> tuple[int, int]:
    first, last = min(days), max(days)
    start = datetime(first // 10000, first // 100 % 100, first % 100, tzinfo=tz)
    end = datetime(last // 10000, last // 100 % 100, last % 100, tzinfo=tz) + timedelta(days=1)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


async def rebuild_rollups(
    session: AsyncSession,
    user_id: uuid.UUID,
    tz: ZoneInfo,
    days: set[int] | None = None,
    only_zone_sets: set[uuid.UUID] | None = None,
) -> int:
    """Redo a person's rollup rows for some local days (all when None); the caller commits."""
    from app.territory import local_day

    if days is not None and not days:
        return 0
    history = await consent_history(session, user_id)
    query = sa.select(Trip).where(Trip.user_id == user_id)
    if days is not None:
        lo, hi = _day_bounds(days, tz)
        query = query.where(Trip.start_ts_ms >= lo, Trip.start_ts_ms < hi)
    trips = [t for t in await session.scalars(query) if days is None or local_day(t.start_ts_ms, tz) in days]
    legs: dict[uuid.UUID, list[tuple[str, float, float]]] = {}
    if trips and history:
        rows = await session.execute(
            sa.select(Leg.trip_id, Leg.mode, Leg.distance_m, Leg.co2e_g).where(
                Leg.trip_id.in_([t.id for t in trips])
            )
        )
        for trip_id, mode, distance, co2e in rows.all():
            legs.setdefault(trip_id, []).append((mode, distance, co2e))
    shared = [
        SharedTrip(
            user_id=user_id,
            start_ts_ms=t.start_ts_ms,
            start_lat=t.shared_start_lat,
            start_lon=t.shared_start_lon,
            end_lat=t.shared_end_lat if t.shared_end_lat is not None else t.shared_start_lat,
            end_lon=t.shared_end_lon if t.shared_end_lon is not None else t.shared_start_lon,
            share=min(1.0, (t.shared_distance_m or 0.0) / t.distance_m) if t.distance_m > 0 else 0.0,
            legs=legs.get(t.id, []),
        )
        for t in trips
        if t.shared_start_lat is not None and t.shared_start_lon is not None
    ]
    sets = await indexes(session, only_zone_sets)
    delete = sa.delete(Rollup).where(Rollup.user_id == user_id)
    if days is not None:
        delete = delete.where(Rollup.day.in_(sorted(days)))
    if only_zone_sets is not None:
        delete = delete.where(Rollup.zone_set_id.in_(only_zone_sets))
    await session.execute(delete)
    new_rows = rollup_rows(shared, history, sets, tz) if history else []
    if new_rows:
        await session.execute(sa.insert(Rollup), new_rows)
    return len(new_rows)


async def contributions(
    session: AsyncSession,
    zone_set_id: uuid.UUID,
    day_from: int,
    day_to: int,
    dims: Sequence[str],
    zone: str | None = None,
) -> list[tuple[Any, ...]]:
    """(dims..., person, trips, distance_m, co2e_g) per person and cell, for people whose consent stands."""
    columns = [getattr(Rollup, d) for d in dims]
    query = (
        sa.select(*columns, Rollup.user_id, sa.func.sum(Rollup.trips), sa.func.sum(Rollup.distance_m),
                  sa.func.sum(Rollup.co2e_g))
        .join(Consent, sa.and_(Consent.user_id == Rollup.user_id, Consent.purpose == PURPOSE))
        .where(Consent.granted.is_(True), Rollup.zone_set_id == zone_set_id, Rollup.day >= day_from,
               Rollup.day <= day_to)
        .group_by(*columns, Rollup.user_id)
    )  # fmt: skip
    if zone is not None:
        query = query.where(Rollup.origin_zone == zone)
    return [tuple(row) for row in (await session.execute(query)).all()]


async def spend_budget(
    session: AsyncSession, operator_id: uuid.UUID, epsilon: float, budget: float
) -> float | None:
    """Charge ε to the operator's budget of this month; None (and nothing charged) when it would exceed."""
    period = datetime.now(UTC).strftime("%Y-%m")
    query = sa.select(PrivacyBudget).where(
        PrivacyBudget.operator_id == operator_id, PrivacyBudget.period == period
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = await session.scalar(query)
    spent = row.epsilon_spent if row else 0.0
    if spent + epsilon > budget + 1e-9:
        return None
    if row is None:
        session.add(PrivacyBudget(operator_id=operator_id, period=period, epsilon_spent=epsilon))
    else:
        row.epsilon_spent = spent + epsilon
    await session.flush()
    return budget - spent - epsilon
