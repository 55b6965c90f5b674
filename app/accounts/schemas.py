"""Accounts and tokens."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import InputText, InstantText, OutputTime


class RegisterIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{}, {"device_label": "Pixel 8 of the family"}]}
    )

    device_label: InputText | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="A name for this device, to tell tokens apart later. Optional; never required.",
    )


class TokenIn(RegisterIn):
    pass


class RegisterOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "3f2c9a8e-5b1d-4c7e-9f0a-2b6d8e1c4a57",
                    "token": "cc2u_Qm3n0...",
                    "token_id": "a1b2c3d4-0000-4000-8000-000000000001",
                }
            ]
        }
    )

    user_id: uuid.UUID
    token: str = Field(description="The secret. Shown once: only its hash is stored.")
    token_id: uuid.UUID = Field(description="Names this token when listing or revoking devices.")


class TokenOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "a1b2c3d4-0000-4000-8000-000000000001",
                    "device_label": "Pixel 8",
                    "created_at": "2026-11-28T09:00:00.000Z",
                    "last_used_at": "2026-11-28T10:15:00.000Z",
                    "current": True,
                }
            ]
        }
    )

    id: uuid.UUID
    device_label: str | None
    created_at: OutputTime
    last_used_at: OutputTime | None
    current: bool = Field(description="True for the token that made this request.")


class TokenList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tokens": [
                        {
                            "id": "a1b2c3d4-0000-4000-8000-000000000001",
                            "device_label": "Pixel 8",
                            "created_at": "2026-11-28T09:00:00.000Z",
                            "last_used_at": "2026-11-28T10:15:00.000Z",
                            "current": True,
                        }
                    ]
                }
            ]
        }
    )

    tokens: list[TokenOut]


class OperatorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "operator_id": "0b7e1f1a-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
                    "name": "yelo-mobility-team",
                    "role": "admin",
                    "created_at": "2026-11-28T09:00:00.000Z",
                }
            ]
        }
    )

    operator_id: uuid.UUID
    name: str
    role: Literal["admin", "analyst"] = Field(
        description="`admin` publishes transit feeds, emission factors and zone sets for the territory; "
        "`analyst` reads statistics only."
    )
    created_at: OutputTime


class ActionDetail(BaseModel):
    """What a change was, as far as the action says (each action gives its own keys, and no others)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"g_per_km": 95.0, "valid_from": "2027-01-01T00:00:00.000Z"},
                {"stops": 812, "routes": 27},
                {"zones": 28},
                {"role": "analyst"},
            ]
        },
    )

    g_per_km: float | None = Field(default=None, description="`factor.add`: the factor, g CO2e per km.")
    valid_from: InstantText | None = Field(default=None, description="`factor.add`: in force from then on.")
    stops: int | None = Field(default=None, description="`transit_feed.publish|replace`: the feed's stops.")
    routes: int | None = Field(default=None, description="`transit_feed.publish|replace`: its routes.")
    zones: int | None = Field(default=None, description="`zone_set.upload`: how many zones.")
    role: str | None = Field(default=None, description="`operator.role`: the operator's new role.")


class OperatorActionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "at": "2026-12-02T09:30:00.000Z",
                    "operator": "yelo-mobility-team",
                    "action": "factor.add",
                    "target": "bus",
                    "detail": {"g_per_km": 95.0, "valid_from": "2027-01-01T00:00:00.000Z"},
                }
            ]
        }
    )

    at: OutputTime
    operator: str = Field(description="The operator's name when it made the change, or `(command line)`.")
    action: str = Field(
        description="What was changed: `transit_feed.publish`, `transit_feed.replace`, "
        "`transit_feed.withdraw`, `factor.add`, `zone_set.upload`, `zone_set.delete` or `operator.role`."
    )
    target: str = Field(description="The feed's or zone set's name, or the factor's mode (`mode/variant`).")
    detail: ActionDetail


class OperatorActionList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "actions": [
                        {
                            "at": "2026-12-02T09:30:00.000Z",
                            "operator": "yelo-mobility-team",
                            "action": "transit_feed.publish",
                            "target": "yelo",
                            "detail": {"stops": 812, "routes": 27},
                        }
                    ]
                }
            ]
        }
    )

    actions: list[OperatorActionOut]
