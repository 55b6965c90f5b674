"""Queries for people, operators and their tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiToken, Operator, PipelineState, User, utcnow

USER = "user"
OPERATOR = "operator"
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


async def create_operator(session: AsyncSession, name: str) -> tuple[Operator, str]:
    operator = Operator(name=name)
    session.add(operator)
    await session.flush()
    _, secret = await _issue(session, OPERATOR, operator_id=operator.id, device_label=name)
    return operator, secret


async def authenticate(session: AsyncSession, secret: str, touch_interval_s: int) -> Principal | None:
    """The principal behind a live token, or None. Notes the token's use at most once per interval."""
    token = await session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= timedelta(seconds=touch_interval_s):
        token.last_used_at = now
        await session.flush()
    return Principal(token_id=token.id, role=token.role, user_id=token.user_id, operator_id=token.operator_id)


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


async def revoke_operator_tokens(session: AsyncSession, operator_id: uuid.UUID) -> int:
    result = await session.execute(
        sa.update(ApiToken)
        .where(ApiToken.operator_id == operator_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
