"""Pseudonymous registration and per-device tokens."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Body, Response, status

from app.accounts import repository as accounts
from app.accounts.schemas import RegisterIn, RegisterOut, TokenIn, TokenList, TokenOut
from app.core.deps import AUTH_ERRORS, CurrentUser, SessionDep
from app.core.lang import Msg
from app.core.problems import Problem, not_found
from app.core.ratelimit import RegisterLimit

router = APIRouter(prefix="/v1/auth", tags=["accounts"])


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=RegisterOut)
async def register(
    session: SessionDep, _: RegisterLimit, body: RegisterIn | None = Body(default=None)
) -> RegisterOut:
    """Create a pseudonymous account: no name or e-mail, just an id and a token for this device.

    The token is shown once; only its SHA-256 hash is stored.
    """
    user, token, secret = await accounts.register_user(session, body.device_label if body else None)
    await session.commit()
    return RegisterOut(user_id=user.id, token=secret, token_id=token.id)


@router.post(
    "/tokens", status_code=status.HTTP_201_CREATED, response_model=RegisterOut, responses=AUTH_ERRORS
)
async def create_token(
    session: SessionDep, user: CurrentUser, body: TokenIn | None = Body(default=None)
) -> RegisterOut:
    """A new token for the same person, for another device."""
    token, secret = await accounts.issue_user_token(
        session, user.user_id, body.device_label if body else None
    )
    await session.commit()
    return RegisterOut(user_id=user.user_id, token=secret, token_id=token.id)


@router.get("/tokens", response_model=TokenList, responses=AUTH_ERRORS)
async def list_tokens(session: SessionDep, user: CurrentUser) -> TokenList:
    """The person's live tokens (devices), with when each was created and last used."""
    tokens = await accounts.list_user_tokens(session, user.user_id)
    await session.commit()
    return TokenList(
        tokens=[
            TokenOut(
                id=t.id,
                device_label=t.device_label,
                created_at=t.created_at,
                last_used_at=t.last_used_at,
                current=t.id == user.token_id,
            )
            for t in tokens
        ]
    )


@router.delete("/tokens/current", status_code=status.HTTP_204_NO_CONTENT, responses=AUTH_ERRORS)
async def revoke_current_token(session: SessionDep, user: CurrentUser) -> Response:
    """Revoke the token that makes this request; it stops working at once."""
    await accounts.revoke_user_token(session, user.user_id, user.token_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **AUTH_ERRORS,
        404: {"model": Problem, "description": "No live token with this id among yours."},
    },
)
async def revoke_token(session: SessionDep, user: CurrentUser, token_id: uuid.UUID) -> Response:
    """Revoke another of the person's tokens, for a lost or sold phone."""
    if not await accounts.revoke_user_token(session, user.user_id, token_id):
        raise not_found(Msg("No token", "Aucun jeton"))
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
