"""The only code that changes a person's trips: corrections, deletions, purposes, reprocessing results.

Whatever changes trips or their legs calls :func:`trips_changed` (directly or through the functions
here), so the territory's rollups (`app.statistics.repository`) always follow the trips they count.
"""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.emissions import EmissionPolicy
from app.footprint.service import FootprintContext, leg_figures, load_context
from app.models import Leg, Trip
from app.statistics.repository import rebuild_rollups
from app.statistics.zones import local_day
from app.trips import repository


async def trips_changed(
    session: AsyncSession, user_id: uuid.UUID, tz: ZoneInfo, days: set[int] | None = None
) -> None:
    """Keep the statistics in step with a person's trips after they changed on some local days (all
    days when None); the caller commits, so trips and rollups change in one transaction."""
    await rebuild_rollups(session, user_id, tz, days)


def trip_day(trip: Trip, tz: ZoneInfo) -> int:
    """The local day a trip counts on (the day it starts)."""
    return local_day(trip.start_ts_ms, tz)


def _refigure(ctx: FootprintContext, leg: Leg, *, mode: str, mode_source: str, occupants: int | None) -> None:
    """The leg's mode and emission columns for this mode."""
    figures = leg_figures(
        ctx,
        mode=mode,
        mode_source=mode_source,
        distance_m=leg.distance_m,
        great_circle_m=leg.great_circle_m,
        occupants=occupants,
        start_ts_ms=leg.start_ts_ms,
    )
    for name, value in figures.items():
        setattr(leg, name, value)


async def correct_leg(
    session: AsyncSession,
    policy: EmissionPolicy,
    tz: ZoneInfo,
    trip: Trip,
    leg: Leg,
    mode: str,
    occupants: int | None,
) -> None:
    """The person says what a leg's mode was: its CO2e, the trip's and the statistics follow, and later
    reprocessing never overwrites it (see `app.pipeline.reconcile`)."""
    ctx = await load_context(session, policy, trip.user_id)
    _refigure(ctx, leg, mode=mode, mode_source="user", occupants=occupants)
    leg.mode_source = "user"
    leg.confidence = 1.0
    await repository.refresh_trip_co2(session, trip)
    await trips_changed(session, trip.user_id, tz, {trip_day(trip, tz)})


async def forget_learned_modes(
    session: AsyncSession, policy: EmissionPolicy, tz: ZoneInfo, legs: list[Leg]
) -> None:
    """Give these legs back the mode the rules gave them before the person's confirmations revised it
    (kept in their first reason, `your_confirmations`), with its CO2e; the trips' totals and the statistics
    follow."""
    if not legs:
        return
    ctx = await load_context(session, policy, legs[0].user_id)
    trip_ids = {leg.trip_id for leg in legs}
    for leg in legs:
        learned, *rest = leg.reasons or [{}]
        mode = str(learned.get("rules_mode") or leg.inferred_mode)
        leg.reasons = rest
        if leg.mode_source == "user":
            leg.inferred_mode = mode  # the person's own word stays
            continue
        _refigure(ctx, leg, mode=mode, mode_source=leg.mode_source, occupants=None)
        leg.inferred_mode = mode
        leg.confidence = float(learned.get("rules_confidence") or leg.confidence)
    trips = await repository.trips_by_id(session, legs[0].user_id, trip_ids)
    for trip in trips:
        await repository.refresh_trip_co2(session, trip)
    await trips_changed(session, legs[0].user_id, tz, {trip_day(t, tz) for t in trips})


async def delete_trip(session: AsyncSession, tz: ZoneInfo, trip: Trip) -> None:
    """Delete the trip, its legs and the points recorded during it, and its part of any statistics."""
    await repository.delete_trip(session, trip)
    await trips_changed(session, trip.user_id, tz, {trip_day(trip, tz)})


def set_purpose(trip: Trip, purpose: str | None) -> None:
    """Label why the trip was made (`None` clears it); later trips between the same places inherit it."""
    trip.purpose = purpose
    trip.purpose_source = "user" if purpose is not None else None


async def set_shared_ends(
    session: AsyncSession, user_id: uuid.UUID, tz: ZoneInfo, updates: list[dict[str, Any]]
) -> None:
    """New shared ends of a person's trips (after their privacy zones changed), and statistics to match."""
    await repository.update_trips(session, user_id, updates)
    await trips_changed(session, user_id, tz)
