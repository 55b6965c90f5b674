"""The territory's operators. They see aggregates of consenting people only, never one person."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import CurrentOperator, SessionDep
from app.problems import Problem, not_found
from app.schemas.accounts import OperatorOut
from app.store import accounts

router = APIRouter(prefix="/v1/operator", tags=["operator"])
OPERATOR_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "Missing, unknown or revoked token."},
    403: {"model": Problem, "description": "A person's token on an operator endpoint."},
}


@router.get("/me", response_model=OperatorOut, responses=OPERATOR_ERRORS)
async def whoami(session: SessionDep, operator: CurrentOperator) -> OperatorOut:
    """The operator account behind this token."""
    assert operator.operator_id is not None
    found = await accounts.get_operator(session, operator.operator_id)
    await session.commit()
    if found is None:
        raise not_found("operator")
    return OperatorOut(operator_id=found.id, name=found.name, created_at=found.created_at)
