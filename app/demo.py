"""Demo data: simulated residents of the La Rochelle agglomeration, through the real pipeline.

`coachco2 demo --users N --days D` registers N residents, gives each a home and a place of work or study
among the agglomeration's communes, and plays the last D days of last month as a phone would record them: commutes
by car, bus, bike, e-bike, on foot, by the regional train from Châtelaillon, by the sea-bus across the
harbour, with shopping and leisure trips on some days. The points go through the same store and pipeline
as a phone's, so trips, modes, CO2e, rollups and the operator's dashboard all show something on the first
run. Most residents grant `territory_statistics` (dated from before the first demo day) and some declare a
privacy zone at home. Last month is then published at once (docs/publications.md).
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from app.accounts import repository as accounts
from app.core.db import Database
from app.ingest.repository import ActivityColumns, PointColumns
from app.ingest.service import store_columns
from app.models import ConsentEvent, PrivacyZone
from app.selfdata.repository import add_privacy_zone, set_consent
from app.settings import Settings

# Places of the agglomeration (approximate centres), by kind.
HOMES = {
    "La Rochelle centre": (46.1603, -1.1511),
    "Lagord": (46.1890, -1.1540),
    "Puilboreau": (46.1860, -1.1170),
    "Périgny": (46.1530, -1.0960),
    "Aytré": (46.1350, -1.1150),
    "Nieul-sur-Mer": (46.2070, -1.1650),
    "Dompierre-sur-Mer": (46.1890, -1.0630),
    "Châtelaillon-Plage": (46.0740, -1.0880),
    "Les Minimes": (46.1430, -1.1650),
    "Tasdon": (46.1480, -1.1400),
}
WORK = {
    "Vieux-Port": (46.1560, -1.1530),
    "Université": (46.1470, -1.1560),
    "Hôpital": (46.1610, -1.1370),
    "Zone de Périgny": (46.1560, -1.0880),
    "Beaulieu": (46.1780, -1.1120),
    "Gare": (46.1530, -1.1450),
}
SHOPS = {"Beaulieu": (46.1780, -1.1120), "Centre": (46.1590, -1.1500), "Angoulins": (46.1080, -1.1140)}
STATION_CHATELAILLON = (46.0745, -1.0900)
STATION_LA_ROCHELLE = (46.1530, -1.1450)
SEA_BUS = ((46.1556, -1.1524), (46.1452, -1.1640))  # Vieux-Port to Les Minimes across the harbour

# Door-to-door cruising speeds (m/s) and the stop pattern of each simulated mode.
SPEED = {"walk": 1.35, "bike": 4.3, "ebike": 5.8, "car": 11.0, "bus": 7.5, "train": 25.0, "boat": 3.5}
STOP_EVERY_M = {"bus": 400.0, "car": 900.0, "train": 9000.0}
DWELL_S = {"bus": 20.0, "car": 25.0, "train": 60.0}


@dataclass
class Track:
    ts: list[float]
    lat: list[float]
    lon: list[float]
    accuracy: list[float]

    def extend(self, other: Track) -> None:
        self.ts += other.ts
        self.lat += other.lat
        self.lon += other.lon
        self.accuracy += other.accuracy


def _metres(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    dy = (b[0] - a[0]) * 111_320.0
    dx = (b[1] - a[1]) * 111_320.0 * math.cos(math.radians(a[0]))
    return dx, dy


def leg_track(
    a: tuple[float, float],
    b: tuple[float, float],
    mode: str,
    start_s: float,
    rng: np.random.Generator,
    step_s: float = 5.0,
) -> tuple[Track, float]:
    """Points of one leg from a to b along a gently bent path, with the mode's speed and stops."""
    dx, dy = _metres(a, b)
    straight = math.hypot(dx, dy)
    if straight < 1:
        return Track([], [], [], []), start_s
    # A detour of the road network: the path bends through a point off the straight line.
    bend = rng.uniform(-0.15, 0.15) * straight
    mid = (a[0] + (b[0] - a[0]) / 2 + bend * dx / straight / 111_320.0,
           a[1] + (b[1] - a[1]) / 2 - bend * dy / straight / 111_320.0 / math.cos(math.radians(a[0])))  # fmt: skip
    path = [a, mid, b]
    lengths = [math.hypot(*_metres(path[i], path[i + 1])) for i in range(2)]
    total = sum(lengths)
    speed = SPEED[mode] * rng.uniform(0.85, 1.15)
    ts, positions = [], []
    t, s = start_s, 0.0
    next_stop = STOP_EVERY_M.get(mode, math.inf) * rng.uniform(0.7, 1.3)
    while s < total:
        ts.append(t)
        positions.append(s)
        if s >= next_stop:
            dwell = DWELL_S[mode] * rng.uniform(0.5, 1.5)
            for k in range(1, int(dwell // step_s) + 1):
                ts.append(t + k * step_s)
                positions.append(s)
            t += dwell
            next_stop += STOP_EVERY_M[mode] * rng.uniform(0.7, 1.3)
        t += step_s
        s += speed * step_s * rng.uniform(0.8, 1.2)
    ts.append(t)
    positions.append(total)
    lat, lon = [], []
    for p in positions:
        if p <= lengths[0]:
            f, (p0, p1) = p / lengths[0], (path[0], path[1])
        else:
            f, (p0, p1) = (p - lengths[0]) / lengths[1], (path[1], path[2])
        lat.append(p0[0] + (p1[0] - p0[0]) * f + rng.normal(0, 4) / 111_320.0)
        lon.append(p0[1] + (p1[1] - p0[1]) * f + rng.normal(0, 4) / 111_320.0 / math.cos(math.radians(p0[0])))
    accuracy = [float(rng.uniform(4, 15)) for _ in ts]
    return Track(ts, lat, lon, accuracy), t


def stay_track(at: tuple[float, float], start_s: float, end_s: float, rng: np.random.Generator) -> Track:
    """A phone at rest: a few fixes at the start, then silence (duty cycling), as phones record stays."""
    ts = [start_s + k * 30.0 for k in range(int(min(end_s - start_s, 600) // 30))]
    lat = [at[0] + rng.normal(0, 8) / 111_320.0 for _ in ts]
    lon = [at[1] + rng.normal(0, 8) / 111_320.0 / math.cos(math.radians(at[0])) for _ in ts]
    return Track(ts, lat, lon, [float(rng.uniform(8, 25)) for _ in ts])


@dataclass(frozen=True)
class Resident:
    home: tuple[float, float]
    work: tuple[float, float]
    mode: str  # usual commuting mode
    home_name: str


def resident(rng: np.random.Generator) -> Resident:
    home_name = str(rng.choice(list(HOMES)))
    work = WORK[str(rng.choice(list(WORK)))]
    if home_name == "Châtelaillon-Plage":
        mode = str(rng.choice(["train", "car"], p=[0.5, 0.5]))
    elif home_name == "Les Minimes" and rng.random() < 0.4:
        mode = "boat"
    else:
        distance = math.hypot(*_metres(HOMES[home_name], work))
        if distance < 1500:
            choices, p = ["walk", "bike", "car"], [0.4, 0.4, 0.2]
        elif distance < 6000:
            choices, p = ["bike", "ebike", "bus", "car"], [0.25, 0.15, 0.25, 0.35]
        else:
            choices, p = ["ebike", "bus", "car"], [0.15, 0.25, 0.6]
        mode = str(rng.choice(choices, p=p))
    return Resident(HOMES[home_name], work, mode, home_name)


def commute(r: Resident, outbound: bool, start_s: float, rng: np.random.Generator) -> tuple[Track, float]:
    """One commute, with the walks to and from stops and stations."""
    a, b = (r.home, r.work) if outbound else (r.work, r.home)
    track = Track([], [], [], [])
    t = start_s
    if r.mode in ("walk", "bike", "ebike", "car"):
        part, t = leg_track(a, b, r.mode, t, rng)
        track.extend(part)
        return track, t
    if r.mode == "train":
        stations = (
            (STATION_CHATELAILLON, STATION_LA_ROCHELLE)
            if outbound
            else (STATION_LA_ROCHELLE, STATION_CHATELAILLON)
        )
        legs = [(a, stations[0], "walk"), (stations[0], stations[1], "train"), (stations[1], b, "walk")]
    elif r.mode == "boat":
        piers = SEA_BUS[::-1] if outbound else SEA_BUS
        legs = [(a, piers[0], "walk"), (piers[0], piers[1], "boat"), (piers[1], b, "walk")]
    else:  # bus: walk to a stop a few hundred metres away, ride, walk on
        stop_a = (a[0] + 0.003, a[1] + 0.002)
        stop_b = (b[0] - 0.002, b[1] - 0.003)
        legs = [(a, stop_a, "walk"), (stop_a, stop_b, "bus"), (stop_b, b, "walk")]
    for p0, p1, mode in legs:
        part, t = leg_track(p0, p1, mode, t, rng)
        track.extend(part)
        t += rng.uniform(60, 240) if mode == "walk" else 0  # waiting at the stop or the pier
    return track, t


def day_track(r: Resident, day_start_s: float, rng: np.random.Generator) -> Track:
    """A resident's day: the morning commute, sometimes a shopping or leisure trip, the way home."""
    track = Track([], [], [], [])
    leave = day_start_s + 7 * 3600 + rng.uniform(0, 5400)
    track.extend(stay_track(r.home, day_start_s + 6 * 3600, leave - 60, rng))
    part, t = commute(r, True, leave, rng)
    track.extend(part)
    back = day_start_s + 16.5 * 3600 + rng.uniform(0, 7200)
    track.extend(stay_track(r.work, t + 30, back - 60, rng))
    part, t = commute(r, False, back, rng)
    track.extend(part)
    if rng.random() < 0.35:
        shop = SHOPS[str(rng.choice(list(SHOPS)))]
        mode = "car" if rng.random() < 0.6 else "bike"
        out = t + rng.uniform(1800, 5400)
        track.extend(stay_track(r.home, t + 30, out - 60, rng))
        part, t = leg_track(r.home, shop, mode, out, rng)
        track.extend(part)
        home_again = t + rng.uniform(1200, 2400)
        track.extend(stay_track(shop, t + 30, home_again - 60, rng))
        part, t = leg_track(shop, r.home, mode, home_again, rng)
        track.extend(part)
    track.extend(stay_track(r.home, t + 30, t + 1800, rng))
    return track


def _columns(track: Track) -> PointColumns:
    return PointColumns.from_rows(
        (round(ts * 1000), lat, lon, acc, None, None, None)
        for ts, lat, lon, acc in zip(track.ts, track.lat, track.lon, track.accuracy, strict=True)
    )


@dataclass(frozen=True)
class DemoResult:
    people: int
    points: int
    operator_token: str | None


async def run_demo(db: Database, settings: Settings, users: int, days: int, seed: int = 2026) -> DemoResult:
    """Fill the store with simulated residents and process their points."""
    from app.pipeline.worker import PipelineWorker

    rng = np.random.default_rng(seed)
    tz = ZoneInfo(settings.timezone)
    # The days end with last month, so that month is whole: its exact publication is made at once.
    today = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    month_start = today.replace(day=1)
    first_day = month_start - timedelta(days=days)
    consent_at = first_day.astimezone(UTC) - timedelta(days=1)
    total = 0
    for _ in range(users):
        r = resident(rng)
        async with db.session() as session:
            user, _, _ = await accounts.register_user(session, "demo resident")
            if rng.random() < 0.85:
                event = ConsentEvent(
                    id=uuid.uuid4(), user_id=user.id, purpose="territory_statistics", granted=True, at=consent_at,
                    receipt={"version": "KI-CR-v1.1.0", "note": "demo data: consent dated before the demo days"},
                )  # fmt: skip
                await set_consent(session, user.id, "territory_statistics", True, event)
            if rng.random() < 0.3:
                await add_privacy_zone(
                    session,
                    PrivacyZone(user_id=user.id, label="home", lat=r.home[0], lon=r.home[1], radius_m=300),
                )
            for d in range(days):
                day = first_day + timedelta(days=d)
                if day.weekday() >= 5 and rng.random() < 0.7:
                    continue  # most weekends are spent without commuting
                track = day_track(r, day.timestamp(), rng)
                cols = _columns(track)
                total += await store_columns(session, user.id, cols, ActivityColumns([], [], []))
            await session.commit()
    worker = PipelineWorker.from_settings(db, settings)
    await worker.run_until_idle(now_s=time.time())
    from app.statistics.publications import publish_due

    # Simulated data has no late uploads to wait for: publish the demo's whole months now.
    await publish_due(db, settings.model_copy(update={"publication_delay_days": 0}))
    async with db.session() as session:
        operator = await accounts.find_operator(session, "demo-operator")
        token = None
        if operator is None:
            _, token = await accounts.create_operator(session, "demo-operator")
        await session.commit()
    return DemoResult(users, total, token)
