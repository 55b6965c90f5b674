"""The OpenPATH phone app's routes (e-mission-phone and its plugins; see docs/openpath.md).

The phone sends its opcode in the body's `user` field (app/openpath/auth.py). Locations and motion
activities in both the Android and the iOS forms go to the same store and pipeline as
`POST /v1/me/locations`; labels and survey answers are kept and applied to trips
(app/openpath/labels.py); every other entry key is counted and left out, never an error. The diary and
the dashboard read through app/openpath/diary_endpoints.py.
"""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Body, Request

from app.core.deps import SessionDep, SettingsDep
from app.core.lang import Msg
from app.core.problems import ProblemError, invalid_field
from app.core.ratelimit import client_ip, enforce
from app.core.schemas import MAX_FUTURE_S, MIN_TS_S
from app.imports.service import activity_columns, point_columns
from app.ingest import repository as ingest_store
from app.ingest.service import store_columns
from app.models import Leg, OpenpathInput, Trip
from app.openpath import labels
from app.openpath.auth import Caller, caller, profile_row, register
from app.openpath.envelope import map_usercache
from app.openpath.schemas import (
    CompleteTsOut,
    OpenpathProfileOut,
    ProfileCreateOut,
    ProfileUpdateOut,
    TimelineOut,
    UsercacheGetOut,
    UsercachePutOut,
)
from app.trips import repository as trip_store

router = APIRouter(tags=["e-mission compatibility"])

# e-mission's names for the sensed modes of a section.
SENSED_MODE = {
    "walk": "MotionTypes.WALKING", "run": "MotionTypes.RUNNING", "bike": "MotionTypes.BICYCLING",
    "ebike": "MotionTypes.BICYCLING", "escooter": "MotionTypes.BICYCLING", "unknown": "MotionTypes.UNKNOWN",
}  # fmt: skip

#: what `/profile/update` keeps of the app's profile (e-mission-phone www/js/splash/userProfile.ts):
#: the device, the app's version and settings, the reminder choices
PROFILE_FIELDS = frozenset({
    "config_version", "device_token", "curr_sync_interval", "phone_lang", "curr_platform", "manufacturer",
    "model", "client_os_version", "client_app_version", "reminder_assignment", "reminder_join_date",
    "reminder_time_of_day", "reminder_prefs",
})  # fmt: skip
MAX_PROFILE_TEXT = 300


async def _person(
    request: Request, session: SessionDep, body: dict[str, Any], settings: SettingsDep
) -> Caller:
    return await caller(request, session, body, settings)


@router.post("/usercache/put", response_model=UsercachePutOut)
async def usercache_put(
    request: Request, session: SessionDep, settings: SettingsDep, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """The phone's upload: `{"user": <opcode>, "phone_to_server": [entries], "deployment_config_version",
    "app_version"}`. `background/location` and `background/filtered_location` become points (the
    filtered one wins for the same time), `background/motion_activity` motion hints (Android
    `type`/`confidence` or iOS booleans and `confidence_level`); labels and survey answers (`manual/*`)
    are kept and mode and purpose labels applied to their trips (`labels`). Other keys are counted in
    `ignored`; malformed entries are listed in `errors`. The answer carries no `deployment_config`, so the
    phone keeps its own. Same rate limit as `POST /v1/me/locations`."""
    who = await _person(request, session, body, settings)
    limit = settings.rate_limit_ingest_per_minute
    await enforce(request, f"ingest:token:{who.credential_id}", limit, 60, "ingest")
    await enforce(request, f"ingest:ip:{client_ip(request)}", limit * 4, 60, "ingest")
    batch = map_usercache(body)  # a body that is no envelope answers 422 (see core/problems)
    horizon = time.time() + MAX_FUTURE_S
    points = [p for p in batch.points if MIN_TS_S <= p.ts_s <= horizon]
    errors = list(batch.errors)
    if len(points) < len(batch.points):
        errors.append(
            f"{len(batch.points) - len(points)} location(s) stamped before 1980 or after tomorrow left out"
        )
    report = labels.InputReport()
    parsed = []
    for index, entry in batch.inputs:
        try:
            parsed.append(labels.parse_input(entry))
        except labels.InputError as exc:
            errors.append(f"entry {index} ({entry['metadata'].get('key')}): {exc}")
    cols = point_columns(points)
    acts = activity_columns([a for a in batch.activities if MIN_TS_S <= a.ts_s <= horizon])
    accepted = await store_columns(session, who.user_id, cols, acts)
    to_apply = await labels.store_inputs(session, who.user_id, parsed, report)
    if to_apply:
        tz = ZoneInfo(settings.timezone)
        await labels.apply_inputs(session, settings.emission_policy, tz, who.user_id, ids=to_apply)
        report.applied, report.pending = await _label_outcome(session, who.user_id, to_apply)
    await session.commit()
    if accepted:
        request.app.state.worker.wake()
    return {
        "accepted": accepted,
        "duplicates": len(cols) - accepted,
        "ignored": batch.ignored,
        "errors": errors,
        "labels": {
            "stored": report.stored,
            "duplicates": report.duplicates,
            "applied": report.applied,
            "pending": report.pending,
            "unknown": report.unknown,
        },
    }


async def _label_outcome(session: SessionDep, user_id: uuid.UUID, ids: list[uuid.UUID]) -> tuple[int, int]:
    rows = await session.execute(
        sa.select(OpenpathInput.status, sa.func.count())
        .where(OpenpathInput.user_id == user_id, OpenpathInput.id.in_(ids))
        .group_by(OpenpathInput.status)
    )
    counts: dict[str, int] = {status: count for status, count in rows}
    return counts.get("applied", 0) + counts.get("not-a-trip", 0), counts.get("pending", 0)


@router.post("/profile/create", response_model=ProfileCreateOut)
async def profile_create(
    request: Request, session: SessionDep, settings: SettingsDep, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """Sign-in: the account behind the opcode in `user`, created on first use (the app calls this at
    every sign-in; the same opcode always answers the same id). An opcode not issued here is refused
    (401) unless self-registration is on for the study (`COACHCO2_OPENPATH_SELF_REGISTRATION`)."""
    await enforce(
        request, f"registration:ip:{client_ip(request)}", settings.rate_limit_register_per_hour, 3600,
        "registration",
    )  # fmt: skip
    user_id = await register(request, session, body, settings)
    await session.commit()
    return {"uuid": str(user_id)}


async def _profile_stats(session: SessionDep, user_id: uuid.UUID) -> dict[str, Any]:
    first, last, total = (
        await session.execute(
            sa.select(sa.func.min(Trip.start_ts_ms), sa.func.max(Trip.end_ts_ms), sa.func.count()).where(
                Trip.user_id == user_id
            )
        )
    ).one()
    corrected = sa.select(Leg.trip_id).where(Leg.user_id == user_id, Leg.mode_source == "user")
    labelled = await session.scalar(
        sa.select(sa.func.count())
        .select_from(Trip)
        .where(Trip.user_id == user_id, sa.or_(Trip.purpose_source == "user", Trip.id.in_(corrected)))
    )
    return {
        "pipeline_range": {
            "start_ts": None if first is None else first / 1000,
            "end_ts": None if last is None else last / 1000,
        },
        "total_trips": int(total or 0),
        "labeled_trips": int(labelled or 0),
    }


@router.post("/profile/get", response_model=OpenpathProfileOut)
async def profile_get(
    request: Request, session: SessionDep, settings: SettingsDep, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """What the app keeps in its profile (device, app version, reminders), with the person's trip counts
    and the range of their processed trips."""
    who = await _person(request, session, body, settings)
    row = await profile_row(session, who)
    stats = await _profile_stats(session, who.user_id)
    await session.commit()
    return {**(row.profile if row is not None else {}), "user_id": str(who.user_id), **stats}


def _profile_value(name: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        if isinstance(value, float) and value != value:
            raise invalid_field(f"update_doc.{name}", Msg("not a number", "ce n'est pas un nombre"))
        return value
    if isinstance(value, str):
        if len(value) > MAX_PROFILE_TEXT or "\x00" in value:
            raise invalid_field(
                f"update_doc.{name}",
                Msg(
                    "at most {most} characters, no NUL",
                    "au plus {most} caractères, sans NUL",
                    most=MAX_PROFILE_TEXT,
                ),
            )
        return value
    if isinstance(value, dict) and name == "reminder_prefs" and len(str(value)) <= MAX_PROFILE_TEXT:
        return {
            str(k): _profile_value(f"{name}.{k}", v) for k, v in value.items() if isinstance(v, str | int)
        }
    raise invalid_field(
        f"update_doc.{name}",
        Msg("a text, a number, true/false or null", "un texte, un nombre, true/false ou null"),
    )


@router.post("/profile/update", response_model=ProfileUpdateOut)
async def profile_update(
    request: Request, session: SessionDep, settings: SettingsDep, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """`{"user", "update_doc": {...}}`: the app's device and settings fields are merged into its profile
    (others are left out: this server keeps only what it shows back)."""
    who = await _person(request, session, body, settings)
    doc = body.get("update_doc")
    if not isinstance(doc, dict):
        raise invalid_field("update_doc", Msg("an object of profile fields", "un objet de champs du profil"))
    update = {name: _profile_value(name, value) for name, value in doc.items() if name in PROFILE_FIELDS}
    row = await profile_row(session, who)
    if row is None:
        raise ProblemError(
            404,
            "not-found",
            Msg(
                "This phone signed in with a Coach CO2 token: only opcodes have a profile.",
                "Ce téléphone s'est connecté avec un jeton Coach CO2 : seuls les codes d'accès ont un profil.",
            ),
        )
    row.profile = {**row.profile, **update}
    await session.commit()
    return {"update": True}


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
    user_id = (await _person(request, session, body, settings)).user_id
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
    user_id = (await _person(request, session, body, settings)).user_id
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
    legs = await trip_store.legs_of(session, user_id, [t.id for t in trips], geometry=True)
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
