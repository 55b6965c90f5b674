"""Alembic migrations are the only source of the schema: they run both ways on both stores, and the
models never drift from them."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.core.db import create_engine
from app.core.migrate import downgrade_connection, upgrade_connection
from app.models import Base
from app.settings import Settings


def _tables(sync_conn: sa.Connection) -> set[str]:
    return set(sa.inspect(sync_conn).get_table_names()) - {"alembic_version"}


def _diff(sync_conn: sa.Connection) -> list[object]:
    context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_build_exactly_the_models_and_undo_cleanly(empty_database_url: str) -> None:
    engine = create_engine(Settings(database_url=empty_database_url))
    try:
        async with engine.connect() as conn:
            await upgrade_connection(conn)
            await conn.commit()
            assert await conn.run_sync(_tables) == set(Base.metadata.tables)
            assert await conn.run_sync(_diff) == []

            await downgrade_connection(conn, "base")
            await conn.commit()
            assert await conn.run_sync(_tables) == set()

            await upgrade_connection(conn)
            await conn.commit()
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()
