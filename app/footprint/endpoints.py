"""The person's own space beyond trips: profile, summaries and coaching."""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.deps import AUTH_ERRORS, CurrentUser, SessionDep, SettingsDep
from app.core.lang import LangDep, Msg
from app.core.problems import invalid_field
from app.core.schemas import QueryTime, rfc3339_local
from app.emissions.coaching import TRANSPORT_SHARE, TripEnds, recurring, trajectory
from app.emissions.summary import (
    MAX_PERIODS,
    LegRecord,
    Period,
    Totals,
    TripRecord,
    next_start,
    period_count,
    period_start,
    previous_start,
    summarize,
)
from app.footprint import repository
from app.footprint.schemas import (
    ModeTotalsOut,
    PeriodOut,
    ProfileIn,
    ProfileOut,
    PurposeTotalsOut,
    RecurringList,
    RecurringOut,
    SummaryOut,
    TotalsOut,
    TrajectoryOut,
)
from app.footprint.service import emission_fn, load_context, recompute_user
from app.models import UserProfile, utcnow
from app.selfdata.attestation import CommuteLeg, CommuteTrip, qualifying_days, render_html, render_pdf
from app.trips import repository as trip_store
from app.trips.endpoints import FromQuery
from app.trips.schemas import AlternativeOut, LatLon
from app.trips.service import trips_changed

router = APIRouter(prefix="/v1/me", tags=["me"])

BUDGET_BASIS = (
    "About 2 t CO2e per person per year in 2050, all sectors (France's national low-carbon strategy, SNBC, "
    "as ADEME presents it). Travel keeps today's share of the average footprint: 1.45 t of about 9 t "
    f"(ADEME and SDES, figures of 2019), that is {TRANSPORT_SHARE * 100:.0f} %."
)


@router.get("/profile", response_model=ProfileOut, responses=AUTH_ERRORS)
async def get_profile(session: SessionDep, user: CurrentUser) -> ProfileOut:
    """What the person declared about their vehicles (all null until they say)."""
    row = await repository.profile(session, user.user_id)
    await session.commit()
    if row is None:
        return ProfileOut()
    return ProfileOut(car_fuel=row.car_fuel, car_occupancy=row.car_occupancy, bike_kind=row.bike_kind)


@router.put("/profile", response_model=ProfileOut, responses=AUTH_ERRORS)
async def put_profile(
    session: SessionDep, settings: SettingsDep, user: CurrentUser, body: ProfileIn
) -> ProfileOut:
    """Declare the car's fuel, its usual occupancy and the kind of bike. Inferred legs then take the right
    factor (an electric car's, a shared car's, an electric bike's); the person's own figures are recomputed
    at once. Legs the person corrected keep what they said."""
    row = await repository.profile(session, user.user_id) or UserProfile(user_id=user.user_id)
    row.car_fuel, row.car_occupancy, row.bike_kind = body.car_fuel, body.car_occupancy, body.bike_kind
    row.updated_at = utcnow()
    await repository.save_profile(session, row)
    count = await recompute_user(session, settings.emission_policy, user.user_id)
    await trips_changed(session, user.user_id, ZoneInfo(settings.timezone))
    await session.commit()
    return ProfileOut(**body.model_dump(), legs_recomputed=count)


def _totals(t: Totals) -> TotalsOut:
    return TotalsOut(trips=t.trips, distance_m=round(t.distance_m, 1), co2e_g=round(t.co2e_g, 3))


def _by_mode(by_mode: dict[str, Totals]) -> list[ModeTotalsOut]:
    return [
        ModeTotalsOut(mode=m, trips=t.trips, distance_m=round(t.distance_m, 1), co2e_g=round(t.co2e_g, 3))
        for m, t in sorted(by_mode.items(), key=lambda kv: -kv[1].co2e_g)
    ]


def _by_purpose(by_purpose: dict[str, Totals]) -> list[PurposeTotalsOut]:
    return [
        PurposeTotalsOut(
            purpose=p, trips=t.trips, distance_m=round(t.distance_m, 1), co2e_g=round(t.co2e_g, 3)
        )
        for p, t in sorted(by_purpose.items(), key=lambda kv: -kv[1].co2e_g)
    ]


async def _records(session: AsyncSession, user_id: uuid.UUID, from_ms: int, to_ms: int) -> list[TripRecord]:
    trips = await trip_store.between(session, user_id, from_ms, to_ms)
    legs = await trip_store.legs_of(session, user_id, [t.id for t in trips], geometry=False)
    return [
        TripRecord(
            t.start_ts_ms,
            t.distance_m,
            t.co2e_g,
            t.purpose,
            [LegRecord(leg.mode, leg.distance_m, leg.co2e_g) for leg in legs.get(t.id, [])],
        )
        for t in trips
    ]


#: the periods of a summary in French, singular and plural
_PERIODS_FR = {"day": ("jour", "jours"), "week": ("semaine", "semaines"), "month": ("mois", "mois"),
               "year": ("année", "années")}  # fmt: skip


@contextmanager
def _in_calendar(field: str) -> Iterator[None]:
    """Local-time period arithmetic that would leave the years 1 to 9999 answers 422 naming `field`."""
    try:
        yield
    except (OverflowError, ValueError):
        raise invalid_field(
            field,
            Msg(
                "too close to the edge of the calendar: the periods of this summary (and the one before the "
                "first, for comparison) must fall within the years 1 to 9999 in local time",
                "trop près du bord du calendrier : les périodes de ce bilan (et celle qui précède la "
                "première, pour comparer) doivent tomber entre les années 1 et 9999, en heure locale",
            ),
            "query",
        ) from None


@router.get("/summary", response_model=SummaryOut, response_model_by_alias=True, responses=AUTH_ERRORS)
async def summary(
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    period: Period = "month",
    from_: FromQuery = None,
    to: Annotated[
        QueryTime | None, Query(description="RFC 3339 with an offset, or epoch seconds; default now")
    ] = None,
) -> SummaryOut:
    """Per period (day, week, month or year, in the territory's local time) and per mode: trips, distance
    and CO2e, with totals, a split by purpose, and each period compared with the one before.

    A trip counts in the period where it starts, under its main mode (its longest leg); per-mode CO2e adds
    up the legs, so modes add up to the totals. The default range is the last twelve periods.

    One summary covers at most 366 days, 260 weeks, 120 months or 50 years: a longer range answers 422
    naming `from` (ask for a coarser period, or several ranges). A range whose periods, or the period
    before the first, would fall outside the years 1 to 9999 in local time answers 422 naming `from` (or
    `to` at the end of the calendar)."""
    zone = ZoneInfo(settings.timezone)
    end = datetime.fromtimestamp(to / 1000, UTC) if to is not None else utcnow()
    with _in_calendar("to"):
        end_local = end.astimezone(zone)
        # The end of the last period is the furthest the summary reaches: compute it once here.
        next_start(period_start(end_local, period), period)
    if from_ is not None:
        with _in_calendar("from"):
            start_local = datetime.fromtimestamp(from_ / 1000, UTC).astimezone(zone)
        most = MAX_PERIODS[period]
        if period_count(start_local, end_local, period) > most:
            raise invalid_field(
                "from",
                Msg(
                    "a summary by {period} covers at most {most} {period}s; ask for a coarser period",
                    "un bilan par {period_fr} couvre au plus {most} {periods_fr} ; demandez une période plus "
                    "longue",
                    period=period,
                    most=most,
                    period_fr=_PERIODS_FR[period][0],
                    periods_fr=_PERIODS_FR[period][1],
                ),
                "query",
            )
    else:
        with _in_calendar("to"):  # the default range is counted back from `to`
            start_local = period_start(end_local, period)
            for _ in range(11):
                start_local = previous_start(start_local, period)
    with _in_calendar("from" if from_ is not None else "to"):
        first = previous_start(period_start(start_local, period), period)
    records = await _records(
        session, user.user_id, int(first.timestamp() * 1000), int(end.timestamp() * 1000)
    )
    await session.commit()
    with _in_calendar("to"):
        periods = summarize(records, period, zone, first, end_local)
    # Periods come in order: the shown ones are those from the first that ends after `from` on.
    shown = next((i for i, p in enumerate(periods) if p.end > start_local), len(periods))
    out: list[PeriodOut] = []
    overall_mode: dict[str, Totals] = {}
    overall_purpose: dict[str, Totals] = {}
    overall = Totals()
    for index in range(shown, len(periods)):
        p = periods[index]
        before = periods[index - 1].total if index > 0 else Totals()
        change = (
            None if before.co2e_g == 0 else round((p.total.co2e_g - before.co2e_g) / before.co2e_g * 100, 1)
        )
        out.append(
            PeriodOut(
                start=rfc3339_local(p.start),
                end=rfc3339_local(p.end),
                total=_totals(p.total),
                by_mode=_by_mode(p.by_mode),
                by_purpose=_by_purpose(p.by_purpose),
                previous=_totals(before),
                co2e_change_pct=change,
            )
        )
        overall.add(p.total.trips, p.total.distance_m, p.total.co2e_g)
        for mode, t in p.by_mode.items():
            overall_mode.setdefault(mode, Totals()).add(t.trips, t.distance_m, t.co2e_g)
        for purpose, t in p.by_purpose.items():
            overall_purpose.setdefault(purpose, Totals()).add(t.trips, t.distance_m, t.co2e_g)
    return SummaryOut(
        period=period,
        timezone=settings.timezone,
        from_=rfc3339_local(periods[shown].start if shown < len(periods) else start_local),
        to=rfc3339_local(end_local),
        periods=out,
        total=_totals(overall),
        by_mode=_by_mode(overall_mode),
        by_purpose=_by_purpose(overall_purpose),
    )


@router.get("/coaching/trajectory", response_model=TrajectoryOut, responses=AUTH_ERRORS)
async def get_trajectory(
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    lang: LangDep,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Default: this year")] = None,
) -> TrajectoryOut:
    """The year's travel emissions so far, projected over the year, against the yearly travel budget
    compatible with the 2050 target. In French or English (`Accept-Language`)."""
    zone = ZoneInfo(settings.timezone)
    now = utcnow().astimezone(zone)
    year = year or now.year
    start = datetime(year, 1, 1, tzinfo=zone)
    end = datetime(year + 1, 1, 1, tzinfo=zone)
    records = await _records(
        session, user.user_id, int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    )
    await session.commit()
    total = sum(r.co2e_g for r in records)
    first = datetime.fromtimestamp(records[0].start_ts_ms / 1000, UTC).astimezone(zone) if records else start
    last_day = min(now, end - timedelta(seconds=1))
    days = max(1, (last_day.date() - first.date()).days + 1) if last_day >= first else 1
    days_in_year = 366 if calendar.isleap(year) else 365
    result = trajectory(year, total, days, days_in_year, lang)
    months: dict[str, float] = {f"{year}-{m:02d}": 0.0 for m in range(1, 13)}
    for r in records:
        key = datetime.fromtimestamp(r.start_ts_ms / 1000, UTC).astimezone(zone).strftime("%Y-%m")
        months[key] = months.get(key, 0.0) + r.co2e_g
    return TrajectoryOut(
        year=result.year,
        co2e_kg=result.co2e_kg,
        days_counted=result.days_counted,
        days_in_year=result.days_in_year,
        projected_kg=result.projected_kg,
        budget_2050_kg=result.budget_2050_kg,
        ratio_to_budget=result.ratio_to_budget,
        message=result.message,
        basis=BUDGET_BASIS,
        months=[{"month": k, "co2e_kg": round(v / 1000, 3)} for k, v in sorted(months.items())],
    )


@router.get("/coaching/recurring", response_model=RecurringList, responses=AUTH_ERRORS)
async def get_recurring(
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    lang: LangDep,
    days: Annotated[int, Query(ge=7, le=366, description="How far back to look")] = 90,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> RecurringList:
    """The few trips made again and again (same origin and destination within a few hundred metres) that
    weigh most, with the best realistic alternative for each and what it would save in a year."""
    end = utcnow()
    start = end - timedelta(days=days)
    trips = await trip_store.between(
        session, user.user_id, int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    )
    ctx = await load_context(session, settings.emission_policy, user.user_id)
    await session.commit()
    ends = [
        TripEnds(
            str(t.id),
            t.start_lat,
            t.start_lon,
            t.end_lat,
            t.end_lon,
            t.distance_m,
            t.co2e_g,
            t.start_ts_ms / 1000,
        )
        for t in trips
    ]

    emission = emission_fn(ctx, None)

    found = recurring(ends, emission, days_covered=days, limit=limit, lang=lang)
    return RecurringList(
        days=days,
        recurring=[
            RecurringOut(
                count=r.count,
                co2e_g=r.co2e_g,
                distance_m=round(r.distance_m, 1),
                start=LatLon(lat=r.example.start_lat, lon=r.example.start_lon),
                end=LatLon(lat=r.example.end_lat, lon=r.example.end_lon),
                trip_ids=r.trip_ids,
                best_alternative=AlternativeOut(
                    mode=r.best.mode,
                    co2e_g=r.best.co2e_g,
                    saving_vs_car_g=r.best.saving_vs_car_g,
                    duration_s=r.best.duration_s,
                    message=r.best.message,
                )
                if r.best
                else None,
                yearly_saving_g=r.yearly_saving_g,
                message=r.message,
            )
            for r in found
        ],
    )


@router.get(
    "/attestations/mobility-allowance",
    responses={
        **AUTH_ERRORS,
        200: {
            "content": {"text/html": {}, "application/pdf": {}},
            "description": "The attestation, as a printable page or a PDF.",
        },
    },
    response_class=Response,
)
async def mobility_allowance(
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    lang: LangDep,
    year: Annotated[
        int | None, Query(ge=2000, le=2100, description="Calendar year; default this year")
    ] = None,
    format: Annotated[Literal["html", "pdf"], Query(description="html (printable) or pdf")] = "html",
) -> Response:
    """The sustainable-mobility allowance (forfait mobilités durables) attestation for a calendar year: the
    days with at least one commute (trips labelled, or inheriting, the purpose `commute`) made mostly by
    bike, carpool, public transport or a light personal vehicle, with the modes used. Generated on the
    person's request only; nothing is sent to anyone. The person's name is left blank to fill in."""
    zone = ZoneInfo(settings.timezone)
    today = utcnow().astimezone(zone).date()
    year = year or today.year
    start = datetime(year, 1, 1, tzinfo=zone)
    end = datetime(year + 1, 1, 1, tzinfo=zone)
    trips = await trip_store.between(
        session, user.user_id, int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    )
    legs = await trip_store.legs_of(
        session, user.user_id, [t.id for t in trips if t.purpose == "commute"], geometry=False
    )
    await session.commit()
    commutes = [
        CommuteTrip(
            t.start_ts_ms, t.purpose, [CommuteLeg(leg.mode, leg.distance_m) for leg in legs.get(t.id, [])]
        )
        for t in trips
        if t.purpose == "commute"
    ]
    days = qualifying_days(commutes, year, zone)
    filename = f"attestation-forfait-mobilites-durables-{year}"
    if format == "pdf":
        return Response(
            render_pdf(days, year, str(user.user_id), today, lang),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{filename}.pdf"'},
        )
    return HTMLResponse(
        render_html(days, year, str(user.user_id), today, lang),
        headers={"Content-Disposition": f'inline; filename="{filename}.html"'},
    )
