"""e-mission / OpenPATH usercache envelope mapping."""

from __future__ import annotations

from typing import Any

import pytest

from app.imports.parsers import ImportedActivity, ImportedPoint, ImportFormatError
from app.openpath.envelope import map_usercache

T = 1714557600.0


def entry(key: str, data: Any, platform: str = "android", write_ts: float = T + 100) -> dict[str, Any]:
    return {
        "metadata": {
            "key": key,
            "platform": platform,
            "write_ts": write_ts,
            "time_zone": "Europe/Paris",
            "type": "sensor-data" if key.startswith("background/") else "message",
            "read_ts": 0,
        },
        "data": data,
    }


def android_loc(ts: float, lat: Any, lon: Any, **extra: Any) -> dict[str, Any]:
    data = {
        "latitude": lat,
        "longitude": lon,
        "altitude": 25.0,
        "accuracy": 12.5,
        "bearing": 90.0,
        "sensed_speed": 3.25,
        "ts": ts,
        "fmt_time": "May 1, 2024 12:00:00 PM",
        "elapsedRealtimeNanos": 123456789012,
        "filter": "time",
    }
    data.update(extra)
    return data


def ios_loc(ts: float, lat: float, lon: float) -> dict[str, Any]:
    return {
        "latitude": lat,
        "longitude": lon,
        "altitude": 7.0,
        "accuracy": 5.0,
        "vaccuracy": 3.0,
        "bearing": -1.0,  # CLLocation course invalid
        "sensed_speed": -1.0,  # CLLocation speed invalid
        "ts": ts,
        "fmt_time": "2024-05-01T12:00:00+02:00",
        "floor": 0,
        "filter": "distance",
    }


def test_android_entries() -> None:
    body = {
        "user": "token-abc",
        "phone_to_server": [
            entry("background/location", android_loc(T, 46.1, -1.1)),
            entry("background/motion_activity", {"type": 0, "confidence": 85, "ts": T + 1}),
            entry("background/motion_activity", {"type": 7, "confidence": 60, "ts": T + 2}),
            entry("background/motion_activity", {"type": 5, "confidence": 100, "ts": T + 3}),
            entry("background/motion_activity", {"type": 1, "confidence": 40, "ts": T + 4}),
            entry("background/motion_activity", {"type": 3, "confidence": 100, "ts": T + 5}),
            entry("background/motion_activity", {"type": 8, "confidence": 70, "ts": T + 6}),
            entry("background/motion_activity", {"type": 2, "confidence": 70, "ts": T + 7}),
            entry("background/motion_activity", {"type": 4, "confidence": 30, "ts": T + 8}),
            entry(
                "statemachine/transition", {"curr_state": "STATE_ONGOING_TRIP", "transition": "T", "ts": T}
            ),
        ],
    }
    result = map_usercache(body)
    assert result.errors == []
    assert result.points == [
        ImportedPoint(T, 46.1, -1.1, accuracy_m=12.5, altitude_m=25.0, speed_mps=3.25, heading_deg=90.0)
    ]
    assert [(a.type, a.confidence) for a in result.activities] == [
        ("automotive", 85),
        ("walking", 60),
        ("unknown", 100),
        ("cycling", 40),
        ("stationary", 100),
        ("running", 70),
        ("walking", 70),
        ("unknown", 30),
    ]
    assert result.ignored == {"statemachine/transition": 1}


def test_ios_entries() -> None:
    def ios_act(ts: float, level: str, **flags: bool) -> dict[str, Any]:
        base = dict.fromkeys(("stationary", "walking", "running", "cycling", "automotive", "unknown"), False)
        base.update(flags)
        return {"ts": ts, "confidence_level": level, **base}

    body = {
        "user": "token-ios",
        "phone_to_server": [
            entry("background/location", ios_loc(T, 48.85, 2.35), platform="ios"),
            entry("background/motion_activity", ios_act(T + 1, "high", automotive=True), platform="ios"),
            entry("background/motion_activity", ios_act(T + 2, "medium", walking=True), platform="ios"),
            entry(
                "background/motion_activity",
                ios_act(T + 3, "low", stationary=True, automotive=True),
                platform="ios",
            ),
            entry("background/motion_activity", ios_act(T + 4, "low"), platform="ios"),
            # the phone's own wording: level under "confidence", no ts (the server uses write_ts)
            entry(
                "background/motion_activity",
                {"confidence": "high", "cycling": True, "walking": False},
                platform="ios",
                write_ts=T + 5,
            ),
        ],
    }
    result = map_usercache(body)
    assert result.errors == []
    assert result.points == [ImportedPoint(T, 48.85, 2.35, accuracy_m=5.0, altitude_m=7.0)]
    assert result.activities == [
        ImportedActivity(T + 1, "automotive", 90),
        ImportedActivity(T + 2, "walking", 60),
        ImportedActivity(T + 3, "automotive", 30),
        ImportedActivity(T + 4, "unknown", 30),
        ImportedActivity(T + 5, "cycling", 90),
    ]


def test_filtered_location_preferred_and_sorted() -> None:
    body = {
        "phone_to_server": [
            entry("background/location", android_loc(T + 10, 1.0, 1.0)),
            entry("background/location", android_loc(T, 1.0, 1.0)),
            entry("background/filtered_location", android_loc(T, 2.0, 2.0)),
            entry("background/location", android_loc(T, 3.0, 3.0)),  # after filtered: filtered still wins
            entry("background/filtered_location", android_loc(T + 5, 4.0, 4.0)),
        ]
    }
    result = map_usercache(body)
    assert [(p.ts_s, p.lat) for p in result.points] == [(T, 2.0), (T + 5, 4.0), (T + 10, 1.0)]


def test_unknown_keys_counted_and_malformed_reported() -> None:
    body = {
        "user": "t",
        "phone_to_server": [
            entry("stats/client_time", {"name": "sync_launched", "ts": T, "reading": -1}),
            entry("stats/client_time", {"name": "sync_duration", "ts": T, "reading": 1.2}),
            entry("background/battery", {"battery_level_pct": 80, "ts": T}),
            entry("manual/mode_confirm", {"label": "bike"}),
            entry("background/location", {"longitude": 1.0, "ts": T}),  # 4: no latitude
            entry("background/location", android_loc(T, 123.0, 1.0)),  # 5: impossible latitude
            entry("background/motion_activity", {"ts": T}),  # 6: neither form
            "not an entry",  # 7
            {"data": {}},  # 8: no metadata
            entry("background/filtered_location", None),  # 9: no data
            entry("background/location", android_loc(T, "north", 1.0)),  # 10
            entry("background/location", android_loc(T + 1, 1.0, 1.0)),  # fine
        ],
    }
    result = map_usercache(body)
    assert result.ignored == {"stats/client_time": 2, "background/battery": 1}
    assert [index for index, _ in result.inputs] == [3]  # the label, handed on to app/openpath/labels.py
    assert len(result.points) == 1
    assert result.errors == [
        "entry 4 (background/location): missing latitude",
        "entry 5 (background/location): latitude 123.0 out of range",
        "entry 6 (background/motion_activity): neither an Android 'type' nor iOS activity flags",
        "entry 7 (?): not a JSON object",
        "entry 8 (?): no metadata object",
        "entry 9 (background/filtered_location): no data object",
        "entry 10 (background/location): latitude is not a number ('north')",
    ]


def test_legacy_shapes_ms_timestamps_and_loc() -> None:
    body = {
        "phone_to_server": [
            entry("background/location", android_loc(T * 1000, 1.0, 1.0)),  # ms, very old Android client
            entry(
                "background/location",
                {
                    "mLatitude": 2.0,
                    "mLongitude": 2.0,
                    "mTime": (T + 1) * 1000,
                    "mAccuracy": 9.0,
                    "mBearing": 10.0,
                },
            ),
            entry(
                "background/filtered_location",
                {"loc": {"type": "Point", "coordinates": [3.5, 3.0]}, "ts": T + 2, "heading": 45.0},
            ),
            entry("background/motion_activity", {"agb": 1, "agc": 77, "ts": T + 3}),
            entry("background/motion_activity", {"type": "IN_VEHICLE", "confidence": 50, "ts": T + 4}),
        ]
    }
    result = map_usercache(body)
    assert result.errors == []
    assert result.points == [
        ImportedPoint(T, 1.0, 1.0, accuracy_m=12.5, altitude_m=25.0, speed_mps=3.25, heading_deg=90.0),
        ImportedPoint(T + 1, 2.0, 2.0, accuracy_m=9.0, heading_deg=10.0),
        ImportedPoint(T + 2, 3.0, 3.5, heading_deg=45.0),
    ]
    assert result.activities == [
        ImportedActivity(T + 3, "cycling", 77),
        ImportedActivity(T + 4, "automotive", 50),
    ]


@pytest.mark.parametrize("body", [[], {"user": "x"}, {"phone_to_server": {"a": 1}}])
def test_non_envelope_raises(body: Any) -> None:
    with pytest.raises(ImportFormatError, match="usercache"):
        map_usercache(body)


def test_empty_envelope() -> None:
    result = map_usercache({"user": "x", "phone_to_server": []})
    assert (result.points, result.activities, result.ignored, result.errors) == ([], [], {}, [])
