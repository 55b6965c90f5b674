"""Imports of location history files."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import OutputTime


class ImportOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "7e8f9a0b-1c2d-4e3f-8a5b-6c7d8e9f0a1b",
                    "status": "done",
                    "filename": "Records.json",
                    "format": "google_records",
                    "size_bytes": 162287768,
                    "points_read": 1000000,
                    "points_accepted": 998200,
                    "duplicates": 1800,
                    "activities": 52100,
                    "error": None,
                    "created_at": "2026-11-28T09:00:00.000Z",
                    "finished_at": "2026-11-28T09:01:10.000Z",
                }
            ]
        }
    )

    id: uuid.UUID
    status: Literal["received", "checking", "storing", "done", "failed"] = Field(
        description="`failed` stores nothing; `done` means the points are stored and queued for the pipeline."
    )
    filename: str
    format: str | None = Field(description="gpx, geojson, google_records or google_timeline.")
    size_bytes: int
    points_read: int
    points_accepted: int
    duplicates: int = Field(description="Points already held (same time), not stored twice.")
    activities: int
    error: str | None = Field(description="What is wrong with the file, when it failed.")
    created_at: OutputTime
    finished_at: OutputTime | None


class ImportList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"imports": []}]})

    imports: list[ImportOut]
