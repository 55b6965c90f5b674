"""Request dependencies, as `Annotated` aliases so endpoint signatures read like prose."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import repository as accounts
from app.accounts.repository import OperatorPrincipal, Principal, UserPrincipal
from app.core.db import Database
from app.core.lang import Msg
from app.core.problems import Problem, ProblemError, unauthorized
from app.settings import Settings


# Dependencies are coroutines even when they do not wait: FastAPI runs a plain function in a worker thread,
# two thread hops on every request for nothing.
async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_session(db: Annotated[Database, Depends(get_db)]) -> AsyncIterator[AsyncSession]:
    """One session per request; whatever an endpoint did not commit is rolled back."""
    async with db.session() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_db)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]

#: a token that authenticates no one, whichever way it was sent
TOKEN_UNKNOWN = Msg("The token is unknown or has been revoked.", "Ce jeton est inconnu ou a été révoqué.")

_bearer = HTTPBearer(auto_error=False, scheme_name="bearer", description="A person's or an operator's token.")


async def get_principal(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise unauthorized(
            Msg(
                "This endpoint needs `Authorization: Bearer <token>`.",
                "Ce point d'accès demande `Authorization: Bearer <jeton>`.",
            )
        )
    principal = await accounts.authenticate(session, credentials.credentials, settings.token_touch_interval_s)
    if principal is None:
        raise unauthorized(TOKEN_UNKNOWN)
    return principal


async def get_current_user(principal: Annotated[Principal, Depends(get_principal)]) -> UserPrincipal:
    if principal.role != accounts.USER or principal.user_id is None:
        raise ProblemError(
            403,
            "forbidden-role",
            Msg(
                "Operator tokens can call /v1/operator/* only.",
                "Les jetons d'opérateur n'ouvrent que /v1/operator/*.",
            ),
        )
    return UserPrincipal(token_id=principal.token_id, user_id=principal.user_id)


async def get_current_operator(principal: Annotated[Principal, Depends(get_principal)]) -> OperatorPrincipal:
    if principal.role != accounts.OPERATOR or principal.operator_id is None:
        raise ProblemError(
            403,
            "forbidden-role",
            Msg(
                "Only operator tokens can call /v1/operator/*.",
                "Seuls les jetons d'opérateur ouvrent /v1/operator/*.",
            ),
        )
    return OperatorPrincipal(
        token_id=principal.token_id,
        operator_id=principal.operator_id,
        role=principal.operator_role or accounts.ANALYST,
        name=principal.operator_name or "",
    )


async def get_territory_admin(
    operator: Annotated[OperatorPrincipal, Depends(get_current_operator)],
) -> OperatorPrincipal:
    """An operator whose role lets it change what the territory computes with."""
    if not operator.is_admin:
        raise ProblemError(
            403,
            "forbidden-role",
            Msg(
                "This operator's role is analyst: it reads statistics only. Publishing transit feeds, emission "
                "factors and zone sets needs the administrator role (`coachco2 operator role NAME admin`).",
                "Le rôle de cet opérateur est analyste : il lit les statistiques seulement. Publier réseaux de "
                "transport, facteurs d'émission et jeux de zones demande le rôle administrateur "
                "(`coachco2 operator role NOM admin`).",
            ),
        )
    return operator


CurrentUser = Annotated[UserPrincipal, Depends(get_current_user)]
CurrentOperator = Annotated[OperatorPrincipal, Depends(get_current_operator)]
TerritoryAdmin = Annotated[OperatorPrincipal, Depends(get_territory_admin)]

# The error answers every authenticated endpoint declares, for a person's and for an operator's.
AUTH_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "Missing, unknown or revoked token."},
    403: {"model": Problem, "description": "An operator token on a person's endpoint."},
}
OPERATOR_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "Missing, unknown or revoked token."},
    403: {"model": Problem, "description": "A person's token on an operator endpoint."},
}
ADMIN_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "Missing, unknown or revoked token."},
    403: {
        "model": Problem,
        "description": "A person's token, or an operator whose role (analyst) does not allow this change.",
    },
}
