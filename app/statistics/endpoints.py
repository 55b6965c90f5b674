"""The territory's statistics for its operators: aggregates of consenting people, never a person.

Every ad-hoc answer here is differentially private (app/statistics/privacy.py): contributions bounded per
person and month, discrete Laplace noise on every figure, ε charged to the territory's budget of each
month of data it covers, and the answer kept, so that asking again returns it at no cost. Exact figures
exist only as the monthly publications (app/statistics/publication_endpoints.py). Every person counted
finds it in their access log.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Hashable
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, status

from app.accounts import repository as accounts
from app.core.deps import (
    ADMIN_ERRORS,
    OPERATOR_ERRORS,
    CurrentOperator,
    SessionDep,
    SettingsDep,
    TerritoryAdmin,
)
from app.core.lang import Msg
from app.core.problems import Problem, ProblemError, invalid_field, not_found
from app.core.schemas import MONTH_PATTERN, InputText
from app.mobility.types import MODES
from app.models import ZoneSet
from app.settings import Settings
from app.statistics import repository as store
from app.statistics.schemas import (
    BudgetOut,
    Co2PerUserOut,
    ModalShareOut,
    OriginDestinationOut,
    PublicationMapOut,
    ReleaseList,
    TimeseriesOut,
    TravelProfileOut,
    ZoneSetList,
    ZoneSetOut,
    ZoneSetShapes,
    ZonesMapOut,
)
from app.statistics.service import (
    DETAIL,
    Noisy,
    Period,
    Question,
    Scope,
    answer,
    backfill,
    day_int,
    head,
    measures,
    month_text,
    period_of,
    periods,
    periods_per_month,
    share,
)
from app.statistics.zones import GRID_ID, grid_cell_polygon, grid_codes_in, parse_zones

router = APIRouter(prefix="/v1/operator", tags=["operator statistics"])
ERRORS: dict[int | str, dict[str, Any]] = {
    **OPERATOR_ERRORS,
    404: {"model": Problem, "description": "No such zone set."},
    409: {
        "model": Problem,
        "description": "The privacy budget of a month of data this release covers would be exceeded.",
    },
}
# Origin-destination flows publish every pair of zones with noise: a zone set of at most this many zones.
OD_MAX_ZONES = 100
GRID_CODE = re.compile(r"^E-?\d{1,7}N-?\d{1,7}$")


def _invalid(field: str, detail: Msg, location: str = "query") -> ProblemError:
    return invalid_field(field, detail, location)


NO_ZONE_SET = Msg("No zone set", "Aucun jeu de zones")


def _today(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.timezone)).date()


async def scope(
    session: SessionDep,
    settings: SettingsDep,
    zone_set: Annotated[
        InputText, Query(max_length=100, description="Zone set name; the built-in 500 m grid by default")
    ] = "grid-500m",
    from_: Annotated[
        date | None,
        Query(
            alias="from",
            description="First local day; default the first day of the twelfth month before `to`",
        ),
    ] = None,
    to: Annotated[
        date | None,
        Query(description="Last local day (included), before today; default the last day of last month"),
    ] = None,
    zone: Annotated[
        InputText | None, Query(max_length=64, description="Only trips starting in this zone")
    ] = None,
    epsilon: Annotated[
        float | None,
        Query(
            gt=0,
            le=5,
            description="The ε this release spends on each month of data it covers; "
            "COACHCO2_DP_RELEASE_EPSILON by default",
        ),
    ] = None,
) -> Scope:
    found = await store.zone_set_named(session, zone_set)
    if found is None:
        raise not_found(NO_ZONE_SET)
    today = _today(settings)
    if to is not None and to >= today:
        raise _invalid(
            "to",
            Msg(
                "a release covers days that have ended: `to` must be before today",
                "une diffusion couvre des jours révolus : `to` doit précéder aujourd'hui",
            ),
        )
    if to is None:
        to = today.replace(day=1) - timedelta(days=1)
    if from_ is None:
        back = (to.year * 12 + to.month - 1) - 11
        first = date(max(1, back // 12), back % 12 + 1, 1) if back >= 12 else date(1, 1, 1)
        from_ = first
    if from_ > to:
        raise _invalid("from", Msg("must not be after `to`", "ne doit pas suivre `to`"))
    if (to - from_).days > 3 * 366:
        raise _invalid(
            "from", Msg("a release covers three years at most", "une diffusion couvre trois ans au plus")
        )
    if zone is not None:
        await _check_zone(session, found, zone)
    await session.commit()
    return Scope(
        found, day_int(from_), day_int(to), zone, settings.dp_release_epsilon if epsilon is None else epsilon
    )


async def _check_zone(session: SessionDep, zone_set: ZoneSet, zone: str) -> None:
    if zone_set.kind == "grid":
        if not GRID_CODE.match(zone):
            raise _invalid(
                "zone",
                Msg(
                    "not a cell of the grid (E<x>N<y>, as /stats/zones names them)",
                    "ce n'est pas une maille de la grille (E<x>N<y>, comme les nomme /stats/zones)",
                ),
            )
        return
    if zone not in await store.zone_codes(session, zone_set.id):
        raise _invalid(
            "zone",
            Msg(
                "no zone with that code in the zone set {name!r}",
                "aucune zone de ce code dans le jeu de zones {name!r}",
                name=zone_set.name,
            ),
        )


ScopeDep = Annotated[Scope, Depends(scope)]


async def zone_keys(session: SessionDep, settings: Settings, zone_set: ZoneSet) -> list[str]:
    """The zones of a zone set, whatever the data: the grid's cells over the territory, or the uploaded
    zones; `outside` for trips starting elsewhere."""
    if zone_set.kind == "grid":
        codes: list[str] = list(grid_codes_in(settings.territory_bbox, zone_set.cell_m or 500))
    else:
        codes = sorted(await store.zone_codes(session, zone_set.id))
    await session.commit()
    return [*codes, "outside"]


def _known(codes: set[str]) -> Any:
    return lambda code: code if code in codes else "outside"


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
    with the period's totals and each mode's share of them, every figure with its 95 % margin of error.
    Optionally for trips starting in one zone."""
    starts = periods(sc.day_from, sc.day_to, period)
    question = Question(
        "modal-share", {"period": period}, ("day", "mode"), [(p, m) for p in starts for m in MODES],
        key_of=lambda row: (period_of(row[0], period), row[1]), measures=("trips", "passenger_km", "co2e_g"),
        monthly=period == "month",
    )  # fmt: skip

    def build(noisy: Noisy) -> dict[str, Any]:
        out = []
        for start in starts:
            cells: list[Hashable] = [(start, m) for m in MODES]
            total = measures(noisy, cells)
            modes = []
            for mode in MODES:
                m = measures(noisy, [(start, mode)])
                modes.append({"mode": mode, **m, "share_trips": share(m["trips"], total["trips"]),
                              "share_passenger_km": share(m["passenger_km"], total["passenger_km"]),
                              "share_co2e": share(m["co2e_g"], total["co2e_g"])})  # fmt: skip
            out.append({"start": start, "total": total, "modes": modes})
        return {**head(sc, period), "periods": out}

    return await answer(
        request.app.state.db, session, settings, operator, sc, question, build, "the modal share"
    )


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
    """CO2e per active person (people with at least one counted trip) per period: the noisy CO2e over the
    noisy count of active people (ε shared between the two)."""
    starts = periods(sc.day_from, sc.day_to, period)
    question = Question(
        "co2-per-user", {"period": period}, ("day",), starts, key_of=lambda row: period_of(row[0], period),
        measures=("co2e_g", "people"), people_sensitivity=periods_per_month(sc.day_from, sc.day_to, period),
        monthly=period == "month",
    )  # fmt: skip

    def build(noisy: Noisy) -> dict[str, Any]:
        rows = []
        for start in starts:
            m = measures(noisy, [start])
            active = m["people"]
            per_person = round(m["co2e_g"] / active, 1) if active and m["co2e_g"] is not None else None
            rows.append({"start": start, **m, "active_people": active, "co2e_g_per_person": per_person})
        return {**head(sc, period), "periods": rows}

    return await answer(
        request.app.state.db, session, settings, operator, sc, question, build, "CO2e per active person"
    )


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
    buckets = list(range(24 if by == "hour" else 7))
    question = Question(
        "profile", {"by": by}, (by,), buckets, key_of=lambda row: int(row[0]),
        measures=("trips", "passenger_km", "co2e_g"),
    )  # fmt: skip

    def build(noisy: Noisy) -> dict[str, Any]:
        return {
            **head(sc, None),
            "by": by,
            "buckets": [{by: b, **measures(noisy, [b])} for b in buckets],
            "total": measures(noisy, buckets),
        }

    return await answer(
        request.app.state.db, session, settings, operator, sc, question, build, f"the {by} profile"
    )


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
    starts = periods(sc.day_from, sc.day_to, period)
    question = Question(
        "timeseries", {"period": period}, ("day",), starts, key_of=lambda row: period_of(row[0], period),
        measures=("trips", "passenger_km", "co2e_g"), monthly=period == "month",
    )  # fmt: skip

    def build(noisy: Noisy) -> dict[str, Any]:
        return {**head(sc, period), "series": [{"start": s, **measures(noisy, [s])} for s in starts]}

    return await answer(
        request.app.state.db, session, settings, operator, sc, question, build, "the time series"
    )


@router.get(
    "/stats/od",
    response_model=OriginDestinationOut,
    response_model_exclude_unset=True,
    responses={**ERRORS, 422: {"model": Problem, "description": "A zone set with too many zones."}},
)
async def origin_destination(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    operator: CurrentOperator,
    sc: ScopeDep,
) -> dict[str, Any]:
    """Origin-destination flows between the zones of an uploaded zone set of at most 100 zones (trips,
    passenger-km, CO2e), with the totals leaving each origin and reaching each destination. Every pair is
    measured with noise; `flows` lists the pairs whose trips stand clear of it (above their 95 % margin).
    Trip ends inside people's privacy zones are never used."""
    if sc.zone_set.kind == "grid":
        raise _invalid(
            "zone_set",
            Msg(
                "origin-destination flows need an uploaded zone set of at most {most} zones",
                "les flux origine-destination demandent un jeu de zones chargé d'au plus {most} zones",
                most=OD_MAX_ZONES,
            ),
        )
    zones = await zone_keys(session, settings, sc.zone_set)
    if len(zones) - 1 > OD_MAX_ZONES:
        raise _invalid(
            "zone_set",
            Msg(
                "origin-destination flows need a zone set of at most {most} zones",
                "les flux origine-destination demandent un jeu d'au plus {most} zones",
                most=OD_MAX_ZONES,
            ),
        )
    known = _known(set(zones))
    question = Question(
        "od", {}, ("origin_zone", "dest_zone"), [(o, d) for o in zones for d in zones],
        key_of=lambda row: (known(row[0]), known(row[1])), measures=("trips", "passenger_km", "co2e_g"),
    )  # fmt: skip

    def build(noisy: Noisy) -> dict[str, Any]:
        flows = []
        for o in zones:
            for d in zones:
                m = measures(noisy, [(o, d)])
                if (m["trips"] or 0) > (m["margin_95"].get("trips") or 0):
                    flows.append({"origin": o, "destination": d, **m})
        return {
            **head(sc, None),
            "flows": flows,
            "flows_hidden": len(zones) ** 2 - len(flows),
            "from_totals": [{"origin": o, **measures(noisy, [(o, d) for d in zones])} for o in zones],
            "to_totals": [{"destination": d, **measures(noisy, [(o, d) for o in zones])} for d in zones],
        }

    body = await answer(
        request.app.state.db, session, settings, operator, sc, question, build, "origin-destination flows"
    )
    # Answers kept from before the count was given: it follows from the pairs measured.
    body.setdefault("flows_hidden", len(zones) ** 2 - len(body["flows"]))
    return body


@router.get("/stats/zones", response_model=ZonesMapOut, response_model_exclude_unset=True, responses=ERRORS)
async def zones_map(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    operator: CurrentOperator,
    sc: ScopeDep,
) -> dict[str, Any]:
    """Per origin zone, as a GeoJSON FeatureCollection for a map: trips, passenger-km, CO2e and the modes'
    shares of trips. Every zone is measured with noise; the features are the zones whose trips stand clear
    of it (above their 95 % margin)."""
    zones = await zone_keys(session, settings, sc.zone_set)
    known = _known(set(zones))
    question = Question(
        "zones", {}, ("origin_zone", "mode"), zones, key_of=lambda row: known(row[0]),
        measures=("trips", "passenger_km", "co2e_g"), detail_keys=[(z, m) for z in zones for m in MODES],
        detail_of=lambda row: (known(row[0]), row[1]),
    )  # fmt: skip
    shapes: dict[str, Any] = {}
    if sc.zone_set.kind != "grid":
        shapes = {z.code: z.geometry for z in await store.zone_shapes(session, sc.zone_set.id)}
        await session.commit()

    def build(noisy: Noisy) -> dict[str, Any]:
        features = []
        for code in zones:
            if code == "outside":
                continue
            figures = measures(noisy, [code])
            if (figures["trips"] or 0) <= (figures["margin_95"].get("trips") or 0):
                continue
            geometry = (
                grid_cell_polygon(code, sc.zone_set.cell_m or 500)
                if sc.zone_set.kind == "grid"
                else shapes.get(code)
            )
            # Shares of the zone's trips by mode, from trips measured per zone and mode (their own noise).
            by_mode = {m: noisy.figure(DETAIL, [(code, m)]) or 0.0 for m in MODES}
            whole = sum(by_mode.values())
            shares = {m: share(v, whole) for m, v in by_mode.items()}
            features.append({"type": "Feature", "id": code, "geometry": geometry,
                             "properties": {"zone": code, **figures, "mode_share_trips": shares}})  # fmt: skip
        hidden = len(zones) - 1 - len(features)  # `outside` is measured, never drawn
        return {"type": "FeatureCollection", **head(sc, None), "features": features, "zones_hidden": hidden}

    body = await answer(
        request.app.state.db, session, settings, operator, sc, question, build, "the zone map"
    )
    # Answers kept from before the count was given: it follows from the zones measured.
    body.setdefault("zones_hidden", len(zones) - 1 - len(body["features"]))
    return body


# -- the privacy budget and the ledger of releases ------------------------------------------------------------


@router.get("/privacy/budget", response_model=BudgetOut, responses=OPERATOR_ERRORS)
async def privacy_budget(
    session: SessionDep, settings: SettingsDep, operator: CurrentOperator
) -> dict[str, Any]:
    """The territory's privacy budget: for each month of data that releases have counted, its lifetime ε,
    what all releases together spent on it, and what is left. A month no release has counted has all of
    its budget."""
    spent = await store.spent(session)
    await session.commit()
    return {
        "lifetime_epsilon": settings.dp_month_epsilon,
        "release_epsilon": settings.dp_release_epsilon,
        "unit": "one person's data of one local month",
        "months": [
            {"month": month_text(m), "lifetime_epsilon": settings.dp_month_epsilon, "spent_epsilon": round(e, 9),
             "remaining_epsilon": round(max(0.0, settings.dp_month_epsilon - e), 9)}
            for m, e in sorted(spent.items())
        ],
    }  # fmt: skip


@router.get(
    "/privacy/releases",
    response_model=ReleaseList,
    response_model_exclude_unset=True,  # a release's parameters as they were asked, no more
    responses={**OPERATOR_ERRORS, 422: {"model": Problem, "description": "A malformed cursor."}},
)
async def privacy_releases(
    session: SessionDep,
    operator: CurrentOperator,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many releases")] = 100,
    cursor: Annotated[
        str | None, Query(max_length=100, description="`next_cursor` of the previous page")
    ] = None,
) -> dict[str, Any]:
    """The ledger: every differentially private release, newest first: who asked, what, the ε it spent on
    each month of data it covers."""
    before = None
    if cursor is not None:
        try:
            at_text, id_text = cursor.split("_", 1)
            before = (datetime.fromisoformat(at_text), uuid.UUID(id_text))
        except ValueError:
            raise _invalid(
                "cursor",
                Msg("not a cursor this endpoint gave", "ce n'est pas un curseur donné par ce point d'accès"),
            ) from None
    rows = await store.releases(session, limit + 1, before)
    await session.commit()
    page = rows[:limit]
    items = [
        {"id": str(r.id), "created_at": r.created_at.isoformat().replace("+00:00", "Z"), "asked_by": r.operator_name,
         "endpoint": r.endpoint, "params": r.params, "epsilon": r.epsilon, "months": [month_text(m) for m in r.months]}
        for r in page
    ]  # fmt: skip
    last = page[-1] if len(rows) > limit else None
    return {"releases": items, "next_cursor": f"{last.created_at.isoformat()}_{last.id}" if last else None}


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
    taken = ProblemError(
        409,
        "conflict",
        Msg(
            "A zone set named {name!r} exists already.",
            "Un jeu de zones nommé {name!r} existe déjà.",
            name=name,
        ),
    )
    if await store.zone_set_named(session, name) is not None:
        raise taken
    zs = ZoneSet(name=name, kind="polygons", operator_id=operator.operator_id)
    added = await store.add_zone_set(
        session,
        zs,
        [{"code": z.code, "name": z.name, "geometry": z.geometry, "parent": z.parent} for z in shapes],
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
        raise not_found(NO_ZONE_SET)
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
        raise not_found(NO_ZONE_SET)
    if zs.id == GRID_ID:
        raise ProblemError(
            409,
            "conflict",
            Msg("The built-in grid cannot be deleted.", "La grille intégrée ne peut pas être supprimée."),
        )
    if zs.operator_id is not None and zs.operator_id != operator.operator_id:
        raise ProblemError(
            403,
            "not-owner",
            Msg(
                "Another operator uploaded this zone set: only that operator may delete it.",
                "Un autre opérateur a chargé ce jeu de zones : lui seul peut le supprimer.",
            ),
        )
    await store.delete_zone_set(session, zs)
    await accounts.record_action(session, operator, "zone_set.delete", zs.name)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- the exact publications on a map ----------------------------------------------------------------------------


@router.get(
    "/publications/{zone_set}/{month}/map",
    response_model=PublicationMapOut,
    responses={**OPERATOR_ERRORS, 404: {"model": Problem, "description": "No such zone set or publication."}},
)
async def publication_map(
    session: SessionDep,
    operator: CurrentOperator,
    zone_set: str,
    month: Annotated[
        str, Path(description="The local month, YYYY-MM", json_schema_extra={"pattern": MONTH_PATTERN})
    ],
) -> dict[str, Any]:
    """A monthly publication's zones as GeoJSON, for a map: the zones whose total was published (a zone
    whose travellers were too few is not drawn at all, so the map tells nothing of where they were), each
    with its exact trips, passenger-km, CO2e and people, and its modes' shares of trips."""
    found = await store.zone_set_named(session, zone_set)
    if found is None:
        raise not_found(NO_ZONE_SET)
    matched = re.fullmatch(r"(\d{4})-(\d{2})", month)
    if matched is None or not 1 <= int(matched.group(2)) <= 12 or int(matched.group(1)) < 1:
        raise _invalid("month", Msg("a month written YYYY-MM", "un mois écrit AAAA-MM"), location="path")
    body = await store.publication_body(
        session, found.id, int(matched.group(1)) * 100 + int(matched.group(2))
    )
    shapes: dict[str, Any] = {}
    if body is not None and found.kind != "grid":
        shapes = {z.code: z.geometry for z in await store.zone_shapes(session, found.id)}
    await session.commit()
    if body is None:
        raise not_found(Msg("No publication", "Aucune publication"))
    features, hidden = [], 0
    for row in body["tables"]["zones"]:
        code, total = row.get("zone"), row.get("total") or {}
        if code is None:  # trips starting outside every zone: nowhere to draw them
            continue
        if total.get("suppressed", True):
            hidden += 1
            continue
        geometry = grid_cell_polygon(code, found.cell_m or 500) if found.kind == "grid" else shapes.get(code)
        trips = total.get("trips") or 0.0
        modes = row.get("modes", [])
        shares = {m["mode"]: share(m.get("trips"), trips) for m in modes if not m.get("suppressed")}
        features.append({"type": "Feature", "id": code, "geometry": geometry,
                         "properties": {"zone": code, "people": total.get("people"), "trips": total.get("trips"),
                                        "passenger_km": total.get("passenger_km"), "co2e_g": total.get("co2e_g"),
                                        "mode_share_trips": shares,
                                        "modes_hidden": [m["mode"] for m in modes if m.get("suppressed")]}})  # fmt: skip
    return {"type": "FeatureCollection", "zone_set": found.name, "month": body["month"], "k": body["k"],
            "features": features, "zones_hidden": hidden}  # fmt: skip
