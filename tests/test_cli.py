"""The `coachco2` command as an administrator runs it: migrate, create operators, serve for real."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.support.servers import COACHCO2, free_port


def run_cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([COACHCO2, *args], env=env, capture_output=True, text=True, timeout=120)


async def migrated_app(database_url: str) -> FastAPI:
    """The API on a freshly migrated database, with its in-process worker off (a command does the work)."""
    from app.core.db import create_engine
    from app.core.migrate import upgrade_connection
    from app.main import create_app
    from app.settings import Settings

    engine = create_engine(Settings(database_url=database_url))
    async with engine.connect() as conn:
        await upgrade_connection(conn)
        await conn.commit()
    await engine.dispose()
    return create_app(Settings(database_url=database_url, worker_in_process=False))


def test_operator_create_prints_a_token_once_and_refuses_a_duplicate(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    created = run_cli("operator", "create", "yelo-team", database_url=url)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("cc2o_") and len(token) >= 48
    assert "shown this once" in created.stderr
    again = run_cli("operator", "create", "yelo-team", database_url=url)
    assert again.returncode == 1 and "already exists" in again.stderr
    listed = run_cli("operator", "list", database_url=url)
    assert listed.stdout.startswith("yelo-team\t")
    revoked = run_cli("operator", "revoke", "yelo-team", database_url=url)
    assert revoked.returncode == 0 and "revoked 1 token" in revoked.stdout
    assert run_cli("operator", "revoke", "nobody", database_url=url).returncode == 1


def test_a_bad_database_url_is_refused_clearly(tmp_path: Path) -> None:
    result = run_cli("migrate", database_url="mysql://root@localhost/x")
    assert result.returncode != 0
    assert "DATABASE_URL must be" in result.stderr


async def test_serve_migrates_and_serves_the_api(empty_database_url: str) -> None:
    """`coachco2 serve` on each store: a fresh database, then register, ingest and read back over HTTP."""
    operator = await asyncio.to_thread(run_cli, "operator", "create", "ops", database_url=empty_database_url)
    assert operator.returncode == 0, operator.stderr
    port = free_port()
    env = {**os.environ, "DATABASE_URL": empty_database_url}
    server = await asyncio.create_subprocess_exec(
        COACHCO2,
        "serve",
        "--port",
        str(port),
        "--log-level",
        "warning",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for _ in range(200):
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("the server did not answer /health within 20 s")
            registered = await client.post("/v1/auth/register", json={"device_label": "cli test"})
            assert registered.status_code == 201
            headers = {"Authorization": f"Bearer {registered.json()['token']}"}
            batch = {"points": [{"ts": 1_700_000_000 + i, "lat": 46.15, "lon": -1.15} for i in range(100)]}
            ingest = await client.post("/v1/me/locations", headers=headers, json=batch)
            assert ingest.status_code == 202 and ingest.json()["accepted"] == 100
            pipeline = await client.get("/v1/me/pipeline", headers=headers)
            assert pipeline.json()["pending_points"] == 100
            ops = {"Authorization": f"Bearer {operator.stdout.strip()}"}
            assert (await client.get("/v1/operator/me", headers=ops)).json()["name"] == "ops"
            assert (await client.get("/openapi.json")).status_code == 200
    finally:
        server.terminate()
        output = (await asyncio.wait_for(server.communicate(), 20))[0].decode(errors="replace")
    assert "Traceback" not in output, output


async def test_a_separate_worker_process_processes_pending_points(empty_database_url: str) -> None:
    """`coachco2 worker` alone turns what the API stored into trips, with the in-process worker off."""
    from app.mobility.simulate import LegPlan, StayPlan, TripPlan, simulate

    app = await migrated_app(empty_database_url)
    sim = simulate([StayPlan(1200), TripPlan((LegPlan("bike", 3000),)), StayPlan(1200)], seed=1, sampling_s=5)
    points = [{"ts": float(t), "lat": float(a), "lon": float(o)} for t, a, o in
              zip(sim.points.ts_s, sim.points.lat, sim.points.lon, strict=True)]  # fmt: skip
    env = {**os.environ, "DATABASE_URL": empty_database_url}
    worker = await asyncio.create_subprocess_exec(
        COACHCO2, "worker", "--processes", "2", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            token = (await client.post("/v1/auth/register")).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            assert (
                await client.post("/v1/me/locations", headers=headers, json={"points": points})
            ).status_code == 202
            for _ in range(300):
                if (await client.get("/v1/me/pipeline", headers=headers)).json()["pending_points"] == 0:
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("the worker process did not process the points within 30 s")
            trips = (await client.get("/v1/me/trips", headers=headers)).json()["trips"]
            assert len(trips) == 1
    finally:
        worker.terminate()
        output = (await asyncio.wait_for(worker.communicate(), 20))[0].decode(errors="replace")
        await app.state.db.dispose()
    assert "Traceback" not in output, output


async def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(empty_database_url: str) -> None:
    """SIGKILL a worker process while it works; a second one finishes, and every trip exists once."""
    import signal

    from app.mobility.simulate import commute_plan, simulate

    app = await migrated_app(empty_database_url)
    env = {**os.environ, "DATABASE_URL": empty_database_url, "COACHCO2_WORKER_LEASE_S": "1"}

    async def start_worker() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            COACHCO2, "worker", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )

    sims = [simulate(commute_plan() * 2, seed=s, sampling_s=2.0) for s in range(4)]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        people = []
        for sim in sims:
            token = (await client.post("/v1/auth/register")).json()["token"]
            people.append({"Authorization": f"Bearer {token}"})
        first = await start_worker()
        for headers, sim in zip(people, sims, strict=True):
            p = sim.points
            points = [{"ts": float(t), "lat": float(a), "lon": float(o)} for t, a, o in
                      zip(p.ts_s, p.lat, p.lon, strict=True)]  # fmt: skip
            for i in range(0, len(points), 10_000):
                response = await client.post(
                    "/v1/me/locations", headers=headers, json={"points": points[i : i + 10_000]}
                )
                assert response.status_code == 202
        await asyncio.sleep(0.3)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        second = await start_worker()
        try:
            for _ in range(600):
                pending = [
                    (await client.get("/v1/me/pipeline", headers=h)).json()["pending_points"] for h in people
                ]
                if not any(pending):
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail(f"points still pending 60 s after the kill: {pending}")
            for headers in people:
                trips = (await client.get("/v1/me/trips?limit=500", headers=headers)).json()["trips"]
                spans = sorted((t["start_time"], t["end_time"]) for t in trips)
                assert trips, "no trips at all"
                assert len(set(spans)) == len(spans)
                assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), "overlapping trips"
        finally:
            second.terminate()
            await second.wait()
            await app.state.db.dispose()


def test_an_administrator_recompute_is_in_each_persons_access_log(tmp_path: Path) -> None:
    import asyncio as aio

    import sqlalchemy as sa

    from app.core.db import create_engine
    from app.models import AccessLogEntry
    from app.settings import Settings

    url = f"sqlite+aiosqlite:///{tmp_path / 'admin.db'}"
    assert run_cli("migrate", database_url=url).returncode == 0

    async def register() -> None:
        from app.main import create_app

        app = create_app(Settings(database_url=url, worker_in_process=False))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            assert (await client.post("/v1/auth/register")).status_code == 201
        await app.state.db.dispose()

    aio.run(register())
    result = run_cli("emissions", "recompute", database_url=url)
    assert result.returncode == 0 and "of 1 people" in result.stdout

    async def entries() -> list[tuple[str, str]]:
        engine = create_engine(Settings(database_url=url))
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(AccessLogEntry.actor, AccessLogEntry.action))).all()
        await engine.dispose()
        return [(r[0], r[1]) for r in rows]

    assert aio.run(entries()) == [("administrator", "recompute")]


def test_an_administrator_publishes_lists_and_withdraws_a_transit_feed(tmp_path: Path) -> None:
    from tests.support.gtfs import line_feed

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    feed = tmp_path / "gtfs.zip"
    feed.write_bytes(line_feed([("a", 46.15, -1.15), ("b", 46.16, -1.14)]))
    published = run_cli("transit", "publish", "yelo", str(feed), database_url=url)
    assert published.returncode == 0, published.stderr
    assert published.stdout.strip() == "published transit feed 'yelo': 2 stops, 1 lines"
    again = run_cli("transit", "publish", "yelo", str(feed), database_url=url)
    assert again.stdout.startswith("replaced transit feed 'yelo'")
    listed = run_cli("transit", "list", database_url=url)
    assert listed.stdout.startswith("yelo\t2 stops\t1 lines\tpublished ")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    refused = run_cli("transit", "publish", "other", str(bad), database_url=url)
    assert refused.returncode == 1 and "not a zip archive" in refused.stderr
    assert run_cli("transit", "publish", "Bad Name", str(feed), database_url=url).returncode == 2
    assert run_cli("transit", "withdraw", "yelo", database_url=url).returncode == 0
    assert run_cli("transit", "withdraw", "yelo", database_url=url).returncode == 1
    assert run_cli("transit", "list", database_url=url).stdout == ""


def test_an_administrator_reprocess_marks_people_and_is_in_their_access_log(tmp_path: Path) -> None:
    import asyncio as aio

    import sqlalchemy as sa

    from app.core.db import create_engine
    from app.models import AccessLogEntry, PipelineState
    from app.settings import Settings

    url = f"sqlite+aiosqlite:///{tmp_path / 'reprocess.db'}"
    assert run_cli("migrate", database_url=url).returncode == 0

    async def person_with_points() -> None:
        from app.main import create_app

        app = create_app(Settings(database_url=url, worker_in_process=False))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            token = (await client.post("/v1/auth/register")).json()["token"]
            points = [
                {"ts": 1_700_000_000 + 30 * i, "lat": 46.16 + 1e-4 * i, "lon": -1.15} for i in range(40)
            ]
            answer = await client.post(
                "/v1/me/locations", headers={"Authorization": f"Bearer {token}"}, json={"points": points}
            )
            assert answer.status_code == 202
            await app.state.worker.run_until_idle()
        await app.state.db.dispose()

    aio.run(person_with_points())
    assert run_cli("reprocess", "--since", "yesterday", database_url=url).returncode == 2
    assert run_cli("reprocess", "--user", "alice", database_url=url).returncode == 2
    result = run_cli("reprocess", "--since", "2023-11-01", database_url=url)
    assert result.returncode == 0 and result.stdout.startswith("1 people's trips will be built again")

    async def state() -> tuple[list[tuple[str, str]], list[int | None]]:
        engine = create_engine(Settings(database_url=url))
        async with engine.connect() as conn:
            log = (await conn.execute(sa.select(AccessLogEntry.actor, AccessLogEntry.action))).all()
            dirty = (await conn.execute(sa.select(PipelineState.dirty_from_ms))).scalars().all()
        await engine.dispose()
        return [(r[0], r[1]) for r in log], list(dirty)

    log, dirty = aio.run(state())
    assert log == [("administrator", "reprocess")]
    assert dirty == [1_698_796_800_000]  # 2023-11-01T00:00Z
