"""What the phone sends: location points and motion-activity hints."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import InputTimestamp, InstantText

MAX_POINTS = 10_000
# Phones report activity changes at most every few seconds; twice the point cap is ample.
MAX_ACTIVITIES = 20_000

Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, strict=True)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, strict=True)]

# Plausible physical ranges of a phone's optional readings. They are stored as 4-byte floats (REAL), which
# end near 3.4e38: a value out of these ranges is refused here (and dropped to null from the e-mission
# envelope, see app/openpath/envelope.py) rather than failing in the database.
#: Horizontal accuracy, metres: a fix worse than 1,000 km is no position at all.
ACCURACY_RANGE_M = (0.0, 1_000_000.0)
#: Altitude, metres: from below the deepest trench (-11 km) to well above any aircraft (100 km).
ALTITUDE_RANGE_M = (-12_000.0, 100_000.0)
#: Speed, metres per second: -1 is iOS's "no reading"; 1,000 m/s is three times an airliner's.
SPEED_RANGE_MPS = (-1.0, 1_000.0)
#: Heading, degrees clockwise from north: -1 is iOS's "no reading"; some phones write 360 for north.
HEADING_RANGE_DEG = (-1.0, 360.0)


class ActivityType(StrEnum):
    stationary = "stationary"
    walking = "walking"
    running = "running"
    cycling = "cycling"
    automotive = "automotive"
    unknown = "unknown"


class PointIn(BaseModel):
    """One location fix. Extra fields a phone may add (provider, floor, …) are ignored."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "ts": 1466547704.08,
                    "lat": 46.1591,
                    "lon": -1.152,
                    "accuracy": 12.0,
                    "altitude": 3.0,
                    "speed": 1.4,
                    "heading": 271.0,
                }
            ]
        },
    )

    ts: InputTimestamp
    lat: Latitude
    lon: Longitude
    accuracy: float | None = Field(
        default=None,
        ge=ACCURACY_RANGE_M[0],
        le=ACCURACY_RANGE_M[1],
        allow_inf_nan=False,
        strict=True,
        description="Horizontal accuracy, metres (0 to 1,000,000).",
    )
    altitude: float | None = Field(
        default=None,
        ge=ALTITUDE_RANGE_M[0],
        le=ALTITUDE_RANGE_M[1],
        allow_inf_nan=False,
        strict=True,
        description="Metres (-12,000 to 100,000).",
    )
    speed: float | None = Field(
        default=None,
        ge=SPEED_RANGE_MPS[0],
        le=SPEED_RANGE_MPS[1],
        allow_inf_nan=False,
        strict=True,
        description="Metres per second, as the phone measured (-1, iOS's 'no reading', to 1,000).",
    )
    heading: float | None = Field(
        default=None,
        ge=HEADING_RANGE_DEG[0],
        le=HEADING_RANGE_DEG[1],
        allow_inf_nan=False,
        strict=True,
        description="Degrees clockwise from north (0 to 360; -1, iOS's 'no reading').",
    )


class ActivityIn(BaseModel):
    """A motion-activity hint from the phone (Android Activity Recognition, iOS CoreMotion)."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"ts": 1466547705.0, "type": "walking", "confidence": 90}]},
    )

    ts: InputTimestamp
    type: ActivityType
    confidence: int | None = Field(default=None, ge=0, le=100, strict=True)


class LocationBatchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "points": [
                        {
                            "ts": 1466547704.08,
                            "lat": 46.1591,
                            "lon": -1.1520,
                            "accuracy": 12.0,
                            "altitude": 3.0,
                            "speed": 1.4,
                            "heading": 271.0,
                        },
                        {"ts": "2016-06-21T22:21:49.000Z", "lat": 46.1592, "lon": -1.1523},
                    ],
                    "activities": [{"ts": 1466547705.0, "type": "walking", "confidence": 90}],
                }
            ]
        },
    )

    points: list[PointIn] = Field(min_length=1, max_length=MAX_POINTS)
    activities: list[ActivityIn] = Field(default_factory=list, max_length=MAX_ACTIVITIES)


# One value of each field, with the same rules as `PointIn` and `ActivityIn` (the range constants above):
# the columnar form's items below, and the fast readers' mirrors of both forms (app/ingest/reader.py,
# app/ingest/columns.py). In the columnar form (one array per field rather than one object per point)
# every column present has one value per point (checked after these models, see app/ingest/columns.py,
# which names the column that differs).
LatitudeValue = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, strict=True)]
LongitudeValue = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, strict=True)]
AccuracyValue = Annotated[
    float | None, Field(ge=ACCURACY_RANGE_M[0], le=ACCURACY_RANGE_M[1], allow_inf_nan=False, strict=True)
]
AltitudeValue = Annotated[
    float | None, Field(ge=ALTITUDE_RANGE_M[0], le=ALTITUDE_RANGE_M[1], allow_inf_nan=False, strict=True)
]
SpeedValue = Annotated[
    float | None, Field(ge=SPEED_RANGE_MPS[0], le=SPEED_RANGE_MPS[1], allow_inf_nan=False, strict=True)
]
HeadingValue = Annotated[
    float | None, Field(ge=HEADING_RANGE_DEG[0], le=HEADING_RANGE_DEG[1], allow_inf_nan=False, strict=True)
]
ConfidenceValue = Annotated[int | None, Field(ge=0, le=100, strict=True)]


class ActivityColumnsIn(BaseModel):
    """Motion-activity hints as columns: the i-th hint is (`ts[i]`, `type[i]`, `confidence[i]`)."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "ts": [1466547705.0, 1466547765.0],
                    "type": ["walking", "automotive"],
                    "confidence": [90, None],
                }
            ]
        },
    )

    ts: list[InputTimestamp] = Field(max_length=MAX_ACTIVITIES, description="Times of the hints.")
    type: list[ActivityType] = Field(max_length=MAX_ACTIVITIES, description="One type per time.")
    confidence: list[ConfidenceValue] = Field(
        default_factory=list,
        max_length=MAX_ACTIVITIES,
        description="0 to 100, or null, one per time; may be left out.",
    )


class LocationColumnsIn(BaseModel):
    """A batch of points as columns: the i-th point is (`ts[i]`, `lat[i]`, `lon[i]`, `accuracy[i]`, …).

    Same rules as `LocationBatchIn`, one array per field: `ts`, `lat` and `lon` are required, 1 to 10,000
    values; each optional column may be left out or hold nulls, and when present has as many values as
    `ts`. Unknown keys are ignored."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "ts": [1466547704.08, "2016-06-21T22:21:49.000Z"],
                    "lat": [46.1591, 46.1592],
                    "lon": [-1.152, -1.1523],
                    "accuracy": [12.0, 8.0],
                    "altitude": [3.0, None],
                    "speed": [1.4, 1.5],
                    "heading": [271.0, None],
                    "activities": {"ts": [1466547705.0], "type": ["walking"], "confidence": [90]},
                }
            ]
        },
    )

    ts: list[InputTimestamp] = Field(min_length=1, max_length=MAX_POINTS, description="Times of the fixes.")
    lat: list[LatitudeValue] = Field(min_length=1, max_length=MAX_POINTS, description="Degrees.")
    lon: list[LongitudeValue] = Field(min_length=1, max_length=MAX_POINTS, description="Degrees.")
    accuracy: list[AccuracyValue] = Field(
        default_factory=list,
        max_length=MAX_POINTS,
        description="Horizontal accuracy, metres (0 to 1,000,000).",
    )
    altitude: list[AltitudeValue] = Field(
        default_factory=list, max_length=MAX_POINTS, description="Metres (-12,000 to 100,000)."
    )
    speed: list[SpeedValue] = Field(
        default_factory=list,
        max_length=MAX_POINTS,
        description="Metres per second, as the phone measured (-1, iOS's 'no reading', to 1,000).",
    )
    heading: list[HeadingValue] = Field(
        default_factory=list,
        max_length=MAX_POINTS,
        description="Degrees clockwise from north (0 to 360; -1, iOS's 'no reading').",
    )
    activities: ActivityColumnsIn = Field(
        default_factory=lambda: ActivityColumnsIn(ts=[], type=[]),
        description="The phone's motion-activity hints, as columns; may be left out.",
    )


class IngestOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"accepted": 980, "duplicates": 20, "activities_received": 3}]}
    )

    accepted: int = Field(description="Points stored by this request.")
    duplicates: int = Field(description="Points already held (same time), not stored twice.")
    activities_received: int = Field(description="Distinct motion-activity hints in the request.")


class PipelineOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"pending_points": 0, "processed_until": "2016-06-21T22:21:44.086Z"}]}
    )

    pending_points: int = Field(description="Accepted points not yet taken into trips.")
    processed_until: InstantText | None = Field(
        description="RFC 3339 time up to which the pipeline has turned points into trips; null before any."
    )
    failed_attempts: int = Field(
        default=0,
        description=(
            "Processing runs on these points that failed in a row (0 when all is well). The points stay "
            "stored and pending; the service retries, waiting longer after each failure (at most an hour)."
        ),
    )
    next_attempt: InstantText | None = Field(
        default=None, description="RFC 3339 time of the next attempt while runs are failing; null otherwise."
    )
