"""Compatibility with the e-mission / OpenPATH phone app, so a territory can point those apps here.

The phone sends its token in the body's `user` field (its "opcode"): a deployment gives each phone a
Coach CO2 token (from `POST /v1/auth/register`) as that opcode, in the app's configuration or its
sign-in link. A bearer header is accepted as well. Locations and motion activities in both the Android
and the iOS forms go to the same store and pipeline as `POST /v1/me/locations`; every other entry key is
counted and left out, never an error. The read calls the phone uses to show trips are answered too.
"""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Request
from fastapi.security.utils import get_authorization_scheme_param

from app.accounts import repository as accounts
from app.core.deps import SessionDep, SettingsDep
from app.core.problems import ProblemError, unauthorized
from app.core.schemas import MAX_FUTURE_S, MIN_TS_S
from app.imports.service import activity_columns, point_columns
from app.ingest import repository as ingest_store
from app.ingest.service import store_columns
from app.openpath.envelope import map_usercache
from app.openpath.schemas import CompleteTsOut, TimelineOut, UsercacheGetOut, UsercachePutOut
from app.trips import repository as trip_store

router = APIRouter(tags=["e-mission compatibility"])

# e-mission's names for the sensed modes of a section.
SENSED_MODE = {
    "walk": "MotionTypes.WALKING", "run": "MotionTypes.RUNNING", "bike": "MotionTypes.BICYCLING",
    "ebike": "MotionTypes.BICYCLING", "escooter": "MotionTypes.BICYCLING", "unknown": "MotionTypes.UNKNOWN",
}  # fmt: skip


async def _person(
    request: Request, session: SessionDep, body: dict[str, Any], settings: SettingsDep
) -> uuid.UUID:
    token = body.get("user") if isinstance(body.get("user"), str) else None
    scheme, value = get_authorization_scheme_param(request.headers.get("authorization"))
    if not token and scheme.lower() == "bearer":
        token = value
    if not token:
        raise unauthorized("Send the phone's token in the body's `user` field (or as a bearer token).")
    principal = await accounts.authenticate(session, token, settings.token_touch_interval_s)
    if principal is None:
        raise unauthorized("The token is unknown or has been revoked.")
    if principal.user_id is None:
        raise ProblemError(403, "forbidden-role", "Operator tokens cannot send or read a person's data.")
    return principal.user_id


@router.post("/usercache/put", response_model=UsercachePutOut)
async def usercache_put(
    request: Request, session: SessionDep, settings: SettingsDep, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """The phone's upload: `{"user": <token>, "phone_to_server": [entries]}`. `background/location` and
    `background/filtered_location` become points (the filtered one wins for the same time),
    `background/motion_activity` becomes motion hints (Android `type`/`confidence` or iOS booleans and
    `confidence_level`). Other keys are counted in `ignored`; malformed entries are listed in `errors`."""
    user_id = await _person(request, session, body, settings)
    batch = map_usercache(body)  # a body that is no envelope answers 422 (see core/problems)
    horizon = time.time() + MAX_FUTURE_S
    points = [p for p in batch.points if MIN_TS_S <= p.ts_s <= horizon]
    errors = list(batch.errors)
    if len(points) < len(batch.points):
        errors.append(
            f"{len(batch.points) - len(points)} location(s) stamped before 1980 or after tomorrow left out"
        )
    cols = point_columns(points)
    acts = activity_columns([a for a in batch.activities if MIN_TS_S <= a.ts_s <= horizon])
    accepted = await store_columns(session, user_id, cols, acts)
    await session.commit()
    if accepted:
        request.app.state.worker.wake()
    return {
        "accepted": accepted,
        "duplicates": len(cols) - accepted,
        "ignored": batch.ignored,
        "errors": errors,
    }


@router.post("/usercache/get", response_model=UsercacheGetOut)
async def usercache_get(
    request: Request, session: SessionDep, settings: SettingsDep, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """What the server sends down to the phone: nothing, so far."""
    await _person(request, session, body, settings)
    await session.commit()
    return {"server_to_phone": []}


@router.post("/pipeline/get_complete_ts", response_model=CompleteTsOut)
async def complete_ts(
    request: Request, session: SessionDep, settings: SettingsDep, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """Up to when the phone's data has been turned into trips (epoch seconds, or null)."""
    user_id = await _person(request, session, body, settings)
    state = await ingest_store.pipeline_state(session, user_id)
    await session.commit()
    ts = state.processed_until_ms / 1000 if state and state.processed_until_ms is not None else None
    return {"complete_ts": ts}


def _fmt(ts_ms: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, zone).isoformat()


@router.post("/timeline/getTrips/{day}", response_model=TimelineOut)
async def get_trips(
    day: date, request: Request, session: SessionDep, settings: SettingsDep, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """The day's trips (a local day, YYYY-MM-DD) as the phone shows them: `{"timeline": [trip, ...]}`,
    each trip a GeoJSON FeatureCollection with its start and end places and one feature per section.
    A day at the edge of the calendar (9999-12-31, whose end is past it) holds no trip: its timeline is
    empty."""
    user_id = await _person(request, session, body, settings)
    zone = ZoneInfo(settings.timezone)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    try:
        end = start + timedelta(days=1)
    except OverflowError:
        await session.commit()
        return {"timeline": []}
    trips = await trip_store.between(
        session, user_id, int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    )
    legs = await trip_store.legs_of(session, [t.id for t in trips], geometry=True)
    await session.commit()
    timeline = []
    for trip in trips:
        sections = []
        for leg in legs.get(trip.id, []):
            sections.append(
                {
                    "type": "Feature",
                    "id": str(leg.id),
                    "geometry": {"type": "LineString", "coordinates": leg.geometry},
                    "properties": {
                        "feature_type": "section",
                        "sensed_mode": SENSED_MODE.get(leg.mode, "MotionTypes.IN_VEHICLE"),
                        "mode": leg.mode,
                        "start_ts": leg.start_ts_ms / 1000,
                        "end_ts": leg.end_ts_ms / 1000,
                        "start_fmt_time": _fmt(leg.start_ts_ms, zone),
                        "end_fmt_time": _fmt(leg.end_ts_ms, zone),
                        "duration": (leg.end_ts_ms - leg.start_ts_ms) / 1000,
                        "distance": leg.distance_m,
                        "co2e_g": leg.co2e_g,
                    },
                }
            )
        timeline.append(
            {
                "type": "FeatureCollection",
                "id": str(trip.id),
                "properties": {
                    "feature_type": "trip",
                    "start_ts": trip.start_ts_ms / 1000,
                    "end_ts": trip.end_ts_ms / 1000,
                    "start_fmt_time": _fmt(trip.start_ts_ms, zone),
                    "end_fmt_time": _fmt(trip.end_ts_ms, zone),
                    "start_loc": {"type": "Point", "coordinates": [trip.start_lon, trip.start_lat]},
                    "end_loc": {"type": "Point", "coordinates": [trip.end_lon, trip.end_lat]},
                    "duration": (trip.end_ts_ms - trip.start_ts_ms) / 1000,
                    "distance": trip.distance_m,
                    "co2e_g": trip.co2e_g,
                },
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [trip.start_lon, trip.start_lat]},
                        "properties": {"feature_type": "start_place", "exit_ts": trip.start_ts_ms / 1000},
                    },
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [trip.end_lon, trip.end_lat]},
                        "properties": {"feature_type": "end_place", "enter_ts": trip.end_ts_ms / 1000},
                    },
                    *sections,
                ],
            }
        )
    return {"timeline": timeline}
