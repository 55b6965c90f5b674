"""The territory's statistics for its operators: aggregates of consenting people, never a person.

Every answer says which protections were applied (see app/statistics/disclosure.py): contribution caps, a
k-anonymity threshold with secondary suppression, and optionally differential privacy charged to the
operator's monthly privacy budget. Every person counted in a published figure finds it in their access
log.
"""

from __future__ import annotations

import asyncio
import calendar
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Body, Depends, Query, Request, Response, status

from app.accounts import repository as accounts
from app.accounts.operator_endpoints import OPERATOR_ERRORS
from app.core.deps import CurrentOperator, SessionDep, SettingsDep
from app.core.problems import Problem, ProblemError, invalid_field, not_found
from app.models import ZoneSet
from app.selfdata.repository import log_access
from app.settings import Settings
from app.statistics import repository as store
from app.statistics.disclosure import (
    Caps,
    Cell,
    add_noise,
    combine,
    group_total,
    people_behind,
    rounded,
    suppress,
)
from app.statistics.schemas import (
    Co2PerUserOut,
    ModalShareOut,
    OriginDestinationOut,
    ProfileOut,
    TimeseriesOut,
    ZoneSetList,
    ZoneSetOut,
    ZoneSetShapes,
    ZonesMapOut,
)
from app.statistics.zones import GRID_ID, grid_cell_polygon, parse_zones

router = APIRouter(prefix="/v1/operator", tags=["operator statistics"])
Period = Literal["day", "week", "month"]
CAPS = Caps()
ERRORS: dict[int | str, dict[str, Any]] = {
    **OPERATOR_ERRORS,
    404: {"model": Problem, "description": "No such zone set."},
    429: {"model": Problem, "description": "This month's privacy budget would be exceeded."},
}


def _invalid(field: str, detail: str, location: str = "query") -> ProblemError:
    return invalid_field(field, detail, location)


@dataclass(frozen=True)
class Scope:
    zone_set: ZoneSet
    day_from: int
    day_to: int
    zone: str | None
    epsilon: float | None


def _day_int(value: date) -> int:
    return value.year * 10000 + value.month * 100 + value.day


def _month_of(period_start: Any) -> int:
    """YYYYMM of a period's first day written as YYYY-MM-DD."""
    return int(str(period_start)[:7].replace("-", ""))


def _date(day: int) -> date:
    return date(day // 10000, day // 100 % 100, day % 100)


def period_of(day: int, period: Period) -> str:
    d = _date(day)
    if period == "day":
        return d.isoformat()
    if period == "week":
        return (d - timedelta(days=d.weekday())).isoformat()
    return d.replace(day=1).isoformat()


async def scope(
    session: SessionDep,
    zone_set: Annotated[
        str, Query(description="Zone set name; the built-in 500 m grid by default")
    ] = "grid-500m",
    from_: Annotated[
        date | None, Query(alias="from", description="First local day; default a year ago")
    ] = None,
    to: Annotated[date | None, Query(description="Last local day (included); default today")] = None,
    zone: Annotated[str | None, Query(max_length=64, description="Only trips starting in this zone")] = None,
    epsilon: Annotated[
        float | None,
        Query(gt=0, le=5, description="Add differential-privacy noise with this ε (charged to the budget)"),
    ] = None,
) -> Scope:
    found = await store.zone_set_named(session, zone_set)
    if found is None:
        raise not_found("zone set")
    last = to or datetime.now(UTC).date()
    first = from_ or last - timedelta(days=365)
    if first > last:
        raise _invalid("from", "must not be after `to`")
    if (last - first).days > 3 * 366:
        raise _invalid("from", "a release covers three years at most")
    return Scope(found, _day_int(first), _day_int(last), zone, epsilon)


async def _release(
    request: Request,
    session: SessionDep,
    settings: Settings,
    operator: accounts.OperatorPrincipal,
    sc: Scope,
    dims: Sequence[str],
    key: Callable[[tuple[Any, ...]], Any],
    groups: Callable[[dict[Any, Cell]], dict[Any, list[Any]]],
    what: str,
    monthly: bool = False,
) -> tuple[dict[Any, Cell], dict[Any, Cell], dict[str, Any]]:
    """Read, cap, suppress, maybe noise; log who was counted; say what protection was applied.

    A release by month over all zones is computed in SQL from the monthly rollups (its cost follows people
    and months); any other is combined here from per-person rows of the daily rollups."""
    in_sql = monthly and sc.zone is None and set(dims) <= {"day", "mode"}
    people_by_month: dict[int, list[uuid.UUID]] = {}
    if in_sql:
        caps = (CAPS.trips, CAPS.distance_m, CAPS.co2e_g)
        rows, people_by_month = await store.monthly_release(
            session, sc.zone_set.id, sc.day_from, sc.day_to, "mode" in dims, caps
        )
        n = len(dims)
        cells = {}
        for row in rows:
            cell_key = key(tuple(row[0] * 100 + 1 if d == "day" else row[i] for i, d in enumerate(dims)))
            cells[cell_key] = Cell(users=row[n], trips=row[n + 1], distance_m=row[n + 2], co2e_g=row[n + 3])
    else:
        rows = await store.contributions(session, sc.zone_set.id, sc.day_from, sc.day_to, dims, sc.zone)
        n = len(dims)
        cells = combine(((key(row[:n]), row[n], row[n + 1], row[n + 2], row[n + 3]) for row in rows), CAPS)
    grouping = groups(cells)
    group_users = [len(people_by_month.get(_month_of(name), ())) for name in grouping] if in_sql else None
    hidden = suppress(cells, list(grouping.values()), settings.stats_k, group_users)
    totals = {
        name: group_total(
            cells, members, settings.stats_k, group_users[i] if group_users is not None else None
        )
        for i, (name, members) in enumerate(grouping.items())
    }
    dp: dict[str, Any] | None = None
    if sc.epsilon is not None:
        remaining = await store.spend_budget(
            session, operator.operator_id, sc.epsilon, settings.dp_monthly_budget
        )
        if remaining is None:
            now = datetime.now(UTC)
            month_end = datetime(now.year, now.month, calendar.monthrange(now.year, now.month)[1], tzinfo=UTC)
            wait = int((month_end + timedelta(days=1) - now).total_seconds())
            raise ProblemError(
                429,
                "privacy-budget-exhausted",
                f"This release would spend ε={sc.epsilon} and this month's budget of ε={settings.dp_monthly_budget} "
                "does not allow it.",
                headers={"Retry-After": str(wait)},
            )
        add_noise(cells.values(), sc.epsilon, CAPS, np.random.default_rng())
        for name, members in grouping.items():
            # Totals of noisy cells are post-processing: they cost no more budget.
            total = totals[name]
            total.trips = sum(cells[m].trips for m in members if m in cells)
            total.distance_m = sum(cells[m].distance_m for m in members if m in cells)
            total.co2e_g = sum(cells[m].co2e_g for m in members if m in cells)
        dp = {
            "mechanism": "laplace",
            "epsilon": sc.epsilon,
            "split": "ε/3 each for trips, passenger-km and CO2e",
            "sensitivity": "the per-person caps",
            "budget_period": datetime.now(UTC).strftime("%Y-%m"),
            "budget_remaining": round(remaining, 6),
        }
    if in_sql:
        published = {
            _month_of(k[0] if isinstance(k, tuple) else k) for k, c in cells.items() if not c.suppressed
        }
        published |= {_month_of(name) for name, total in totals.items() if not total.suppressed}
        counted: set[Any] = {person for m in published for person in people_by_month.get(m, ())}
    else:
        counted = people_behind([*cells.values(), *totals.values()])
    name = await _operator_name(session, operator)
    await log_access(
        session,
        [uuid.UUID(str(p)) if not isinstance(p, uuid.UUID) else p for p in counted],
        actor=f"operator: {name}",
        action="aggregate",
        reason=f"counted in {what} ({_date(sc.day_from)} to {_date(sc.day_to)}, zone set {sc.zone_set.name})",
    )
    await session.commit()
    protection = {
        "k_anonymity": {"k": settings.stats_k, "suppressed_cells": hidden, "secondary_suppression": True},
        "contribution_cap": {
            "scope": "per person, over the whole release",
            "trips": CAPS.trips,
            "passenger_km": CAPS.distance_m / 1000,
            "co2e_kg": CAPS.co2e_g / 1000,
        },
        "differential_privacy": dp,
        "consent": "only trips made while the person had granted territory_statistics, by people whose "
        "consent still stands",
        "privacy_zones": "trip ends inside people's privacy zones are cut before anything is counted",
    }
    return cells, totals, protection


async def _operator_name(session: SessionDep, operator: accounts.OperatorPrincipal) -> str:
    found = await accounts.get_operator(session, operator.operator_id)
    return found.name if found else str(operator.operator_id)


def _measures(cell: Cell, dp: bool) -> dict[str, Any]:
    if cell.suppressed:
        return {"suppressed": True, "reason": cell.reason, "people": None, "trips": None, "passenger_km": None,
                "co2e_g": None}  # fmt: skip
    return {
        "suppressed": False,
        "people": None if dp else cell.users,
        "trips": rounded(cell.trips),
        "passenger_km": rounded(cell.distance_m / 1000),
        "co2e_g": rounded(cell.co2e_g),
    }


def _share(part: float | None, whole: float | None) -> float | None:
    if part is None or not whole:
        return None
    return round(part / whole, 4)


ScopeDep = Annotated[Scope, Depends(scope)]


@router.get(
    "/stats/modal-share", response_model=ModalShareOut, response_model_exclude_unset=True, responses=ERRORS
)
async def modal_share(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    operator: CurrentOperator,
    sc: ScopeDep,
    period: Period = "month",
) -> dict[str, Any]:
    """Modal share per period: trips (counted under their main mode), passenger-km and CO2e per mode,
    with the period's totals and each mode's share of them. Optionally for trips starting in one zone."""
    cells, totals, protection = await _release(
        request, session, settings, operator, sc, ("day", "mode"),
        key=lambda row: (period_of(row[0], period), row[1]),
        groups=lambda cells: _group_by(cells, lambda k: k[0]),
        what="the modal share", monthly=period == "month",
    )  # fmt: skip
    dp = sc.epsilon is not None
    periods = []
    for start in sorted(totals):
        total = _measures(totals[start], dp)
        modes = []
        for key in sorted(k for k in cells if k[0] == start):
            m = _measures(cells[key], dp)
            modes.append({"mode": key[1], **m, "share_trips": _share(m["trips"], total["trips"]),
                          "share_passenger_km": _share(m["passenger_km"], total["passenger_km"]),
                          "share_co2e": _share(m["co2e_g"], total["co2e_g"])})  # fmt: skip
        periods.append({"start": start, "total": total, "modes": modes})
    return {**_head(sc, period), "periods": periods, "protection": protection}


@router.get(
    "/stats/co2-per-user", response_model=Co2PerUserOut, response_model_exclude_unset=True, responses=ERRORS
)
async def co2_per_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    operator: CurrentOperator,
    sc: ScopeDep,
    period: Period = "month",
) -> dict[str, Any]:
    """CO2e per active person (people with at least one counted trip) per period."""
    cells, _, protection = await _release(
        request, session, settings, operator, sc, ("day",),
        key=lambda row: period_of(row[0], period), groups=lambda cells: {}, what="CO2e per active person",
        monthly=period == "month",
    )  # fmt: skip
    rows = []
    for start in sorted(cells):
        cell = cells[start]
        m = _measures(cell, sc.epsilon is not None)
        per_user = None if cell.suppressed or cell.users == 0 else rounded(cell.co2e_g / cell.users)
        rows.append({"start": start, **m, "active_people": None if cell.suppressed else cell.users,
                     "co2e_g_per_person": per_user})  # fmt: skip
    return {**_head(sc, period), "periods": rows, "protection": protection}


@router.get("/stats/profile", response_model=ProfileOut, response_model_exclude_unset=True, responses=ERRORS)
async def profile(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    operator: CurrentOperator,
    sc: ScopeDep,
    by: Literal["hour", "weekday"] = "hour",
) -> dict[str, Any]:
    """When people travel: trips, passenger-km and CO2e per local hour of the day (0-23) or per weekday
    (0 = Monday), with the total."""
    cells, totals, protection = await _release(
        request, session, settings, operator, sc, (by,),
        key=lambda row: int(row[0]), groups=lambda cells: {"all": list(cells)}, what=f"the {by} profile",
    )  # fmt: skip
    dp = sc.epsilon is not None
    return {
        **_head(sc, None),
        "by": by,
        "buckets": [{by: k, **_measures(cells[k], dp)} for k in sorted(cells)],
        "total": _measures(totals["all"], dp) if "all" in totals else None,
        "protection": protection,
    }


@router.get(
    "/stats/timeseries", response_model=TimeseriesOut, response_model_exclude_unset=True, responses=ERRORS
)
async def timeseries(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    operator: CurrentOperator,
    sc: ScopeDep,
    period: Period = "day",
) -> dict[str, Any]:
    """Trips, passenger-km and CO2e over time, per day, week or month."""
    cells, _, protection = await _release(
        request, session, settings, operator, sc, ("day",),
        key=lambda row: period_of(row[0], period), groups=lambda cells: {}, what="the time series",
        monthly=period == "month",
    )  # fmt: skip
    dp = sc.epsilon is not None
    series = [{"start": k, **_measures(cells[k], dp)} for k in sorted(cells)]
    return {**_head(sc, period), "series": series, "protection": protection}


@router.get(
    "/stats/od", response_model=OriginDestinationOut, response_model_exclude_unset=True, responses=ERRORS
)
async def origin_destination(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    operator: CurrentOperator,
    sc: ScopeDep,
) -> dict[str, Any]:
    """Origin-destination flows between zones (trips, passenger-km, CO2e), with the totals leaving each
    origin and reaching each destination. Trip ends inside people's privacy zones are never used."""
    cells, totals, protection = await _release(
        request, session, settings, operator, sc, ("origin_zone", "dest_zone"),
        key=lambda row: (row[0] or "outside", row[1] or "outside"),
        groups=lambda cells: {**_group_by(cells, lambda k: ("from", k[0])), **_group_by(cells, lambda k: ("to", k[1]))},
        what="origin-destination flows",
    )  # fmt: skip
    dp = sc.epsilon is not None
    flows = [{"origin": k[0], "destination": k[1], **_measures(cells[k], dp)} for k in sorted(cells)]
    return {
        **_head(sc, None),
        "flows": flows,
        "from_totals": [
            {"origin": k[1], **_measures(t, dp)} for k, t in sorted(totals.items()) if k[0] == "from"
        ],
        "to_totals": [
            {"destination": k[1], **_measures(t, dp)} for k, t in sorted(totals.items()) if k[0] == "to"
        ],
        "protection": protection,
    }


@router.get("/stats/zones", response_model=ZonesMapOut, response_model_exclude_unset=True, responses=ERRORS)
async def zones_map(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    operator: CurrentOperator,
    sc: ScopeDep,
) -> dict[str, Any]:
    """Per origin zone, as a GeoJSON FeatureCollection for a map: trips, passenger-km, CO2e and the main
    modes' shares of trips. Only zones with published figures are returned."""
    cells, totals, protection = await _release(
        request, session, settings, operator, sc, ("origin_zone", "mode"),
        key=lambda row: (row[0] or "outside", row[1]),
        groups=lambda cells: _group_by(cells, lambda k: k[0]),
        what="the zone map",
    )  # fmt: skip
    dp = sc.epsilon is not None
    shapes = {}
    if sc.zone_set.kind != "grid":
        shapes = {z.code: z.geometry for z in await store.zone_shapes(session, sc.zone_set.id)}
    await session.commit()
    features = []
    for code in sorted(totals):
        total = totals[code]
        if total.suppressed or code == "outside":
            continue
        geometry = (
            grid_cell_polygon(str(code), sc.zone_set.cell_m or 500)
            if sc.zone_set.kind == "grid"
            else shapes.get(str(code))
        )
        measures = _measures(total, dp)
        shares = {}
        for key in (k for k in cells if k[0] == code):
            cell = cells[key]
            shares[key[1]] = None if cell.suppressed else _share(cell.trips, total.trips)
        features.append({"type": "Feature", "id": code, "geometry": geometry,
                         "properties": {"zone": code, **measures, "mode_share_trips": shares}})  # fmt: skip
    return {"type": "FeatureCollection", **_head(sc, None), "features": features, "protection": protection}


def _group_by(cells: dict[Any, Cell], of: Callable[[Any], Any]) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = {}
    for key in cells:
        groups.setdefault(of(key), []).append(key)
    return groups


def _head(sc: Scope, period: str | None) -> dict[str, Any]:
    head: dict[str, Any] = {
        "zone_set": sc.zone_set.name,
        "from": _date(sc.day_from).isoformat(),
        "to": _date(sc.day_to).isoformat(),
        "zone": sc.zone,
    }
    if period is not None:
        head["period"] = period
    return head


# -- zone sets --------------------------------------------------------------------------------------------


def _zone_set_out(zs: ZoneSet, zones: int | None) -> dict[str, Any]:
    return {
        "id": str(zs.id),
        "name": zs.name,
        "kind": zs.kind,
        "cell_m": zs.cell_m,
        "zones": zones,
        "created_at": zs.created_at.isoformat().replace("+00:00", "Z"),
    }


@router.get("/zone-sets", response_model=ZoneSetList, responses=OPERATOR_ERRORS)
async def list_zone_sets(session: SessionDep, operator: CurrentOperator) -> dict[str, Any]:
    """The ways the territory is divided: the built-in 500 m grid and uploaded polygons."""
    sets = await store.zone_sets(session)
    counts = await store.zone_counts(session)
    await session.commit()
    return {"zone_sets": [_zone_set_out(zs, counts.get(zs.id) if zs.kind != "grid" else None) for zs in sets]}


@router.post(
    "/zone-sets",
    status_code=status.HTTP_201_CREATED,
    response_model=ZoneSetOut,
    responses={**OPERATOR_ERRORS, 409: {"model": Problem}},
)
async def upload_zone_set(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    operator: CurrentOperator,
    name: Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")],
    body: Annotated[
        dict[str, Any],
        Body(
            description="A GeoJSON FeatureCollection of Polygon/MultiPolygon zones, "
            "WGS 84; properties `code` (or `id`) and `name`."
        ),
    ],
) -> dict[str, Any]:
    """Upload zones (communes, neighbourhoods) as GeoJSON. Polygons are checked (valid rings, WGS 84,
    at most 5,000 zones). Trips already processed are assigned to the new zones in the background; new
    trips are assigned as they are processed."""
    shapes = parse_zones(body)  # a bad zone file answers 422 (core/problems)
    if await store.zone_set_named(session, name) is not None:
        raise ProblemError(409, "conflict", f"A zone set named {name!r} exists already.")
    zs = ZoneSet(name=name, kind="polygons", operator_id=operator.operator_id)
    await store.add_zone_set(
        session, zs, [{"code": z.code, "name": z.name, "geometry": z.geometry} for z in shapes]
    )
    out = _zone_set_out(zs, len(shapes))
    await session.commit()
    task = asyncio.create_task(backfill(request.app.state.db, zs.id, settings))
    request.app.state.import_tasks.add(task)
    task.add_done_callback(request.app.state.import_tasks.discard)
    return out


async def backfill(db: Any, zone_set_id: uuid.UUID, settings: Settings) -> int:
    """Assign every consenting person's past trips to a new zone set (one person per transaction)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(settings.timezone)
    async with db.session() as session:
        people = await store.consenting_people(session)
        await session.commit()
    rows = 0
    for user_id in people:
        async with db.session() as session:
            rows += await store.rebuild_rollups(session, user_id, tz, None, {zone_set_id})
            await session.commit()
    return rows


@router.get(
    "/zone-sets/{zone_set_id}",
    response_model=ZoneSetShapes,
    responses={**OPERATOR_ERRORS, 404: {"model": Problem}},
)
async def get_zone_set(
    session: SessionDep, operator: CurrentOperator, zone_set_id: uuid.UUID
) -> dict[str, Any]:
    """An uploaded zone set as GeoJSON (the grid has no fixed list of cells: see /stats/zones)."""
    zs = await store.zone_set(session, zone_set_id)
    if zs is None:
        raise not_found("zone set")
    shapes = await store.zone_shapes(session, zs.id)
    await session.commit()
    return {
        "type": "FeatureCollection",
        "zone_set": _zone_set_out(zs, len(shapes) if zs.kind != "grid" else None),
        "features": [{"type": "Feature", "id": z.code, "geometry": z.geometry, "properties": {"code": z.code,
                                                                                              "name": z.name}}
                     for z in shapes],
    }  # fmt: skip


@router.delete("/zone-sets/{zone_set_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={**OPERATOR_ERRORS, 404: {"model": Problem}, 409: {"model": Problem}})  # fmt: skip
async def delete_zone_set(session: SessionDep, operator: CurrentOperator, zone_set_id: uuid.UUID) -> Response:
    zs = await store.zone_set(session, zone_set_id)
    if zs is None:
        raise not_found("zone set")
    if zs.id == GRID_ID:
        raise ProblemError(409, "conflict", "The built-in grid cannot be deleted.")
    await store.delete_zone_set(session, zs)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
