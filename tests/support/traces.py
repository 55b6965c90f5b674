"""Simulated traces through the API: upload a simulation's points, read a person's trips back."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np

from app.mobility.geo import Projection
from app.mobility.motion import window_speed
from app.mobility.simulate import LegPlan, Simulation, StayPlan, TripPlan
from tests.conftest import Person


def payload(sim: Simulation, lo: int = 0, hi: int | None = None) -> list[dict[str, Any]]:
    p = sim.points
    hi = len(p) if hi is None else hi
    return [
        {"ts": float(p.ts_s[i]), "lat": float(p.lat[i]), "lon": float(p.lon[i])}
        | ({} if p.accuracy_m[i] != p.accuracy_m[i] else {"accuracy": float(p.accuracy_m[i])})
        for i in range(lo, hi)
    ]


async def upload(client: httpx.AsyncClient, person: Person, points: list[dict[str, Any]]) -> None:
    for i in range(0, len(points), 5000):
        response = await client.post(
            "/v1/me/locations", headers=person.headers, json={"points": points[i : i + 5000]}
        )
        assert response.status_code == 202, response.text


async def trips_of(client: httpx.AsyncClient, person: Person) -> list[dict[str, Any]]:
    response = await client.get("/v1/me/trips?limit=500", headers=person.headers)
    assert response.status_code == 200
    return list(reversed(response.json()["trips"]))


def spans(trips: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(t["start_time"], t["end_time"]) for t in trips]


# A bus ride between two walks, and where its bus halted.
PLAN = [
    StayPlan(900),
    TripPlan((LegPlan("walk", 700), LegPlan("bus", 6000), LegPlan("walk", 700))),
    StayPlan(900),
]


def bus_halts(sim: Simulation) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float]]]:
    """Where the bus halted on its way (below 0.6 m/s for 5 s or more), and its first and last fix."""
    bus = sim.trips[0].legs[1]
    p = sim.points
    sel = np.flatnonzero((p.ts_s >= bus.start_ts_s) & (p.ts_s <= bus.end_ts_s))
    proj = Projection.for_points(p.lat[sel], p.lon[sel])
    x, y = proj.to_xy(p.lat[sel], p.lon[sel])
    t = p.ts_s[sel]
    v = window_speed(t, x, y)
    slow = np.concatenate(([0], (v < 0.6).astype(np.int8), [0]))
    starts, ends = np.flatnonzero(np.diff(slow) == 1), np.flatnonzero(np.diff(slow) == -1) - 1
    halts = [
        (a, b) for a, b in zip(starts, ends, strict=True) if t[b] - t[a] >= 5 and a > 0 and b < t.size - 1
    ]
    lon, lat = proj.to_lonlat(
        np.array([x[a : b + 1].mean() for a, b in halts]), np.array([y[a : b + 1].mean() for a, b in halts])
    )
    ends_ll = [(float(p.lat[sel[0]]), float(p.lon[sel[0]])), (float(p.lat[sel[-1]]), float(p.lon[sel[-1]]))]
    return lat, lon, ends_ll


def straight_gpx(points: int, lat0: float = 45.0) -> bytes:
    """A GPX 1.1 track of `points` fixes one second apart, creeping north from `lat0` (a big history file
    built fast, for import, crash and load tests)."""
    rows = "".join(
        f'<trkpt lat="{lat0 + i * 1e-6:.7f}" lon="-1.1520483"><time>2024-03-{1 + i // 86400:02d}T'
        f"{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z</time></trkpt>"
        for i in range(points)
    )
    return (
        '<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><trkseg>{rows}</trkseg></trk></gpx>"
    ).encode()
