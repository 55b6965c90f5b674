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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from app.accounts import repository as accounts
from app.core.db import Database
from app.ingest.repository import ActivityColumns, PointColumns
from app.ingest.service import store_columns
from app.mobility import process
from app.mobility.simulate import ModeComparison, TrueLeg, TrueTrip, compare_modes, leg_motion
from app.mobility.types import Leg, PointArrays, Trip
from app.models import ConsentEvent, PrivacyZone
from app.selfdata.repository import add_privacy_zone, set_consent
from app.settings import Settings
from app.trips import repository as trips_store

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

#: how a phone records a ride: a fix every few seconds with a few metres of error (per axis, drawn
#: per leg: open sky to streets between buildings), the accuracy it reports, and fixes it misses
STEP_S = 5.0
NOISE_M = (3.0, 6.0)
ACCURACY_M = (4.0, 15.0)
MISSED_FIX_SHARE = 0.03


@dataclass
class Track:
    """Fixes as a phone records them, and the trips and legs really made meanwhile."""

    ts: list[float]
    lat: list[float]
    lon: list[float]
    accuracy: list[float]
    trips: list[TrueTrip] = field(default_factory=list)

    def extend(self, other: Track) -> None:
        self.ts += other.ts
        self.lat += other.lat
        self.lon += other.lon
        self.accuracy += other.accuracy
        self.trips += other.trips


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
    step_s: float = STEP_S,
) -> tuple[Track, float]:
    """One leg from a to b along the ways of its mode, moving as :mod:`app.mobility.simulate` plays
    it (cars junction by junction, with lights and fast roads; buses stop to stop), recorded by a
    phone. The track holds the leg as a trip of its own; :func:`commute` joins legs into trips."""
    dx, dy = _metres(a, b)
    if math.hypot(dx, dy) < 1:
        return Track([], [], [], []), start_s
    x, y, distance, _ = leg_motion(mode, (0.0, 0.0), rng, target_xy=(dx, dy))
    n = x.size
    t = start_s + 1.0 + np.arange(n, dtype=np.float64)
    keep = np.zeros(n, dtype=bool)
    step = max(round(step_s), 1)
    keep[int(rng.integers(0, step)) :: step] = True
    keep &= rng.random(n) >= MISSED_FIX_SHARE
    keep[-1] = True  # the arrival
    noise = float(rng.uniform(*NOISE_M))
    t, x, y = (
        t[keep],
        x[keep] + rng.normal(0, noise, int(keep.sum())),
        y[keep] + rng.normal(0, noise, int(keep.sum())),
    )
    lat = a[0] + y / 111_320.0
    lon = a[1] + x / (111_320.0 * math.cos(math.radians(a[0])))
    accuracy = rng.uniform(*ACCURACY_M, t.size)
    end = start_s + n
    truth = TrueTrip(start_s, end, [TrueLeg(start_s, end, mode, distance)])
    return Track(t.tolist(), lat.tolist(), lon.tolist(), accuracy.tolist(), [truth]), end


def _one_trip(track: Track) -> Track:
    """The track with its legs joined into one trip."""
    legs = [leg for trip in track.trips for leg in trip.legs]
    if legs:
        track.trips = [TrueTrip(legs[0].start_ts_s, legs[-1].end_ts_s, legs)]
    return track


def wait_track(at: tuple[float, float], start_s: float, end_s: float, rng: np.random.Generator) -> Track:
    """A phone still recording while its owner waits at a stop or a pier."""
    ts = np.arange(start_s + STEP_S, end_s, STEP_S)
    noise = float(rng.uniform(*NOISE_M))
    lat = at[0] + rng.normal(0, noise, ts.size) / 111_320.0
    lon = at[1] + rng.normal(0, noise, ts.size) / 111_320.0 / math.cos(math.radians(at[0]))
    return Track(ts.tolist(), lat.tolist(), lon.tolist(), rng.uniform(*ACCURACY_M, ts.size).tolist())


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
        return part, t
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
    for i, (p0, p1, mode) in enumerate(legs):
        part, t = leg_track(p0, p1, mode, t, rng)
        track.extend(part)
        if i == 0:  # waiting at the stop, the platform or the pier
            wait = t + float(rng.uniform(60, 240))
            track.extend(wait_track(p1, t, wait, rng))
            t = wait
    return _one_trip(track), t


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
class SimulatedResident:
    """A resident as the demo plays them: their consent, whether they declare a privacy zone at
    home, their days as their phone recorded them, and the trips they really made."""

    resident: Resident
    consents: bool
    privacy_zone: bool
    days: list[Track]

    @property
    def trips(self) -> list[TrueTrip]:
        return [trip for day in self.days for trip in day.trips]


def first_demo_day(tz: ZoneInfo, days: int) -> datetime:
    """The first of ``days`` days that end with last month (local midnight)."""
    today = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return today.replace(day=1) - timedelta(days=days)


def simulate_residents(
    users: int, days: int, first_day: datetime, seed: int = 2026
) -> Iterator[SimulatedResident]:
    """The demo's residents, one after the other: the same seed and first day give the same people."""
    rng = np.random.default_rng(seed)
    for _ in range(users):
        r = resident(rng)
        consents = bool(rng.random() < 0.85)
        privacy_zone = bool(rng.random() < 0.3)
        tracks = []
        for d in range(days):
            day = first_day + timedelta(days=d)
            if day.weekday() >= 5 and rng.random() < 0.7:
                continue  # most weekends are spent without commuting
            tracks.append(day_track(r, day.timestamp(), rng))
        yield SimulatedResident(r, consents, privacy_zone, tracks)


def points_of(sim: SimulatedResident) -> PointArrays:
    """A resident's fixes as the store hands them to the pipeline: one per millisecond, in time order."""
    ts = np.array([round(t * 1000) for day in sim.days for t in day.ts], dtype=np.int64)
    lat = np.array([v for day in sim.days for v in day.lat])
    lon = np.array([v for day in sim.days for v in day.lon])
    acc = np.array([v for day in sim.days for v in day.accuracy])
    ts, first = np.unique(ts, return_index=True)
    nan = np.full(ts.size, np.nan)
    return PointArrays(ts / 1000.0, lat[first], lon[first], acc[first], nan, nan)


def infer(sim: SimulatedResident) -> list[Trip]:
    """The trips the pure pipeline makes of a resident's fixes (no transit network, no activity hints)."""
    return process(points_of(sim), None).trips


#: the operator account the demo signs in to the dashboard with
DEMO_OPERATOR = "demo-operator"


@dataclass(frozen=True)
class DemoResult:
    people: int
    points: int
    #: a new token of the demo operator, created on the first run and given another token on each later one
    operator_token: str
    operator_created: bool = True
    #: the modes the pipeline inferred against those simulated
    modes: ModeComparison | None = None


async def _inferred_trips(db: Database, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Trip]]:
    """The trips the worker stored for these people, as the pipeline's trips (legs without geometry)."""
    out: dict[uuid.UUID, list[Trip]] = {user_id: [] for user_id in user_ids}
    async with db.session() as session:
        for user_id in user_ids:
            stored = await trips_store.between(session, user_id, 0, 2**62)
            legs = await trips_store.legs_of(session, user_id, [t.id for t in stored], geometry=False)
            for t in stored:
                out[user_id].append(
                    Trip(
                        t.start_ts_ms / 1000, t.end_ts_ms / 1000, t.start_lat, t.start_lon, t.end_lat, t.end_lon,
                        t.distance_m, t.status == "closed",
                        [
                            Leg(leg.start_ts_ms / 1000, leg.end_ts_ms / 1000, leg.inferred_mode, leg.mode_source,
                                leg.confidence, leg.distance_m, [], 0)
                            for leg in legs.get(t.id, [])
                        ],
                    )
                )  # fmt: skip
    return out


async def run_demo(db: Database, settings: Settings, users: int, days: int, seed: int = 2026) -> DemoResult:
    """Fill the store with simulated residents and process their points; print how the inferred
    modes compare with those simulated."""
    from app.pipeline.worker import PipelineWorker

    tz = ZoneInfo(settings.timezone)
    # The days end with last month, so that month is whole: its exact publication is made at once.
    first_day = first_demo_day(tz, days)
    consent_at = first_day.astimezone(UTC) - timedelta(days=1)
    total = 0
    truth: dict[uuid.UUID, list[TrueTrip]] = {}
    for sim in simulate_residents(users, days, first_day, seed):
        r = sim.resident
        async with db.session() as session:
            user, _, _ = await accounts.register_user(session, "demo resident")
            if sim.consents:
                event = ConsentEvent(
                    id=uuid.uuid4(), user_id=user.id, purpose="territory_statistics", granted=True, at=consent_at,
                    receipt={"version": "KI-CR-v1.1.0", "note": "demo data: consent dated before the demo days"},
                )  # fmt: skip
                await set_consent(session, user.id, "territory_statistics", True, event)
            if sim.privacy_zone:
                await add_privacy_zone(
                    session,
                    PrivacyZone(user_id=user.id, label="home", lat=r.home[0], lon=r.home[1], radius_m=300),
                )
            for track in sim.days:
                total += await store_columns(session, user.id, _columns(track), ActivityColumns([], [], []))
            await session.commit()
        truth[user.id] = sim.trips
    worker = PipelineWorker.from_settings(db, settings)
    await worker.run_until_idle(now_s=time.time())
    inferred = await _inferred_trips(db, list(truth))
    modes = compare_modes((truth[user_id], inferred[user_id]) for user_id in truth)
    print(modes.line())
    from app.statistics.publications import publish_due

    # Simulated data has no late uploads to wait for: publish the demo's whole months now.
    await publish_due(db, settings.model_copy(update={"publication_delay_days": 0}))
    # Each run prints a token that works: a second run on the same store gives the operator another one
    # (the tokens of earlier runs stay valid until `coachco2 operator revoke demo-operator`).
    async with db.session() as session:
        operator = await accounts.find_operator(session, DEMO_OPERATOR)
        created = operator is None
        if operator is None:
            _, token = await accounts.create_operator(session, DEMO_OPERATOR)
        else:
            token = await accounts.issue_operator_token(session, operator)
        await session.commit()
    return DemoResult(users, total, token, created, modes)
