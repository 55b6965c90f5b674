"""Imports of a person's own location history (GPX, GeoJSON, Google location history).

The upload is first written to disk, never held in memory. Then two passes over the file, both streamed:
the first parses and checks all of it, so a bad or truncated file is refused with a clear message before
anything is stored; the second stores its points in one transaction, deduplicated against what is already
held (the same `(person, time)` rule as the phone's API), and the normal pipeline then takes them into
trips. Nothing partial is ever left behind.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from app.core.db import Database
from app.core.schemas import MAX_FUTURE_S, MIN_TS_S
from app.imports import repository
from app.imports.parsers import (
    ImportBatch,
    ImportedActivity,
    ImportedPoint,
    ImportFormatError,
    parse_file,
    sniff,
)
from app.ingest.repository import ActivityColumns, PointColumns
from app.ingest.service import store_columns
from app.models import utcnow

log = logging.getLogger("coachco2.imports")

Progress = Callable[[int, int], None]  # (bytes read, total bytes)


@dataclass(frozen=True)
class Checked:
    format: str
    points: int
    activities: int


def point_columns(points: list[ImportedPoint]) -> PointColumns:
    """Columns for the store, one point per millisecond (the first one wins), in time order."""
    return PointColumns.from_rows(
        (round(p.ts_s * 1000), p.lat, p.lon, p.accuracy_m, p.altitude_m, p.speed_mps, p.heading_deg)
        for p in points
    )


def activity_columns(activities: list[ImportedActivity]) -> ActivityColumns:
    return ActivityColumns.from_rows((round(a.ts_s * 1000), a.type, a.confidence) for a in activities)


class _Counting:
    """A binary file wrapper that reports how far it has read."""

    def __init__(self, f: BinaryIO, total: int, progress: Progress | None) -> None:
        self.f, self.total, self.progress, self.done = f, total, progress, 0

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.done += len(data)
        if self.progress is not None:
            self.progress(self.done, self.total)
        return data

    def __getattr__(self, name: str) -> object:
        return getattr(self.f, name)


def _batches(path: Path, progress: Progress | None = None) -> tuple[str, Iterator[ImportBatch], BinaryIO]:
    raw = path.open("rb")
    fmt, f = sniff(raw)
    counted = _Counting(f, path.stat().st_size, progress)
    return fmt, parse_file(counted, fmt=fmt), raw  # type: ignore[arg-type]


def check(path: Path, now_s: float | None = None, progress: Progress | None = None) -> Checked:
    """Parse the whole file, checking every point; raises ImportFormatError naming what is wrong."""
    now_s = time.time() if now_s is None else now_s
    fmt, batches, raw = _batches(path, progress)
    points = activities = 0
    try:
        for batch in batches:
            for p in batch.points:
                if not (math.isfinite(p.ts_s) and MIN_TS_S <= p.ts_s <= now_s + MAX_FUTURE_S):
                    raise ImportFormatError(
                        f"point {points + 1} is stamped {p.ts_s!r}: not a time between 1980 and tomorrow"
                    )
                points += 1
            activities += len(batch.activities)
    finally:
        raw.close()
    if points == 0:
        raise ImportFormatError(f"the {fmt} file holds no location with a time")
    return Checked(fmt, points, activities)


async def store_file(
    db: Database, user_id: uuid.UUID, path: Path, progress: Progress | None = None
) -> tuple[int, int]:
    """Store the file's points in one transaction; returns (new points, activities)."""
    _, batches, raw = _batches(path, progress)
    accepted = acts = 0
    try:
        async with db.session() as session:
            while (batch := await asyncio.to_thread(next, batches, None)) is not None:
                cols = point_columns(batch.points)
                activity = activity_columns(batch.activities)
                accepted += await store_columns(session, user_id, cols, activity)
                acts += len(activity)
            await session.commit()
    finally:
        raw.close()
    return accepted, acts


async def _update(db: Database, import_id: uuid.UUID, **values: object) -> None:
    async with db.session() as session:
        row = await repository.get(session, import_id)
        if row is not None:
            for name, value in values.items():
                setattr(row, name, value)
            await session.commit()


async def run_import(
    db: Database,
    import_id: uuid.UUID,
    user_id: uuid.UUID,
    path: Path,
    *,
    progress: Progress | None = None,
    wake: Callable[[], None] | None = None,
    keep_file: bool = False,
) -> None:
    """Check, then store, one uploaded file, recording the outcome on its import row."""
    try:
        await _update(db, import_id, status="checking")
        checked = await asyncio.to_thread(check, path, None, progress)
        await _update(db, import_id, status="storing", format=checked.format, points_read=checked.points)
        accepted, acts = await store_file(db, user_id, path)
        await _update(
            db,
            import_id,
            status="done",
            points_accepted=accepted,
            duplicates=checked.points - accepted,
            activities=acts,
            finished_at=utcnow(),
        )
        if wake is not None and accepted:
            wake()
    except ImportFormatError as exc:
        await _update(db, import_id, status="failed", error=exc.message, finished_at=utcnow())
    except Exception:
        log.exception("an import failed")
        await _update(
            db,
            import_id,
            status="failed",
            error="the import failed on the server; nothing was stored",
            finished_at=utcnow(),
        )
    finally:
        if not keep_file:
            await asyncio.to_thread(path.unlink, missing_ok=True)


async def abandon_interrupted_imports(db: Database, older_than_s: float = 3600) -> int:
    """Imports still under way long after they began were cut short by a stop: they stored nothing (one
    transaction), and say so. An hour is far beyond any real import (a million points take under a
    minute), so an import another process is running is never touched."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    async with db.session() as session:
        count = await repository.fail_unfinished(
            session, cutoff, "interrupted by a server stop; nothing was stored"
        )
        await session.commit()
    return count
