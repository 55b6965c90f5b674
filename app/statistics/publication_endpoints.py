"""The exact monthly publications for operators, and which zone sets are official (published).

Publications are made by the worker (app/statistics/publications.py) and never change: these endpoints
only read them. Marking a zone set official or not changes which months are published from now on;
publications already made stay.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from app.accounts import repository as accounts
from app.core.deps import ADMIN_ERRORS, OPERATOR_ERRORS, CurrentOperator, SessionDep, TerritoryAdmin
from app.core.lang import Msg
from app.core.problems import Problem, ProblemError, invalid_field, not_found
from app.core.schemas import MONTH_PATTERN, rfc3339
from app.statistics import repository as store
from app.statistics.publication_schemas import PublicationList, PublicationOut, ZoneSetOfficialOut
from app.statistics.publications import month_label, parse_month

router = APIRouter(prefix="/v1/operator", tags=["operator publications"])
NO_ZONE_SET = Msg("No zone set", "Aucun jeu de zones")


@router.get("/publications", response_model=PublicationList, responses=OPERATOR_ERRORS)
async def list_publications(session: SessionDep, operator: CurrentOperator) -> dict[str, Any]:
    """Every exact monthly publication: its zone set, month, when it was made and how many of its cells
    are published and suppressed."""
    rows = await store.publication_list(session)
    await session.commit()
    return {
        "publications": [
            {"zone_set": name, "month": month_label(month), "created_at": rfc3339(created_at),
             "cells_published": published, "cells_suppressed": suppressed}
            for name, month, created_at, published, suppressed in rows
        ]
    }  # fmt: skip


@router.get(
    "/publications/{zone_set}/{month}",
    response_model=PublicationOut,
    responses={
        **OPERATOR_ERRORS,
        404: {"model": Problem, "description": "No such zone set, or no publication of that month."},
    },
)
async def get_publication(
    session: SessionDep,
    operator: CurrentOperator,
    zone_set: Annotated[str, Path(max_length=100, description="The zone set's name, e.g. grid-500m")],
    month: Annotated[
        str,
        Path(
            max_length=16,
            description="The local month, YYYY-MM",
            json_schema_extra={"pattern": MONTH_PATTERN},
        ),
    ],
) -> dict[str, Any]:
    """One month's publication over one zone set, as it was made: its linked tables (days, weeks, month,
    zones, parents) of trips, passenger-km, CO2e and people, suppressed cells with their reason."""
    parsed = parse_month(month)
    if parsed is None:
        raise invalid_field(
            "month",
            Msg(
                "must be a month written YYYY-MM, from 0001-01 to 9999-12",
                "doit être un mois écrit AAAA-MM, de 0001-01 à 9999-12",
            ),
            "path",
        )
    found = await store.zone_set_named(session, zone_set)
    if found is None:
        raise not_found(NO_ZONE_SET)
    pub = await store.publication(session, found.id, parsed)
    await session.commit()
    if pub is None:
        raise ProblemError(
            404,
            "not-found",
            Msg(
                "The zone set {zone_set!r} has no publication of {month}.",
                "Le jeu de zones {zone_set!r} n'a pas de publication pour {month}.",
                zone_set=zone_set,
                month=month,
            ),
        )
    body = {key: value for key, value in pub.body.items() if key != "carry"}  # the audit's, never served
    # A zone (or commune) whose total is withheld is left out altogether: that a few people travelled from
    # a 500 m cell would tell where someone lives. Its figures are withheld either way.
    tables = dict(body["tables"])
    for name in ("zones", "parents"):
        tables[name] = [row for row in tables.get(name, []) if not (row.get("total") or {}).get("suppressed")]
    return {**body, "tables": tables, "created_at": rfc3339(pub.created_at)}


def _official_out(zs: Any) -> dict[str, Any]:
    return {"id": str(zs.id), "name": zs.name, "official": zs.official}


ZONE_SET_ERRORS: dict[int | str, dict[str, Any]] = {**ADMIN_ERRORS, 404: {"model": Problem}}


@router.put("/zone-sets/{zone_set_id}/official", response_model=ZoneSetOfficialOut, responses=ZONE_SET_ERRORS)
async def make_official(
    session: SessionDep, operator: TerritoryAdmin, zone_set_id: uuid.UUID
) -> dict[str, Any]:
    """Make a zone set official: each month over it is then published exactly, once it is over (needs
    the administrator role; recorded in `/v1/operator/actions`). Upload a zone set and let its past trips
    be assigned first: a zone set still being assigned is published once it is complete."""
    zs = await store.zone_set(session, zone_set_id)
    if zs is None:
        raise not_found(NO_ZONE_SET)
    if await store.set_official(session, zs, True):
        await accounts.record_action(session, operator, "zone_set.official", zs.name)
    out = _official_out(zs)
    await session.commit()
    return out


@router.delete(
    "/zone-sets/{zone_set_id}/official", status_code=status.HTTP_204_NO_CONTENT, responses=ZONE_SET_ERRORS
)
async def withdraw_official(
    session: SessionDep, operator: TerritoryAdmin, zone_set_id: uuid.UUID
) -> Response:
    """Stop publishing a zone set's months (needs the administrator role; recorded in
    `/v1/operator/actions`). Its publications already made stay."""
    zs = await store.zone_set(session, zone_set_id)
    if zs is None:
        raise not_found(NO_ZONE_SET)
    if await store.set_official(session, zs, False):
        await accounts.record_action(session, operator, "zone_set.unofficial", zs.name)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
