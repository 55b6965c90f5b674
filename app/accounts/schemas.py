"""Accounts and tokens."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import OutputTime


class RegisterIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{}, {"device_label": "Pixel 8 of the family"}]}
    )

    device_label: str | None = Field(
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
                    "created_at": "2026-11-28T09:00:00.000Z",
                }
            ]
        }
    )

    operator_id: uuid.UUID
    name: str
    created_at: OutputTime
