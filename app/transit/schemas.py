"""The territory's public transport networks, as the operator publishes them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import OutputTime


class TransitFeedOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "yelo",
                    "stops": 1214,
                    "routes": 38,
                    "bbox": [-1.2862, 46.0911, -0.9405, 46.2604],
                    "created_at": "2026-11-28T09:00:00.000Z",
                }
            ]
        }
    )

    name: str = Field(description="The name the operator gave the feed (its URL segment).")
    stops: int = Field(description="Stops that a bus, tram, metro, train or ferry line of the feed serves.")
    routes: int = Field(description="Lines of those kinds.")
    bbox: list[float] = Field(description="West, south, east, north bounds of the stops (WGS 84 degrees).")
    created_at: OutputTime


class TransitFeedList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "feeds": [
                        {
                            "name": "yelo",
                            "stops": 1214,
                            "routes": 38,
                            "bbox": [-1.2862, 46.0911, -0.9405, 46.2604],
                            "created_at": "2026-11-28T09:00:00.000Z",
                        }
                    ]
                }
            ]
        }
    )

    feeds: list[TransitFeedOut]
