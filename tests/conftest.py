"""The suite runs every database test twice: on a real SQLite file and on the real PostgreSQL.

PostgreSQL is found at COACHCO2_TEST_POSTGRES_URL (default: postgres@127.0.0.1:5432, trust auth); the suite
creates its own database there and drops it at the end. When PostgreSQL cannot be reached, its half of the
suite is skipped with a message saying so, unless COACHCO2_TEST_REQUIRE_POSTGRES=1 (CI), where that fails.
"""

from __future__ import annotations

import os
import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from app.accounts import repository as accounts
from app.core.db import create_engine
from app.core.migrate import upgrade_connection
from app.main import create_app
from app.models import Base, ZoneSet
from app.settings import Settings
from app.statistics.zones import GRID_ID
from tests.support import servers

# The suite starts hundreds of apps in one process: none of them freezes the process's objects or moves the
# collector's thresholds for the others (tests/core/test_gctuning.py checks the tuning in a process of its own).
os.environ.setdefault("COACHCO2_GC_TUNING", "false")

ADMIN_URL = os.environ.get("COACHCO2_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_POSTGRES = os.environ.get("COACHCO2_TEST_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgresql"]


def _postgres_tcp() -> str | None:
    """A quick look, before any test runs, at whether PostgreSQL answers on its port."""
    parsed = make_url(ADMIN_URL)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=2):
            return None
    except OSError as exc:
        return str(exc)


def pytest_report_header(config: pytest.Config) -> str:
    problem = _postgres_tcp()
    if problem is None:
        return f"databases: SQLite (a temporary file) and PostgreSQL at {ADMIN_URL}"
    consequence = (
        "CI requires it: those tests will FAIL" if REQUIRE_POSTGRES else "those tests will be SKIPPED"
    )
    return f"databases: SQLite only. PostgreSQL is NOT reachable at {ADMIN_URL} ({problem}); {consequence}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [
        r
        for r in terminalreporter.stats.get("skipped", [])
        if "PostgreSQL is not reachable" in str(r.longrepr)
    ]
    if skipped:
        terminalreporter.write_sep(
            "!", f"PostgreSQL was not reachable: {len(skipped)} tests did not run on PostgreSQL", yellow=True
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test's report shows the output of the servers it ran (tests/support/servers.py writes
    it to files, so that passing tests print nothing)."""
    report = yield
    if report.failed:
        report.sections += servers.report_sections()
    if report.when == "teardown":
        servers.forget_stopped()
    return report


async def _postgres_reachable() -> str | None:
    try:
        conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def create_pg_database() -> str:
    """A new empty PostgreSQL database; returns its async URL."""
    name = f"coachco2_test_{os.getpid()}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated database of each kind, shared by the tests of that kind."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "coachco2.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        problem = await _postgres_reachable()
        if problem is not None:
            message = (
                f"PostgreSQL is not reachable at {ADMIN_URL} ({problem}): its half of the suite did not run"
            )
            if REQUIRE_POSTGRES:
                pytest.fail(message)
            pytest.skip(message)
        url = await create_pg_database()
    engine = create_engine(Settings(database_url=url))
    async with engine.connect() as conn:
        await upgrade_connection(conn)
        await conn.commit()
    await engine.dispose()
    yield url
    if request.param == "postgresql":
        await drop_pg_database(url)


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    # The suite registers many people from one address: its limits are far above the defaults, and the
    # limits themselves are tested with an app of their own.
    application = create_app(
        Settings(
            database_url=database_url,
            rate_limit_register_per_hour=100_000,
            rate_limit_ingest_per_minute=100_000,
        )
    )
    yield application
    await application.state.db.dispose()


async def _empty_tables(application: FastAPI) -> None:
    db = application.state.db
    # The built-in zone set (the grid) is reference data from the migrations: it stays.
    tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name != "zone_sets"]
    async with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            await conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for name in tables:
                await conn.execute(sa.text(f"DELETE FROM {name}"))
        await conn.execute(sa.text("DELETE FROM zone_sets WHERE kind <> 'grid'"))
        # PostgreSQL's TRUNCATE … CASCADE reaches zone_sets through its operator key: put the grid back.
        if await conn.scalar(sa.select(sa.func.count()).select_from(ZoneSet)) == 0:
            await conn.execute(
                sa.insert(ZoneSet).values(
                    id=GRID_ID,
                    name="grid-500m",
                    kind="grid",
                    cell_m=500,
                    official=True,
                    created_at=datetime(2026, 1, 1, tzinfo=UTC),
                )
            )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app; every table is emptied after each test."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
    await _empty_tables(app)


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID
    token: str
    token_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def register(client: httpx.AsyncClient, label: str | None = None) -> Person:
    body = {} if label is None else {"device_label": label}
    response = await client.post("/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return Person(uuid.UUID(data["user_id"]), data["token"], uuid.UUID(data["token_id"]))


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> Person:
    return await register(client, "alice's phone")


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> Person:
    return await register(client, "bob's phone")


@pytest.fixture
async def operator_headers(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    async with app.state.db.session() as session:
        _, secret = await accounts.create_operator(session, f"operator-{secrets.token_hex(3)}")
        await session.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def project_root() -> Iterator[Path]:
    yield Path(__file__).resolve().parent.parent


@pytest.fixture(params=BACKENDS)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A new, empty (unmigrated) database of each kind, for one test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    problem = await _postgres_reachable()
    if problem is not None:
        message = f"PostgreSQL is not reachable at {ADMIN_URL} ({problem}): its half of the suite did not run"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    url = await create_pg_database()
    yield url
    await drop_pg_database(url)
