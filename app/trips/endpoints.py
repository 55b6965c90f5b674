"""The person's own trips: list, detail, correction of a leg's mode, deletion."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Response, status

from app.core.deps import AUTH_ERRORS, CurrentUser, SessionDep, SettingsDep
from app.core.lang import LangDep, Msg
from app.core.problems import Problem, ProblemError, invalid_field, not_found
from app.core.schemas import EPOCH_RANGE_MS, QueryTime, rfc3339_ms
from app.emissions import great_circle_m
from app.emissions.coaching import alternatives
from app.footprint.service import emission_fn, factor_sources, load_context
from app.models import Leg, Trip
from app.trips import repository as store
from app.trips import service
from app.trips.schemas import (
    AlternativeOut,
    AlternativesOut,
    FactorUsed,
    LatLon,
    LegOut,
    LegPatchIn,
    LineString,
    PurposeIn,
    TripList,
    TripOut,
)

router = APIRouter(prefix="/v1/me/trips", tags=["trips"])
NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": Problem, "description": "No such trip (or leg) among yours."}
}
VEHICLE_MODES = {"car", "ecar", "carpool"}


def _field_problem(field: str, detail: Msg) -> ProblemError:
    return invalid_field(field, detail, "query")


FromQuery = Annotated[
    QueryTime | None, Query(alias="from", description="RFC 3339 with an offset, or epoch seconds")
]
ToQuery = Annotated[QueryTime | None, Query(description="RFC 3339 with an offset, or epoch seconds")]
# A cursor this API gives out is about 80 characters; a longer one is not one of ours.
CURSOR_MAX = 200


def encode_cursor(trip: Trip) -> str:
    raw = json.dumps([trip.start_ts_ms, str(trip.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[int, uuid.UUID]:
    """The (start, id) a cursor of ours holds; anything else, forged or damaged, is a 422 naming `cursor`."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        start, trip_id = json.loads(raw)
        # Exactly what encode_cursor writes: an integer time of the calendar and a UUID string (no float,
        # infinity or 400-digit integer reaches the database).
        if type(start) is not int or not isinstance(trip_id, str):
            raise ValueError("not a cursor")
        if not EPOCH_RANGE_MS[0] <= start < EPOCH_RANGE_MS[1]:
            raise ValueError("not a cursor")
        return start, uuid.UUID(trip_id)
    except (binascii.Error, ValueError, TypeError, RecursionError):
        raise _field_problem(
            "cursor", Msg("not a cursor this API gave out", "ce n'est pas un curseur donné par cette API")
        ) from None


def leg_out(leg: Leg, *, geometry: bool, sources: dict[tuple[str, str], str] | None = None) -> LegOut:
    factor = None
    if sources is not None:
        factor = FactorUsed(
            factor_set=leg.factor_set,
            key=leg.factor_key,
            g_per_km=leg.factor_g_per_km,
            unit=leg.factor_unit,
            source=sources.get((leg.factor_set, leg.factor_key), ""),
        )
    return LegOut(
        factor=factor,
        id=leg.id,
        start_time=rfc3339_ms(leg.start_ts_ms) or "",
        end_time=rfc3339_ms(leg.end_ts_ms) or "",
        mode=leg.mode,
        mode_source=leg.mode_source,
        confidence=round(leg.confidence, 3),
        distance_m=round(leg.distance_m, 1),
        co2e_g=round(leg.co2e_g, 3),
        occupants=leg.occupants,
        geometry=LineString(coordinates=leg.geometry) if geometry else None,
        reasons=reasons_of(leg) if geometry else None,
    )


def reasons_of(leg: Leg) -> list[dict[str, str | int | float]]:
    """Why the leg has its mode: the person's own correction first when there is one, then the reasons
    the pipeline stored for its inference."""
    stored = [dict(r) for r in leg.reasons or []]
    if leg.mode_source == "user":
        return [{"rule": "your_correction", "inferred_mode": leg.inferred_mode}, *stored]
    return stored


def trip_out(
    trip: Trip, legs: list[Leg], *, geometry: bool, sources: dict[tuple[str, str], str] | None = None
) -> TripOut:
    return TripOut(
        id=trip.id,
        status=trip.status,
        start_time=rfc3339_ms(trip.start_ts_ms) or "",
        end_time=rfc3339_ms(trip.end_ts_ms) or "",
        start=LatLon(lat=trip.start_lat, lon=trip.start_lon),
        end=LatLon(lat=trip.end_lat, lon=trip.end_lon),
        distance_m=round(trip.distance_m, 1),
        duration_s=round((trip.end_ts_ms - trip.start_ts_ms) / 1000, 3),
        co2e_g=round(trip.co2e_g, 3),
        purpose=trip.purpose,
        purpose_source=trip.purpose_source,
        legs=[leg_out(leg, geometry=geometry, sources=sources) for leg in legs],
    )


async def valid_trip(session: SessionDep, user: CurrentUser, trip_id: Annotated[uuid.UUID, Path()]) -> Trip:
    """The person's trip with this id, or 404 (also for another person's trip)."""
    trip = await store.get_trip(session, user.user_id, trip_id)
    if trip is None:
        raise not_found(Msg("No trip", "Aucun trajet"))
    return trip


ValidTrip = Annotated[Trip, Depends(valid_trip)]


@router.get("", response_model=TripList, responses=AUTH_ERRORS)
async def list_trips(
    session: SessionDep,
    user: CurrentUser,
    from_: FromQuery = None,
    to: ToQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=CURSOR_MAX, description="`next_cursor` of the previous page")
    ] = None,
) -> TripList:
    """The person's trips, newest first, with their legs (without geometry: see a single trip for it).

    `from` and `to` keep the trips that overlap that time range; they must fall in the years 1 to 9999.
    """
    trips = await store.page(
        session,
        user.user_id,
        from_ms=from_,
        to_ms=to,
        limit=limit + 1,
        after=decode_cursor(cursor) if cursor else None,
    )
    more = len(trips) > limit
    trips = trips[:limit]
    legs = await store.legs_of(session, user.user_id, [t.id for t in trips], geometry=False)
    await session.commit()
    return TripList(
        trips=[trip_out(t, legs.get(t.id, []), geometry=False) for t in trips],
        next_cursor=encode_cursor(trips[-1]) if more else None,
    )


@router.get("/{trip_id}", response_model=TripOut, responses={**AUTH_ERRORS, **NOT_FOUND})
async def get_trip(session: SessionDep, trip: ValidTrip) -> TripOut:
    """One trip with a GeoJSON LineString on each leg, and the emission factor behind each leg's CO2e."""
    legs = (await store.legs_of(session, trip.user_id, [trip.id], geometry=True)).get(trip.id, [])
    sources = await factor_sources(session, {(leg.factor_set, leg.factor_key) for leg in legs})
    await session.commit()
    return trip_out(trip, legs, geometry=True, sources=sources)


@router.patch(
    "/{trip_id}/legs/{leg_id}",
    response_model=LegOut,
    responses={**AUTH_ERRORS, **NOT_FOUND, 422: {"model": Problem, "description": "Not a mode id."}},
)
async def correct_leg(
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    trip: ValidTrip,
    leg_id: uuid.UUID,
    body: LegPatchIn,
) -> LegOut:
    """Correct a leg's mode. Its CO2e follows, and later reprocessing never overwrites the correction."""
    leg = await store.get_leg(session, user.user_id, trip.id, leg_id)
    if leg is None:
        raise not_found(Msg("No leg", "Aucune étape"))
    if body.occupants is not None and body.mode not in VEHICLE_MODES:
        raise invalid_field(
            "occupants",
            Msg(
                "occupants apply to car, ecar and carpool legs only",
                "le nombre d'occupants ne vaut que pour les étapes car, ecar et carpool",
            ),
        )
    await service.correct_leg(
        session, settings.emission_policy, ZoneInfo(settings.timezone), trip, leg, body.mode, body.occupants
    )
    sources = await factor_sources(session, {(leg.factor_set, leg.factor_key)})
    await session.commit()
    return leg_out(leg, geometry=False, sources=sources)


@router.delete("/{trip_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**AUTH_ERRORS, **NOT_FOUND})
async def delete_trip(session: SessionDep, settings: SettingsDep, trip: ValidTrip) -> Response:
    """Delete the trip, its legs, and the points recorded during it (and its part of any statistics)."""
    await service.delete_trip(session, ZoneInfo(settings.timezone), trip)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{trip_id}/purpose", response_model=TripOut, responses={**AUTH_ERRORS, **NOT_FOUND})
async def set_purpose(session: SessionDep, trip: ValidTrip, body: PurposeIn) -> TripOut:
    """Label why the trip was made. Later trips between the same places (origin and destination within a
    few hundred metres) inherit the label unless the person labels them otherwise; `null` clears it."""
    service.set_purpose(trip, body.purpose)
    legs = (await store.legs_of(session, trip.user_id, [trip.id], geometry=False)).get(trip.id, [])
    await session.commit()
    return trip_out(trip, legs, geometry=False)


@router.get("/{trip_id}/alternatives", response_model=AlternativesOut, responses={**AUTH_ERRORS, **NOT_FOUND})
async def trip_alternatives(
    session: SessionDep, settings: SettingsDep, user: CurrentUser, trip: ValidTrip, lang: LangDep
) -> AlternativesOut:
    """What the same trip would have emitted by the realistic alternatives for its length, with the saving
    each brings compared with driving alone. In French or English (`Accept-Language`)."""
    ctx = await load_context(session, settings.emission_policy, user.user_id)
    await session.commit()
    great_circle = great_circle_m(trip.start_lat, trip.start_lon, trip.end_lat, trip.end_lon)

    emission = emission_fn(ctx, trip.start_ts_ms)

    options = alternatives(trip.distance_m, great_circle, emission, lang)
    return AlternativesOut(
        trip_id=trip.id,
        distance_m=round(trip.distance_m, 1),
        co2e_g=round(trip.co2e_g, 3),
        alternatives=[
            AlternativeOut(
                mode=a.mode,
                co2e_g=a.co2e_g,
                saving_vs_car_g=a.saving_vs_car_g,
                duration_s=a.duration_s,
                message=a.message,
            )
            for a in options
        ],
    )
