"""What the OpenPATH routes answer, in the shapes the phone app reads (e-mission's field names)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class UsercachePutOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"accepted": 120, "duplicates": 3, "ignored": {"statemachine/transition": 2}, "errors": []}
            ]
        }
    )

    accepted: int = Field(description="Locations and motion hints newly stored.")
    duplicates: int = Field(description="Locations already stored for the same time.")
    ignored: dict[str, int] = Field(description="Entries of other kinds, counted per `metadata.key`.")
    errors: list[str] = Field(description="Malformed entries, one sentence each; the others were kept.")


class UsercacheGetOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"server_to_phone": []}]})

    server_to_phone: list[dict[str, Any]] = Field(description="Documents for the phone (none so far).")


class CompleteTsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"complete_ts": 1764662400.0}]})

    complete_ts: float | None = Field(
        description="Up to when the phone's data has been turned into trips, epoch seconds; null before."
    )


class TimelineOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "timeline": [
                        {
                            "type": "FeatureCollection",
                            "id": "6f1c0e2a-8d4b-4c1e-9a57-3b2d1f0e9c88",
                            "properties": {
                                "feature_type": "trip",
                                "start_ts": 1764662400.0,
                                "end_ts": 1764664200.0,
                                "distance": 8200.0,
                                "duration": 1800.0,
                                "co2e_g": 1790.0,
                            },
                            "features": [],
                        }
                    ]
                }
            ]
        }
    )

    timeline: list[dict[str, Any]] = Field(
        description="The day's trips, each a GeoJSON FeatureCollection: start and end places and one "
        "LineString feature per section, with e-mission's `feature_type`, `sensed_mode` and times."
    )
