"""Queries of the pipeline worker: claim people with pending points, read their window, write results.

Claims are leases on the person's `pipeline_states` row. On PostgreSQL candidates are picked with
`FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on or take the same person; on SQLite writers
are serialised anyway. A lease expires, so the work of a killed worker passes to another, and a worker
commits its results only if its lease is still its own: no point is lost or processed twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.mobility.personal import CONFIRMATIONS_READ, Confirmation, rules_mode_of
from app.models import Leg, LocationPoint, PipelineState, PrivacyZone, Trip, User, utcnow
from app.selfdata.privacy_zones import Zone


@dataclass(frozen=True)
class Claim:
    user_id: uuid.UUID
    owner: str
    points: int  # pending points this claim accounts for
    from_ms: int | None  # earliest time touched by those points
    resume_from_ms: int | None
    processed_until_ms: int | None
    purged_until_ms: int | None = None
    # the newest point held when the claim was taken: the window stops there, so points that arrive
    # while it is processed stay pending for the next run, which then starts where this one leaves off
    until_ms: int | None = None


def _least(a: Any, b: Any) -> Any:
    """SQL: the smaller of two nullable values (NULL only when both are)."""
    return sa.case((a.is_(None), b), (b.is_(None), a), (b < a, b), else_=a)


def has_work() -> Any:
    """SQL: the person has new points, or a reprocessing an administrator asked for (`request_reprocess`).

    The partial index `ix_pipeline_states_work` holds exactly these rows, so finding work reads the few
    people waiting rather than everyone; queries that use it must repeat this condition as it is (SQLite
    uses a partial index only when the query's WHERE names its condition).
    """
    return sa.or_(PipelineState.pending_points > 0, PipelineState.dirty_from_ms.is_not(None))


async def claim(session: AsyncSession, owner: str, lease_s: float, limit: int) -> list[Claim]:
    """Take up to `limit` people with pending points whose state is not leased by a live worker."""
    now = utcnow()
    free = sa.or_(PipelineState.lease_owner.is_(None), PipelineState.lease_expires_at < now)
    work = has_work()
    query = sa.select(PipelineState.user_id).where(work, free).order_by(PipelineState.updated_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    user_ids = list(await session.scalars(query))
    claims = []
    for user_id in user_ids:
        row = (
            await session.execute(
                sa.update(PipelineState)
                .where(PipelineState.user_id == user_id, free)
                .values(
                    lease_owner=owner,
                    lease_expires_at=now + timedelta(seconds=lease_s),
                    claimed_points=PipelineState.pending_points,
                    # An earlier claim that never committed (its worker died) still needs its window.
                    claimed_from_ms=_least(PipelineState.claimed_from_ms, PipelineState.dirty_from_ms),
                    dirty_from_ms=None,
                )
                .returning(
                    PipelineState.claimed_points,
                    PipelineState.claimed_from_ms,
                    PipelineState.resume_from_ms,
                    PipelineState.processed_until_ms,
                    PipelineState.purged_until_ms,
                )
            )
        ).one_or_none()
        if row is not None:
            # Read after the claim's update, in its transaction: an upload that counted its points before
            # it is committed and seen here; one that counts them after it waits for this commit (the
            # state row is locked), so its points are left to the next run, whole.
            until = await session.scalar(
                sa.select(sa.func.max(LocationPoint.ts_ms)).where(LocationPoint.user_id == user_id)
            )
            claims.append(Claim(user_id, owner, row[0], row[1], row[2], row[3], row[4], until))
    await session.commit()
    return claims


@dataclass(frozen=True)
class Backlog:
    """What waits for the pipeline, over everyone."""

    points: int  # accepted points not yet taken into trips
    people: int  # people with such points
    oldest_ms: int | None  # the time (as the phone recorded it) of the oldest of them


def backlog_query() -> Any:
    """One aggregate over the people waiting, read through `ix_pipeline_states_work`.

    A person's oldest pending point is `dirty_from_ms` before a worker claims them and `claimed_from_ms`
    while it works (points arriving meanwhile lower `dirty_from_ms` again).
    """
    return sa.select(
        sa.func.coalesce(sa.func.sum(PipelineState.pending_points), 0),
        sa.func.count(),
        sa.func.min(PipelineState.dirty_from_ms),
        sa.func.min(PipelineState.claimed_from_ms),
    ).where(has_work(), PipelineState.pending_points > 0)


async def backlog(conn: AsyncConnection) -> Backlog:
    """What waits for the pipeline now (`backlog_query`)."""
    row = (await conn.execute(backlog_query())).one()
    oldest = [int(v) for v in row[2:] if v is not None]
    return Backlog(int(row[0]), int(row[1]), min(oldest) if oldest else None)


async def window_start(session: AsyncSession, claim: Claim) -> int:
    """Where to start reading so that the window begins at a stay, never inside a trip.

    Normally that is the start of the still-open tail. A late point from before it reopens the stretch
    from the end of the last trip that ended before that point (or the start of the history).
    """
    floor = claim.purged_until_ms or 0
    start = claim.from_ms
    if claim.resume_from_ms is not None and (start is None or claim.resume_from_ms <= start):
        return max(claim.resume_from_ms, floor)
    if start is None:
        return floor
    # Trips do not overlap: among the last few that start before the point, one ended before it. Reading
    # them through the (user_id, start_ts_ms) index keeps the cost independent of the history's length.
    recent_ends = await session.scalars(
        sa.select(Trip.end_ts_ms)
        .where(Trip.user_id == claim.user_id, Trip.start_ts_ms < start)
        .order_by(Trip.start_ts_ms.desc())
        .limit(3)
    )
    before = [end for end in recent_ends if end < start]
    # Points before the retention purge are gone: trips there are final, never rebuilt from what is left.
    return max([*before, floor])


@dataclass(frozen=True)
class Window:
    ts_ms: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    accuracy_m: np.ndarray
    speed_mps: np.ndarray
    altitude_m: np.ndarray
    activity_ts_ms: np.ndarray
    activity_kind: np.ndarray
    activity_confidence: np.ndarray


#: rows converted between two turns of the event loop when reading a window
WINDOW_PART_ROWS = 20_000

# A window is read through the database driver itself, a part of WINDOW_PART_ROWS rows at a time, straight
# into numpy columns: SQLAlchemy's row objects and its streaming adapter cost more than the database's own
# work here (64,000 points on SQLite: 0.23 s of CPU through them, 0.14 s without). The queries are the
# key's range scans `(user_id, ts_ms)` of both tables.
_POINTS_SQL = (
    "SELECT ts_ms, lat, lon, accuracy_m, speed_mps, altitude_m FROM location_points "
    "WHERE user_id = {0} AND ts_ms >= {1} AND ts_ms <= {2} ORDER BY ts_ms"
)
_POINT_KINDS = ("int", "float", "float", "float", "float", "float")
_ACTIVITIES_SQL = (
    "SELECT ts_ms, activity_type, confidence FROM motion_activities "
    "WHERE user_id = {0} AND ts_ms >= {1} AND ts_ms <= {2} ORDER BY ts_ms"
)
_ACTIVITY_KINDS = ("int", "object", "float")
#: the upper bound of a window read to the end (no point is stamped anywhere near it)
_NO_END_MS = 2**62


def _array(values: Any, kind: str) -> np.ndarray:
    if kind == "int":
        return np.array(values, dtype=np.int64)
    if kind == "float":
        return np.array(values, dtype=np.float64)  # numpy reads None as NaN
    return np.array(values, dtype=object)


def _add_part(parts: list[list[np.ndarray]], rows: Any, kinds: tuple[str, ...]) -> None:
    for i, values in enumerate(zip(*rows, strict=True)):
        parts[i].append(_array(values, kinds[i]))


def _columns(parts: list[list[np.ndarray]], kinds: tuple[str, ...]) -> list[np.ndarray]:
    return [np.concatenate(p) if p else _array((), kind) for p, kind in zip(parts, kinds, strict=True)]


async def _sqlite_columns(
    driver: Any, sql: str, params: tuple[Any, ...], kinds: tuple[str, ...]
) -> list[np.ndarray]:
    parts: list[list[np.ndarray]] = [[] for _ in kinds]
    cursor = await driver.execute(sql.format("?", "?", "?"), params)
    try:
        while rows := await cursor.fetchmany(WINDOW_PART_ROWS):
            _add_part(parts, rows, kinds)
            await asyncio.sleep(0)  # the server's other requests run between parts
    finally:
        await cursor.close()
    return _columns(parts, kinds)


async def _postgresql_columns(
    driver: Any, sql: str, params: tuple[Any, ...], kinds: tuple[str, ...]
) -> list[np.ndarray]:
    parts: list[list[np.ndarray]] = [[] for _ in kinds]
    cursor = await driver.cursor(sql.format("$1", "$2", "$3"), *params)
    while rows := await cursor.fetch(WINDOW_PART_ROWS):
        _add_part(parts, rows, kinds)
        await asyncio.sleep(0)
    return _columns(parts, kinds)


async def read_window(
    conn: AsyncConnection, user_id: uuid.UUID, start_ms: int, until_ms: int | None = None
) -> Window:
    """The person's points and motion activities from `start_ms` on (up to `until_ms` when given), as
    columns, in time order, both read in one transaction. Read in parts, letting the server's other
    requests run in between: a window of an imported history holds hundreds of thousands of rows."""
    end_ms = _NO_END_MS if until_ms is None else until_ms
    if not conn.in_transaction():
        await conn.begin()  # on SQLite, the "begin" event opens the read transaction (app/core/db.py)
    driver: Any = (await conn.get_raw_connection()).driver_connection
    if conn.dialect.name == "postgresql":
        params: tuple[Any, ...] = (user_id, start_ms, end_ms)
        # asyncpg's cursors live in a transaction; SQLAlchemy opens its own only at its first statement
        transaction = None if driver.is_in_transaction() else driver.transaction(readonly=True)
        if transaction is not None:
            await transaction.start()
        try:
            points = await _postgresql_columns(driver, _POINTS_SQL, params, _POINT_KINDS)
            activities = await _postgresql_columns(driver, _ACTIVITIES_SQL, params, _ACTIVITY_KINDS)
        finally:
            if transaction is not None:
                await transaction.rollback()
    else:
        params = (user_id.hex, start_ms, end_ms)  # SQLAlchemy's Uuid is 32 hex digits on SQLite
        points = await _sqlite_columns(driver, _POINTS_SQL, params, _POINT_KINDS)
        activities = await _sqlite_columns(driver, _ACTIVITIES_SQL, params, _ACTIVITY_KINDS)
    ts, lat, lon, accuracy, speed, altitude = points
    act_ts, act_kind, act_confidence = activities
    return Window(
        ts_ms=ts,
        lat=lat,
        lon=lon,
        accuracy_m=accuracy,
        speed_mps=speed,
        altitude_m=altitude,
        activity_ts_ms=act_ts,
        activity_kind=act_kind,
        activity_confidence=act_confidence,
    )


async def hold_lease(session: AsyncSession, claim: Claim) -> bool:
    """Lock the state row and check the lease is still this worker's (call inside the commit transaction)."""
    query = sa.select(PipelineState.lease_owner).where(PipelineState.user_id == claim.user_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    owner = await session.scalar(query)
    return owner == claim.owner


# No trip lasts longer than this; it bounds the index range read when looking for trips that reach past a
# time (a trip ends after twelve hours without a point at the latest, and no ride lasts two days).
MAX_TRIP_MS = 48 * 3600 * 1000


async def trips_from(
    session: AsyncSession, user_id: uuid.UUID, start_ms: int
) -> list[tuple[Trip, list[Leg]]]:
    """The stored trips that reach past `start_ms`, with their legs."""
    trips = list(
        await session.scalars(
            sa.select(Trip)
            .where(
                Trip.user_id == user_id,
                Trip.start_ts_ms >= start_ms - MAX_TRIP_MS,
                Trip.end_ts_ms > start_ms,
            )
            .order_by(Trip.start_ts_ms)
        )
    )
    if not trips:
        return []
    legs = list(
        await session.scalars(
            sa.select(Leg)
            .where(Leg.user_id == user_id, Leg.trip_id.in_([t.id for t in trips]))
            .order_by(Leg.trip_id, Leg.seq)
        )
    )
    by_trip: dict[uuid.UUID, list[Leg]] = {}
    for leg in legs:
        by_trip.setdefault(leg.trip_id, []).append(leg)
    return [(t, by_trip.get(t.id, [])) for t in trips]


async def labelled_trips(session: AsyncSession, user_id: uuid.UUID, limit: int = 200) -> list[Trip]:
    """The person's most recent trips with a purpose they gave themselves, to inherit from."""
    return list(
        await session.scalars(
            sa.select(Trip)
            .where(Trip.user_id == user_id, Trip.purpose_source == "user")
            .order_by(Trip.start_ts_ms.desc())
            .limit(limit)
        )
    )


async def confirmations(session: AsyncSession, user_id: uuid.UUID) -> list[Confirmation]:
    """The legs the person confirmed or corrected, with their features, most recent first; none when the
    person switched learning off."""
    learning = await session.scalar(sa.select(User.learn_from_confirmations).where(User.id == user_id))
    if not learning:
        return []
    rows = await session.execute(
        sa.select(Leg.mode, Leg.inferred_mode, Leg.reasons, Leg.features, Leg.start_ts_ms)
        .where(Leg.user_id == user_id, Leg.mode_source == "user", Leg.features.is_not(None))
        .order_by(Leg.start_ts_ms.desc())
        .limit(CONFIRMATIONS_READ)
    )
    return [
        Confirmation(mode, rules_mode_of(inferred, reasons), features, start / 1000.0)
        for mode, inferred, reasons, features, start in rows
        if features
    ]


async def privacy_zones(session: AsyncSession, user_id: uuid.UUID) -> list[Zone]:
    rows = await session.scalars(sa.select(PrivacyZone).where(PrivacyZone.user_id == user_id))
    return [Zone(z.lat, z.lon, z.radius_m) for z in rows]


async def replace_trips(
    session: AsyncSession,
    user_id: uuid.UUID,
    old_trip_ids: list[uuid.UUID],
    trips: list[dict[str, Any]],
    legs: list[dict[str, Any]],
) -> None:
    if old_trip_ids:
        await session.execute(sa.delete(Leg).where(Leg.user_id == user_id, Leg.trip_id.in_(old_trip_ids)))
        await session.execute(sa.delete(Trip).where(Trip.id.in_(old_trip_ids), Trip.user_id == user_id))
    if trips:
        await session.execute(sa.insert(Trip), trips)
    if legs:
        await session.execute(sa.insert(Leg), legs)


async def release(
    session: AsyncSession,
    claim: Claim,
    *,
    resume_from_ms: int | None,
    processed_until_ms: int | None,
) -> None:
    """Mark the claimed points as processed and give the lease back."""
    await session.execute(
        sa.update(PipelineState)
        .where(PipelineState.user_id == claim.user_id, PipelineState.lease_owner == claim.owner)
        .values(
            pending_points=PipelineState.pending_points - PipelineState.claimed_points,
            claimed_points=0,
            claimed_from_ms=None,
            resume_from_ms=resume_from_ms,
            processed_until_ms=processed_until_ms,
            lease_owner=None,
            lease_expires_at=None,
            failures=0,
            last_error=None,
            updated_at=utcnow(),
        )
    )


async def request_reprocess(
    session: AsyncSession, user_ids: Sequence[uuid.UUID] | None, since_ms: int
) -> list[uuid.UUID]:
    """Ask the workers to build again the trips of these people (everyone with points when None) from
    ``since_ms`` on, as if their points had just arrived: after a transit network is published, or the
    pipeline improved. Corrections the people made are kept, as on every run. Returns who was marked."""
    query = sa.update(PipelineState).values(
        dirty_from_ms=_least(PipelineState.dirty_from_ms, sa.literal(since_ms))
    )
    if user_ids is not None:
        query = query.where(PipelineState.user_id.in_(list(user_ids)))
    result = await session.execute(query.returning(PipelineState.user_id))
    return list(result.scalars())


#: first wait after a failed run (s), doubled on each further failure up to FAILURE_BACKOFF_MAX_S
FAILURE_BACKOFF_S = 60.0
#: the longest wait between attempts (s): a failing person is still retried every hour, so a fix
#: deployed without any other action takes effect
FAILURE_BACKOFF_MAX_S = 3600.0


def failure_backoff_s(failures: int) -> float:
    """Wait before the next attempt after ``failures`` consecutive failed runs (1, 2, ...)."""
    return float(min(FAILURE_BACKOFF_S * 2 ** max(failures - 1, 0), FAILURE_BACKOFF_MAX_S))


async def record_failure(session: AsyncSession, claim: Claim, error: str) -> int:
    """Count a failed run and hold the lease until the next attempt; returns the failure count.

    The claimed points stay pending and the claimed window stays recorded (the next claim merges
    it), so nothing is lost: the next attempt redoes the whole run.
    """
    failures = await session.scalar(
        sa.select(PipelineState.failures).where(
            PipelineState.user_id == claim.user_id, PipelineState.lease_owner == claim.owner
        )
    )
    if failures is None:
        return 0  # the lease passed to another worker meanwhile
    failures += 1
    now = utcnow()
    await session.execute(
        sa.update(PipelineState)
        .where(PipelineState.user_id == claim.user_id, PipelineState.lease_owner == claim.owner)
        .values(
            failures=failures,
            last_failure_at=now,
            last_error=error[:120],
            lease_expires_at=now + timedelta(seconds=failure_backoff_s(failures)),
        )
    )
    return int(failures)


async def close_timed_out_trips(session: AsyncSession, before_ms: int) -> int:
    """Close open trips whose last point is older than the trip time-out."""
    result = await session.execute(
        sa.update(Trip).where(Trip.status == "open", Trip.end_ts_ms < before_ms).values(status="closed")
    )
    await session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
