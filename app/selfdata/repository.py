"""Queries behind a person's rights: what is held, export, erasure, consents, zones, access log, retention."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from app.mobility.personal import CONFIRMATIONS_READ, rules_mode_of
from app.models import (
    AccessLogEntry,
    ApiToken,
    Base,
    Consent,
    ConsentEvent,
    Import,
    Leg,
    LocationPoint,
    MotionActivity,
    OpenpathInput,
    OpenpathOpcode,
    PipelineState,
    PrivacyZone,
    Rollup,
    RollupMonthly,
    StagedActivity,
    StagedPoint,
    StatsPersonMonth,
    Trip,
    User,
    UserProfile,
    utcnow,
)
from app.statistics import repository as statistics_store

AnySelect = sa.Select[*tuple[Any, ...]]

# Rows read from the store per round trip while streaming an export.
STREAM_ROWS = 5000


DAY_MS = 86_400_000


async def point_stats(session: AsyncSession, user_id: uuid.UUID) -> tuple[int, int | None, int | None]:
    row = (
        await session.execute(
            sa.select(
                sa.func.count(), sa.func.min(LocationPoint.ts_ms), sa.func.max(LocationPoint.ts_ms)
            ).where(LocationPoint.user_id == user_id)
        )
    ).one()
    return int(row[0]), row[1], row[2]


async def count(session: AsyncSession, model: type[Base], user_id: uuid.UUID) -> int:
    column = model.__table__.c.user_id
    return int(await session.scalar(sa.select(sa.func.count()).where(column == user_id)) or 0)


async def tokens(session: AsyncSession, user_id: uuid.UUID) -> list[ApiToken]:
    return list(
        await session.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at)
        )
    )


async def consents(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Consent]:
    rows = await session.scalars(sa.select(Consent).where(Consent.user_id == user_id))
    return {c.purpose: c for c in rows}


async def consent_events(
    session: AsyncSession, user_id: uuid.UUID, purpose: str | None = None
) -> list[ConsentEvent]:
    query = sa.select(ConsentEvent).where(ConsentEvent.user_id == user_id)
    if purpose is not None:
        query = query.where(ConsentEvent.purpose == purpose)
    return list(await session.scalars(query.order_by(ConsentEvent.at, ConsentEvent.id)))


async def set_consent(
    session: AsyncSession, user_id: uuid.UUID, purpose: str, granted: bool, event: ConsentEvent
) -> None:
    current = await session.get(Consent, (user_id, purpose), with_for_update=True)
    was_granted = current is not None and current.granted
    if current is None:
        session.add(Consent(user_id=user_id, purpose=purpose, granted=granted, updated_at=event.at))
    else:
        current.granted = granted
        current.updated_at = event.at
    session.add(event)
    await session.flush()
    if purpose == statistics_store.PURPOSE and was_granted != granted:
        await statistics_store.consent_changed(session, user_id, granted)


async def zones(session: AsyncSession, user_id: uuid.UUID) -> list[PrivacyZone]:
    return list(
        await session.scalars(
            sa.select(PrivacyZone).where(PrivacyZone.user_id == user_id).order_by(PrivacyZone.created_at)
        )
    )


async def access_log(
    session: AsyncSession, user_id: uuid.UUID, limit: int, before: Any = None
) -> list[AccessLogEntry]:
    query = sa.select(AccessLogEntry).where(AccessLogEntry.user_id == user_id)
    return list(
        await session.scalars(query.order_by(AccessLogEntry.at.desc(), AccessLogEntry.id).limit(limit))
    )


async def log_access(
    session: AsyncSession, user_ids: Sequence[uuid.UUID], actor: str, action: str, reason: str
) -> None:
    """Record that something other than the person read their data (one row per person, one statement)."""
    if not user_ids:
        return
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "user_id": u,
            "at": now,
            "actor": actor[:120],
            "action": action[:60],
            "reason": reason[:300],
        }
        for u in user_ids
    ]
    await session.execute(sa.insert(AccessLogEntry), rows)


async def erase(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Delete the person and every row derived from them, child tables first, in the caller's transaction.

    The foreign keys cascade as well; deleting explicitly keeps erasure complete even where a store runs
    without foreign-key enforcement."""
    for first in (Leg, Trip, LocationPoint, MotionActivity, PipelineState, UserProfile):
        await session.execute(sa.delete(first).where(first.__table__.c.user_id == user_id))
    # What the person adds to the territory's monthly totals leaves them, before their consent and rollups
    # go. After their trips: the worker too takes the trips first, then the consent, so the two never wait
    # for each other in a cycle.
    await statistics_store.person_erased(session, user_id)
    for model in (ConsentEvent, Consent, PrivacyZone, AccessLogEntry, StagedPoint, StagedActivity, Import, Rollup,
                  RollupMonthly, StatsPersonMonth, OpenpathInput, OpenpathOpcode, ApiToken):  # fmt: skip
        column = model.__table__.c.user_id
        await session.execute(sa.delete(model).where(column == user_id))
    await session.execute(sa.delete(User).where(User.id == user_id))


async def stream_rows(conn: AsyncSession, query: AnySelect) -> AsyncIterator[Sequence[Any]]:
    """A query's rows in chunks, through a server-side cursor: memory stays bounded however many there are."""
    result = await conn.stream(query.execution_options(yield_per=STREAM_ROWS))
    async for chunk in result.partitions(STREAM_ROWS):
        yield chunk


def points_query(user_id: uuid.UUID) -> AnySelect:
    return (
        sa.select(
            LocationPoint.ts_ms,
            LocationPoint.lat,
            LocationPoint.lon,
            LocationPoint.accuracy_m,
            LocationPoint.altitude_m,
            LocationPoint.speed_mps,
            LocationPoint.heading_deg,
        )
        .where(LocationPoint.user_id == user_id)
        .order_by(LocationPoint.ts_ms)
    )


def activities_query(user_id: uuid.UUID) -> AnySelect:
    return (
        sa.select(MotionActivity.ts_ms, MotionActivity.activity_type, MotionActivity.confidence)
        .where(MotionActivity.user_id == user_id)
        .order_by(MotionActivity.ts_ms)
    )


def trips_query(user_id: uuid.UUID) -> AnySelect:
    return sa.select(Trip).where(Trip.user_id == user_id).order_by(Trip.start_ts_ms)


async def legs_for(
    conn: AsyncSession, user_id: uuid.UUID, trip_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Leg]]:
    if not trip_ids:
        return {}
    rows = await conn.scalars(
        sa.select(Leg).where(Leg.user_id == user_id, Leg.trip_id.in_(trip_ids)).order_by(Leg.trip_id, Leg.seq)
    )
    result: dict[uuid.UUID, list[Leg]] = {}
    for leg in rows:
        result.setdefault(leg.trip_id, []).append(leg)
    return result


async def purge_points(session: AsyncSession, user_id: uuid.UUID, before_ms: int) -> int:
    result = await session.execute(
        sa.delete(LocationPoint).where(LocationPoint.user_id == user_id, LocationPoint.ts_ms < before_ms)
    )
    await session.execute(
        sa.delete(MotionActivity).where(MotionActivity.user_id == user_id, MotionActivity.ts_ms < before_ms)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def add_privacy_zone(session: AsyncSession, zone: PrivacyZone) -> PrivacyZone:
    session.add(zone)
    await session.flush()
    return zone


async def pipeline_state(session: AsyncSession, user_id: uuid.UUID) -> PipelineState | None:
    return await session.get(PipelineState, user_id)


async def start_of_trip_across(session: AsyncSession, user_id: uuid.UUID, at_ms: int) -> int | None:
    """The start of the person's trip that spans this time, if one does (trips do not overlap, so the last
    one starting before it is the only candidate)."""
    return await session.scalar(
        sa.select(Trip.start_ts_ms)
        .where(Trip.user_id == user_id, Trip.start_ts_ms < at_ms, Trip.end_ts_ms >= at_ms)
        .order_by(Trip.start_ts_ms.desc())
        .limit(1)
    )


async def mark_purged(session: AsyncSession, user_id: uuid.UUID, until_ms: int) -> None:
    await session.execute(
        sa.update(PipelineState).where(PipelineState.user_id == user_id).values(purged_until_ms=until_ms)
    )


async def due_for_purge(session: AsyncSession, now_ms: int, limit: int = 1000) -> list[uuid.UUID]:
    """People whose oldest kept points may be past their retention (one indexed read of small tables)."""
    horizon = sa.literal(now_ms, sa.BigInteger) - sa.cast(User.point_retention_days, sa.BigInteger) * DAY_MS
    rows = await session.scalars(
        sa.select(User.id)
        .join(PipelineState, PipelineState.user_id == User.id)
        .where(
            PipelineState.processed_until_ms.is_not(None),
            sa.func.coalesce(PipelineState.purged_until_ms, 0) < horizon - 3_600_000,
        )
        .limit(limit)
    )
    return list(rows)


async def set_retention_days(session: AsyncSession, user_id: uuid.UUID, days: int) -> None:
    account = await session.get(User, user_id)
    assert account is not None
    account.point_retention_days = days
    await session.flush()


async def consent_event(
    session: AsyncSession, user_id: uuid.UUID, event_id: uuid.UUID
) -> ConsentEvent | None:
    return await session.get(ConsentEvent, (user_id, event_id))


async def privacy_zone(session: AsyncSession, user_id: uuid.UUID, zone_id: uuid.UUID) -> PrivacyZone | None:
    return await session.get(PrivacyZone, (user_id, zone_id))


async def delete_privacy_zone(session: AsyncSession, zone: PrivacyZone) -> None:
    await session.delete(zone)
    await session.flush()


async def everyone(session: AsyncSession) -> list[uuid.UUID]:
    """Every person's id, in id order (administrators' commands run over everyone)."""
    return list(await session.scalars(sa.select(User.id).order_by(User.id)))


def _learned_from(user_id: uuid.UUID) -> tuple[Any, ...]:
    """Conditions of the person's legs whose reasons may name their confirmations (read in Python after:
    the first reason says for sure)."""
    return (Leg.user_id == user_id, sa.cast(Leg.reasons, sa.String).like("%your_confirmations%"))


def _learned(reasons: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The leg's `your_confirmations` reason, when their confirmations revised or backed its mode."""
    first = (reasons or [{}])[0]
    return first if first.get("rule") == "your_confirmations" else None


async def learning_counts(
    session: AsyncSession, user_id: uuid.UUID
) -> tuple[int, list[tuple[str, str]], int, int]:
    """How many legs the person confirmed or corrected; the most recent ones the pipeline learns from
    (the mode they gave, the mode the rules had given); how many inferred legs their confirmations revised
    and backed."""
    mine = (Leg.user_id == user_id, Leg.mode_source == "user")
    total = await session.scalar(sa.select(sa.func.count()).select_from(Leg).where(*mine))
    teaching = await session.execute(
        sa.select(Leg.mode, Leg.inferred_mode, Leg.reasons)
        .where(*mine, Leg.features.is_not(None))
        .order_by(Leg.start_ts_ms.desc())
        .limit(CONFIRMATIONS_READ)
    )
    rows = [(str(mode), rules_mode_of(inferred, reasons)) for mode, inferred, reasons in teaching]
    learned = await session.execute(
        sa.select(Leg.mode, Leg.reasons).where(*_learned_from(user_id), Leg.mode_source != "user")
    )
    revised = agreed = 0
    for mode, reasons in learned:
        reason = _learned(reasons)
        if reason is not None:
            agreed += int(reason.get("rules_mode") == mode)
            revised += int(reason.get("rules_mode") != mode)
    return int(total or 0), rows, revised, agreed


async def set_learning(session: AsyncSession, user_id: uuid.UUID, enabled: bool) -> None:
    await session.execute(sa.update(User).where(User.id == user_id).values(learn_from_confirmations=enabled))


async def learned_legs(session: AsyncSession, user_id: uuid.UUID) -> list[Leg]:
    """The person's legs whose inference their confirmations revised or backed (their own corrections
    among them: what had been inferred of those is kept too)."""
    rows = await session.scalars(
        sa.select(Leg).where(*_learned_from(user_id)).options(defer(Leg.geometry), defer(Leg.features))
    )
    return [leg for leg in rows if _learned(leg.reasons) is not None]
