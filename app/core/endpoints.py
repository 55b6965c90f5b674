"""Health and the problem-type documents."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.core.db import Database
from app.core.deps import get_db
from app.core.lang import Msg, ProblemLangDep
from app.core.migrate import head_revision
from app.core.problems import PROBLEM_TYPES, Problem, not_found

router = APIRouter(tags=["service"])


class HealthOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "ok", "database": "ok", "schema": "0010"},
                {"status": "unavailable", "database": "not migrated", "schema": None},
            ]
        }
    )

    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable", "not migrated"] = Field(
        description="`not migrated`: the database answers but is not at the schema this version expects "
        "(run `coachco2 migrate`)."
    )
    schema_revision: str | None = Field(
        default=None, alias="schema", description="The migration the database is at."
    )


class LiveOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"]


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


_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": HealthOut, "description": "The database cannot be reached or is not migrated."}
}


async def _readiness(db: Database) -> JSONResponse:
    if not await db.ping():
        body = HealthOut(status="unavailable", database="unreachable")
    else:
        revision = await db.schema_revision()
        ready = revision == head_revision()
        body = HealthOut(status="ok" if ready else "unavailable", database="ok" if ready else "not migrated",
                         schema=revision)  # fmt: skip
    unavailable = body.status != "ok"
    return JSONResponse(
        body.model_dump(by_alias=True),
        status_code=503 if unavailable else 200,
        headers={"Retry-After": "5"} if unavailable else None,
    )


@router.get("/health", response_model=HealthOut, responses=_UNAVAILABLE)
async def health(db: Annotated[Database, Depends(get_db)]) -> JSONResponse:
    """`200` when the service can serve: its database answers and is at the schema this version expects;
    `503` (with `Retry-After`) when not. The same as `/health/ready`."""
    return await _readiness(db)


@router.get("/health/ready", response_model=HealthOut, responses=_UNAVAILABLE)
async def ready(db: Annotated[Database, Depends(get_db)]) -> JSONResponse:
    """Readiness, for a load balancer or an orchestrator: `200` when the database answers and is at the
    expected schema, `503` when not."""
    return await _readiness(db)


@router.get("/health/live", response_model=LiveOut)
async def live() -> LiveOut:
    """Liveness: `200` whenever the process answers, whatever the state of the database (an orchestrator
    restarts the process only when this fails)."""
    return LiveOut(status="ok")


@router.get(
    "/problems/{slug}",
    response_model=ProblemTypeOut,
    responses={404: {"model": Problem, "description": "No such problem type."}},
)
async def problem_type(slug: str, lang: ProblemLangDep) -> JSONResponse:
    """What a problem `type` URI in an error answer means, in the language of `Accept-Language` (French or
    English; English when it names neither), which `Content-Language` repeats."""
    if slug not in PROBLEM_TYPES:
        raise not_found(Msg("No problem type", "Aucun type de problème"))
    title, description = PROBLEM_TYPES[slug]
    out = ProblemTypeOut(
        type=f"/problems/{slug}", title=title.render(lang), description=description.render(lang)
    )
    return JSONResponse(out.model_dump(), headers={"Content-Language": lang, "Vary": "Accept-Language"})
