"""A server killed during an import: once it is back, the import says it failed at once, nothing of it
is in the person's history or in staging, and its uploaded file is gone."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.migrate import upgrade
from tests.support.servers import running_server
from tests.support.traces import straight_gpx


@pytest.mark.parametrize("phase", ["checking", "storing"])
def test_an_import_cut_by_a_kill_fails_at_once_and_leaves_nothing(
    empty_database_url: str, tmp_path: Path, phase: str
) -> None:
    upgrade(empty_database_url)
    folder = tmp_path / "imports"
    env = {**os.environ, "DATABASE_URL": empty_database_url, "COACHCO2_IMPORT_DIR": str(folder),
           "COACHCO2_LOG_FORMAT": "text"}  # fmt: skip
    body = straight_gpx(150_000)
    with running_server(env) as server:
        person = httpx.post(f"{server.base}/v1/auth/register", json={}).json()
        headers = {"Authorization": f"Bearer {person['token']}"}
        created = httpx.post(
            f"{server.base}/v1/me/imports", headers=headers, files={"file": ("big.gpx", body)}, timeout=60
        )
        assert created.status_code == 202
        path = f"/v1/me/imports/{created.json()['id']}"
        url = server.base + path
        deadline = time.monotonic() + 60
        while (state := httpx.get(url, headers=headers).json())["status"] != phase:
            assert state["status"] in ("received", "checking", "storing"), state
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
    assert any(folder.iterdir()), "the killed server left its upload behind (what is tested here)"

    with running_server(env) as server:
        state = httpx.get(server.base + path, headers=headers).json()
        assert state["status"] == "failed"
        assert "nothing was stored" in state["error"]
        me = httpx.get(f"{server.base}/v1/me", headers=headers).json()
        assert me["counts"]["points"] == 0
        assert list(folder.iterdir()) == []

    assert asyncio.run(staged_rows(empty_database_url)) == 0


async def staged_rows(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(sa.text("SELECT count(*) FROM import_staged_points")) or 0)
    finally:
        await engine.dispose()
