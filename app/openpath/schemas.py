"""What the OpenPATH routes answer, in the shapes the phone app reads (e-mission's field names)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class UsercachePutOut(BaseModel):
    accepted: int = Field(description="Locations and motion hints newly stored.")
    duplicates: int = Field(description="Locations already stored for the same time.")
    ignored: dict[str, int] = Field(description="Entries of other kinds, counted per `metadata.key`.")
    errors: list[str] = Field(description="Malformed entries, one sentence each; the others were kept.")


class UsercacheGetOut(BaseModel):
    server_to_phone: list[dict[str, Any]] = Field(description="Documents for the phone (none so far).")


class CompleteTsOut(BaseModel):
    complete_ts: float | None = Field(
        description="Up to when the phone's data has been turned into trips, epoch seconds; null before."
    )


class TimelineOut(BaseModel):
    timeline: list[dict[str, Any]] = Field(
        description="The day's trips, each a GeoJSON FeatureCollection: start and end places and one "
        "LineString feature per section, with e-mission's `feature_type`, `sensed_mode` and times."
    )
