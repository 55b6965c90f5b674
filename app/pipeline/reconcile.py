"""Reconcile a pipeline run with what is stored: the pipeline's trips and legs, plus the person's
corrections and labels, become the rows to write. Pure: no database, no clock but `utcnow` for stamps.

A new trip takes the id of the old trip it overlaps most, and a new leg that of the old leg of that trip
it overlaps most, so links held by a phone survive reprocessing; the person's corrections always win.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from app.emissions import great_circle_m
from app.footprint.service import FootprintContext, leg_figures
from app.mobility import PipelineResult
from app.mobility import Trip as MobilityTrip
from app.models import Leg, Trip, utcnow
from app.selfdata.privacy_zones import SharedEnds, Zone, shared_ends
from app.trips.purposes import purpose_of, trip_ends


def _ms(ts_s: float) -> int:
    return round(ts_s * 1000)


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def _best(span: tuple[int, int], candidates: Sequence[Any], used: set[uuid.UUID]) -> Any | None:
    """The candidate (a Trip or Leg row) that overlaps the span most in time, if any does."""
    best, best_overlap = None, 0
    for candidate in candidates:
        if candidate.id in used:
            continue
        overlap = _overlap(span[0], span[1], candidate.start_ts_ms, candidate.end_ts_ms)
        if overlap > best_overlap:
            best, best_overlap = candidate, overlap
    return best


def _correction(span: tuple[int, int], corrected: Sequence[Leg]) -> Leg | None:
    """A leg the person corrected that covers most of this new leg: its mode carries over."""
    length = max(1, span[1] - span[0])
    for leg in corrected:
        if _overlap(span[0], span[1], leg.start_ts_ms, leg.end_ts_ms) * 2 > length:
            return leg
    return None


def result_rows(
    user_id: uuid.UUID,
    result: PipelineResult,
    old: Sequence[tuple[Trip, Sequence[Leg]]],
    ctx: FootprintContext,
    labelled: Sequence[Trip] = (),
    zones: Sequence[Zone] = (),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows for the trips and legs found, keeping ids and the person's corrections from what they replace.

    A new trip takes the id of the old trip it overlaps most, and a new leg that of the old leg of that
    trip it overlaps most, so links held by a phone survive reprocessing. A new leg covered for more than
    half its time by a leg the person corrected takes that correction: it is never overwritten. A trip's
    purpose is kept from the trip it replaces, or inherited from an earlier trip the person labelled
    between the same places.
    """
    now = utcnow()
    old_trips = [t for t, _ in old]
    legs_of = {t.id: list(legs) for t, legs in old}
    corrected = [leg for _, legs in old for leg in legs if leg.mode_source == "user"]
    labelled_ends = [trip_ends(t) for t in labelled]
    used: set[uuid.UUID] = set()
    trip_rows: list[dict[str, Any]] = []
    leg_rows: list[dict[str, Any]] = []
    for trip in result.trips:
        span = (_ms(trip.start_ts_s), _ms(trip.end_ts_s))
        previous = _best(span, old_trips, used)
        trip_id = previous.id if previous is not None else uuid.uuid4()
        used.add(trip_id)
        trip_co2 = 0.0
        for seq, leg in enumerate(trip.legs):
            leg_span = (_ms(leg.start_ts_s), _ms(leg.end_ts_s))
            earlier = _best(leg_span, legs_of.get(trip_id, []), used)
            leg_id = earlier.id if earlier is not None else uuid.uuid4()
            used.add(leg_id)
            fix = _correction(leg_span, corrected)
            (lon0, lat0), (lon1, lat1) = leg.coordinates[0], leg.coordinates[-1]
            great_circle = great_circle_m(lat0, lon0, lat1, lon1)
            figures = leg_figures(
                ctx,
                mode=fix.mode if fix is not None else leg.mode,
                mode_source="user" if fix is not None else leg.mode_source,
                distance_m=float(leg.distance_m),
                great_circle_m=great_circle,
                occupants=fix.occupants if fix is not None else None,
                start_ts_ms=leg_span[0],
            )
            trip_co2 += figures["co2e_g"]
            leg_rows.append(
                {
                    "id": leg_id,
                    "trip_id": trip_id,
                    "user_id": user_id,
                    "seq": seq,
                    "start_ts_ms": leg_span[0],
                    "end_ts_ms": leg_span[1],
                    "mode_source": "user" if fix is not None else leg.mode_source,
                    "inferred_mode": leg.mode,
                    "confidence": 1.0 if fix is not None else float(leg.confidence),
                    "distance_m": float(leg.distance_m),
                    "great_circle_m": great_circle,
                    "point_count": int(leg.point_count),
                    # (lon, lat) pairs of Python floats from the pipeline (Leg.coordinates), as lists
                    "geometry": list(map(list, leg.coordinates)),
                    "reasons": [dict(r) for r in leg.reasons],
                    "features": dict(leg.features) or None,
                    **figures,
                }
            )
        purpose, purpose_source = purpose_of(trip, previous, labelled, labelled_ends)
        path = [point for leg in trip.legs for point in leg.coordinates]
        shared = shared_ends(path, zones) if zones else _unzoned(trip)
        trip_rows.append(
            {
                "id": trip_id,
                "user_id": user_id,
                "status": "closed" if trip.closed else "open",
                "start_ts_ms": span[0],
                "end_ts_ms": span[1],
                "start_lat": float(trip.start_lat),
                "start_lon": float(trip.start_lon),
                "end_lat": float(trip.end_lat),
                "end_lon": float(trip.end_lon),
                "distance_m": float(trip.distance_m),
                "co2e_g": round(trip_co2, 3),
                "updated_at": now,
                "purpose": purpose,
                "purpose_source": purpose_source,
                **shared_columns(shared),
            }
        )
    return trip_rows, leg_rows


def _unzoned(trip: MobilityTrip) -> SharedEnds:
    return SharedEnds(trip.start_lat, trip.start_lon, trip.end_lat, trip.end_lon, trip.distance_m)


def shared_columns(shared: SharedEnds | None) -> dict[str, float | None]:
    """The trip columns an operator's aggregates may read (all null when nothing is shared)."""
    return {
        "shared_start_lat": shared.start_lat if shared else None,
        "shared_start_lon": shared.start_lon if shared else None,
        "shared_end_lat": shared.end_lat if shared else None,
        "shared_end_lon": shared.end_lon if shared else None,
        "shared_distance_m": shared.distance_m if shared else None,
    }
