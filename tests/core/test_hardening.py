"""Hardening: abuse limits, headers, configuration safety, log redaction, and faults that lose nothing."""

from __future__ import annotations

import asyncio
import os
import re
import time
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import event

from app.core.logs import redact
from app.main import create_app
from app.models import LocationPoint
from app.settings import Settings
from tests.conftest import ADMIN_URL, Person, register
from tests.support.servers import running_server

REDIS_URL = os.environ.get("COACHCO2_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POINTS = [{"ts": 1_700_000_000 + i, "lat": 46.1591 + i * 1e-5, "lon": -1.152} for i in range(50)]


async def _redis_ok() -> bool:
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def limited(request: pytest.FixtureRequest, database_url: str) -> Any:
    """An app with small limits, counting in memory or in Redis."""
    redis_url = None
    if request.param == "redis":
        if not await _redis_ok():
            if os.environ.get("COACHCO2_TEST_REQUIRE_REDIS") == "1":
                pytest.fail(f"Redis is not reachable at {REDIS_URL}")
            pytest.skip(f"Redis is not reachable at {REDIS_URL}")
        import redis.asyncio as redis

        client = redis.from_url(REDIS_URL)
        await client.flushdb()
        await client.aclose()
        redis_url = REDIS_URL
    app = create_app(Settings(database_url=database_url, redis_url=redis_url, rate_limit_register_per_hour=3,
                              rate_limit_ingest_per_minute=2, rate_limit_export_per_hour=1))  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client
    await app.state.db.dispose()


async def test_registration_ingest_and_export_are_rate_limited(
    limited: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    tokens = []
    for _ in range(3):
        response = await limited.post("/v1/auth/register")
        assert response.status_code == 201
        tokens.append(response.json()["token"])
    refused = await limited.post("/v1/auth/register")
    assert refused.status_code == 429
    assert (
        refused.json()["type"] == "/problems/rate-limited" and 0 < int(refused.headers["retry-after"]) <= 3600
    )
    headers = {"Authorization": f"Bearer {tokens[0]}"}
    for _ in range(2):
        assert (
            await limited.post("/v1/me/locations", headers=headers, json={"points": POINTS})
        ).status_code == 202
    assert (
        await limited.post("/v1/me/locations", headers=headers, json={"points": POINTS})
    ).status_code == 429
    # Another person's token has its own allowance.
    other = {"Authorization": f"Bearer {tokens[1]}"}
    assert (await limited.post("/v1/me/locations", headers=other, json={"points": POINTS})).status_code == 202
    assert (await limited.get("/v1/me/export?format=csv", headers=headers)).status_code == 200
    assert (await limited.get("/v1/me/export?format=csv", headers=headers)).status_code == 429
    for token in tokens:
        await limited.delete("/v1/me", headers={"Authorization": f"Bearer {token}"})


async def test_answers_carry_security_headers(app: FastAPI, alice: Person) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://t") as secure:
        response = await secure.get("/v1/me/pipeline", headers=alice.headers)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["strict-transport-security"].startswith("max-age=")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as plain:
        response = await plain.get("/health")
    assert "strict-transport-security" not in response.headers


PRODUCTION = {"environment": "production", "controller_email": "dpo@agglo.example.fr",
              "privacy_policy_url": "https://coachco2.example.fr/privacy"}  # fmt: skip


def test_production_refuses_default_settings(database_url: str) -> None:
    with pytest.raises(ValidationError, match="COACHCO2_CONTROLLER_EMAIL"):
        Settings(database_url=database_url, environment="production")
    with pytest.raises(ValidationError, match="CORS"):
        Settings(database_url=database_url, **PRODUCTION, cors_origins="*")
    assert Settings(database_url=database_url, **PRODUCTION).docs is False


async def test_production_serves_docs_only_when_enabled_and_cors_only_to_named_origins(
    database_url: str,
) -> None:
    for docs_enabled, expected in ((None, 404), (True, 200)):
        app = create_app(Settings(database_url=database_url, **PRODUCTION, docs_enabled=docs_enabled,
                                  cors_origins="https://app.example.fr"))  # fmt: skip
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            assert (await c.get("/docs")).status_code == expected
            assert (await c.get("/openapi.json")).status_code == expected
            allowed = await c.options("/v1/me/pipeline", headers={"Origin": "https://app.example.fr",
                                                                   "Access-Control-Request-Method": "GET"})  # fmt: skip
            assert allowed.headers.get("access-control-allow-origin") == "https://app.example.fr"
            other = await c.options("/v1/me/pipeline", headers={"Origin": "https://evil.example",
                                                                 "Access-Control-Request-Method": "GET"})  # fmt: skip
            assert "access-control-allow-origin" not in other.headers
        await app.state.db.dispose()


def test_redaction_masks_tokens_ids_and_coordinates() -> None:
    line = ("user 3f2c9a8e-5b1d-4c7e-9f0a-2b6d8e1c4a57 sent Bearer cc2u_Qm3n0abcdefghijklmnop at 46.159123,-1.152045 "
            "with cc2o_ZZZZZZZZZZZZZZZZ and 3f2c9a8e5b1d4c7e9f0a2b6d8e1c4a57")  # fmt: skip
    cleaned = redact(line)
    for secret in ("3f2c9a8e", "cc2u_Qm3", "cc2o_ZZZ", "46.159123", "1.152045"):
        assert secret not in cleaned
    assert "[id]" in cleaned and "[coord]" in cleaned


def test_the_servers_logs_hold_no_token_id_or_coordinate(tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'logs.db'}"
    env = {**os.environ, "DATABASE_URL": url, "COACHCO2_LOG_FORMAT": "json"}
    with running_server(env, capture=True, log_level="info") as server:
        base = server.base
        registered = httpx.post(f"{base}/v1/auth/register", json={}).json()
        token, user_id = registered["token"], registered["user_id"]
        headers = {"Authorization": f"Bearer {token}"}
        points = [
            {"ts": 1_700_000_000 + 10 * i, "lat": 46.1591234 + i * 1e-4, "lon": -1.1520987}
            for i in range(200)
        ]
        assert (
            httpx.post(f"{base}/v1/me/locations", headers=headers, json={"points": points}).status_code == 202
        )
        httpx.post(
            f"{base}/v1/me/locations",
            headers=headers,
            json={"points": [{"ts": 1, "lat": 99.1234567, "lon": 0}]},
        )
        httpx.get(f"{base}/v1/me/trips/{user_id}", headers=headers)
        httpx.get(f"{base}/v1/me/pipeline", headers={"Authorization": "Bearer cc2u_wrongwrongwrongwrong"})
        time.sleep(2)
        seen = [token, token[5:], user_id, "46.1591234", "1.1520987", "99.1234567", "cc2u_wrongwrong"]
    output = server.output
    assert '"route": "/v1/me/trips/{trip_id}"' in output  # the access log names routes, not paths
    for secret in seen:
        assert secret not in output, secret
    assert not re.search(r"\d{1,3}\.\d{5,}", output)


async def test_a_full_disk_answers_503_and_stores_nothing(tmp_path: Any) -> None:
    from app.core.migrate import upgrade_connection

    url = f"sqlite+aiosqlite:///{tmp_path / 'full.db'}"
    app = create_app(Settings(database_url=url))
    async with app.state.db.engine.connect() as conn:
        await upgrade_connection(conn)
        await conn.commit()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        person = await register(c)
        small = await c.post("/v1/me/locations", headers=person.headers, json={"points": POINTS})
        assert small.status_code == 202

        # From now on the file may not grow: SQLite answers "database or disk is full".
        @event.listens_for(app.state.db.engine.sync_engine, "connect")
        def _cap(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA page_count")
            pages = cursor.fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count = {pages}")
            cursor.close()

        await app.state.db.engine.dispose()
        big = [{"ts": 1_710_000_000 + i, "lat": 46.0 + i * 1e-6, "lon": -1.0} for i in range(10_000)]
        full = await c.post("/v1/me/locations", headers=person.headers, json={"points": big})
        assert full.status_code == 503
        assert full.headers["retry-after"] and full.json()["type"] == "/problems/service-unavailable"
        event.remove(app.state.db.engine.sync_engine, "connect", _cap)
        await app.state.db.engine.dispose()
        assert (await c.get("/v1/me/pipeline", headers=person.headers)).json()["pending_points"] == len(
            POINTS
        )
    async with app.state.db.session() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(LocationPoint)) == len(POINTS)
    await app.state.db.dispose()


async def test_the_database_going_away_mid_ingest_answers_503_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    from sqlalchemy.exc import OperationalError

    engine = app.state.db.engine.sync_engine

    def _lost(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "INSERT INTO motion_activities" in statement:
            raise OperationalError(statement, {}, ConnectionResetError("server closed the connection"))

    event.listen(engine, "before_cursor_execute", _lost)
    try:
        body = {"points": POINTS, "activities": [{"ts": 1_700_000_000, "type": "walking"}]}
        response = await client.post("/v1/me/locations", headers=alice.headers, json=body)
    finally:
        event.remove(engine, "before_cursor_execute", _lost)
    assert response.status_code == 503 and response.headers["retry-after"]
    state = (await client.get("/v1/me/pipeline", headers=alice.headers)).json()
    assert state["pending_points"] == 0
    async with app.state.db.session() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(LocationPoint)) == 0
    # And it works again at once.
    assert (await client.post("/v1/me/locations", headers=alice.headers, json=body)).status_code == 202


@pytest.mark.postgres_only
async def test_postgresql_restarting_under_load_is_survived_without_a_restart(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    if app.state.db.dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    name = app.state.settings.database_url.rsplit("/", 1)[1]
    statuses = []
    for round_ in range(12):
        if round_ in (4, 8):
            # Every connection of the service is cut, as a server restart does.
            admin = await asyncpg.connect(ADMIN_URL)
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 "
                                "AND pid <> pg_backend_pid()", name)  # fmt: skip
            await admin.close()
        points = [{"ts": 1_700_000_000 + round_ * 1000 + i, "lat": 46.1, "lon": -1.1} for i in range(20)]
        response = await client.post("/v1/me/locations", headers=alice.headers, json={"points": points})
        if response.status_code == 503:
            # A request in the milliseconds of the cut (the server has not yet closed the socket) may be
            # told to retry, never a 500; after that the pool has seen the closed connections.
            await asyncio.sleep(0.2)
            response = await client.post("/v1/me/locations", headers=alice.headers, json={"points": points})
        statuses.append(response.status_code)
    assert statuses == [202] * 12
    assert (await client.get("/v1/me/pipeline", headers=alice.headers)).json()["pending_points"] == 240


@pytest.mark.postgres_only
async def test_a_postgresql_connection_idle_in_the_pool_is_pinged_before_use(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection used a moment ago is handed out without a round trip; one idle for longer than
    IDLE_PING_S is pinged first, and one whose server session ended is replaced, not handed out."""
    from app.core import db as db_module

    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    db = db_module.Database(Settings(database_url=database_url, db_pool_size=1))
    pings: list[int] = []
    try:
        async with db.engine.connect() as conn:
            first_pid = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
            raw = await conn.get_raw_connection()
            adapted, driver = type(raw.dbapi_connection), raw.driver_connection
        original = adapted.ping
        monkeypatch.setattr(adapted, "ping", lambda self: (pings.append(1), original(self))[1])
        async with db.engine.connect() as conn:
            assert await conn.scalar(sa.text("SELECT pg_backend_pid()")) == first_pid
            info = (await conn.get_raw_connection()).info  # the pooled connection's own, kept across uses
        assert pings == []  # used a moment ago: no round trip on the way
        # Idle for longer than IDLE_PING_S: pinged, and still the same connection.
        info["checked_in_at"] -= db_module.IDLE_PING_S + 1
        async with db.engine.connect() as conn:
            assert await conn.scalar(sa.text("SELECT pg_backend_pid()")) == first_pid
        assert pings == [1]
        # The server ends the session: the pool notices without asking and connects anew.
        admin = await asyncpg.connect(ADMIN_URL)
        await admin.execute("SELECT pg_terminate_backend($1)", first_pid)
        await admin.close()
        for _ in range(200):  # the backend ends a moment after it is told to; asyncpg then reads the close
            if driver.is_closed():
                break
            await asyncio.sleep(0.025)
        assert driver.is_closed()
        async with db.engine.connect() as conn:
            assert await conn.scalar(sa.text("SELECT pg_backend_pid()")) != first_pid
        assert pings == [1]
    finally:
        await db.dispose()


async def test_database_errors_in_the_logs_carry_no_parameter_or_hash(database_url: str) -> None:
    """A failed statement's traceback, as the server logs it, on either store: no label, coordinate, time
    or token hash of the statement's values, neither in SQLAlchemy's text nor in PostgreSQL's DETAIL."""
    import io
    import logging

    from app.core.db import Database
    from app.core.logs import JsonFormatter, Redact

    label, digest = "12 rue des Mouettes, Jeanne Dupont", "9f" * 32
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(Redact())
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("coachco2.test-redaction")
    log.addHandler(handler)
    db = Database(Settings(database_url=database_url))
    try:
        async with db.engine.connect() as conn:
            await conn.execute(sa.text("CREATE TEMPORARY TABLE secrets (label VARCHAR(200) PRIMARY KEY, "
                                       "lat FLOAT, ts BIGINT, hash VARCHAR(64))"))  # fmt: skip
            row = {"label": label, "lat": 46.159, "ts": 1_733_130_000_000, "hash": digest}
            insert = sa.text("INSERT INTO secrets VALUES (:label, :lat, :ts, :hash)")
            await conn.execute(insert, row)
            for statement, values in ((insert, row), (sa.text("SELECT CAST(:label AS INTEGER)"), row)):
                try:
                    await conn.execute(statement, values)
                except sa.exc.DBAPIError:
                    log.exception("a statement failed")
                    await conn.rollback()
                    if db.dialect == "sqlite":
                        await conn.execute(sa.text("CREATE TEMPORARY TABLE IF NOT EXISTS secrets (x INT)"))
                    else:
                        break
    finally:
        log.removeHandler(handler)
        await db.dispose()
    output = stream.getvalue()
    assert "a statement failed" in output and "Traceback" in output
    for secret in (label, "Mouettes", "46.159", "1733130000000", digest):
        assert secret not in output, secret


async def test_a_dropped_then_recreated_postgresql_database_answers_503_never_500() -> None:
    from app.core.migrate import upgrade_connection
    from tests.conftest import create_pg_database, drop_pg_database

    try:
        url = await create_pg_database()
    except OSError as exc:
        if os.environ.get("COACHCO2_TEST_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    name = url.rsplit("/", 1)[1]
    app = create_app(Settings(database_url=url))
    try:
        async with app.state.db.engine.connect() as conn:
            await upgrade_connection(conn)
            await conn.commit()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            person = await register(client)
            assert (await client.get("/health")).status_code == 200

            async def all_unavailable(database: str) -> None:
                health = await client.get("/health")
                assert health.status_code == 503 and health.json()["database"] == database
                assert (await client.get("/health/live")).status_code == 200
                answers = [
                    await client.post("/v1/auth/register", json={}),
                    await client.get("/v1/me", headers=person.headers),
                    await client.get("/v1/me/trips", headers=person.headers),
                    await client.post("/v1/me/locations", headers=person.headers, json={"points": POINTS}),
                ]
                for answer in answers:
                    assert answer.status_code == 503, answer.text
                    assert answer.headers["retry-after"]
                    assert answer.headers["content-type"] == "application/problem+json"

            await drop_pg_database(url)
            await all_unavailable("unreachable")
            admin = await asyncpg.connect(ADMIN_URL)
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
            finally:
                await admin.close()
            await all_unavailable("not migrated")
    finally:
        await app.state.db.dispose()
        await drop_pg_database(url)


def test_forwarded_addresses_are_believed_only_from_configured_proxies(tmp_path: Any) -> None:
    """By default a client cannot slip past the per-address limits by naming another address in
    `X-Forwarded-For`; behind a configured proxy, the address it forwards is the one limited."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'proxy.db'}"
    env = {**os.environ, "DATABASE_URL": url, "COACHCO2_RATE_LIMIT_REGISTER_PER_HOUR": "3",
           "COACHCO2_LOG_FORMAT": "text"}  # fmt: skip

    def statuses(base: str, forwarded: list[str]) -> list[int]:
        return [
            httpx.post(f"{base}/v1/auth/register", json={}, headers={"X-Forwarded-For": f}).status_code
            for f in forwarded
        ]

    with running_server(env) as server:
        assert statuses(server.base, [f"203.0.113.{i}" for i in range(5)]) == [201, 201, 201, 429, 429]
    with running_server({**env, "COACHCO2_TRUSTED_PROXIES": "127.0.0.1,::1"}) as server:
        assert statuses(server.base, [f"203.0.113.{i}" for i in range(5)]) == [201] * 5
        assert statuses(server.base, ["198.51.100.7"] * 4) == [201, 201, 201, 429]
