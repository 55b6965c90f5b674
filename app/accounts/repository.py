"""Queries for people, operators and their tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiToken, Operator, OperatorAction, PipelineState, User, utcnow

USER = "user"
OPERATOR = "operator"
#: operators' roles: an administrator publishes what the territory computes with (transit feeds, emission
#: factors, zone sets); an analyst reads statistics only
ADMIN = "admin"
ANALYST = "analyst"
OPERATOR_ROLES = (ADMIN, ANALYST)
# A prefix tells a leaked secret apart in logs and secret scanners; 32 random bytes make it unguessable.
TOKEN_PREFIX = {USER: "cc2u_", OPERATOR: "cc2o_"}
TOKEN_BYTES = 32


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(role: str) -> str:
    return TOKEN_PREFIX[role] + secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token and the person or operator it belongs to."""

    token_id: uuid.UUID
    role: str
    user_id: uuid.UUID | None
    operator_id: uuid.UUID | None
    operator_role: str | None = None
    operator_name: str | None = None


@dataclass(frozen=True)
class UserPrincipal:
    """A person calling with one of their tokens."""

    token_id: uuid.UUID
    user_id: uuid.UUID


@dataclass(frozen=True)
class OperatorPrincipal:
    """An operator calling with one of their tokens."""

    token_id: uuid.UUID
    operator_id: uuid.UUID
    role: str
    name: str

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


async def _issue(
    session: AsyncSession,
    role: str,
    *,
    user_id: uuid.UUID | None = None,
    operator_id: uuid.UUID | None = None,
    device_label: str | None = None,
) -> tuple[ApiToken, str]:
    secret = new_secret(role)
    token = ApiToken(
        token_hash=hash_token(secret),
        role=role,
        user_id=user_id,
        operator_id=operator_id,
        device_label=device_label,
    )
    session.add(token)
    await session.flush()
    return token, secret


async def register_user(session: AsyncSession, device_label: str | None) -> tuple[User, ApiToken, str]:
    user = User()
    session.add(user)
    await session.flush()
    session.add(PipelineState(user_id=user.id, pending_points=0))
    token, secret = await _issue(session, USER, user_id=user.id, device_label=device_label)
    return user, token, secret


async def issue_user_token(
    session: AsyncSession, user_id: uuid.UUID, device_label: str | None
) -> tuple[ApiToken, str]:
    return await _issue(session, USER, user_id=user_id, device_label=device_label)


async def create_operator(session: AsyncSession, name: str, role: str = ADMIN) -> tuple[Operator, str]:
    operator = Operator(name=name, role=role)
    session.add(operator)
    await session.flush()
    _, secret = await _issue(session, OPERATOR, operator_id=operator.id, device_label=name)
    return operator, secret


async def issue_operator_token(session: AsyncSession, operator: Operator) -> str:
    """Another token for an existing operator (its other tokens stay valid); returns the secret."""
    _, secret = await _issue(session, OPERATOR, operator_id=operator.id, device_label=operator.name)
    return secret


_TOKENS = cast(sa.Table, ApiToken.__table__)
_OPERATORS = cast(sa.Table, Operator.__table__)
# Built once, on the tables rather than the mapped classes: every authenticated request runs it, and
# neither building the statement nor loading an `ApiToken` entity into the session is worth paying for.
_FIND_TOKEN = (
    sa.select(
        _TOKENS.c.id,
        _TOKENS.c.role,
        _TOKENS.c.user_id,
        _TOKENS.c.operator_id,
        _TOKENS.c.revoked_at,
        _TOKENS.c.last_used_at,
        _OPERATORS.c.role,
        _OPERATORS.c.name,
    )
    .select_from(_TOKENS.outerjoin(_OPERATORS, _OPERATORS.c.id == _TOKENS.c.operator_id))
    .where(_TOKENS.c.token_hash == sa.bindparam("token_hash"))
)
_TOUCH_TOKEN = (
    sa.update(_TOKENS)
    .where(_TOKENS.c.id == sa.bindparam("token_id"))
    .values(last_used_at=sa.bindparam("now"))
)


async def authenticate(session: AsyncSession, secret: str, touch_interval_s: int) -> Principal | None:
    """The principal behind a live token, or None. Notes the token's use at most once per interval."""
    found = (await session.execute(_FIND_TOKEN, {"token_hash": hash_token(secret)})).first()
    if found is None:
        return None
    token_id, role, user_id, operator_id, revoked_at, last_used_at, operator_role, operator_name = found
    if revoked_at is not None:
        return None
    now = utcnow()
    if last_used_at is None or now - last_used_at >= timedelta(seconds=touch_interval_s):
        # a plain UPDATE: a token erased meanwhile (DELETE /v1/me racing this request) is no error here
        await session.execute(_TOUCH_TOKEN, {"token_id": token_id, "now": now})
    return Principal(
        token_id=token_id,
        role=role,
        user_id=user_id,
        operator_id=operator_id,
        operator_role=operator_role,
        operator_name=operator_name,
    )


async def list_user_tokens(session: AsyncSession, user_id: uuid.UUID) -> list[ApiToken]:
    rows = await session.scalars(
        sa.select(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at, ApiToken.id)
    )
    return list(rows)


async def revoke_user_token(session: AsyncSession, user_id: uuid.UUID, token_id: uuid.UUID) -> bool:
    """Revoke one of this person's tokens; False when they hold no live token with this id."""
    result = await session.execute(
        sa.update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def get_operator(session: AsyncSession, operator_id: uuid.UUID) -> Operator | None:
    return await session.get(Operator, operator_id)


async def find_operator(session: AsyncSession, name: str) -> Operator | None:
    return await session.scalar(sa.select(Operator).where(Operator.name == name))


async def list_operators(session: AsyncSession) -> list[tuple[Operator, datetime | None]]:
    """Operators with the last use of any of their live tokens."""
    rows = await session.execute(
        sa.select(Operator, sa.func.max(ApiToken.last_used_at))
        .outerjoin(ApiToken, sa.and_(ApiToken.operator_id == Operator.id, ApiToken.revoked_at.is_(None)))
        .group_by(Operator.id)
        .order_by(Operator.name)
    )
    return [(op, last) for op, last in rows.all()]


async def set_operator_role(session: AsyncSession, operator_id: uuid.UUID, role: str) -> None:
    await session.execute(sa.update(Operator).where(Operator.id == operator_id).values(role=role))


#: who made a change from the command line (an administrator of the machine, not an operator account)
COMMAND_LINE = "(command line)"


async def record_action(
    session: AsyncSession,
    operator: OperatorPrincipal | None,
    action: str,
    target: str,
    detail: Mapping[str, object] | None = None,
) -> None:
    """Note a change to what the territory computes with, made by an operator or (None) on the command
    line, in the caller's transaction, so the change and its record commit together."""
    session.add(
        OperatorAction(
            operator_id=operator.operator_id if operator else None,
            operator_name=operator.name if operator else COMMAND_LINE,
            action=action,
            target=target[:200],
            detail=dict(detail or {}),
        )
    )
    await session.flush()


async def actions(session: AsyncSession, limit: int, before: datetime | None = None) -> list[OperatorAction]:
    """The recorded changes, newest first."""
    query = sa.select(OperatorAction).order_by(OperatorAction.at.desc(), OperatorAction.id.desc())
    if before is not None:
        query = query.where(OperatorAction.at < before)
    return list(await session.scalars(query.limit(limit)))


async def revoke_operator_tokens(session: AsyncSession, operator_id: uuid.UUID) -> int:
    result = await session.execute(
        sa.update(ApiToken)
        .where(ApiToken.operator_id == operator_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
