"""The territory's operators. They see aggregates of consenting people only, never one person."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.accounts import repository as accounts
from app.accounts.schemas import OperatorActionList, OperatorActionOut, OperatorOut
from app.core.deps import OPERATOR_ERRORS, CurrentOperator, SessionDep
from app.core.lang import Msg
from app.core.problems import not_found

router = APIRouter(prefix="/v1/operator", tags=["operator"])


@router.get("/me", response_model=OperatorOut, responses=OPERATOR_ERRORS)
async def whoami(session: SessionDep, operator: CurrentOperator) -> OperatorOut:
    """The operator account behind this token."""
    found = await accounts.get_operator(session, operator.operator_id)
    await session.commit()
    if found is None:
        raise not_found(Msg("No operator", "Aucun opérateur"))
    return OperatorOut(operator_id=found.id, name=found.name, role=found.role, created_at=found.created_at)


# Unset: each action's detail has only the keys that action gives.
@router.get(
    "/actions",
    response_model=OperatorActionList,
    response_model_exclude_unset=True,
    responses=OPERATOR_ERRORS,
)
async def list_actions(
    session: SessionDep,
    operator: CurrentOperator,
    limit: Annotated[int, Query(ge=1, le=500, description="How many changes, newest first.")] = 100,
) -> OperatorActionList:
    """Every change made to what the territory computes with (transit feeds, emission factors, zone
    sets): who made it, when, and on what. Every operator may read it."""
    rows = await accounts.actions(session, limit)
    await session.commit()
    return OperatorActionList(
        actions=[
            OperatorActionOut(
                at=r.at, operator=r.operator_name, action=r.action, target=r.target, detail=r.detail
            )
            for r in rows
        ]
    )
