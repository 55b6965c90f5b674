"""What is held, consents, privacy zones, retention and the access log."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from app.core.schemas import InputText, InstantText, OutputTime
from app.selfdata.export_schema import RECEIPT_SCHEMA

_RECEIPT_EXAMPLE: dict[str, Any] = {
    "version": "KI-CR-v1.1.0",
    "jurisdiction": "FR",
    "consentTimestamp": 1764320400,
    "collectionMethod": "API: PUT /v1/me/consents/territory_statistics",
    "consentReceiptID": "9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "language": "en",
    "piiPrincipalId": "3f2c9a8e-5b1d-4c7e-9f0a-2b6d8e1c4a57",
    "piiControllers": [{"piiController": "Communauté d'Agglomération de La Rochelle", "contact": "DPO"}],
    "policyUrl": "/privacy",
    "services": [
        {"service": "Coach CO2", "purposes": [{"purpose": "Your trips count, with everyone else's, ..."}]}
    ],
    "sensitive": False,
    "spiCat": [],
    "x-coachco2": {"purpose_id": "territory_statistics", "granted": True},
}


#: A consent receipt as it was issued (kept and given back unchanged), described by its JSON Schema.
Receipt = Annotated[dict[str, Any], WithJsonSchema(RECEIPT_SCHEMA)]


class ConsentOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "purpose": "territory_statistics",
                    "title": "Territory statistics",
                    "description": "Your trips count, with everyone else's, in the anonymous statistics ...",
                    "granted": False,
                    "updated_at": None,
                }
            ]
        }
    )

    purpose: str
    title: str
    description: str
    granted: bool = Field(description="Off until the person grants it.")
    updated_at: OutputTime | None


class ConsentList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"consents": []}]})

    consents: list[ConsentOut]


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"granted": True}]})

    granted: bool = Field(strict=True)


class ConsentChangeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "consent": {
                        "purpose": "territory_statistics",
                        "title": "Territory statistics",
                        "description": "...",
                        "granted": True,
                        "updated_at": "2026-11-28T09:00:00.000Z",
                    },
                    "receipt": _RECEIPT_EXAMPLE,
                }
            ]
        }
    )

    consent: ConsentOut
    receipt: Receipt = Field(description="Kantara Initiative Consent Receipt 1.1.")


class ReceiptOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                    "purpose": "territory_statistics",
                    "granted": True,
                    "at": "2026-11-28T09:00:00.000Z",
                    "receipt": _RECEIPT_EXAMPLE,
                }
            ]
        }
    )

    id: uuid.UUID
    purpose: str
    granted: bool
    at: OutputTime
    receipt: Receipt


class ReceiptList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"receipts": []}]})

    receipts: list[ReceiptOut]


class ZoneIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"label": "home", "lat": 46.1591, "lon": -1.152, "radius_m": 300}]},
    )

    label: InputText = Field(min_length=1, max_length=60)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    # Under 100 m a zone hides little more than the phone's own error; over 2 km it hides whole districts.
    radius_m: float = Field(default=300, ge=100, le=2000, allow_inf_nan=False)


class ZoneOut(ZoneIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                    "label": "home",
                    "lat": 46.1591,
                    "lon": -1.152,
                    "radius_m": 300,
                    "created_at": "2026-11-28T09:00:00.000Z",
                }
            ]
        }
    )

    # What is stored is answered as it is (rows from before NUL characters were refused included).
    label: str = Field(min_length=1, max_length=60)
    id: uuid.UUID
    created_at: OutputTime


class ZoneList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"zones": []}]})

    zones: list[ZoneOut]


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"point_retention_days": 30}]})

    point_retention_days: int = Field(
        ge=0, le=365, strict=True, description="Days raw points are kept once taken into trips (0 to 365)."
    )


class AccessOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "at": "2026-11-28T09:00:00.000Z",
                    "actor": "device: tablet",
                    "action": "export",
                    "reason": "export in gpx format requested with this device's token",
                }
            ]
        }
    )

    at: OutputTime
    actor: str
    action: str
    reason: str


class AccessList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"entries": []}]})

    entries: list[AccessOut]


class DeviceOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "a1b2c3d4-0000-4000-8000-000000000001",
                    "device_label": "Pixel 8",
                    "created_at": "2026-11-28T09:00:00.000Z",
                    "last_used_at": "2026-11-28T10:15:00.000Z",
                    "revoked_at": None,
                }
            ]
        }
    )

    id: uuid.UUID
    device_label: str | None
    created_at: OutputTime
    last_used_at: OutputTime | None
    revoked_at: OutputTime | None


class LearningIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": False}]})

    enabled: bool = Field(
        strict=True,
        description="Whether the legs you confirm or correct teach the inference of your later legs.",
    )


class LearnedCorrection(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"rules_said": "car", "you_said": "bus", "legs": 5}]}
    )

    rules_said: str = Field(description="The mode the rules had given legs you confirmed.")
    you_said: str = Field(description="The mode you gave them instead.")
    legs: int


class LearningOut(BaseModel):
    """What the service learned from the legs the person confirmed or corrected (app/mobility/personal.py)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "enabled": True,
                    "active": True,
                    "confirmed_legs": 23,
                    "corrections": [{"rules_said": "car", "you_said": "bus", "legs": 5}],
                    "teaching_legs": {"bus": 9, "car": 6, "metro": 3},
                    "legs_revised": 14,
                    "legs_confirmed_by_habits": 31,
                    "starts_from": 4,
                    "half_life_days": 365.0,
                    "explanation": "Each later leg is compared with the legs you confirmed or corrected ...",
                }
            ]
        }
    )

    enabled: bool = Field(description="You can switch it off (PUT /v1/me/learning).")
    active: bool = Field(description="In use now: enabled, with at least `starts_from` legs that teach.")
    confirmed_legs: int = Field(description="Legs whose mode you confirmed or corrected.")
    corrections: list[LearnedCorrection] = Field(
        default_factory=list,
        description="What your corrections taught, most frequent first: the rules said one kind of leg, "
        "you said another (legs whose mode you confirmed as the rules had it teach too, and are not listed).",
    )
    teaching_legs: dict[str, int] = Field(
        description="Of those, the legs that teach (on foot, by bike, bus, car or rail, the 500 most recent), "
        "by mode."
    )
    legs_revised: int = Field(description="Legs whose inferred mode your confirmations changed.")
    legs_confirmed_by_habits: int = Field(
        description="Legs whose inferred mode your confirmations agreed with (reason `your_confirmations`)."
    )
    starts_from: int = Field(description="Taught legs needed before anything is learned.")
    half_life_days: float = Field(description="A confirmation's weight halves every this many days.")
    explanation: str


class RetentionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"point_retention_days": 30, "points_purged_until": None}]}
    )

    point_retention_days: int = Field(description="Days raw points are kept once taken into trips.")
    points_purged_until: InstantText | None = Field(
        description="Raw points before this time have been deleted; null while none has been."
    )


class HeldOut(BaseModel):
    """Everything the service holds about the person, in counts, and what each kind of data is for."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "3f2c9a8e-5b1d-4c7e-9f0a-2b6d8e1c4a57",
                    "created_at": "2026-11-01T08:00:00.000Z",
                    "devices": [],
                    "counts": {"points": 120431, "activities": 2210, "trips": 412, "legs": 690},
                    "oldest_point": "2026-10-29T06:12:00.000Z",
                    "newest_point": "2026-11-28T08:59:41.000Z",
                    "retention": {"point_retention_days": 30, "points_purged_until": None},
                    "consents": [],
                    "privacy_zones": 2,
                    "learning": {
                        "enabled": True,
                        "active": False,
                        "confirmed_legs": 2,
                        "corrections": [],
                        "teaching_legs": {"bus": 2},
                        "legs_revised": 0,
                        "legs_confirmed_by_habits": 0,
                        "starts_from": 4,
                        "half_life_days": 365.0,
                        "explanation": "Each later leg is compared with the legs you confirmed ...",
                    },
                    "uses": {"points": "Turned into your trips ..."},
                }
            ]
        }
    )

    user_id: uuid.UUID
    created_at: OutputTime
    devices: list[DeviceOut]
    counts: dict[str, int]
    oldest_point: InstantText | None
    newest_point: InstantText | None
    retention: RetentionOut
    consents: list[ConsentOut]
    privacy_zones: int
    learning: LearningOut = Field(description="What your confirmed legs taught (see GET /v1/me/learning).")
    uses: dict[str, str] = Field(description="What each kind of data serves.")
