"""Apply the Alembic migrations, from the command line or from code that already holds a connection."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.db import create_engine
from app.settings import Settings


def migrations_dir() -> Path:
    """Where the migration scripts are: inside the installed package, or beside it in a source checkout."""
    package = Path(__file__).resolve().parent.parent  # app/
    for candidate in (package / "_migrations", package.parent / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise RuntimeError("the migrations folder is missing from this installation")


@functools.cache
def head_revision() -> str:
    """The revision the code expects the database to be at (the newest migration)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("the migrations folder holds no revision")
    return head


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if database_url:
        # ConfigParser interpolation: a literal % in a password must be doubled.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database at `database_url` (call from synchronous code only).

    Goes through the app's own engine, so SQLite gets its folder and its pragmas as the server will.
    """

    async def _run() -> None:
        engine = create_engine(Settings(database_url=database_url))
        try:
            async with engine.connect() as connection:
                await upgrade_connection(connection, revision)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(_run())


async def upgrade_connection(connection: AsyncConnection, revision: str = "head") -> None:
    """Migrate through an open async connection (the test suite uses this)."""
    await _through(connection, command.upgrade, revision)


async def downgrade_connection(connection: AsyncConnection, revision: str) -> None:
    await _through(connection, command.downgrade, revision)


async def _through(connection: AsyncConnection, action: Callable[[Config, str], None], revision: str) -> None:
    def _run(sync_connection: object) -> None:
        config = alembic_config()
        config.attributes["connection"] = sync_connection
        action(config, revision)

    await connection.run_sync(_run)
