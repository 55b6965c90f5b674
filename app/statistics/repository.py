"""Queries behind the territory's statistics: zone sets, rollup maintenance, grouped reads, the budget."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Consent,
    ConsentEvent,
    Leg,
    PrivacyMonth,
    PrivacyRelease,
    Publication,
    Rollup,
    RollupMonthly,
    StatsCell,
    StatsPersonMonth,
    Trip,
    Zone,
    ZoneSet,
)
from app.statistics.disclosure import Caps
from app.statistics.privacy import FLOOR_TOLERANCE, TRIP_UNITS, capped_units
from app.statistics.zones import SharedTrip, ZoneIndex, ZoneShape, rollup_rows

PURPOSE = "territory_statistics"
#: The most one person-month adds to a release (app/statistics/service.py reads them here, so that the
#: monthly totals kept in `stats_cells` are bounded as releases bound them).
CAPS = Caps()
#: How many rows each cell of `stats_cells` is spread over (by the person's id): people processed at the
#: same moment seldom update the same row, so they seldom wait for each other's commit.
SHARDS = 16
_indexes: dict[tuple[uuid.UUID, datetime], ZoneIndex] = {}


async def zone_sets(session: AsyncSession) -> list[ZoneSet]:
    return list(await session.scalars(sa.select(ZoneSet).order_by(ZoneSet.created_at, ZoneSet.name)))


async def zone_shapes(session: AsyncSession, zone_set_id: uuid.UUID) -> list[ZoneShape]:
    rows = await session.scalars(sa.select(Zone).where(Zone.zone_set_id == zone_set_id).order_by(Zone.code))
    return [ZoneShape(z.code, z.name, z.geometry) for z in rows]


async def publication_body(
    session: AsyncSession, zone_set_id: uuid.UUID, month: int
) -> dict[str, Any] | None:
    """The stored body of a zone set's publication of a month (YYYYMM), if made."""
    body = await session.scalar(
        sa.select(Publication.body).where(Publication.zone_set_id == zone_set_id, Publication.month == month)
    )
    return dict(body) if body is not None else None


async def zone_codes(session: AsyncSession, zone_set_id: uuid.UUID) -> set[str]:
    return set(await session.scalars(sa.select(Zone.code).where(Zone.zone_set_id == zone_set_id)))


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
    from app.statistics.zones import local_day

    if days is not None and not days:
        return 0
    # The consent row first (locked on PostgreSQL until commit), then the rollups: the order an erasure
    # and a consent change take too, so that none of them waits for another in a cycle.
    await _consent_stands(session, user_id)
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
                Leg.user_id == user_id, Leg.trip_id.in_([t.id for t in trips])
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
    await rebuild_monthly(
        session, user_id, None if days is None else {d // 100 for d in days}, only_zone_sets
    )
    return len(new_rows)


async def rebuild_monthly(
    session: AsyncSession, user_id: uuid.UUID, months: set[int] | None, only_zone_sets: set[uuid.UUID] | None
) -> None:
    """Sum a person's daily rollups of some months (all when None) into the monthly table, and move the
    territory's monthly totals by the difference the person's new figures make (when their consent stands)."""
    counted = await _consent_stands(session, user_id)
    before = (
        cell_contributions(await _monthly_rows(session, user_id, months, only_zone_sets)) if counted else {}
    )
    month = Rollup.day // 100
    source = sa.select(
        Rollup.user_id, Rollup.zone_set_id, month, Rollup.mode,
        sa.func.sum(Rollup.trips), sa.func.sum(Rollup.distance_m), sa.func.sum(Rollup.co2e_g),
    ).where(Rollup.user_id == user_id)  # fmt: skip
    delete = sa.delete(RollupMonthly).where(RollupMonthly.user_id == user_id)
    if months is not None:
        source = source.where(month.in_(sorted(months)))
        delete = delete.where(RollupMonthly.month.in_(sorted(months)))
    if only_zone_sets is not None:
        source = source.where(Rollup.zone_set_id.in_(only_zone_sets))
        delete = delete.where(RollupMonthly.zone_set_id.in_(only_zone_sets))
    await session.execute(delete)
    columns = ["user_id", "zone_set_id", "month", "mode", "trips", "distance_m", "co2e_g"]
    await session.execute(
        sa.insert(RollupMonthly).from_select(
            columns, source.group_by(Rollup.user_id, Rollup.zone_set_id, month, Rollup.mode)
        )
    )
    if counted:
        after = cell_contributions(await _monthly_rows(session, user_id, months, only_zone_sets))
        await _move_cells(session, user_id, before, after)
    present = sa.select(RollupMonthly.user_id, RollupMonthly.zone_set_id, RollupMonthly.month).where(
        RollupMonthly.user_id == user_id
    )
    forget = sa.delete(StatsPersonMonth).where(StatsPersonMonth.user_id == user_id)
    if months is not None:
        present = present.where(RollupMonthly.month.in_(sorted(months)))
        forget = forget.where(StatsPersonMonth.month.in_(sorted(months)))
    if only_zone_sets is not None:
        present = present.where(RollupMonthly.zone_set_id.in_(only_zone_sets))
        forget = forget.where(StatsPersonMonth.zone_set_id.in_(only_zone_sets))
    await session.execute(forget)
    await session.execute(
        sa.insert(StatsPersonMonth).from_select(["user_id", "zone_set_id", "month"], present.distinct())
    )


# -- the territory's monthly totals --
# `stats_cells` holds, per zone set, local month and mode ("" for all modes), what a release by month bounds:
# each consenting person-month's figures scaled down to the caps and floored to whole units
# (`privacy.capped_units`), summed, with the number of person-months behind. It moves whenever a person's
# monthly rollups, consent or account change, in the same transaction, so a release over whole months reads
# cells and months. Invariant: every cell is the sum, over people whose consent stands, of
# `cell_contributions` of their monthly rollups (tests/statistics/test_stats_cells.py checks it).

CellKey = tuple[uuid.UUID, int, str, int]  # zone set, month (YYYYMM), mode ("" for all), shard
MonthlyRow = tuple[uuid.UUID, uuid.UUID, int, str, float, float, float]  # person, zone set, month, mode, sums


def cell_contributions(rows: Sequence[MonthlyRow], caps: Caps = CAPS) -> dict[CellKey, npt.NDArray[np.int64]]:
    """What people's monthly rollups add to the territory's monthly totals: per cell, (person-months,
    milli-trips, metres, grams), each person-month bounded over its modes as a release by month bounds it
    (per mode for the modal share, once over all modes for the totals of a month)."""
    if not rows:
        return {}
    units: dict[tuple[uuid.UUID, uuid.UUID, int], int] = {}
    unit = np.fromiter(
        (units.setdefault((r[0], r[1], int(r[2])), len(units)) for r in rows), dtype=np.int64, count=len(rows)
    )
    raw = np.array([(r[4], r[5], r[6]) for r in rows], dtype=float).reshape(-1, 3)
    sums = np.zeros((len(units), 3))
    np.add.at(sums, unit, raw)  # before capping, as SQL sums a person-month's modes
    per_mode = capped_units(raw, unit, caps)
    per_month = capped_units(sums, np.arange(len(units), dtype=np.int64), caps)
    cells: dict[CellKey, npt.NDArray[np.int64]] = {}
    one = np.array([1], dtype=np.int64)
    keys = list(units)
    for i, row in enumerate(rows):
        person, zone_set_id, month = keys[unit[i]]
        key = (zone_set_id, month, str(row[3]), person.int % SHARDS)
        cells[key] = cells.get(key, 0) + np.concatenate([one, per_mode[i]])
    for u, (person, zone_set_id, month) in enumerate(keys):
        key = (zone_set_id, month, "", person.int % SHARDS)
        cells[key] = cells.get(key, 0) + np.concatenate([one, per_month[u]])
    return cells


async def _consent_stands(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Whether the person's consent to the territory's statistics stands; on PostgreSQL the consent row is
    locked until commit, so a consent change and a rewrite of the person's rollups move the totals one
    after the other, each from what the other left."""
    query = (
        sa.select(Consent.granted)
        .where(Consent.user_id == user_id, Consent.purpose == PURPOSE)
        .with_for_update()
    )
    return bool(await session.scalar(query))


async def _monthly_rows(
    session: AsyncSession, user_id: uuid.UUID, months: set[int] | None, only_zone_sets: set[uuid.UUID] | None
) -> list[MonthlyRow]:
    query = sa.select(
        RollupMonthly.user_id, RollupMonthly.zone_set_id, RollupMonthly.month, RollupMonthly.mode,
        RollupMonthly.trips, RollupMonthly.distance_m, RollupMonthly.co2e_g,
    ).where(RollupMonthly.user_id == user_id)  # fmt: skip
    if months is not None:
        query = query.where(RollupMonthly.month.in_(sorted(months)))
    if only_zone_sets is not None:
        query = query.where(RollupMonthly.zone_set_id.in_(only_zone_sets))
    return [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]


async def _move_cells(
    session: AsyncSession,
    user_id: uuid.UUID,
    before: dict[CellKey, npt.NDArray[np.int64]],
    after: dict[CellKey, npt.NDArray[np.int64]],
) -> None:
    """Add to the cells the difference between a person's contributions after and before; cells in key
    order, so that two transactions never wait for each other's rows in a cycle."""
    zero = np.zeros(4, dtype=np.int64)
    rows = []
    for key in sorted(set(before) | set(after)):
        delta = after.get(key, zero) - before.get(key, zero)
        if delta.any():
            zone_set_id, month, mode, shard = key
            people, milli_trips, distance, co2e = (int(v) for v in delta)
            rows.append({"zone_set_id": zone_set_id, "month": month, "mode": mode, "shard": shard,
                         "people": people, "milli_trips": milli_trips, "distance_m": distance, "co2e_g": co2e})  # fmt: skip
    if not rows:
        return
    insert: Any
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(StatsCell)
    added = {
        name: getattr(StatsCell, name) + getattr(statement.excluded, name)
        for name in ("people", "milli_trips", "distance_m", "co2e_g")
    }
    await session.execute(
        statement.on_conflict_do_update(index_elements=["zone_set_id", "month", "mode", "shard"], set_=added),
        rows,
    )


async def consent_changed(session: AsyncSession, user_id: uuid.UUID, granted: bool) -> None:
    """A person's consent to the territory's statistics was just granted or revoked (the caller has
    changed and locked the consent row): their monthly rollups join or leave the territory's totals."""
    mine = cell_contributions(await _monthly_rows(session, user_id, None, None))
    await _move_cells(session, user_id, {} if granted else mine, mine if granted else {})


async def person_erased(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Before a person's rows are deleted: what they add to the territory's totals leaves them."""
    if await _consent_stands(session, user_id):
        await consent_changed(session, user_id, False)


async def rebuild_cells_everyone(session: AsyncSession) -> None:
    """Redo the territory's monthly totals and person-months from the monthly rollups (after a bulk load)."""
    await session.execute(sa.delete(StatsCell))
    await session.execute(sa.delete(StatsPersonMonth))
    present = sa.select(RollupMonthly.user_id, RollupMonthly.zone_set_id, RollupMonthly.month).distinct()
    await session.execute(
        sa.insert(StatsPersonMonth).from_select(["user_id", "zone_set_id", "month"], present)
    )
    query = (
        sa.select(RollupMonthly.user_id, RollupMonthly.zone_set_id, RollupMonthly.month, RollupMonthly.mode,
                  RollupMonthly.trips, RollupMonthly.distance_m, RollupMonthly.co2e_g)
        .join(Consent, sa.and_(Consent.user_id == RollupMonthly.user_id, Consent.purpose == PURPOSE))
        .where(Consent.granted.is_(True))
    )  # fmt: skip
    rows: list[MonthlyRow] = [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]
    cells = cell_contributions(rows)
    if cells:
        await session.execute(
            sa.insert(StatsCell),
            [
                {"zone_set_id": z, "month": m, "mode": mode, "shard": shard, "people": int(v[0]),
                 "milli_trips": int(v[1]), "distance_m": int(v[2]), "co2e_g": int(v[3])}
                for (z, m, mode, shard), v in sorted(cells.items())
            ],
        )  # fmt: skip


def whole_months(day_from: int, day_to: int) -> tuple[int, int] | None:
    """The whole local months inside [day_from, day_to] (first and last YYYYMM), if any."""
    return _month_bounds(day_from, day_to)


def partial_ranges(day_from: int, day_to: int, whole: tuple[int, int]) -> list[tuple[int, int]]:
    """The days of [day_from, day_to] outside its whole months, as ranges of days."""
    first, last = whole
    ranges = []
    if day_from < first * 100 + 1:
        ranges.append((day_from, _last_day(_prev_month(first))))
    if day_to > _last_day(last):
        ranges.append((_next_month(last) * 100 + 1, day_to))
    return ranges


async def cell_totals(
    session: AsyncSession, zone_set_id: uuid.UUID, first: int, last: int, by_mode: bool
) -> list[tuple[Any, ...]]:
    """(first day of the month[, mode], person-months, milli-trips, metres, grams) per month (and mode) of
    the territory's monthly totals, from month `first` to `last` (YYYYMM), people whose consent stands."""
    keys: list[Any] = [StatsCell.month, StatsCell.mode] if by_mode else [StatsCell.month]
    query = (
        sa.select(*keys, sa.func.sum(StatsCell.people), sa.func.sum(StatsCell.milli_trips),
                  sa.func.sum(StatsCell.distance_m), sa.func.sum(StatsCell.co2e_g))
        .where(StatsCell.zone_set_id == zone_set_id, StatsCell.month >= first, StatsCell.month <= last,
               StatsCell.mode != "" if by_mode else StatsCell.mode == "")
        .group_by(*keys)
    )  # fmt: skip
    return [
        (int(row[0]) * 100 + 1, *row[1 : len(keys)], *(int(v or 0) for v in row[len(keys) :]))
        for row in (await session.execute(query)).all()
    ]


async def partial_month(
    session: AsyncSession,
    zone_set_id: uuid.UUID,
    day_from: int,
    day_to: int,
    by_mode: bool,
    caps: Caps = CAPS,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[uuid.UUID]]:
    """Some days of one local month, as a release by month bounds them, summed in the database: a person
    whose figures over those days stay under the caps counts them as they are, so the database floors and
    sums those people's rows per cell itself; only the few above a cap are read person by person.

    Returns (dims..., month, person, trips, distance_m, co2e_g) per cell of the people above a cap (for
    `privacy.bound`), (first day of the month[, mode], people, milli-trips, metres, grams) per cell of the
    others (for `privacy.add_bounded`), and everyone counted."""
    consent = sa.and_(Consent.user_id == Rollup.user_id, Consent.purpose == PURPOSE)
    keys: list[Any] = [Rollup.day, Rollup.mode] if by_mode else [Rollup.day]
    per = (
        sa.select(*keys, Rollup.user_id.label("u"), sa.func.sum(Rollup.trips).label("t"),
                  sa.func.sum(Rollup.distance_m).label("d"), sa.func.sum(Rollup.co2e_g).label("c"))
        .join(Consent, consent)
        .where(Consent.granted.is_(True), Rollup.zone_set_id == zone_set_id, Rollup.day >= day_from,
               Rollup.day <= day_to)
        .group_by(*keys, Rollup.user_id)
        .cte("per")
    )  # fmt: skip
    if session.get_bind().dialect.name == "postgresql":

        def floor(value: Any) -> Any:
            return sa.func.floor(value)
    else:

        def floor(value: Any) -> Any:  # SQLite: a cast truncates, which floors figures never negative
            return sa.cast(value, sa.Integer)

    # One pass: per cell and person, the floored rows summed (what the person adds while under the caps)
    # and the rows' raw sums (to tell who is not).
    first = (per.c.day // 100 * 100 + 1).label("first")
    cell_keys: list[Any] = [first, per.c.mode] if by_mode else [first]
    tolerance = FLOOR_TOLERANCE
    query = (
        sa.select(*cell_keys, per.c.u, sa.func.sum(floor(per.c.t * TRIP_UNITS + tolerance)),
                  sa.func.sum(floor(per.c.d + tolerance)), sa.func.sum(floor(per.c.c + tolerance)),
                  sa.func.sum(per.c.t), sa.func.sum(per.c.d), sa.func.sum(per.c.c))
        .group_by(*cell_keys, per.c.u)
    )  # fmt: skip
    n = len(cell_keys)
    found = (await session.execute(query)).all()
    totals: dict[Any, list[float]] = {}
    for row in found:
        sums = totals.setdefault(row[n], [0.0, 0.0, 0.0])
        for j in range(3):
            sums[j] += float(row[n + 4 + j] or 0.0)
    # Above a cap, or within rounding of one: bounded in Python exactly as any release bounds them.
    limits = (caps.trips, caps.distance_m, caps.co2e_g)
    over = {
        u for u, sums in totals.items() if any(v > c * (1 - 1e-9) for v, c in zip(sums, limits, strict=True))
    }
    cells: dict[tuple[Any, ...], list[int]] = {}
    for row in found:
        if row[n] in over:
            continue
        cell = cells.setdefault(tuple(row[:n]), [0, 0, 0, 0])
        cell[0] += 1
        for j in range(3):
            cell[j + 1] += int(row[n + 1 + j] or 0)
    bounded = [(int(key[0]), *key[1:], *values) for key, values in cells.items()]
    rows: list[tuple[Any, ...]] = []
    if over:
        out_keys = [per.c.day, per.c.mode] if by_mode else [per.c.day]
        capped = sa.select(*out_keys, per.c.day // 100, per.c.u, per.c.t, per.c.d, per.c.c).where(
            per.c.u.in_(sorted(over))
        )
        rows = [tuple(row) for row in (await session.execute(capped)).all()]
    return rows, bounded, list(totals)


async def people_in_months(
    session: AsyncSession, zone_set_id: uuid.UUID, first: int, last: int
) -> list[uuid.UUID]:
    """The people whose consent stands with monthly rollups from month `first` to `last`: who a release
    over those months counts. One look-up in the person-months' key per consenting person, so the cost
    follows the people, not their months."""
    present = sa.exists().where(
        StatsPersonMonth.user_id == Consent.user_id,
        StatsPersonMonth.zone_set_id == zone_set_id,
        StatsPersonMonth.month >= first,
        StatsPersonMonth.month <= last,
    )
    query = sa.select(Consent.user_id).where(Consent.purpose == PURPOSE, Consent.granted.is_(True), present)
    return list(await session.scalars(query))


async def rebuild_monthly_everyone(session: AsyncSession) -> None:
    """Redo the whole monthly table from the daily rollups (after a bulk load; the worker keeps it per person)."""
    month = Rollup.day // 100
    await session.execute(sa.delete(RollupMonthly))
    source = sa.select(
        Rollup.user_id, Rollup.zone_set_id, month, Rollup.mode,
        sa.func.sum(Rollup.trips), sa.func.sum(Rollup.distance_m), sa.func.sum(Rollup.co2e_g),
    ).group_by(Rollup.user_id, Rollup.zone_set_id, month, Rollup.mode)  # fmt: skip
    columns = ["user_id", "zone_set_id", "month", "mode", "trips", "distance_m", "co2e_g"]
    await session.execute(sa.insert(RollupMonthly).from_select(columns, source))
    await rebuild_cells_everyone(session)


def _month_bounds(day_from: int, day_to: int) -> tuple[int, int] | None:
    """The whole months inside [day_from, day_to], as (first YYYYMM, last YYYYMM), if any."""
    first = day_from // 100 if day_from % 100 == 1 else _next_month(day_from // 100)
    last = day_to // 100 if day_to == _last_day(day_to // 100) else _prev_month(day_to // 100)
    return (first, last) if first <= last else None


def _next_month(month: int) -> int:
    return month + 1 if month % 100 < 12 else (month // 100 + 1) * 100 + 1


def _prev_month(month: int) -> int:
    return month - 1 if month % 100 > 1 else (month // 100 - 1) * 100 + 12


def _last_day(month: int) -> int:
    import calendar

    return month * 100 + calendar.monthrange(month // 100, month % 100)[1]


async def contributions(
    session: AsyncSession,
    zone_set_id: uuid.UUID,
    day_from: int,
    day_to: int,
    dims: Sequence[str],
    zone: str | None = None,
    monthly: bool = False,
) -> list[tuple[Any, ...]]:
    """(dims..., person, trips, distance_m, co2e_g) per person and cell, for people whose consent stands.

    With `monthly` (a release by month, over `day` and `mode` only, all zones), whole months are read from
    the monthly table, `day` standing for the first of the month; only the partial months at the ends of
    the range are read day by day."""
    whole = (
        _month_bounds(day_from, day_to) if monthly and zone is None and set(dims) <= {"day", "mode"} else None
    )
    if whole is None:
        return await _daily(session, zone_set_id, day_from, day_to, dims, zone)
    first, last = whole
    rows = []
    if day_from < first * 100 + 1:
        rows += await _daily(session, zone_set_id, day_from, _last_day(_prev_month(first)), dims, None)
    if day_to > _last_day(last):
        rows += await _daily(session, zone_set_id, _next_month(last) * 100 + 1, day_to, dims, None)
    columns = [(RollupMonthly.month * 100 + 1) if d == "day" else RollupMonthly.mode for d in dims]
    query = (
        sa.select(*columns, RollupMonthly.user_id, sa.func.sum(RollupMonthly.trips),
                  sa.func.sum(RollupMonthly.distance_m), sa.func.sum(RollupMonthly.co2e_g))
        .join(Consent, sa.and_(Consent.user_id == RollupMonthly.user_id, Consent.purpose == PURPOSE))
        .where(Consent.granted.is_(True), RollupMonthly.zone_set_id == zone_set_id, RollupMonthly.month >= first,
               RollupMonthly.month <= last)
        .group_by(*columns, RollupMonthly.user_id)
    )  # fmt: skip
    rows += [tuple(row) for row in (await session.execute(query)).all()]
    return rows


async def _daily(
    session: AsyncSession,
    zone_set_id: uuid.UUID,
    day_from: int,
    day_to: int,
    dims: Sequence[str],
    zone: str | None,
    by_month: bool = False,
) -> list[tuple[Any, ...]]:
    columns: list[Any] = [getattr(Rollup, d) for d in dims]
    if by_month:
        columns.append(Rollup.day // 100)
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


async def person_month_rows(
    session: AsyncSession,
    zone_set_id: uuid.UUID,
    day_from: int,
    day_to: int,
    dims: Sequence[str],
    zone: str | None = None,
    monthly: bool = False,
) -> list[tuple[Any, ...]]:
    """(dims..., month, person, trips, distance_m, co2e_g) per cell, person and local month (YYYYMM), for
    people whose consent stands: what a release bounds per person-month. With `monthly` (dims within `day`
    and `mode`, all zones) whole months are read from the monthly table, `day` standing for their first."""
    n = len(dims)
    if "day" in dims:
        at = list(dims).index("day")
        rows = await contributions(session, zone_set_id, day_from, day_to, dims, zone, monthly)
        return [(*row[:n], int(row[at]) // 100, *row[n:]) for row in rows]
    return await _daily(session, zone_set_id, day_from, day_to, dims, zone, by_month=True)


async def charge(session: AsyncSession, months: Sequence[int], epsilon: float, lifetime: float) -> bool:
    """Charge ε to each month of data, all or none: False (nothing charged) when any month's lifetime
    budget would be exceeded. One conditional UPDATE, so concurrent releases can never overspend."""
    wanted = sorted(set(months))
    if not wanted:
        return True
    insert: Any
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    await session.execute(
        insert(PrivacyMonth).on_conflict_do_nothing(index_elements=["month"]),
        [{"month": m, "epsilon_spent": 0.0} for m in wanted],
    )
    result = await session.execute(
        sa.update(PrivacyMonth)
        .where(PrivacyMonth.month.in_(wanted), PrivacyMonth.epsilon_spent + epsilon <= lifetime + 1e-9)
        .values(epsilon_spent=PrivacyMonth.epsilon_spent + epsilon)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == len(wanted)


async def spent(session: AsyncSession, months: Sequence[int] | None = None) -> dict[int, float]:
    """The ε spent so far on each month of data (all months with a charge when None)."""
    query = sa.select(PrivacyMonth.month, PrivacyMonth.epsilon_spent).order_by(PrivacyMonth.month)
    if months is not None:
        query = query.where(PrivacyMonth.month.in_(sorted(set(months))))
    return {int(m): float(e) for m, e in (await session.execute(query)).all()}


async def _add_unless_taken(session: AsyncSession, row: Any) -> bool:
    """Add a row in a savepoint; False (the rest of the transaction stands) when a unique key is taken."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def stored_release(session: AsyncSession, question: str) -> PrivacyRelease | None:
    return await session.scalar(sa.select(PrivacyRelease).where(PrivacyRelease.question == question))


async def add_release(session: AsyncSession, release: PrivacyRelease) -> bool:
    """Store a release; False when the same question was answered meanwhile (then nothing is stored)."""
    return await _add_unless_taken(session, release)


async def releases(
    session: AsyncSession, limit: int, before: tuple[datetime, uuid.UUID] | None = None
) -> list[PrivacyRelease]:
    """The ledger of releases, newest first (keyset pagination on created_at, id)."""
    query = sa.select(PrivacyRelease).order_by(PrivacyRelease.created_at.desc(), PrivacyRelease.id.desc())
    if before is not None:
        at, release_id = before
        query = query.where(
            sa.or_(
                PrivacyRelease.created_at < at,
                sa.and_(PrivacyRelease.created_at == at, PrivacyRelease.id < release_id),
            )
        )
    return list(await session.scalars(query.limit(limit)))


def _cap_scale(total: Any, cap: float) -> Any:
    return sa.case((total > cap, cap / total), else_=1.0)


async def monthly_release(
    session: AsyncSession,
    zone_set_id: uuid.UUID,
    day_from: int,
    day_to: int,
    by_mode: bool,
    caps: tuple[float, float, float],
) -> tuple[list[tuple[Any, ...]], dict[int, list[uuid.UUID]]]:
    """A release by month computed in SQL, for people whose consent stands: per (month[, mode]) cell the
    number of people and the sums of their capped contributions, and per month the people behind it.

    Whole months come from the monthly table, the partial months at the ends of the range from the daily
    one. Contributions are capped per person over the whole release, as `app.disclosure.combine` does."""
    consent = sa.and_(Consent.purpose == PURPOSE, Consent.granted.is_(True))
    parts = []
    whole = _month_bounds(day_from, day_to)
    daily_ranges = [(day_from, day_to)] if whole is None else []
    if whole is not None:
        first, last = whole
        parts.append(
            sa.select(
                RollupMonthly.month.label("m"), RollupMonthly.mode.label("mode"), RollupMonthly.user_id.label("u"),
                RollupMonthly.trips.label("t"), RollupMonthly.distance_m.label("d"), RollupMonthly.co2e_g.label("c"),
            )
            .join(Consent, sa.and_(Consent.user_id == RollupMonthly.user_id, consent))
            .where(RollupMonthly.zone_set_id == zone_set_id, RollupMonthly.month >= first, RollupMonthly.month <= last)
        )  # fmt: skip
        if day_from < first * 100 + 1:
            daily_ranges.append((day_from, _last_day(_prev_month(first))))
        if day_to > _last_day(last):
            daily_ranges.append((_next_month(last) * 100 + 1, day_to))
    for lo, hi in daily_ranges:
        parts.append(
            sa.select(
                (Rollup.day // 100).label("m"), Rollup.mode.label("mode"), Rollup.user_id.label("u"),
                Rollup.trips.label("t"), Rollup.distance_m.label("d"), Rollup.co2e_g.label("c"),
            )
            .join(Consent, sa.and_(Consent.user_id == Rollup.user_id, consent))
            .where(Rollup.zone_set_id == zone_set_id, Rollup.day >= lo, Rollup.day <= hi)
        )  # fmt: skip
    rows = sa.union_all(*parts).subquery("rows")
    keys = [rows.c.m, rows.c.mode] if by_mode else [rows.c.m]
    per = (
        sa.select(*keys, rows.c.u, sa.func.sum(rows.c.t).label("t"), sa.func.sum(rows.c.d).label("d"),
                  sa.func.sum(rows.c.c).label("c"))
        .group_by(*keys, rows.c.u)
        .cte("per")
    )  # fmt: skip
    totals = (
        sa.select(per.c.u, sa.func.sum(per.c.t).label("tt"), sa.func.sum(per.c.d).label("td"),
                  sa.func.sum(per.c.c).label("tc"))
        .group_by(per.c.u)
        .cte("totals")
    )  # fmt: skip
    cell_keys = [per.c.m, per.c.mode] if by_mode else [per.c.m]
    cells = (
        sa.select(
            *cell_keys,
            sa.func.count(),
            sa.func.sum(per.c.t * _cap_scale(totals.c.tt, caps[0])),
            sa.func.sum(per.c.d * _cap_scale(totals.c.td, caps[1])),
            sa.func.sum(per.c.c * _cap_scale(totals.c.tc, caps[2])),
        )
        .join(totals, totals.c.u == per.c.u)
        .group_by(*cell_keys)
    )
    result = [tuple(r) for r in (await session.execute(cells)).all()]
    members: dict[int, list[uuid.UUID]] = {}
    for m, u in (await session.execute(sa.select(rows.c.m, rows.c.u).distinct())).all():
        members.setdefault(int(m), []).append(u)
    return result, members


async def zone_set_named(session: AsyncSession, name: str) -> ZoneSet | None:
    return await session.scalar(sa.select(ZoneSet).where(ZoneSet.name == name))


async def zone_set(session: AsyncSession, zone_set_id: uuid.UUID) -> ZoneSet | None:
    return await session.get(ZoneSet, zone_set_id)


async def zone_counts(session: AsyncSession) -> dict[uuid.UUID, int]:
    """How many zones each uploaded zone set has."""
    rows = await session.execute(sa.select(Zone.zone_set_id, sa.func.count()).group_by(Zone.zone_set_id))
    return {zone_set_id: int(n) for zone_set_id, n in rows.all()}


async def add_zone_set(session: AsyncSession, zs: ZoneSet, zones: list[dict[str, Any]]) -> bool:
    """Add a new zone set with its zones (each a dict of `code`, `name` and `geometry`); False when a zone
    set of that name was added meanwhile (the rest of the transaction stands)."""
    if not await _add_unless_taken(session, zs):
        return False
    await session.execute(sa.insert(Zone), [{"zone_set_id": zs.id, **z} for z in zones])
    return True


async def delete_zone_set(session: AsyncSession, zs: ZoneSet) -> None:
    await session.delete(zs)


async def consenting_people(session: AsyncSession) -> list[uuid.UUID]:
    """People whose consent to the territory's statistics stands."""
    return list(await session.scalars(sa.select(Consent.user_id).where(Consent.purpose == PURPOSE)))


# -- publications --
# The exact monthly publications over official zone sets (app/statistics/publications.py).


async def official_zone_sets(session: AsyncSession) -> list[ZoneSet]:
    """The administrator's partitions of the territory, published exactly each month."""
    query = sa.select(ZoneSet).where(ZoneSet.official.is_(True)).order_by(ZoneSet.created_at, ZoneSet.name)
    return list(await session.scalars(query))


async def set_official(session: AsyncSession, zs: ZoneSet, official: bool) -> bool:
    """Mark a zone set official or not; False when it already was so (nothing changed)."""
    if zs.official == official:
        return False
    zs.official = official
    await session.flush()
    return True


async def zone_parents(session: AsyncSession, zone_set_id: uuid.UUID) -> dict[str, str | None]:
    """Each zone's parent (the commune it is in), None where the upload named none."""
    rows = await session.execute(sa.select(Zone.code, Zone.parent).where(Zone.zone_set_id == zone_set_id))
    return {code: parent for code, parent in rows.all()}


async def first_rollup_day(session: AsyncSession, zone_set_id: uuid.UUID) -> int | None:
    """The earliest local day (YYYYMMDD) with rollups over a zone set, if any."""
    day = await session.scalar(sa.select(sa.func.min(Rollup.day)).where(Rollup.zone_set_id == zone_set_id))
    return None if day is None else int(day)


async def publication_rows(
    session: AsyncSession, zone_set_id: uuid.UUID, day_from: int, day_to: int, by: str
) -> list[tuple[Any, ...]]:
    """(day or origin zone, mode, person, trips, distance_m, co2e_g) per cell and person over some local
    days, for people whose consent stands (as `_daily` reads them)."""
    column = {"day": Rollup.day, "origin_zone": Rollup.origin_zone}[by]
    query = (
        sa.select(column, Rollup.mode, Rollup.user_id, sa.func.sum(Rollup.trips), sa.func.sum(Rollup.distance_m),
                  sa.func.sum(Rollup.co2e_g))
        .join(Consent, sa.and_(Consent.user_id == Rollup.user_id, Consent.purpose == PURPOSE))
        .where(Consent.granted.is_(True), Rollup.zone_set_id == zone_set_id, Rollup.day >= day_from,
               Rollup.day <= day_to)
        .group_by(column, Rollup.mode, Rollup.user_id)
    )  # fmt: skip
    return [tuple(row) for row in (await session.execute(query)).all()]


async def person_totals(
    session: AsyncSession, zone_set_id: uuid.UUID, day_from: int, day_to: int
) -> list[tuple[Any, ...]]:
    """(person, trips, distance_m, co2e_g) summed over some local days, for people whose consent stands:
    what the contribution caps bound."""
    query = (
        sa.select(Rollup.user_id, sa.func.sum(Rollup.trips), sa.func.sum(Rollup.distance_m),
                  sa.func.sum(Rollup.co2e_g))
        .join(Consent, sa.and_(Consent.user_id == Rollup.user_id, Consent.purpose == PURPOSE))
        .where(Consent.granted.is_(True), Rollup.zone_set_id == zone_set_id, Rollup.day >= day_from,
               Rollup.day <= day_to)
        .group_by(Rollup.user_id)
    )  # fmt: skip
    return [tuple(row) for row in (await session.execute(query)).all()]


async def rollup_extent(
    session: AsyncSession, zone_set_id: uuid.UUID, day_from: int, day_to: int
) -> tuple[int, int]:
    """(people, trips) over some local days of a zone set: every zone set counts the same trips, so a zone
    set whose past trips are still being assigned (a new upload) shows fewer than the grid."""
    query = sa.select(
        sa.func.count(sa.distinct(Rollup.user_id)), sa.func.coalesce(sa.func.sum(Rollup.trips), 0)
    ).where(Rollup.zone_set_id == zone_set_id, Rollup.day >= day_from, Rollup.day <= day_to)
    people, trips = (await session.execute(query)).one()
    return int(people), int(trips)


async def latest_publication_month(session: AsyncSession, zone_set_id: uuid.UUID) -> int | None:
    month = await session.scalar(
        sa.select(sa.func.max(Publication.month)).where(Publication.zone_set_id == zone_set_id)
    )
    return None if month is None else int(month)


async def publication(session: AsyncSession, zone_set_id: uuid.UUID, month: int) -> Publication | None:
    return await session.scalar(
        sa.select(Publication).where(Publication.zone_set_id == zone_set_id, Publication.month == month)
    )


async def publication_list(session: AsyncSession) -> list[tuple[str, int, datetime, int, int]]:
    """(zone set name, month, created_at, cells published, cells suppressed) of every publication, by zone
    set and month; the counts are read from the bodies' summaries, not the whole bodies."""
    published = Publication.body[("summary", "cells_published")].as_integer()
    suppressed = Publication.body[("summary", "cells_suppressed")].as_integer()
    query = (
        sa.select(ZoneSet.name, Publication.month, Publication.created_at, published, suppressed)
        .join(ZoneSet, ZoneSet.id == Publication.zone_set_id)
        .order_by(ZoneSet.name, Publication.month)
    )
    return [
        (name, int(month), created_at, int(p or 0), int(s or 0))
        for name, month, created_at, p, s in (await session.execute(query)).all()
    ]


async def add_publication(session: AsyncSession, pub: Publication) -> bool:
    """Store a publication; False when the same zone set and month was published meanwhile."""
    return await _add_unless_taken(session, pub)
