"""Health and the problem-type documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from app.core.db import Database
from app.core.deps import get_db
from app.core.problems import PROBLEM_TYPES, Problem, not_found

router = APIRouter(tags=["service"])


class HealthOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok", "database": "ok"}]})

    status: str
    database: str


class ProblemTypeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/not-found",
                    "title": "Not found",
                    "description": "There is no such object among yours.",
                }
            ]
        }
    )

    type: str
    title: str
    description: str


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "The database cannot be reached."}},
)
async def health(db: Annotated[Database, Depends(get_db)]) -> JSONResponse:
    """`200` when the service can reach its database, `503` when it cannot."""
    if await db.ping():
        return JSONResponse({"status": "ok", "database": "ok"})
    return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)


@router.get(
    "/problems/{slug}",
    response_model=ProblemTypeOut,
    responses={404: {"model": Problem, "description": "No such problem type."}},
)
async def problem_type(slug: str) -> ProblemTypeOut:
    """What a problem `type` URI in an error answer means."""
    if slug not in PROBLEM_TYPES:
        raise not_found("problem type")
    title, description = PROBLEM_TYPES[slug]
    return ProblemTypeOut(type=f"/problems/{slug}", title=title, description=description)
