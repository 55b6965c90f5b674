"""What the OpenPATH routes answer, in the shapes the phone app reads (e-mission's field names)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class LabelsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "stored": 2,
                    "duplicates": 0,
                    "applied": 1,
                    "pending": 1,
                    "unknown": {"mode_confirm:segway": 1},
                }
            ]
        }
    )

    stored: int = Field(description="Labels and survey answers newly stored (`manual/*` entries).")
    duplicates: int = Field(description="Labels already stored (same key, write_ts and start_ts).")
    applied: int = Field(description="Mode and purpose labels now applied to a trip.")
    pending: int = Field(description="Labels whose trip is not built yet: applied when it is.")
    unknown: dict[str, int] = Field(
        description="Label values this server does not know, as `key:value`: kept, changing nothing."
    )


class UsercachePutOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accepted": 120,
                    "duplicates": 3,
                    "ignored": {"statemachine/transition": 2},
                    "errors": [],
                    "labels": {"stored": 2, "duplicates": 0, "applied": 2, "pending": 0, "unknown": {}},
                }
            ]
        }
    )

    accepted: int = Field(description="Locations and motion hints newly stored.")
    duplicates: int = Field(description="Locations already stored for the same time.")
    ignored: dict[str, int] = Field(description="Entries of other kinds, counted per `metadata.key`.")
    errors: list[str] = Field(description="Malformed entries, one sentence each; the others were kept.")
    labels: LabelsOut = Field(description="What became of the labels and survey answers of the upload.")


class ProfileCreateOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"uuid": "6f1c0e2a-8d4b-4c1e-9a57-3b2d1f0e9c88"}]}
    )

    uuid: str = Field(description="The person's id here.")


class ProfileUpdateOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"update": True}]})

    update: bool


class OpenpathProfileOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "user_id": "6f1c0e2a-8d4b-4c1e-9a57-3b2d1f0e9c88",
                    "curr_platform": "android",
                    "client_app_version": "1.9.6",
                    "config_version": 3,
                    "pipeline_range": {"start_ts": 1764662400.0, "end_ts": 1764748800.0},
                    "total_trips": 12,
                    "labeled_trips": 9,
                }
            ]
        },
    )

    user_id: str
    pipeline_range: dict[str, float | None]
    total_trips: int
    labeled_trips: int


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


class RangeTsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"start_ts": 1764662400.0, "end_ts": 1764748800.0}]}
    )

    start_ts: float | None = Field(
        description="When the person's first trip starts, epoch seconds; null before."
    )
    end_ts: float | None = Field(
        description="Up to when their data has been turned into trips (or their last trip's end), epoch "
        "seconds; null before."
    )


class FindEntriesOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "phone_data": [
                        {
                            "_id": {"$oid": "6f1c0e2a8d4b4c1e9a573b2d1f0e9c88"},
                            "user_id": {"$uuid": "0b6e3c5d2f0a4c7e9d1b8a4f6e2c1d3b"},
                            "metadata": {
                                "key": "analysis/composite_trip",
                                "write_ts": 1764664300.0,
                                "platform": "server",
                                "time_zone": "Europe/Paris",
                                "type": "document",
                                "origin_key": "analysis/confirmed_trip",
                            },
                            "data": {
                                "start_ts": 1764662400.0,
                                "end_ts": 1764664200.0,
                                "start_fmt_time": "2025-12-02T09:00:00+01:00",
                                "end_fmt_time": "2025-12-02T09:30:00+01:00",
                                "start_loc": {"type": "Point", "coordinates": [-1.152, 46.159]},
                                "end_loc": {"type": "Point", "coordinates": [-1.101, 46.141]},
                                "distance": 8200.0,
                                "duration": 1800.0,
                                "co2e_g": 1790.0,
                                "user_input": {"mode_confirm": "drove_alone", "purpose_confirm": "work"},
                                "locations": [],
                                "sections": [],
                            },
                        }
                    ]
                }
            ]
        }
    )

    phone_data: list[dict[str, Any]] = Field(
        description="The entries, each wrapped as `{_id: {$oid}, user_id, metadata: {key, write_ts, ...}, "
        "data}`: composite trips with their sections, locations and places, or the person's own labels."
    )


class MetricsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "distance": [{"date": "2026-11-02", "nUsers": 1, "mode_confirm_bus": 4200.0}],
                    "duration": [{"date": "2026-11-02", "nUsers": 1, "mode_confirm_bus": 960.0}],
                    "count": [{"date": "2026-11-02", "nUsers": 1, "mode_confirm_bus": 1}],
                    "footprint": [
                        {"date": "2026-11-02", "nUsers": 1, "mode_confirm_bus": {"kg_co2": 0.42, "kwh": 0}}
                    ],
                }
            ]
        }
    )

    distance: list[dict[str, Any]] = Field(description="Metres per local day and group.")
    duration: list[dict[str, Any]] = Field(description="Seconds per local day and group.")
    count: list[dict[str, Any]] = Field(description="Trips per local day and group.")
    footprint: list[dict[str, Any]] = Field(
        description="`{kg_co2, kwh}` per local day and group: kg_co2 is our CO2e estimate, kwh is not "
        "computed (0)."
    )
