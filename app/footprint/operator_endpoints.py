"""The territory's own emission factors, set by its operators (for example the bus fleet's mix)."""

from __future__ import annotations

from fastapi import APIRouter

from app.accounts import repository as accounts
from app.core.deps import ADMIN_ERRORS, OPERATOR_ERRORS, CurrentOperator, SessionDep, TerritoryAdmin
from app.core.lang import Msg
from app.core.problems import ProblemError, invalid_field
from app.core.schemas import rfc3339_ms
from app.emissions import MODES
from app.footprint import repository
from app.footprint.schemas import TerritoryFactorIn, TerritoryFactorList, TerritoryFactorOut
from app.models import TerritoryFactor

router = APIRouter(prefix="/v1/operator", tags=["operator"])


@router.get("/factors", response_model=TerritoryFactorList, responses=OPERATOR_ERRORS)
async def list_factors(session: SessionDep, operator: CurrentOperator) -> TerritoryFactorList:
    """The territory's own emission factors, oldest first. They are never deleted, only superseded."""
    factors = [_factor_out(r) for r in await repository.territory_factors(session)]
    await session.commit()
    return TerritoryFactorList(factors=factors)


@router.post("/factors", status_code=201, response_model=TerritoryFactorOut, responses=ADMIN_ERRORS)
async def add_factor(
    session: SessionDep, operator: TerritoryAdmin, body: TerritoryFactorIn
) -> TerritoryFactorOut:
    """Set a local factor for a mode (for example the bus fleet's mix of electric and gas buses), with its
    source, in force for legs from `valid_from` on. It applies to new processing at once; figures already
    computed change only when an administrator runs `coachco2 emissions recompute`, never silently. Needs
    the administrator role; every factor set is recorded in `/v1/operator/actions`."""
    if body.mode not in MODES or body.mode == "unknown":
        raise _invalid(
            "mode",
            Msg(
                "not a mode id; one of {modes}",
                "ce n'est pas un identifiant de mode ; l'un de {modes}",
                modes=", ".join(m for m in MODES if m != "unknown"),
            ),
        )
    row = TerritoryFactor(
        mode=body.mode,
        variant=body.variant,
        g_per_km=body.g_per_km,
        unit=body.unit,
        source=body.source,
        valid_from_ms=body.valid_from,  # checked milliseconds UTC (app/core/schemas.py InputInstant)
        operator_id=operator.operator_id,
    )
    out = _factor_out(await repository.add_territory_factor(session, row))
    await accounts.record_action(
        session,
        operator,
        "factor.add",
        f"{body.mode}/{body.variant}" if body.variant else body.mode,
        {"g_per_km": body.g_per_km, "valid_from": out.valid_from},
    )
    await session.commit()
    return out


def _invalid(field: str, detail: Msg) -> ProblemError:
    return invalid_field(field, detail)


def _factor_out(row: TerritoryFactor) -> TerritoryFactorOut:
    return TerritoryFactorOut(
        id=row.id,
        mode=row.mode,
        variant=row.variant,
        g_per_km=row.g_per_km,
        unit=row.unit,
        source=row.source,
        valid_from=rfc3339_ms(row.valid_from_ms) or "",
        created_at=row.created_at,
    )
