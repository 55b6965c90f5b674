"""Engine and sessions for the two supported stores.

- SQLite (the default, embedded): WAL journal so readers never wait for the writer, `synchronous=FULL` so
  a 202 means the points are on disk, foreign keys on, and every transaction opened with
  `BEGIN IMMEDIATE`: a transaction that reads and then writes (authenticate, then insert) would otherwise
  fail with "database is locked" when another writer commits in between.
- PostgreSQL through asyncpg: the store for real deployments. A connection taken from the pool is checked
  without a round trip when it was used recently (`_check_postgresql_connection`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.settings import Settings

log = logging.getLogger("coachco2.db")


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database or another store."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        # Deleted content is overwritten with zeros, so an erased person's rows cannot be read back from
        # the file's free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        # No checkpoint inside a commit: SQLite's automatic one would make whichever request commits
        # next wait while the journal is copied into the database; the server checkpoints in the
        # background instead (Database.checkpoint), and SQLite does when the last connection closes.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Long reads that write nothing (the worker's window) ask for a plain deferred transaction so they
        # do not hold the write lock.
        readonly = connection.get_execution_options().get("sqlite_readonly", False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


#: a PostgreSQL connection idle in the pool longer than this (s) is pinged before use
IDLE_PING_S = 10.0


def _check_postgresql_connection(engine: AsyncEngine) -> None:
    """Before a pooled connection is handed out, make sure the server has not closed it (a restart, an
    administrator ending sessions, an idle timeout), so no request fails for a connection the pool held.

    SQLAlchemy's `pool_pre_ping` asks the server every time, and for asyncpg that is three round trips
    (BEGIN, an empty statement, ROLLBACK): three of the seven of an upload. Instead: a server that ends a
    session sends its reason and closes the socket, which asyncpg reads in the background and marks the
    connection closed, so a connection used within the last `IDLE_PING_S` is checked locally, without a
    round trip; one idle longer (its socket may have been dropped silently by a firewall or a proxy on the
    way) is pinged as before. A connection found closed is replaced by a fresh one by the pool."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise exc.DisconnectionError("the server closed this connection")
        idle_since = record.info.get("checked_in_at")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_S:
            return  # new from the pool's connect, or used a moment ago
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise exc.DisconnectionError("the connection did not answer a ping") from error


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    # hide_parameters: an error's message never quotes the statement's values (labels, coordinates, token
    # hashes), so a traceback in the logs carries none of them.
    # No pool_pre_ping: a SQLite file cannot go away under its connections, and PostgreSQL connections are
    # checked by `_check_postgresql_connection`.
    kwargs: dict[str, Any] = {"echo": settings.db_echo, "hide_parameters": True}
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("postgresql"):
        kwargs.update(pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    elif engine.dialect.name == "postgresql":
        _check_postgresql_connection(engine)
    return engine


class Database:
    """The engine and the session factory of one running app."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session that rolls back whatever was not committed explicitly."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                # a read-only transaction: on SQLite it does not wait for the write lock (see _on_begin)
                conn = await conn.execution_options(sqlite_readonly=True)
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def schema_revision(self) -> str | None:
        """The migration the database is at; None when it has none (created empty) or cannot be reached."""
        try:
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(sqlite_readonly=True)
                revision = await conn.scalar(text("SELECT version_num FROM alembic_version"))
                return None if revision is None else str(revision)
        except Exception:
            return None

    async def checkpoint(self) -> None:
        """On SQLite, copy what the journal holds into the database without holding up anyone (a passive
        checkpoint: it never takes the write lock), so the journal stays small."""
        if self.dialect != "sqlite":
            return
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            await raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]

    async def forget_erased(self, attempts: int = 25) -> bool:
        """After an erasure: on SQLite, copy the journal into the database and empty it, so the erased
        rows' old pages do not stay in the `-wal` file (the database's own pages were overwritten by
        `secure_delete`). Another process in the middle of a transaction (a worker process reading a
        file) holds the journal for a moment: the checkpoint is tried again for a few seconds. Never
        raises: the erasure itself is done; False when the journal could not be emptied yet (SQLite's
        own checkpoints empty it later). PostgreSQL reclaims dead rows by autovacuum."""
        if self.dialect != "sqlite":
            return True
        for _ in range(attempts):
            try:
                async with self.engine.connect() as conn:
                    raw = await conn.get_raw_connection()
                    driver = raw.driver_connection
                    await driver.execute("PRAGMA busy_timeout=200")  # type: ignore[union-attr]
                    cursor = await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
                    busy = (await cursor.fetchone())[0]
                    await driver.execute("PRAGMA busy_timeout=10000")  # type: ignore[union-attr]
                if not busy:
                    return True
            except Exception as exc:  # busy or locked: try again in a moment
                log.debug("journal checkpoint after an erasure not possible yet: %s", type(exc).__name__)
            await asyncio.sleep(0.2)
        return False

    async def dispose(self) -> None:
        await self.engine.dispose()
