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
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from opentelemetry import trace
from opentelemetry.trace import StatusCode, Tracer

from app.core.db import Database
from app.core.metrics import Metrics
from app.core.offload import in_process
from app.emissions import DEFAULT_POLICY, EmissionPolicy
from app.footprint.service import load_context
from app.mobility import DEFAULT_PARAMS, ActivityArrays, PipelineResult, PointArrays, TransitStops, process
from app.mobility.personal import Confirmation, PersonalModel
from app.openpath.labels import apply_inputs
from app.pipeline import repository as store
from app.pipeline.reconcile import result_rows
from app.pipeline.repository import Claim, Window
from app.selfdata.retention import purge_all
from app.settings import Settings
from app.statistics.publications import publish_due
from app.statistics.zones import local_day
from app.transit import repository as transit_store
from app.trips.service import trips_changed

log = logging.getLogger("coachco2.worker")


def _ms(ts_s: float) -> int:
    return round(ts_s * 1000)


def run_pipeline(
    window: Window,
    now_s: float | None,
    transit: TransitStops | None = None,
    confirmations: Sequence[Confirmation] = (),
) -> PipelineResult:
    """The pure pipeline on one window of a person's data, with the territory's transit stops around
    it (if the operator published its network) and what the person's confirmed legs teach."""
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
    personal = PersonalModel.from_confirmations(confirmations)
    return process(points, activities, now_s=now_s, transit=transit, personal=personal)


#: windows of at least this many points are processed in a worker process; smaller ones (a phone's day)
#: take milliseconds, less than sending them to another process would
OFFLOAD_POINTS = 20_000

#: how often the worker looks for monthly publications that are due (and once at its start)
PUBLICATIONS_EVERY_S = 3600.0


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
        settings: Settings | None = None,
    ) -> None:
        self.db = db
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.policy = policy
        self.tz = ZoneInfo(timezone)
        self.lease_s = lease_s
        self.batch = batch
        self.poll_s = poll_s
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._last_close = 0.0
        self._last_purge = 0.0
        # The territory's exact monthly publications (app/statistics/publications.py), checked at the
        # start and about once an hour; only with the deployment's settings (k, delay, time zone).
        self.settings = settings
        self._next_publications = 0.0
        # Observability, set by whoever runs the worker (app/main.py, `coachco2 worker`): counters of
        # runs and failures (app/core/metrics.py), and a span around each run when tracing is on.
        self.metrics: Metrics | None = None
        self.tracer: Tracer = trace.NoOpTracer()

    @classmethod
    def from_settings(cls, db: Database, settings: Settings, **overrides: Any) -> PipelineWorker:
        """A worker with the deployment's emission policy, time zone, lease and poll interval."""
        options: dict[str, Any] = {
            "policy": settings.emission_policy,
            "timezone": settings.timezone,
            "lease_s": settings.worker_lease_s,
            "poll_s": settings.worker_poll_s,
            "settings": settings,
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
            # the span names how much was processed, never whose points (no id, no place, no time)
            with self.tracer.start_as_current_span(
                "pipeline run",
                attributes={"coachco2.pending_points": claim.points},
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                started = time.perf_counter()
                try:
                    done = await self.process_claim(claim, now_s=now_s)
                except Exception as exc:
                    span.set_attribute("error.type", type(exc).__qualname__)
                    span.set_status(StatusCode.ERROR)
                    self._count_run("failed", started, claim)
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
                else:
                    span.set_attribute("coachco2.outcome", "done" if done else "lease_lost")
                    self._count_run("done" if done else "lease_lost", started, claim)
        return len(claims)

    def _count_run(self, outcome: str, started: float, claim: Claim) -> None:
        if self.metrics is None:
            return
        self.metrics.worker_runs.labels(outcome).inc()
        self.metrics.worker_run_duration.observe(time.perf_counter() - started)
        if outcome == "failed":
            self.metrics.worker_failures.labels("person").inc()
        elif outcome == "done":
            self.metrics.worker_points.inc(claim.points)

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
            window = await store.read_window(conn, claim.user_id, start_ms, claim.until_ms)
            transit = await transit_store.stops_around(conn, window.lat, window.lon)
            await conn.rollback()
        async with self.db.session() as session:
            confirmed = await store.confirmations(session, claim.user_id)
            await session.commit()
        if len(window.ts_ms) >= OFFLOAD_POINTS:
            # a big window (an imported history) is minutes of Python work: in a worker process, so the
            # server's requests do not wait behind it (app/core/offload.py)
            result = await in_process(run_pipeline, window, now_s, transit, confirmed)
        else:
            result = await asyncio.to_thread(run_pipeline, window, now_s, transit, confirmed)
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
            # labels from the phone that were waiting for these trips, or that the rebuilt trips keep
            touched |= await apply_inputs(
                session, self.policy, self.tz, claim.user_id, from_ms=start_ms, rollups=False
            )
            await trips_changed(session, claim.user_id, self.tz, touched)
            newest = int(window.ts_ms[-1]) if len(window.ts_ms) else None
            candidates = [v for v in (claim.processed_until_ms, newest) if v is not None]
            resume = result.resume_from_ts_s
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

    async def publish(self) -> int:
        """Make the monthly publications that are due; a failure is logged and tried again next time."""
        assert self.settings is not None
        try:
            return await publish_due(self.db, self.settings)
        except Exception:
            log.exception("the monthly publications could not be made; trying again in an hour")
            return 0

    def resume(self) -> None:
        """Undo `stop` before running again (an app started anew in the same process)."""
        self._stopping = False

    def stop(self) -> None:
        """Finish the step under way, then return from `run_forever` (a graceful shutdown)."""
        self._stopping = True
        self._wakeup.set()

    async def run_forever(self) -> None:
        """Process whatever is pending, then wait for a wake-up or the poll interval, until `stop`."""
        backoff = self.poll_s
        while not self._stopping:
            try:
                processed = await self.run_once()
                if time.monotonic() - self._last_close > 60:
                    await self.close_timed_out_trips()
                    self._last_close = time.monotonic()
                if self.settings is not None and time.monotonic() >= self._next_publications:
                    self._next_publications = time.monotonic() + PUBLICATIONS_EVERY_S
                    await self.publish()
                if time.monotonic() - self._last_purge > 3600:
                    self._last_purge = time.monotonic()
                    result = await purge_all(self.db, int(time.time() * 1000))
                    if result.points:
                        log.info("retention purge: %d points of %d people", result.points, result.people)
                backoff = self.poll_s
            except asyncio.CancelledError:
                raise
            except Exception:
                if self.metrics is not None:
                    self.metrics.worker_failures.labels("round").inc()
                log.exception("pipeline run failed; retrying in %.0f s", backoff)
                processed = 0
                backoff = min(backoff * 2, 60.0)
            if processed == 0 and not self._stopping:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=backoff)
