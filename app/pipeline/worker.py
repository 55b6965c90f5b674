"""The pipeline worker: turns pending points into trips, off the request path.

It runs inside the API process by default (started and stopped with the app), or alone with
`coachco2 worker`. Any number of workers can share one database: each claims people with a lease
(`app/pipeline/repository.py`), reads only the window that changed, runs the pure pipeline (`app/mobility`)
in a thread, and commits trips, legs and the new watermark in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from app.core.db import Database
from app.emissions import DEFAULT_POLICY, EmissionPolicy, great_circle_m
from app.emissions.coaching import TripEnds, same_places
from app.footprint.service import FootprintContext, leg_figures, load_context
from app.mobility import DEFAULT_PARAMS, ActivityArrays, PipelineResult, PointArrays, TransitStops, process
from app.mobility import Trip as MobilityTrip
from app.models import Leg, Trip, utcnow
from app.pipeline import repository as store
from app.pipeline.repository import Claim, Window
from app.selfdata.privacy_zones import SharedEnds, Zone, shared_ends
from app.selfdata.retention import purge_all
from app.settings import Settings
from app.statistics.repository import rebuild_rollups
from app.statistics.zones import local_day
from app.transit import repository as transit_store

log = logging.getLogger("coachco2.worker")


def _ms(ts_s: float) -> int:
    return round(ts_s * 1000)


def run_pipeline(window: Window, now_s: float | None, transit: TransitStops | None = None) -> PipelineResult:
    """The pure pipeline on one window of a person's data, with the territory's transit stops around
    it (if the operator published its network)."""
    points = PointArrays(
        ts_s=window.ts_ms.astype(np.float64) / 1000.0,
        lat=window.lat,
        lon=window.lon,
        accuracy_m=window.accuracy_m,
        speed_mps=window.speed_mps,
        altitude_m=window.altitude_m,
    )
    activities = None
    if len(window.activity_ts_ms):
        activities = ActivityArrays(
            ts_s=window.activity_ts_ms.astype(np.float64) / 1000.0,
            kind=window.activity_kind,
            confidence=window.activity_confidence,
        )
    return process(points, activities, now_s=now_s, transit=transit)


def resume_point(result: PipelineResult) -> float | None:
    """Where the next run must start reading: never inside a trip.

    The pipeline's own answer, moved back to the start of the last trip when no stay was seen after it:
    a trip closed only by the time-out (old points uploaded late, or a phone that went quiet) may still
    be continued by the next batch, which must then extend it rather than start a new trip. And if the
    answer falls before the end of a trip (a stay whose start overlaps the trip's last points), the window
    starts with that trip, so that the trip is rebuilt whole rather than cut. A trip's start, here, is
    where reading must begin to rebuild it (:attr:`Trip.read_from_ts_s`): after a silent gap, the fix
    before the gap, which tells how far the person went unseen.
    """
    resume = result.resume_from_ts_s
    if result.trips:
        last = result.trips[-1]
        stayed_after = any(stay.end_ts_s > last.end_ts_s for stay in result.stays)
        if not stayed_after and (resume is None or last.read_from < resume):
            resume = last.read_from
    if resume is not None:
        for trip in result.trips:
            if trip.read_from < resume < trip.end_ts_s or (
                trip.read_from < resume and trip.end_ts_s == resume
            ):
                resume = trip.read_from
    return resume


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
    labelled_ends = [_ends(t) for t in labelled]
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
                    "geometry": [[float(x), float(y)] for x, y in leg.coordinates],
                    **figures,
                }
            )
        purpose, purpose_source = _purpose(trip, previous, labelled, labelled_ends)
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


def _ends(trip: Trip) -> TripEnds:
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


def _purpose(
    trip: MobilityTrip, previous: Trip | None, labelled: Sequence[Trip], labelled_ends: Sequence[TripEnds]
) -> tuple[str | None, str | None]:
    if previous is not None and previous.purpose_source == "user":
        return previous.purpose, "user"
    ends = TripEnds("", trip.start_lat, trip.start_lon, trip.end_lat, trip.end_lon, trip.distance_m, 0.0, 0.0)
    matches = same_places(ends, labelled_ends)
    if matches:
        return labelled[matches[0]].purpose, "inherited"
    return None, None


class PipelineWorker:
    """Claims people with pending points and processes them until stopped."""

    def __init__(
        self,
        db: Database,
        *,
        owner: str | None = None,
        policy: EmissionPolicy = DEFAULT_POLICY,
        timezone: str = "Europe/Paris",
        lease_s: float = 300.0,
        batch: int = 8,
        poll_s: float = 1.0,
    ) -> None:
        self.db = db
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.policy = policy
        self.tz = ZoneInfo(timezone)
        self.lease_s = lease_s
        self.batch = batch
        self.poll_s = poll_s
        self._wakeup = asyncio.Event()
        self._last_close = 0.0
        self._last_purge = 0.0

    @classmethod
    def from_settings(cls, db: Database, settings: Settings, **overrides: Any) -> PipelineWorker:
        """A worker with the deployment's emission policy, time zone, lease and poll interval."""
        options: dict[str, Any] = {
            "policy": settings.emission_policy,
            "timezone": settings.timezone,
            "lease_s": settings.worker_lease_s,
            "poll_s": settings.worker_poll_s,
        }
        return cls(db, **(options | overrides))

    def wake(self) -> None:
        """Ask for a run now (the ingest endpoint calls this after storing points)."""
        self._wakeup.set()

    async def run_once(self, now_s: float | None = None) -> int:
        """Claim and process one batch of people; returns how many were processed."""
        async with self.db.session() as session:
            claims = await store.claim(session, self.owner, self.lease_s, self.batch)
        for claim in claims:
            try:
                await self.process_claim(claim, now_s=now_s)
            except Exception as exc:
                # The lease is held until the next attempt, backing off, so this person is retried
                # later (never in a tight loop) and the others are not held up.
                async with self.db.session() as session:
                    failures = await store.record_failure(session, claim, type(exc).__name__)
                    await session.commit()
                log.exception(
                    "processing one person's points failed (%d in a row); next attempt in %.0f s",
                    failures,
                    store.failure_backoff_s(failures),
                )
        return len(claims)

    async def run_until_idle(self, now_s: float | None = None) -> int:
        total = 0
        while processed := await self.run_once(now_s=now_s):
            total += processed
        return total

    async def process_claim(self, claim: Claim, now_s: float | None = None) -> bool:
        """Process one claimed person; False when the lease was lost and nothing was written."""
        now_s = time.time() if now_s is None else now_s
        async with self.db.session() as session:
            start_ms = await store.window_start(session, claim)
            await session.commit()
        async with self.db.engine.connect() as conn:
            conn = await conn.execution_options(sqlite_readonly=True)
            window = await store.read_window(conn, claim.user_id, start_ms)
            transit = await transit_store.stops_around(conn, window.lat, window.lon)
            await conn.rollback()
        result = await asyncio.to_thread(run_pipeline, window, now_s, transit)
        async with self.db.session() as session:
            if not await store.hold_lease(session, claim):
                log.warning("lease on a person's pipeline was lost; another worker takes over")
                await session.rollback()
                return False
            old = await store.trips_from(session, claim.user_id, start_ms)
            ctx = await load_context(session, self.policy, claim.user_id)
            labelled = await store.labelled_trips(session, claim.user_id)
            zones = await store.privacy_zones(session, claim.user_id)
            trips, legs = result_rows(claim.user_id, result, old, ctx, labelled, zones)
            await store.replace_trips(session, claim.user_id, [t.id for t, _ in old], trips, legs)
            touched = {local_day(t.start_ts_ms, self.tz) for t, _ in old} | {
                local_day(row["start_ts_ms"], self.tz) for row in trips
            }
            await rebuild_rollups(session, claim.user_id, self.tz, touched)
            newest = int(window.ts_ms[-1]) if len(window.ts_ms) else None
            candidates = [v for v in (claim.processed_until_ms, newest) if v is not None]
            resume = resume_point(result)
            await store.release(
                session,
                claim,
                resume_from_ms=None if resume is None else _ms(resume),
                processed_until_ms=max(candidates) if candidates else None,
            )
            await session.commit()
        return True

    async def close_timed_out_trips(self, now_s: float | None = None) -> int:
        now_s = time.time() if now_s is None else now_s
        async with self.db.session() as session:
            return await store.close_timed_out_trips(session, _ms(now_s - DEFAULT_PARAMS.trip_timeout_s))

    async def run_forever(self) -> None:
        """Process whatever is pending, then wait for a wake-up or the poll interval; never returns."""
        backoff = self.poll_s
        while True:
            try:
                processed = await self.run_once()
                if time.monotonic() - self._last_close > 60:
                    await self.close_timed_out_trips()
                    self._last_close = time.monotonic()
                if time.monotonic() - self._last_purge > 3600:
                    self._last_purge = time.monotonic()
                    result = await purge_all(self.db, int(time.time() * 1000))
                    if result.points:
                        log.info("retention purge: %d points of %d people", result.points, result.people)
                backoff = self.poll_s
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pipeline run failed; retrying in %.0f s", backoff)
                processed = 0
                backoff = min(backoff * 2, 60.0)
            if processed == 0:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=backoff)
