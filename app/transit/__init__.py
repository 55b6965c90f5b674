"""The territory's public transport network: operators publish GTFS feeds, the pipeline reads their stops.

:mod:`app.transit.gtfs` is pure Python (no web framework, no database, no other app module): :func:`read_gtfs` streams a
feed's stops, lines and kinds of service; the pipeline uses them as evidence for bus and rail legs.
"""

from app.transit.gtfs import (
    BUS,
    FEED_NAME,
    FERRY,
    METRO,
    RAIL,
    TRAIN,
    TRAM,
    GtfsError,
    GtfsNetwork,
    TransitStop,
    read_gtfs,
    route_kind,
)

__all__ = [
    "BUS",
    "FEED_NAME",
    "FERRY",
    "METRO",
    "RAIL",
    "TRAIN",
    "TRAM",
    "GtfsError",
    "GtfsNetwork",
    "TransitStop",
    "read_gtfs",
    "route_kind",
]
