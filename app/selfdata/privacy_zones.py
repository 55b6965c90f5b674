"""Privacy zones: the ends of trips inside a person's declared places never reach an operator.

A person declares circles (home, work, a relative's house). For everything an operator can derive, each
trip is cut to the part between the first and the last point outside every zone: its shared start, end
and distance. A trip entirely inside zones is not shared at all. The person still sees their trips whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Zone:
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class SharedEnds:
    start_lat: float
    start_lon: float
    end_lat: float
    end_lon: float
    distance_m: float


def _haversine(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h))))


def shared_ends(coordinates: Sequence[Sequence[float]], zones: Sequence[Zone]) -> SharedEnds | None:
    """The trip as an operator may see it, from its (lon, lat) path; None when nothing of it is shared."""
    if not coordinates:
        return None
    path = np.asarray(coordinates, dtype=np.float64)
    lon, lat = path[:, 0], path[:, 1]
    inside = np.zeros(len(path), dtype=bool)
    for zone in zones:
        inside |= (
            _haversine(lat, lon, np.full_like(lat, zone.lat), np.full_like(lon, zone.lon)) <= zone.radius_m
        )
    outside = np.flatnonzero(~inside)
    if outside.size == 0:
        return None
    first, last = int(outside[0]), int(outside[-1])
    steps = _haversine(lat[first:last], lon[first:last], lat[first + 1 : last + 1], lon[first + 1 : last + 1])
    return SharedEnds(
        float(lat[first]), float(lon[first]), float(lat[last]), float(lon[last]), float(steps.sum())
    )
