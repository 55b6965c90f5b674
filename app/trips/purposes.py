"""Trip purposes: a trip keeps the purpose the person gave it, or inherits the purpose of an earlier trip
the person labelled between the same places (origin and destination within a few hundred metres)."""

from __future__ import annotations

from collections.abc import Sequence

from app.emissions.coaching import TripEnds, same_places
from app.mobility import Trip as MobilityTrip
from app.models import Trip


def trip_ends(trip: Trip) -> TripEnds:
    return TripEnds(
        str(trip.id),
        trip.start_lat,
        trip.start_lon,
        trip.end_lat,
        trip.end_lon,
        trip.distance_m,
        trip.co2e_g,
        trip.start_ts_ms / 1000,
    )


def purpose_of(
    trip: MobilityTrip, previous: Trip | None, labelled: Sequence[Trip], labelled_ends: Sequence[TripEnds]
) -> tuple[str | None, str | None]:
    if previous is not None and previous.purpose_source == "user":
        return previous.purpose, "user"
    ends = TripEnds("", trip.start_lat, trip.start_lon, trip.end_lat, trip.end_lon, trip.distance_m, 0.0, 0.0)
    matches = same_places(ends, labelled_ends)
    if matches:
        return labelled[matches[0]].purpose, "inherited"
    return None, None
