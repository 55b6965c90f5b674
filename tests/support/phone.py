"""Upload entries in the shapes the OpenPATH app and its plugins write them (e-mission-data-collection's
SimpleLocation / MotionActivity / Transition wrappers, e-mission-phone's label and stats writers), for
Android and iOS."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.mobility.simulate import Simulation

ANDROID_TYPES = {"walking": 7, "running": 8, "cycling": 1, "automotive": 0, "stationary": 3, "unknown": 4}
TZ = "Europe/Paris"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _meta(key: str, platform: str, write_ts: float, kind: str = "sensor-data") -> dict[str, Any]:
    return {
        "key": key,
        "platform": platform,
        "write_ts": write_ts,
        "read_ts": 0,
        "time_zone": TZ,
        "type": kind,
    }


def android_entries(sim: Simulation) -> list[dict[str, Any]]:
    p, acts = sim.points, sim.activities
    entries = [
        {
            "metadata": _meta("background/location", "android", float(p.ts_s[i]) + 1),
            "data": {"ts": float(p.ts_s[i]), "latitude": float(p.lat[i]), "longitude": float(p.lon[i]),
                     "accuracy": float(p.accuracy_m[i]), "altitude": 10.0, "sensed_speed": 1.0, "bearing": 90.0,
                     "fmt_time": iso(float(p.ts_s[i])), "elapsedRealtimeNanos": i * 5_000_000_000,
                     "filter": "time"},
        }
        for i in range(len(p))
    ]  # fmt: skip
    if acts is not None:
        entries += [
            {
                "metadata": _meta("background/motion_activity", "android", float(acts.ts_s[i])),
                "data": {"type": ANDROID_TYPES[str(acts.kind[i])], "confidence": 90, "ts": float(acts.ts_s[i])},
            }
            for i in range(len(acts))
        ]  # fmt: skip
    entries += transitions(sim, "android")
    return entries


def ios_entries(sim: Simulation) -> list[dict[str, Any]]:
    p, acts = sim.points, sim.activities
    entries = []
    for i in range(len(p)):
        data = {"ts": float(p.ts_s[i]), "latitude": float(p.lat[i]), "longitude": float(p.lon[i]),
                "accuracy": float(p.accuracy_m[i]), "altitude": 10.0, "sensed_speed": -1.0, "bearing": -1.0,
                "vaccuracy": 5.0, "floor": 0, "filter": "distance", "fmt_time": iso(float(p.ts_s[i]))}  # fmt: skip
        for key in ("background/location", "background/filtered_location"):
            entries.append({"metadata": _meta(key, "ios", float(p.ts_s[i])), "data": dict(data)})
    if acts is not None:
        for i in range(len(acts)):
            kind = str(acts.kind[i])
            flags = {
                name: kind == name for name in ("automotive", "cycling", "running", "walking", "stationary")
            }
            # the phone writes CoreMotion's confidence as a string, under `confidence`
            entries.append({"metadata": _meta("background/motion_activity", "ios", float(acts.ts_s[i])),
                            "data": {"ts": float(acts.ts_s[i]), "confidence": "high", "unknown": False,
                                     **flags}})  # fmt: skip
    entries += transitions(sim, platform="ios")
    return entries


def transitions(sim: Simulation, platform: str) -> list[dict[str, Any]]:
    """The state machine's transitions around each trip: `{currState, transition, ts}`."""
    out = []
    for trip in sim.trips:
        for ts, state, transition in (
            (trip.start_ts_s, "STATE_WAITING_FOR_TRIP_START", "T_EXITED_GEOFENCE"),
            (trip.end_ts_s, "STATE_ONGOING_TRIP", "T_TRIP_ENDED"),
        ):
            out.append({"metadata": _meta("statemachine/transition", platform, ts + 0.5),
                        "data": {"currState": state, "transition": transition, "ts": ts}})  # fmt: skip
    return out


def client_stats(platform: str, ts: float) -> list[dict[str, Any]]:
    """What the app's stats writer adds to every upload."""
    return [
        {"metadata": _meta("stats/client_time", platform, ts, "message"),
         "data": {"name": "sync_launched", "ts": ts, "reading": 12.0, "client_app_version": "1.9.6",
                  "client_os_version": "14"}},
        {"metadata": _meta("stats/client_error", platform, ts, "message"),
         "data": {"name": "app_error", "ts": ts, "reading": "timeout", "client_app_version": "1.9.6"}},
    ]  # fmt: skip


def label(
    platform: str, key: str, start_ts: float, end_ts: float, value: str, write_ts: float
) -> dict[str, Any]:
    """A MULTILABEL label as the app writes it (`manual/mode_confirm`, `manual/purpose_confirm`, ...)."""
    return {
        "metadata": _meta(key, platform, write_ts, "message") | {"plugin": "none"},
        "data": {"start_ts": start_ts, "end_ts": end_ts, "label": value,
                 "start_local_dt": {"year": 2023, "timezone": TZ}, "end_local_dt": {"year": 2023, "timezone": TZ}},
    }  # fmt: skip


def survey(platform: str, start_ts: float, end_ts: float, write_ts: float) -> dict[str, Any]:
    """An ENKETO trip survey answer (`manual/trip_user_input`)."""
    return {
        "metadata": _meta("manual/trip_user_input", platform, write_ts, "message"),
        "data": {"start_ts": start_ts, "end_ts": end_ts, "name": "TripConfirmSurvey", "version": 1,
                 "label": "Answered", "xmlResponse": "<data><travel_mode>bus</travel_mode></data>",
                 "jsonDocResponse": {"data": {"travel_mode": "bus"}}},
    }  # fmt: skip
