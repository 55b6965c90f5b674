"""Who calls an OpenPATH route: the opcode in the body's `user` field, or a Coach CO2 token.

The OpenPATH app (e-mission-phone ``www/js/config/opcode.ts``) accepts only opcodes of the form
``nrelop_<study>_<subgroup>_<code>`` (its parts split on ``_``, none empty; the study is the name of
the deployment configuration it downloads, the subgroup one of that configuration's ``opcode.subgroups``,
or ``default``). A deployment issues them with ``coachco2 openpath opcodes``; only their SHA-256 is
stored, as for tokens. ``POST /profile/create`` with an issued opcode creates the person's account; with
``COACHCO2_OPENPATH_SELF_REGISTRATION`` on, any well-formed opcode of the deployment's study does (the
app's "join" links make up their own, ``nrelop_<study>_<subgroup>_<32 random characters>``).

A Coach CO2 person token (``cc2u_...``) is accepted in `user` too, or as a bearer header: a phone
signed in before opcodes existed keeps working.
"""

from __future__ import annotations

import re
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import repository as accounts
from app.core.lang import Msg
from app.core.problems import ProblemError, invalid_field, unauthorized
from app.models import OpenpathOpcode, PipelineState, User, utcnow
from app.settings import Settings

OPCODE_PREFIX = "nrelop"
#: a study or subgroup name: what the app's deployment configurations use (lower case, digits, hyphens)
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
#: the random part the app makes for its "join" links (e-mission-common ``generate_random_string``)
CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 32
MAX_OPCODE_CHARS = 256


@dataclass(frozen=True)
class Opcode:
    study: str
    subgroup: str | None
    code: str


@dataclass(frozen=True)
class Caller:
    """A person calling an OpenPATH route, and the credential used (for rate limits)."""

    user_id: uuid.UUID
    credential_id: uuid.UUID
    opcode_id: uuid.UUID | None


def parse_opcode(text: str) -> Opcode | None:
    """The parts of an opcode as the app checks them, or None when the app itself would refuse it."""
    if len(text) > MAX_OPCODE_CHARS or not text.isascii():
        return None
    parts = text.split("_")
    if len(parts) < 3 or any(part == "" for part in parts) or parts[0] != OPCODE_PREFIX:
        return None
    if len(parts) == 3:  # an old-style study: no subgroup
        return Opcode(parts[1], None, parts[2])
    return Opcode(parts[1], parts[2], "_".join(parts[3:]))


def new_opcode(study: str, subgroup: str) -> str:
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{OPCODE_PREFIX}_{study}_{subgroup}_{code}"


def check_name(value: str, what: str) -> str:
    if not NAME_PATTERN.match(value):
        raise ValueError(
            f"{what} {value!r}: use 1 to 63 lower-case letters, digits or hyphens (no underscore: the app "
            "splits opcodes on it)"
        )
    return value


async def issue_opcodes(session: AsyncSession, study: str, subgroup: str, count: int) -> list[str]:
    """`count` new opcodes of the study's subgroup, stored hashed; the caller commits."""
    check_name(study, "study")
    check_name(subgroup, "subgroup")
    codes = [new_opcode(study, subgroup) for _ in range(count)]
    now = utcnow()
    await session.execute(
        sa.insert(OpenpathOpcode),
        [
            {
                "id": uuid.uuid4(),
                "opcode_hash": accounts.hash_token(code),
                "study": study,
                "subgroup": subgroup,
                "issued_at": now,
                "profile": {},
            }
            for code in codes
        ],
    )
    return codes


async def revoke_opcode(session: AsyncSession, opcode: str) -> bool:
    """Revoke an opcode (its person keeps their data and their Coach CO2 tokens); False when unknown."""
    result = await session.execute(
        sa.update(OpenpathOpcode)
        .where(OpenpathOpcode.opcode_hash == accounts.hash_token(opcode), OpenpathOpcode.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


OPCODE_UNKNOWN = Msg(
    "The opcode is unknown or has been revoked.", "Ce code d'accès est inconnu ou a été révoqué."
)


def _credential(request: Request, body: dict[str, Any]) -> str:
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise invalid_field(
            "user", Msg("the opcode in `user` is a string", "le code d'accès de `user` est un texte")
        )
    scheme, value = get_authorization_scheme_param(request.headers.get("authorization"))
    secret = user or (value if scheme.lower() == "bearer" else "")
    if not secret:
        raise unauthorized(
            Msg(
                "Send the phone's opcode in the body's `user` field (or a bearer token).",
                "Envoyez le code d'accès du téléphone dans le champ `user` du corps (ou un jeton bearer).",
            )
        )
    if len(secret) > MAX_OPCODE_CHARS or "\x00" in secret:
        raise unauthorized(OPCODE_UNKNOWN)
    return secret


async def _opcode_row(session: AsyncSession, secret: str) -> OpenpathOpcode | None:
    return (
        await session.execute(
            sa.select(OpenpathOpcode).where(OpenpathOpcode.opcode_hash == accounts.hash_token(secret))
        )
    ).scalar_one_or_none()


async def caller(request: Request, session: AsyncSession, body: dict[str, Any], settings: Settings) -> Caller:
    """The person behind the call; 401 for an unknown, unregistered or revoked opcode, 403 for an
    operator token."""
    secret = _credential(request, body)
    if secret.startswith(OPCODE_PREFIX + "_"):
        row = await _opcode_row(session, secret)
        if row is None or row.revoked_at is not None or row.user_id is None:
            raise unauthorized(
                Msg(
                    "The opcode is unknown, not yet registered (POST /profile/create) or has been revoked.",
                    "Ce code d'accès est inconnu, pas encore enregistré (POST /profile/create) ou a été révoqué.",
                )
            )
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at >= timedelta(
            seconds=settings.token_touch_interval_s
        ):
            await session.execute(
                sa.update(OpenpathOpcode).where(OpenpathOpcode.id == row.id).values(last_used_at=now)
            )
        return Caller(row.user_id, row.id, row.id)
    principal = await accounts.authenticate(session, secret, settings.token_touch_interval_s)
    if principal is None:
        raise unauthorized(
            Msg(
                "The opcode or token is unknown or has been revoked.",
                "Ce code d'accès ou ce jeton est inconnu ou a été révoqué.",
            )
        )
    if principal.user_id is None:
        raise ProblemError(
            403,
            "forbidden-role",
            Msg(
                "Operator tokens cannot send or read a person's data.",
                "Un jeton d'opérateur ne peut ni envoyer ni lire les données d'une personne.",
            ),
        )
    return Caller(principal.user_id, principal.token_id, None)


async def register(
    request: Request, session: AsyncSession, body: dict[str, Any], settings: Settings
) -> uuid.UUID:
    """`/profile/create`: the account behind an opcode, created on its first use (idempotent: the app
    calls it at every sign-in). The caller commits."""
    secret = _credential(request, body)
    if not secret.startswith(OPCODE_PREFIX + "_"):
        return (await caller(request, session, body, settings)).user_id
    parsed = parse_opcode(secret)
    if parsed is None:
        raise invalid_field(
            "user",
            Msg(
                "an opcode reads nrelop_<study>_<subgroup>_<code>",
                "un code d'accès s'écrit nrelop_<étude>_<sous-groupe>_<code>",
            ),
        )
    row = await _opcode_row(session, secret)
    if row is None:
        if not settings.openpath_self_registration:
            raise unauthorized(
                Msg(
                    "This opcode was not issued here: ask the deployment for one.",
                    "Ce code d'accès n'a pas été délivré ici : demandez-en un à ce service.",
                )
            )
        if parsed.study != settings.openpath_study:
            raise ProblemError(
                403,
                "wrong-study",
                Msg(
                    "This server serves the study {study!r} only.",
                    "Ce serveur ne sert que l'étude {study!r}.",
                    study=settings.openpath_study,
                ),
            )
        subgroups = settings.openpath_subgroup_list
        if parsed.subgroup is None or parsed.subgroup not in subgroups:
            raise ProblemError(
                403,
                "wrong-subgroup",
                Msg(
                    "Opcodes of this study name one of the subgroups {subgroups}.",
                    "Les codes d'accès de cette étude nomment l'un des sous-groupes {subgroups}.",
                    subgroups=subgroups,
                ),
            )
        try:
            async with session.begin_nested():  # the same new opcode registered concurrently: one wins
                row = OpenpathOpcode(
                    id=uuid.uuid4(),
                    opcode_hash=accounts.hash_token(secret),
                    study=parsed.study,
                    subgroup=parsed.subgroup,
                    issued_at=utcnow(),
                    profile={},
                )
                session.add(row)
                await session.flush()
        except IntegrityError:
            row = await _opcode_row(session, secret)
            assert row is not None
    if row.revoked_at is not None:
        raise unauthorized(Msg("This opcode has been revoked.", "Ce code d'accès a été révoqué."))
    if row.user_id is None:
        user = User(id=uuid.uuid4())
        session.add(user)
        await session.flush()
        session.add(PipelineState(user_id=user.id, pending_points=0))
        claimed = await session.execute(
            sa.update(OpenpathOpcode)
            .where(OpenpathOpcode.id == row.id, OpenpathOpcode.user_id.is_(None))
            .values(user_id=user.id, registered_at=utcnow())
        )
        if not getattr(claimed, "rowcount", 0):  # registered meanwhile by the same phone's other call
            raise ProblemError(
                409,
                "conflict",
                Msg(
                    "This opcode is being registered by another call: retry.",
                    "Ce code d'accès est en cours d'enregistrement par un autre appel : réessayez.",
                ),
            )
        return user.id
    assert row.user_id is not None
    return row.user_id


async def profile_row(session: AsyncSession, who: Caller) -> OpenpathOpcode | None:
    if who.opcode_id is None:
        return None
    return await session.get(OpenpathOpcode, who.opcode_id)
