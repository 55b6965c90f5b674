"""What the OpenPATH app reads to show its diary and its dashboard (e-mission-phone
``www/js/services/commHelper.ts``, ``TimelineContext.ts``, ``metrics/MetricsTab.tsx``).

Every route is a POST of a JSON object with the opcode (or a Coach CO2 token) in ``user``
(app/openpath/auth.py) and answers 200 with a JSON object; a bad field answers a 422 problem naming it.
Only the caller's own data is ever read. The answers are built in app/openpath/diary.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Body, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.deps import SessionDep, SettingsDep
from app.core.lang import Msg
from app.core.problems import ProblemError
from app.ingest import repository as ingest_store
from app.models import OpenpathInput, Trip
from app.openpath import diary
from app.openpath.auth import caller
from app.openpath.schemas import FindEntriesOut, MetricsOut, RangeTsOut
from app.trips import repository as trip_store

router = APIRouter(tags=["OpenPATH app"])


@router.post("/pipeline/get_range_ts", response_model=RangeTsOut)
async def get_range_ts(
    request: Request, session: SessionDep, settings: SettingsDep, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """The span of the person's processed trips (``commHelper.getPipelineRangeTs``): `start_ts`, when
    their first trip starts, and `end_ts`, up to when their data has been turned into trips (or when
    their last trip ends, if later), epoch seconds; both null before their first trip. The diary reads
    trips up to `end_ts` here and builds later ones from the phone's own cache."""
    who = await caller(request, session, body, settings)
    first, last = (
        await session.execute(
            sa.select(sa.func.min(Trip.start_ts_ms), sa.func.max(Trip.end_ts_ms)).where(
                Trip.user_id == who.user_id
            )
        )
    ).one()
    state = await ingest_store.pipeline_state(session, who.user_id)
    await session.commit()
    if first is None:
        return {"start_ts": None, "end_ts": None}
    done = state.processed_until_ms if state is not None else None
    end = max(int(last), int(done)) if done is not None else int(last)
    return {"start_ts": int(first) / 1000, "end_ts": end / 1000}


# -- find_entries -----------------------------------------------------------------------------------


def _trip_column(time_key: str) -> Any:
    return {
        "data.start_ts": Trip.start_ts_ms,
        "data.end_ts": Trip.end_ts_ms,
        "metadata.write_ts": Trip.updated_at,
    }.get(time_key)


def _bounds(column: Any, query: diary.FindQuery) -> Any:
    if column is Trip.updated_at:
        return column.between(
            datetime.fromtimestamp(query.start_s, UTC), datetime.fromtimestamp(query.end_s, UTC)
        )
    return column.between(query.start_ms, query.end_ms)


async def _inputs_for(
    session: AsyncSession,
    user_id: uuid.UUID,
    trips: Sequence[Trip],
    around: tuple[Trip | None, Trip | None] | None,
) -> list[OpenpathInput]:
    """In one query: the labels the matcher applied to these trips, and the inputs it leaves unlinked
    (replaced modes, surveys, notes, unknown values) that overlap the trips or, given the trips `around`
    them (before the first, after the last), the places between."""
    ids = [t.id for t in trips]
    trip_low, trip_high = min(t.start_ts_ms for t in trips), max(t.end_ts_ms for t in trips)
    unlinked = sa.and_(OpenpathInput.trip_id.is_(None), OpenpathInput.status.in_(diary.UNLINKED_STATUSES))
    wanted = [
        sa.and_(OpenpathInput.trip_id.in_(ids), OpenpathInput.status == diary.LINKED_STATUS),
        sa.and_(
            unlinked,
            OpenpathInput.key.in_(diary.TRIP_KEYS),
            OpenpathInput.start_ts_ms <= trip_high,
            OpenpathInput.end_ts_ms >= trip_low,
        ),
    ]
    if around is not None:
        before, after = around
        wanted.append(
            sa.and_(
                unlinked,
                OpenpathInput.key.in_(diary.PLACE_KEYS),
                OpenpathInput.start_ts_ms <= (after.start_ts_ms if after is not None else diary.FAR_MS),
                OpenpathInput.end_ts_ms >= (before.end_ts_ms if before is not None else 0),
            )
        )
    query = sa.select(OpenpathInput).where(OpenpathInput.user_id == user_id, sa.or_(*wanted))
    return list((await session.scalars(query)).all())


async def _neighbour(session: AsyncSession, user_id: uuid.UUID, trip: Trip, *, earlier: bool) -> Trip | None:
    query = sa.select(Trip).where(Trip.user_id == user_id)
    if earlier:
        query = query.where(Trip.start_ts_ms < trip.start_ts_ms).order_by(Trip.start_ts_ms.desc())
    else:
        query = query.where(Trip.start_ts_ms > trip.start_ts_ms).order_by(Trip.start_ts_ms)
    return (await session.scalars(query.limit(1))).first()


async def _views(
    session: AsyncSession, user_id: uuid.UUID, query: diary.FindQuery, time_key: str, *, geometry: bool
) -> list[diary.TripView]:
    """The person's trips whose `time_key` lies in the range (at most ``diary.MAX_TRIPS``, oldest
    first), with their legs, places and inputs: a handful of queries, none per trip."""
    column = _trip_column(time_key)
    if column is None:
        return []
    trips = list(
        (
            await session.scalars(
                sa.select(Trip)
                .where(Trip.user_id == user_id, _bounds(column, query))
                .order_by(Trip.start_ts_ms, Trip.id)
                .limit(diary.MAX_TRIPS)
            )
        ).all()
    )
    if not trips:
        return []
    spine = None
    if column is Trip.updated_at:  # trips written in a range need not follow each other
        spine = list(
            (
                await session.scalars(
                    sa.select(Trip).where(
                        Trip.user_id == user_id,
                        Trip.start_ts_ms.between(trips[0].start_ts_ms, trips[-1].start_ts_ms),
                    )
                )
            ).all()
        )
    before = await _neighbour(session, user_id, trips[0], earlier=True)
    after = await _neighbour(session, user_id, trips[-1], earlier=False)
    legs = await trip_store.legs_of(session, user_id, [t.id for t in trips], geometry=geometry)
    inputs = await _inputs_for(session, user_id, trips, (before, after))
    return diary.build_views(trips, legs, inputs, before=before, after=after, spine=spine)


async def _input_entries(
    session: AsyncSession, user_id: uuid.UUID, key: str, query: diary.FindQuery
) -> list[dict[str, Any]]:
    column = {
        "metadata.write_ts": OpenpathInput.write_ts_ms,
        "data.start_ts": OpenpathInput.start_ts_ms,
        "data.end_ts": OpenpathInput.end_ts_ms,
    }.get(query.time_key)
    if column is None:
        return []
    rows = await session.scalars(
        sa.select(OpenpathInput)
        .where(OpenpathInput.user_id == user_id, OpenpathInput.key == key, column.between(query.start_ms, query.end_ms))
        .order_by(column, OpenpathInput.id)
        .limit(diary.MAX_INPUTS)
    )  # fmt: skip
    return [diary.input_entry(row) for row in rows]


#: which trips give the places whose time field is in the range: those ending there (enter), starting
#: there (exit), or written then
PLACE_TRIP_KEY = {"data.enter_ts": "data.end_ts", "data.exit_ts": "data.start_ts", "metadata.write_ts": "metadata.write_ts"}  # fmt: skip


@router.post("/datastreams/find_entries/timestamp", response_model=FindEntriesOut)
async def find_entries(
    request: Request, session: SessionDep, settings: SettingsDep, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """The person's entries of the keys in `key_list` whose `key_time` (`metadata.write_ts` by default,
    `data.start_ts`, `data.end_ts`, ...) lies between `start_time` and `end_time` (epoch seconds), as
    the diary reads them (``commHelper.getRawEntries``): `{"phone_data": [entry, ...]}`.

    * `analysis/composite_trip`: our trips with their sections, locations, start and end places,
      labels (`user_input`), notes (`additions`), our inferred labels and CO2e (`co2e_g`); at most
      1,000 trips, oldest first. `analysis/confirmed_trip`: the same trips without locations, sections
      or place objects. `analysis/confirmed_place`: the places around them (`key_time`
      `data.enter_ts`, `data.exit_ts` or `metadata.write_ts`).
    * `manual/*` (labels, surveys, notes): the person's entries as the phone sent them.
    * Any other key: no entries.

    `max_entries` with `trunc_method` `first`, `last` or `sample` (every n-th) trims the answer."""
    who = await caller(request, session, body, settings)
    query = diary.parse_find_query(body)
    zone = ZoneInfo(settings.timezone)
    cache: dict[str, list[diary.TripView]] = {}

    async def views(time_key: str) -> list[diary.TripView]:
        if time_key not in cache:
            cache[time_key] = await _views(session, who.user_id, query, time_key, geometry=True)
        return cache[time_key]

    entries: list[dict[str, Any]] = []
    for key in query.keys:
        if diary.is_trip_key(key):
            composite = key == diary.COMPOSITE_TRIP_KEY
            entries += [
                diary.trip_entry(v, who.user_id, zone, composite=composite)
                for v in await views(query.time_key)
            ]
        elif key == diary.CONFIRMED_PLACE_KEY and query.time_key in PLACE_TRIP_KEY:
            found = await views(PLACE_TRIP_KEY[query.time_key])
            entries += diary.place_entries(found, who.user_id, zone, query)
        elif diary.is_input_key(key):
            entries += await _input_entries(session, who.user_id, key, query)
    await session.commit()
    return {"phone_data": diary.truncate(entries, query.max_entries, query.trunc_method)}


@router.post("/datastreams/find_entries/local_date", response_model=FindEntriesOut)
async def find_entries_local_date(
    request: Request, session: SessionDep, settings: SettingsDep, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """Not served: e-mission filters these field by field on local dates (`from_local_date`,
    `to_local_date`), which no current app version calls. Answers a 404 problem: ask
    `/datastreams/find_entries/timestamp` instead."""
    await caller(request, session, body, settings)
    await session.commit()
    raise ProblemError(
        404,
        "not-found",
        Msg(
            "Entries are served by time only: POST /datastreams/find_entries/timestamp with start_time and "
            "end_time (epoch seconds).",
            "Les entrées ne sont servies que par instant : POST /datastreams/find_entries/timestamp avec "
            "start_time et end_time (secondes depuis 1970).",
        ),
    )


# -- metrics ----------------------------------------------------------------------------------------


def _day_start_ms(day: date, zone: ZoneInfo, *, beyond: int) -> int:
    """Local midnight starting `day`, epoch ms; `beyond` for a day at the edge of the calendar."""
    try:
        return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)
    except (OverflowError, ValueError):
        return beyond


@router.post("/result/metrics/{time_type}", response_model=MetricsOut)
async def metrics(
    time_type: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    body: dict[str, Any] = Body(...),
) -> dict[str, Any]:
    """The dashboard's figures (``MetricsTab.fetchAggMetrics``), for `time_type` `yyyy_mm_dd` only:
    `{"start_time", "end_time"}` (YYYY-MM-DD, at most 366 days), `freq` "D", `metric_list` (`distance`,
    `duration`, `count`, `footprint`, each with grouping fields among `mode_confirm`,
    `purpose_confirm`, `replaced_mode_confirm`; others are left out); `is_return_aggregate` and
    `app_config` are ignored.

    The answer holds the CALLER'S OWN figures only, per local day of the territory's time zone (days
    without trips are absent): `{"distance": [{"date", "nUsers": 1, "mode_confirm_bus": 4200.0}],
    ..., "footprint": [{"date", "nUsers": 1, "mode_confirm_bus": {"kg_co2", "kwh": 0}}]}`, kg_co2 being
    our CO2e estimate. A trip without a label counts under `UNLABELED`. Figures about other people are
    never served here, whatever the app asks: the territory's figures are for its operators, through the
    privacy-safe statistics (`/v1/operator/stats/*`). A deployment sets
    `server.aggregate_call_auth` to `user_only` in the app's configuration so that the app sends the
    opcode with this call."""
    if time_type != "yyyy_mm_dd":
        raise ProblemError(
            404,
            "not-found",
            Msg(
                "This server answers /result/metrics/yyyy_mm_dd only: update the app to use its dashboard.",
                "Ce serveur ne répond qu'à /result/metrics/yyyy_mm_dd : mettez l'application à jour pour "
                "utiliser son tableau de bord.",
            ),
        )
    who = await caller(request, session, body, settings)
    query = diary.parse_metrics_query(body)
    zone = ZoneInfo(settings.timezone)
    low = _day_start_ms(query.start, zone, beyond=0)
    try:
        high = _day_start_ms(query.end + timedelta(days=1), zone, beyond=diary.FAR_MS)
    except OverflowError:  # the day after 9999-12-31
        high = diary.FAR_MS
    trips = list(
        (
            await session.scalars(
                sa.select(Trip)
                .where(Trip.user_id == who.user_id, Trip.start_ts_ms >= low, Trip.start_ts_ms < high)
                .order_by(Trip.start_ts_ms, Trip.id)
            )
        ).all()
    )
    views: list[diary.TripView] = []
    if trips:
        legs = await trip_store.legs_of(session, who.user_id, [t.id for t in trips], geometry=False)
        inputs = await _inputs_for(session, who.user_id, trips, None)
        views = diary.build_views(trips, legs, inputs, before=None, after=None)
    await session.commit()
    return diary.metrics_answer(views, query, zone)
