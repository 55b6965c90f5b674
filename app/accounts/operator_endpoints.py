"""The territory's operators. They see aggregates of consenting people only, never one person."""

from __future__ import annotations

from fastapi import APIRouter

from app.accounts import repository as accounts
from app.accounts.schemas import OperatorOut
from app.core.deps import OPERATOR_ERRORS, CurrentOperator, SessionDep
from app.core.problems import not_found

router = APIRouter(prefix="/v1/operator", tags=["operator"])


@router.get("/me", response_model=OperatorOut, responses=OPERATOR_ERRORS)
async def whoami(session: SessionDep, operator: CurrentOperator) -> OperatorOut:
    """The operator account behind this token."""
    found = await accounts.get_operator(session, operator.operator_id)
    await session.commit()
    if found is None:
        raise not_found("operator")
    return OperatorOut(operator_id=found.id, name=found.name, created_at=found.created_at)
