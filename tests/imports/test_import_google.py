"""Google Takeout Records.json and on-device Timeline.json parsing."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from app.imports.parsers import ImportedActivity, ImportedPoint, ImportFormatError
from app.imports.parsers.google import map_google_activity, parse_google_records, parse_google_timeline

T = 1714557600.0  # 2024-05-01T10:00:00Z


def run(
    parser: Any, data: bytes, batch_size: int = 5000
) -> tuple[list[ImportedPoint], list[ImportedActivity]]:
    pts: list[ImportedPoint] = []
    acts: list[ImportedActivity] = []
    for batch in parser(io.BytesIO(data), batch_size=batch_size):
        assert len(batch.points) <= batch_size and len(batch.activities) <= batch_size
        pts.extend(batch.points)
        acts.extend(batch.activities)
    return pts, acts


RECORDS: dict[str, Any] = {
    "locations": [
        {  # newer export: RFC 3339 timestamp, negative longitude
            "latitudeE7": 461591000,
            "longitudeE7": -11520000,
            "accuracy": 12,
            "altitude": 8,
            "velocity": 3,
            "heading": 270,
            "verticalAccuracy": 4,
            "source": "GPS",
            "deviceTag": 12345,
            "timestamp": "2024-05-01T10:00:00.000Z",
            "activity": [
                {
                    "timestamp": "2024-05-01T09:59:58.500Z",
                    "activity": [
                        {"type": "IN_VEHICLE", "confidence": 70},
                        {"type": "IN_ROAD_VEHICLE", "confidence": 70},
                        {"type": "STILL", "confidence": 20},
                    ],
                },
                {"timestamp": "2024-05-01T09:59:59Z", "activity": [{"type": "ON_BICYCLE", "confidence": 91}]},
            ],
        },
        {  # older export: timestampMs string, southern / western hemisphere
            "timestampMs": "1714557601000",
            "latitudeE7": -338688000,
            "longitudeE7": -702093000,
            "accuracy": 30,
            "activity": [
                {
                    "timestampMs": "1714557601000",
                    "activity": [{"type": "still", "confidence": 75}, {"type": "onFoot", "confidence": 10}],
                },
                {"timestampMs": "1714557601500", "activity": [{"type": "TILTING", "confidence": 100}]},
            ],
        },
        {  # old overflow bug: -33.8688 written as an unsigned 32-bit integer
            "timestampMs": "1714557602000",
            "latitudeE7": 2**32 - 338688000,
            "longitudeE7": 1512093000,
        },
        {  # sensor-only record: no coordinates, activity kept
            "timestamp": "2024-05-01T10:00:03Z",
            "activity": [
                {"timestamp": "2024-05-01T10:00:03Z", "activity": [{"type": "RUNNING", "confidence": 60}]}
            ],
        },
    ]
}


def test_records_points_and_activities() -> None:
    pts, acts = run(parse_google_records, json.dumps(RECORDS).encode())
    assert pts == [
        ImportedPoint(T, 46.1591, -1.152, accuracy_m=12.0, altitude_m=8.0, speed_mps=3.0, heading_deg=270.0),
        ImportedPoint(T + 1, -33.8688, -70.2093, accuracy_m=30.0),
        ImportedPoint(T + 2, -33.8688, 151.2093),
    ]
    assert acts == [
        ImportedActivity(T - 1.5, "automotive", 70),
        ImportedActivity(T - 1, "cycling", 91),
        ImportedActivity(T + 1, "stationary", 75),
        ImportedActivity(T + 1.5, "unknown", 100),
        ImportedActivity(T + 3, "running", 60),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("IN_VEHICLE", "automotive"),
        ("IN_PASSENGER_VEHICLE", "automotive"),
        ("IN_RAIL_VEHICLE", "automotive"),
        ("inVehicle", "automotive"),
        ("ON_BICYCLE", "cycling"),
        ("onBicycle", "cycling"),
        ("ON_FOOT", "walking"),
        ("WALKING", "walking"),
        ("RUNNING", "running"),
        ("STILL", "stationary"),
        ("TILTING", "unknown"),
        ("UNKNOWN", "unknown"),
        ("EXITING_VEHICLE", "unknown"),
        ("FLYING", "unknown"),
        (None, "unknown"),
    ],
)
def test_activity_mapping(name: str | None, expected: str) -> None:
    assert map_google_activity(name) == expected


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"latitudeE7": 1, "longitudeE7": 1}, "location 1 has no timestamp"),
        ({"latitudeE7": 1, "timestamp": "2024-05-01T10:00:00Z"}, "location 1 has no longitudeE7"),
        (
            {"latitudeE7": "x", "longitudeE7": 1, "timestamp": "2024-05-01T10:00:00Z"},
            "non-numeric latitudeE7",
        ),
        (
            {"latitudeE7": 1, "longitudeE7": 1, "timestamp": "tomorrow"},
            "location 1 has an unreadable timestamp",
        ),
        ({"latitudeE7": 1, "longitudeE7": 1, "timestampMs": "abc"}, "unreadable timestamp"),
        ({"latitudeE7": 1_500_000_000, "longitudeE7": 1, "timestampMs": "1"}, "impossible latitude"),
        (
            {"timestampMs": "1", "activity": [{"activity": [{"type": "STILL", "confidence": 5}]}]},
            "location 1 activity 0 has no timestamp",
        ),
    ],
)
def test_records_bad_items_raise(record: dict[str, Any], message: str) -> None:
    good = {"latitudeE7": 1, "longitudeE7": 1, "timestampMs": "1714557600000"}
    with pytest.raises(ImportFormatError, match=message):
        run(parse_google_records, json.dumps({"locations": [good, record]}).encode())


def test_records_truncated_raises() -> None:
    data = json.dumps(RECORDS).encode()
    for cut in range(1, len(data) - 1, 53):
        with pytest.raises(ImportFormatError, match="Google Records: the file is truncated"):
            run(parse_google_records, data[:cut])


def test_records_batches() -> None:
    locs = [
        {
            "latitudeE7": 1,
            "longitudeE7": 1,
            "timestampMs": str(1714557600000 + i),
            "activity": [{"timestampMs": "1714557600000", "activity": [{"type": "STILL", "confidence": 1}]}]
            * 2,
        }
        for i in range(5)
    ]
    batches = list(parse_google_records(io.BytesIO(json.dumps({"locations": locs}).encode()), batch_size=3))
    assert all(len(b.points) <= 3 and len(b.activities) <= 3 for b in batches)
    assert sum(len(b.points) for b in batches) == 5
    assert sum(len(b.activities) for b in batches) == 10
    assert [p.ts_s for b in batches for p in b.points] == [1714557600.0 + i / 1000 for i in range(5)]


TIMELINE: dict[str, Any] = {
    "semanticSegments": [
        {
            "startTime": "2024-05-01T11:00:00.000+01:00",
            "endTime": "2024-05-01T11:30:00.000+01:00",
            "startTimeTimezoneUtcOffsetMinutes": 60,
            "visit": {
                "hierarchyLevel": 0,
                "probability": 0.9,
                "topCandidate": {
                    "placeId": "place-a",
                    "semanticType": "HOME",
                    "probability": 0.8,
                    "placeLocation": {"latLng": "46.1591°, -1.152°"},
                },
            },
        },
        {
            "startTime": "2024-05-01T11:00:00.000+01:00",
            "endTime": "2024-05-01T11:30:00.000+01:00",
            "visit": {"hierarchyLevel": 1, "topCandidate": {"placeLocation": {"latLng": "46.2°, -1.2°"}}},
        },
        {
            "startTime": "2024-05-01T11:30:00.000+01:00",
            "endTime": "2024-05-01T11:45:00.000+01:00",
            "activity": {
                "start": {"latLng": "46.1591°, -1.152°"},
                "end": {"latLng": "46.17°, -1.14°"},
                "distanceMeters": 2500.0,
                "topCandidate": {"type": "IN_PASSENGER_VEHICLE", "probability": 0.87},
            },
        },
        {
            "startTime": "2024-05-01T12:00:00.000+02:00",
            "endTime": "2024-05-01T14:00:00.000+02:00",
            "timelinePath": [
                {"point": "46.16°, -1.15°", "time": "2024-05-01T12:31:00.000+02:00"},
                {"point": "geo:46.165,-1.145", "time": "2024-05-01T10:32:30Z"},
            ],
        },
    ],
    "rawSignals": [
        {
            "position": {
                "LatLng": "-12.5°, 130.8°",
                "accuracyMeters": 13,
                "altitudeMeters": 42.5,
                "source": "GPS",
                "timestamp": "2024-05-01T10:40:00.000Z",
                "speedMetersPerSecond": 9.5,
            }
        },
        {
            "wifiScan": {
                "deliveryTime": "2024-05-01T10:41:00.000Z",
                "devicesRecords": [{"mac": 1, "rawRssi": -70}],
            }
        },
        {
            "activityRecord": {
                "probableActivities": [
                    {"type": "STILL", "confidence": 0.2},
                    {"type": "WALKING", "confidence": 0.75},
                ],
                "timestamp": "2024-05-01T10:42:00.000Z",
            }
        },
    ],
    "userLocationProfile": {"frequentPlaces": [{"placeId": "place-a", "placeLocation": "46.1591°, -1.152°"}]},
}


def test_timeline_points_and_activities() -> None:
    pts, acts = run(parse_google_timeline, json.dumps(TIMELINE, ensure_ascii=False).encode())
    assert pts == [
        ImportedPoint(T, 46.1591, -1.152),  # visit start
        ImportedPoint(T + 1800, 46.1591, -1.152),  # visit end
        ImportedPoint(T + 31 * 60, 46.16, -1.15),
        ImportedPoint(T + 32 * 60 + 30, 46.165, -1.145),
        ImportedPoint(T + 40 * 60, -12.5, 130.8, accuracy_m=13.0, altitude_m=42.5, speed_mps=9.5),
    ]
    assert acts == [
        ImportedActivity(T + 1800, "automotive", 87),
        ImportedActivity(T + 42 * 60, "walking", 75),
    ]


def test_timeline_ascii_escaped_degree_sign() -> None:
    data = json.dumps(TIMELINE, ensure_ascii=True).encode()  # "\u00b0" escapes
    assert len(run(parse_google_timeline, data)[0]) == 5


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["semanticSegments"][3]["timelinePath"][1].update(point="46.1 N"), r"timelinePath\[1\]"),
        (
            lambda d: d["semanticSegments"][3]["timelinePath"][0].pop("time"),
            r"semanticSegments\[3\].timelinePath\[0\] has no time",
        ),
        (lambda d: d["semanticSegments"][0].pop("endTime"), r"semanticSegments\[0\].endTime has no time"),
        (
            lambda d: d["rawSignals"][0]["position"].update(LatLng="95°, 1°"),
            r"rawSignals\[0\].position has an impossible latitude",
        ),
        (lambda d: d["rawSignals"][0]["position"].update(timestamp="x"), "unreadable time 'x'"),
    ],
)
def test_timeline_bad_items_raise(mutate: Any, message: str) -> None:
    data = json.loads(json.dumps(TIMELINE))
    mutate(data)
    with pytest.raises(ImportFormatError, match=message):
        run(parse_google_timeline, json.dumps(data).encode())


def test_timeline_truncated_raises() -> None:
    data = json.dumps(TIMELINE, ensure_ascii=False).encode()
    for cut in range(1, len(data) - 1, 61):
        with pytest.raises(ImportFormatError, match="Google Timeline"):
            run(parse_google_timeline, data[:cut])
