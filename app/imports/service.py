"""Imports of a person's own location history (GPX, GeoJSON, Google location history).

The upload is first written to disk, never held in memory. Then two passes over the file, both streamed:
the first parses and checks all of it, so a bad or truncated file is refused with a clear message before
anything is stored; the second stores its points in one transaction, deduplicated against what is already
held (the same `(person, time)` rule as the phone's API), and the normal pipeline then takes them into
trips. Nothing partial is ever left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from app.core.db import Database
from app.core.offload import in_process
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
from app.ingest.repository import ActivityColumns, PointColumns, mark_pending
from app.ingest.schemas import ACCURACY_RANGE_M, ALTITUDE_RANGE_M, HEADING_RANGE_DEG, SPEED_RANGE_MPS
from app.models import utcnow
from app.settings import Settings

log = logging.getLogger("coachco2.imports")

Progress = Callable[[int, int], None]  # (bytes read, total bytes)


@dataclass(frozen=True)
class Checked:
    format: str
    points: int
    activities: int


def _within(value: float | None, bounds: tuple[float, float]) -> float | None:
    """A reading inside its plausible range, or None (unknown): a file's 1e39 m/s is no measurement, and
    would not fit the store's 4-byte column."""
    return value if value is not None and bounds[0] <= value <= bounds[1] else None


def point_columns(points: list[ImportedPoint]) -> PointColumns:
    """Columns for the store, one point per millisecond (the first one wins), in time order. Optional
    readings outside the ranges the phone's API accepts (app/ingest/schemas.py) become unknown."""
    return PointColumns.from_rows(
        (
            round(p.ts_s * 1000),
            p.lat,
            p.lon,
            _within(p.accuracy_m, ACCURACY_RANGE_M),
            _within(p.altitude_m, ALTITUDE_RANGE_M),
            _within(p.speed_mps, SPEED_RANGE_MPS),
            _within(p.heading_deg, HEADING_RANGE_DEG),
        )
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


#: points written to the staging tables per transaction: short enough that other people's writes get in
#: between (a few milliseconds of write lock each), long enough that commits do not dominate
STAGE_POINTS = 10_000
#: points moved from staging into the history per transaction (under a tenth of a second of write lock on
#: SQLite)
PUBLISH_POINTS = 25_000
#: the pause between two of those transactions: SQLite gives its write lock to whoever asks first once it
#: is free, and a writer kept waiting polls only every few tens of milliseconds, so without a pause the next
#: chunk would always win and a phone's upload would wait for the whole import
PAUSE_S = 0.1
#: the process running an import notes it is alive this often; an import under way not heard from for
#: STALE_AFTER_S was cut short (its process stopped or was killed)
HEARTBEAT_S = 5.0
STALE_AFTER_S = 30.0

#: this process, as it signs the imports it runs: host, pid and a nonce (a restarted server may get the
#: same pid, as PID 1 does in a container, but never the same nonce)
RUNNER = f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(8)}"


def upload_path(import_dir: str | Path, import_id: uuid.UUID) -> Path:
    """Where an import's uploaded file waits while it is checked and stored."""
    return Path(import_dir) / f"{import_id}.upload"


def _runner_gone(runner: str | None) -> bool:
    """True when `runner` was a process of this host that is no longer running (or a previous life of
    this very process id). Another host's runner is judged by its heartbeat only."""
    if not runner:
        return False
    host, _, rest = runner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname()[:80] or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return runner != RUNNER
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


@contextlib.asynccontextmanager
async def alive(db: Database, user_id: uuid.UUID, import_id: uuid.UUID) -> AsyncIterator[None]:
    """Sign the import as this process's and keep noting it is alive while the block runs."""

    async def beat() -> None:
        while True:
            async with db.session() as session:
                await repository.heartbeat(session, user_id, import_id, runner=RUNNER)
                await session.commit()
            await asyncio.sleep(HEARTBEAT_S)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def stage_file(
    db: Database,
    user_id: uuid.UUID,
    import_id: uuid.UUID,
    path: Path,
    progress: Progress | None = None,
) -> None:
    """Write a checked file's points to the staging tables in short transactions, so that other people's
    writes get in between. Should anything fail, what was staged is deleted: nothing reaches the
    history."""
    _, batches, raw = _batches(path, progress)
    try:
        staged: list[ImportBatch] = []
        held = 0
        while True:
            batch = await asyncio.to_thread(next, batches, None)
            if batch is not None:
                staged.append(batch)
                held += len(batch.points)
            if staged and (held >= STAGE_POINTS or batch is None):
                async with db.session() as session:
                    for b in staged:
                        cols, acts = point_columns(b.points), activity_columns(b.activities)
                        await repository.stage(session, user_id, import_id, cols, acts)
                    await session.commit()
                staged, held = [], 0
            if batch is None:
                break
    except BaseException:
        await asyncio.shield(drop_staged(db, user_id, import_id))
        raise
    finally:
        raw.close()


async def publish_staged(db: Database, user_id: uuid.UUID, import_id: uuid.UUID) -> tuple[int, int]:
    """Mark the import as publishing, then move its staged points into the person's history in chunks;
    once begun, the move is finished, here or, after a crash, by :func:`recover_imports`."""
    async with db.session() as session:
        await repository.heartbeat(
            session, user_id, import_id, publishing=True, points_accepted=0, activities=0
        )
        await session.commit()
    return await asyncio.shield(publish(db, user_id, import_id))


async def store_file(
    db: Database,
    user_id: uuid.UUID,
    import_id: uuid.UUID,
    path: Path,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Store a checked file's points for the person, all of them or none; returns (new points, hints).
    Staged in this process (the command line's and the benchmarks' way; the server stages in a worker
    process, see :func:`check_and_stage`)."""
    await stage_file(db, user_id, import_id, path, progress)
    return await publish_staged(db, user_id, import_id)


def check_and_stage(database_url: str, import_id: str, user_id: str, path: str) -> Checked:
    """Check a file, then stage its points: the heavy part of an import, run in a worker process
    (app/core/offload.py) with its own connection to the database. Raises ImportFormatError for a bad
    file. Stages nothing if the import is no longer being checked (failed or erased meanwhile)."""

    async def run() -> Checked:
        db = Database(Settings(database_url=database_url))
        try:
            checked = check(Path(path))
            ident, person = uuid.UUID(import_id), uuid.UUID(user_id)
            async with db.session() as session:
                going_on = await repository.advance(
                    session,
                    person,
                    ident,
                    "checking",
                    status="storing",
                    format=checked.format,
                    points_read=checked.points,
                )
                await session.commit()
            if going_on:
                await stage_file(db, person, ident, Path(path))
            return checked
        finally:
            await db.dispose()

    return asyncio.run(run())


async def publish(db: Database, user_id: uuid.UUID, import_id: uuid.UUID) -> tuple[int, int]:
    """Move an import's staged points into the history, chunk by chunk, counting on the import row what
    each chunk added; returns the import's (new points, hints) in all."""
    while True:
        async with db.session() as session:
            moved = await repository.publish_chunk(session, user_id, import_id, PUBLISH_POINTS)
            if moved.points and moved.earliest_ms is not None:
                await mark_pending(session, user_id, moved.points, moved.earliest_ms)
            totals = await repository.count_published(
                session, user_id, import_id, moved.points, moved.activities
            )
            await session.commit()
        if moved.done:
            return totals
        await asyncio.sleep(PAUSE_S)


async def drop_staged(db: Database, user_id: uuid.UUID, import_id: uuid.UUID) -> None:
    """Delete what an import staged, in chunks."""
    while True:
        async with db.session() as session:
            done = await repository.drop_staged(session, user_id, import_id, PUBLISH_POINTS)
            await session.commit()
        if done:
            return
        await asyncio.sleep(PAUSE_S)


async def _update(db: Database, user_id: uuid.UUID, import_id: uuid.UUID, **values: object) -> None:
    """Set `values` on the import (a plain UPDATE: an import erased meanwhile is no error)."""
    async with db.session() as session:
        await repository.heartbeat(session, user_id, import_id, **values)
        await session.commit()


async def _status(db: Database, user_id: uuid.UUID, import_id: uuid.UUID) -> str | None:
    async with db.session() as session:
        row = await repository.get(session, user_id, import_id)
        await session.commit()
        return None if row is None else row.status


async def _finish(db: Database, user_id: uuid.UUID, import_id: uuid.UUID, points_read: int) -> None:
    async with db.session() as session:
        await repository.finish(session, user_id, import_id, points_read)
        await session.commit()


FAILED_ON_SERVER = "the import failed on the server; nothing was stored"
INTERRUPTED = "interrupted by a server stop; nothing was stored"


async def run_import(
    db: Database,
    import_id: uuid.UUID,
    user_id: uuid.UUID,
    path: Path,
    *,
    wake: Callable[[], None] | None = None,
    keep_file: bool = False,
) -> None:
    """Check, then store, one uploaded file, recording the outcome on its import row. The file is read in
    a worker process (app/core/offload.py), so the server's other requests do not wait behind it. The
    file is removed at the end, whatever the outcome (unless `keep_file`)."""
    try:
        async with alive(db, user_id, import_id):
            await _update(db, user_id, import_id, status="checking")
            checked = await in_process(check_and_stage, db.url, str(import_id), str(user_id), str(path))
            current = await _status(db, user_id, import_id)
            if current != "storing":  # failed or erased while the file was read
                return
            accepted, _ = await publish_staged(db, user_id, import_id)
            await _finish(db, user_id, import_id, checked.points)
        if wake is not None and accepted:
            wake()
    except ImportFormatError as exc:
        await _update(db, user_id, import_id, status="failed", error=exc.message, finished_at=utcnow())
    except asyncio.CancelledError:  # the server is stopping: say so now, unless the move had begun
        await asyncio.shield(_fail_unless_publishing(db, user_id, import_id, INTERRUPTED))
        raise
    except Exception:
        log.exception("an import failed")
        await _fail_unless_publishing(db, user_id, import_id, FAILED_ON_SERVER)
    finally:
        if not keep_file:
            await asyncio.to_thread(path.unlink, missing_ok=True)


async def _fail_unless_publishing(db: Database, user_id: uuid.UUID, import_id: uuid.UUID, error: str) -> None:
    with contextlib.suppress(Exception):  # the database may be what failed: recovery will see to it
        async with db.session() as session:
            await repository.fail_unless_publishing(session, user_id, import_id, error)
            await session.commit()


async def recover_imports(db: Database, import_dir: str | Path) -> int:
    """Settle the imports whose process was stopped or killed: one whose points had begun moving into the
    history is finished; any other is marked failed and its staged points deleted. Their uploaded files
    are removed, and so are files in the upload folder that no import under way owns. Returns how many
    imports were settled. Safe to run in several processes at once: each import is claimed first."""
    alive_after = utcnow() - timedelta(seconds=STALE_AFTER_S)
    async with db.session() as session:
        candidates = await repository.unfinished(session)
        await session.commit()
    settled = 0
    for row in candidates:
        beat = row.heartbeat_at or row.created_at
        if row.runner == RUNNER or not (beat < alive_after or _runner_gone(row.runner)):
            continue
        async with db.session() as session:
            claimed = await repository.claim(session, row, RUNNER)
            await session.commit()
        if not claimed:
            continue
        if row.publishing:
            await publish(db, row.user_id, row.id)
            await _finish(db, row.user_id, row.id, row.points_read)
        else:
            await drop_staged(db, row.user_id, row.id)
            await _update(db, row.user_id, row.id, status="failed", error=INTERRUPTED, finished_at=utcnow())
        settled += 1
    async with db.session() as session:
        await repository.drop_orphan_staging(session)
        await session.commit()
    await asyncio.to_thread(_sweep_uploads, Path(import_dir), await _live_ids(db))
    return settled


async def _live_ids(db: Database) -> set[str]:
    async with db.session() as session:
        ids = {row.id.hex for row in await repository.unfinished(session)}
        await session.commit()
    return ids


#: a transit feed's upload is checked within seconds; one left this long belongs to a stopped server
TRANSIT_UPLOAD_MAX_AGE_S = 3600.0


def _sweep_uploads(folder: Path, live: set[str]) -> None:
    """Remove upload files no import under way owns (left by a killed server or an erased person)."""
    if not folder.is_dir():
        return
    now = time.time()
    for path in folder.iterdir():
        if path.suffix == ".upload":
            try:
                owner = uuid.UUID(path.stem).hex
            except ValueError:
                owner = ""
            if owner not in live:
                path.unlink(missing_ok=True)
        elif path.name.startswith("transit-") and now - path.stat().st_mtime > TRANSIT_UPLOAD_MAX_AGE_S:
            path.unlink(missing_ok=True)


async def stop_imports_of(
    running: dict[uuid.UUID, asyncio.Task[None]], import_ids: list[uuid.UUID], import_dir: str | Path
) -> None:
    """Stop a person's imports under way in this process and remove their uploaded files (erasure). Call
    after the person's rows are committed away: a stopped import then finds nothing to write to."""
    tasks = [running[i] for i in import_ids if i in running]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=10)
    for import_id in import_ids:
        await asyncio.to_thread(upload_path(import_dir, import_id).unlink, missing_ok=True)
