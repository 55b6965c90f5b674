"""The territory's statistics for its operators: aggregates of consenting people, never a person.

Every answer says which protections were applied (see app/statistics/disclosure.py): contribution caps, a
k-anonymity threshold with secondary suppression, and optionally differential privacy charged to the
operator's monthly privacy budget. Every person counted in a published figure finds it in their access
log.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status

from app.accounts import repository as accounts
from app.core.deps import (
    ADMIN_ERRORS,
    OPERATOR_ERRORS,
    CurrentOperator,
    SessionDep,
    SettingsDep,
    TerritoryAdmin,
)
from app.core.problems import Problem, ProblemError, invalid_field, not_found
from app.core.schemas import InputText
from app.models import ZoneSet
from app.statistics import repository as store
from app.statistics.disclosure import (
    rounded,
)
from app.statistics.schemas import (
    Co2PerUserOut,
    ModalShareOut,
    OriginDestinationOut,
    TimeseriesOut,
    TravelProfileOut,
    ZoneSetList,
    ZoneSetOut,
    ZoneSetShapes,
    ZonesMapOut,
)
from app.statistics.service import (
    Period,
    Scope,
    backfill,
    day_int,
    group_by,
    head,
    measures,
    period_of,
    release,
    share,
)
from app.statistics.zones import GRID_ID, grid_cell_polygon, parse_zones

router = APIRouter(prefix="/v1/operator", tags=["operator statistics"])
ERRORS: dict[int | str, dict[str, Any]] = {
    **OPERATOR_ERRORS,
    404: {"model": Problem, "description": "No such zone set."},
    429: {"model": Problem, "description": "This month's privacy budget would be exceeded."},
}


def _invalid(field: str, detail: str, location: str = "query") -> ProblemError:
    return invalid_field(field, detail, location)


async def scope(
    session: SessionDep,
    zone_set: Annotated[
        InputText, Query(max_length=100, description="Zone set name; the built-in 500 m grid by default")
    ] = "grid-500m",
    from_: Annotated[
        date | None, Query(alias="from", description="First local day; default a year ago")
    ] = None,
    to: Annotated[date | None, Query(description="Last local day (included); default today")] = None,
    zone: Annotated[
        InputText | None, Query(max_length=64, description="Only trips starting in this zone")
    ] = None,
    epsilon: Annotated[
        float | None,
        Query(gt=0, le=5, description="Add differential-privacy noise with this ε (charged to the budget)"),
    ] = None,
) -> Scope:
    found = await store.zone_set_named(session, zone_set)
    if found is None:
        raise not_found("zone set")
    last = to or datetime.now(UTC).date()
    # A year before `to` by default, but not before the calendar starts (`to` in year 1: nothing to count).
    first = from_ or last - timedelta(days=min(365, last.toordinal() - 1))
    if first > last:
        raise _invalid("from", "must not be after `to`")
    if (last - first).days > 3 * 366:
        raise _invalid("from", "a release covers three years at most")
    return Scope(found, day_int(first), day_int(last), zone, epsilon)


ScopeDep = Annotated[Scope, Depends(scope)]


@router.get(
    "/stats/modal-share", response_model=ModalShareOut, response_model_exclude_unset=True, responses=ERRORS
)
async def modalshare(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    operator: CurrentOperator,
    sc: ScopeDep,
    period: Period = "month",
) -> dict[str, Any]:
    """Modal share per period: trips (counted under their main mode), passenger-km and CO2e per mode,
    with the period's totals and each mode's share of them. Optionally for trips starting in one zone."""
    cells, totals, protection = await release(
        session, settings, operator, sc, ("day", "mode"),
        key=lambda row: (period_of(row[0], period), row[1]),
        groups=lambda cells: group_by(cells, lambda k: k[0]),
        what="the modal share", monthly=period == "month",
    )  # fmt: skip
    dp = sc.epsilon is not None
    periods = []
    for start in sorted(totals):
        total = measures(totals[start], dp)
        modes = []
        for key in sorted(k for k in cells if k[0] == start):
            m = measures(cells[key], dp)
            modes.append({"mode": key[1], **m, "share_trips": share(m["trips"], total["trips"]),
                          "share_passenger_km": share(m["passenger_km"], total["passenger_km"]),
                          "share_co2e": share(m["co2e_g"], total["co2e_g"])})  # fmt: skip
        periods.append({"start": start, "total": total, "modes": modes})
    return {**head(sc, period), "periods": periods, "protection": protection}


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
    cells, _, protection = await release(
        session, settings, operator, sc, ("day",),
        key=lambda row: period_of(row[0], period), groups=lambda cells: {}, what="CO2e per active person",
        monthly=period == "month",
    )  # fmt: skip
    rows = []
    for start in sorted(cells):
        cell = cells[start]
        m = measures(cell, sc.epsilon is not None)
        per_user = None if cell.suppressed or cell.users == 0 else rounded(cell.co2e_g / cell.users)
        rows.append({"start": start, **m, "active_people": None if cell.suppressed else cell.users,
                     "co2e_g_per_person": per_user})  # fmt: skip
    return {**head(sc, period), "periods": rows, "protection": protection}


@router.get(
    "/stats/profile", response_model=TravelProfileOut, response_model_exclude_unset=True, responses=ERRORS
)
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
    cells, totals, protection = await release(
        session, settings, operator, sc, (by,),
        key=lambda row: int(row[0]), groups=lambda cells: {"all": list(cells)}, what=f"the {by} profile",
    )  # fmt: skip
    dp = sc.epsilon is not None
    return {
        **head(sc, None),
        "by": by,
        "buckets": [{by: k, **measures(cells[k], dp)} for k in sorted(cells)],
        "total": measures(totals["all"], dp) if "all" in totals else None,
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
    cells, _, protection = await release(
        session, settings, operator, sc, ("day",),
        key=lambda row: period_of(row[0], period), groups=lambda cells: {}, what="the time series",
        monthly=period == "month",
    )  # fmt: skip
    dp = sc.epsilon is not None
    series = [{"start": k, **measures(cells[k], dp)} for k in sorted(cells)]
    return {**head(sc, period), "series": series, "protection": protection}


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
    cells, totals, protection = await release(
        session, settings, operator, sc, ("origin_zone", "dest_zone"),
        key=lambda row: (row[0] or "outside", row[1] or "outside"),
        groups=lambda cells: {**group_by(cells, lambda k: ("from", k[0])), **group_by(cells, lambda k: ("to", k[1]))},
        what="origin-destination flows",
    )  # fmt: skip
    dp = sc.epsilon is not None
    flows = [{"origin": k[0], "destination": k[1], **measures(cells[k], dp)} for k in sorted(cells)]
    return {
        **head(sc, None),
        "flows": flows,
        "from_totals": [
            {"origin": k[1], **measures(t, dp)} for k, t in sorted(totals.items()) if k[0] == "from"
        ],
        "to_totals": [
            {"destination": k[1], **measures(t, dp)} for k, t in sorted(totals.items()) if k[0] == "to"
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
    cells, totals, protection = await release(
        session, settings, operator, sc, ("origin_zone", "mode"),
        key=lambda row: (row[0] or "outside", row[1]),
        groups=lambda cells: group_by(cells, lambda k: k[0]),
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
        figures = measures(total, dp)
        shares = {}
        for key in (k for k in cells if k[0] == code):
            cell = cells[key]
            shares[key[1]] = None if cell.suppressed else share(cell.trips, total.trips)
        features.append({"type": "Feature", "id": code, "geometry": geometry,
                         "properties": {"zone": code, **figures, "mode_share_trips": shares}})  # fmt: skip
    return {"type": "FeatureCollection", **head(sc, None), "features": features, "protection": protection}


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
    responses={**ADMIN_ERRORS, 409: {"model": Problem, "description": "A zone set of that name exists."}},
)
async def upload_zone_set(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    operator: TerritoryAdmin,
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
    trips are assigned as they are processed. Needs the administrator role; the upload is recorded in
    `/v1/operator/actions`."""
    shapes = parse_zones(body)  # a bad zone file answers 422 (core/problems)
    taken = ProblemError(409, "conflict", f"A zone set named {name!r} exists already.")
    if await store.zone_set_named(session, name) is not None:
        raise taken
    zs = ZoneSet(name=name, kind="polygons", operator_id=operator.operator_id)
    added = await store.add_zone_set(
        session, zs, [{"code": z.code, "name": z.name, "geometry": z.geometry} for z in shapes]
    )
    if not added:  # another upload of the same name got in first
        raise taken
    await accounts.record_action(session, operator, "zone_set.upload", name, {"zones": len(shapes)})
    out = _zone_set_out(zs, len(shapes))
    await session.commit()
    task = asyncio.create_task(backfill(request.app.state.db, zs.id, settings))
    request.app.state.import_tasks.add(task)
    task.add_done_callback(request.app.state.import_tasks.discard)
    return out


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


@router.delete(
    "/zone-sets/{zone_set_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **ADMIN_ERRORS,
        403: {
            "model": Problem,
            "description": "A person's token, an analyst, or a zone set another operator uploaded.",
        },
        404: {"model": Problem},
        409: {"model": Problem, "description": "The built-in grid cannot be deleted."},
    },
)
async def delete_zone_set(session: SessionDep, operator: TerritoryAdmin, zone_set_id: uuid.UUID) -> Response:
    """Delete a zone set this operator uploaded (one whose operator is gone may be deleted by any
    administrator). The deletion is recorded in `/v1/operator/actions`."""
    zs = await store.zone_set(session, zone_set_id)
    if zs is None:
        raise not_found("zone set")
    if zs.id == GRID_ID:
        raise ProblemError(409, "conflict", "The built-in grid cannot be deleted.")
    if zs.operator_id is not None and zs.operator_id != operator.operator_id:
        raise ProblemError(
            403, "not-owner", "Another operator uploaded this zone set: only that operator may delete it."
        )
    await store.delete_zone_set(session, zs)
    await accounts.record_action(session, operator, "zone_set.delete", zs.name)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
