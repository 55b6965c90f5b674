"""Accounts and tokens."""

from __future__ import annotations

import uuid
from typing import Literal

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


class TerritoryFactorIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "mode": "bus",
                    "g_per_km": 71.5,
                    "unit": "passenger-km",
                    "source": "Yélo network 2026 fleet: 40 % electric, 60 % natural gas buses; operator data",
                    "valid_from": "2026-01-01T00:00:00+01:00",
                }
            ]
        },
    )

    mode: str = Field(description="A mode id (see GET /v1/modes).")
    variant: str = Field(default="", max_length=16, description="Optional: e.g. `electric` for buses.")
    g_per_km: float = Field(ge=0, le=2000, allow_inf_nan=False, description="Grams CO2e per km.")
    unit: Literal["passenger-km", "vehicle-km"] = "passenger-km"
    source: str = Field(min_length=3, max_length=300, description="Where the figure comes from.")
    valid_from: str = Field(description="RFC 3339: legs from this time on use the factor.")


class TerritoryFactorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6f1c2d3e-4b5a-4978-8c6d-5e4f3a2b1c0d",
                    "mode": "bus",
                    "variant": "",
                    "g_per_km": 71.5,
                    "unit": "passenger-km",
                    "source": "Yélo network 2026 fleet: 40 % electric, 60 % natural gas buses; operator data",
                    "valid_from": "2025-12-31T23:00:00.000Z",
                    "created_at": "2026-11-28T09:00:00.000Z",
                }
            ]
        }
    )

    id: uuid.UUID
    mode: str
    variant: str
    g_per_km: float
    unit: str
    source: str
    valid_from: str
    created_at: OutputTime


class TerritoryFactorList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"factors": []}]})

    factors: list[TerritoryFactorOut]
