"""Trips and legs as the person sees them."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import InstantText
from app.emissions import MODES

ModeId = Literal[
    "walk", "run", "bike", "ebike", "escooter", "moped", "motorcycle", "car", "ecar", "carpool",
    "bus", "coach", "tram", "metro", "train", "hsr", "plane", "boat", "unknown",
]  # fmt: skip
assert set(ModeId.__args__) == set(MODES)  # type: ignore[attr-defined]

_LEG_EXAMPLE: dict[str, Any] = {
    "id": "5b0f6f6e-8f8e-4c1e-9d5a-1f2e3d4c5b6a",
    "start_time": "2016-06-21T22:21:44.086Z",
    "end_time": "2016-06-21T22:38:10.000Z",
    "mode": "bike",
    "mode_source": "inferred",
    "confidence": 0.82,
    "distance_m": 980.1,
    "co2e_g": 0.167,
    "occupants": None,
}
_GEOMETRY_EXAMPLE: dict[str, Any] = {
    "type": "LineString",
    "coordinates": [[-1.152, 46.1591], [-1.1601, 46.1622]],
}
_TRIP_EXAMPLE: dict[str, Any] = {
    "id": "2c7d9a8e-1b3f-4e5d-8c7b-6a5f4e3d2c1b",
    "status": "closed",
    "start_time": "2016-06-21T22:21:44.086Z",
    "end_time": "2016-06-21T22:54:37.586Z",
    "start": {"lat": 46.15, "lon": -1.15},
    "end": {"lat": 46.16, "lon": -1.17},
    "distance_m": 2892.6,
    "duration_s": 1973.5,
    "co2e_g": 0.167,
    "purpose": "commute",
    "purpose_source": "user",
    "legs": [_LEG_EXAMPLE],
}


Purpose = Literal["commute", "work", "school", "shopping", "leisure", "visit", "other"]


class PurposeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"purpose": "commute"}]})

    purpose: Purpose | None = Field(description="null clears the label.")


class LatLon(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"lat": 46.1591, "lon": -1.152}]})

    lat: float
    lon: float


class LineString(BaseModel):
    """A GeoJSON LineString (RFC 7946): [lon, lat] positions, simplified to keep the shape."""

    model_config = ConfigDict(json_schema_extra={"examples": [_GEOMETRY_EXAMPLE]})

    type: Literal["LineString"] = "LineString"
    coordinates: list[list[float]]


class FactorUsed(BaseModel):
    """Where a leg's CO2e comes from: enough to reproduce it by hand."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "factor_set": "ademe-2026-07:use+construction+contrails",
                    "key": "car/voiturethermique",
                    "g_per_km": 142.26,
                    "unit": "vehicle-km",
                    "source": "ADEME Base Empreinte via impactCO2 "
                    "(src/data/categories/deplacement.ts, data of 2026-07)",
                }
            ]
        }
    )

    factor_set: str = Field(
        description="Set id and the components counted, or `territory` for a local factor."
    )
    key: str = Field(description="The factor within the set: mode, variant and source slug.")
    g_per_km: float
    unit: Literal["passenger-km", "vehicle-km"]
    source: str


_REASONS_EXAMPLE: list[dict[str, Any]] = [
    {"rule": "line_stops", "line": "3", "kind": "bus", "stops_served": 7},
]

ReasonValue = str | int | float


class LegOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_LEG_EXAMPLE]})

    id: uuid.UUID
    start_time: InstantText
    end_time: InstantText
    mode: ModeId
    mode_source: Literal["inferred", "activity", "user"] = Field(
        description="`inferred` from the trace's geometry, `activity` from the phone's motion hints, "
        "`user` when the person corrected it (never overwritten by reprocessing)."
    )
    confidence: float = Field(ge=0, le=1)
    distance_m: float
    co2e_g: float = Field(description="This person's share, in grams CO2e.")
    occupants: int | None = Field(default=None, description="People sharing the vehicle's emissions.")
    factor: FactorUsed | None = Field(default=None, description="The emission factor behind `co2e_g`.")
    geometry: LineString | None = Field(default=None, description="Only on a single trip's detail.")
    reasons: list[dict[str, ReasonValue]] | None = Field(
        default=None,
        description="Why this mode, most telling first: each reason names its `rule` with the figures it "
        "read (speeds in km/h, rates per km), e.g. `line_stops` (a line's stops at both ends and on the "
        "way), `speed_plateau`, `bus_votes`, `phone_activity`, `your_confirmations` (legs you confirmed "
        "that look like this one). A leg you corrected starts with `your_correction`. The rules are "
        "listed in docs/modes.md. Only on a single trip's detail.",
        examples=[_REASONS_EXAMPLE],
    )


class TripOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_TRIP_EXAMPLE]})

    id: uuid.UUID
    status: Literal["open", "closed"] = Field(
        description="`open` while the trip may still grow; `closed` once a stay follows it or no point has "
        "come for the trip time-out."
    )
    start_time: InstantText
    end_time: InstantText
    start: LatLon
    end: LatLon
    distance_m: float
    duration_s: float
    co2e_g: float
    purpose: Purpose | None = None
    purpose_source: Literal["user", "inherited"] | None = Field(
        default=None, description="`inherited` when taken from an earlier trip between the same places."
    )
    legs: list[LegOut]


class TripList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"trips": [_TRIP_EXAMPLE], "next_cursor": None}]}
    )

    trips: list[TripOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class LegPatchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"mode": "bus"}, {"mode": "carpool", "occupants": 3}]},
    )

    mode: ModeId
    occupants: int | None = Field(
        default=None,
        ge=1,
        le=9,
        strict=True,
        description="People in the car, the person included; for car, ecar and carpool only. A carpool "
        "without it counts 2.",
    )


class AlternativeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "mode": "bike",
                    "co2e_g": 0.7,
                    "saving_vs_car_g": 596.8,
                    "duration_s": 1008,
                    "message": "By bike, this 4.2 km trip would emit 0.7 g CO2e instead of 597 g "
                    "driving alone, in about 17 min.",
                }
            ]
        }
    )

    mode: ModeId
    co2e_g: float
    saving_vs_car_g: float = Field(description="Compared with the same trip driving alone.")
    duration_s: float = Field(description="A rough door-to-door estimate.")
    message: str


class AlternativesOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "trip_id": "2c7d9a8e-1b3f-4e5d-8c7b-6a5f4e3d2c1b",
                    "distance_m": 4200.0,
                    "co2e_g": 597.5,
                    "alternatives": [AlternativeOut.model_config["json_schema_extra"]["examples"][0]],  # type: ignore[index]
                }
            ]
        }
    )

    trip_id: uuid.UUID
    distance_m: float
    co2e_g: float = Field(description="What the trip emitted as made.")
    alternatives: list[AlternativeOut] = Field(
        description="Realistic for this distance, least emitting first."
    )
