"""`coachco2 demo` run again on the same store still ends with a working operator token, and says why it
is a new one; `coachco2 operator token` gives an existing operator another token."""

from __future__ import annotations

import asyncio
import os
import subprocess

import httpx

from app.core.migrate import upgrade
from app.main import create_app
from app.settings import Settings
from tests.support.servers import COACHCO2


def run_cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([COACHCO2, *args], env=env, capture_output=True, text=True, timeout=120)


async def signed_in_as(database_url: str, token: str) -> str | None:
    """The operator a token signs in as (GET /v1/operator/me), or None when it is refused."""
    app = create_app(Settings(database_url=database_url, worker_in_process=False))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            answer = await client.get("/v1/operator/me", headers={"Authorization": f"Bearer {token}"})
    finally:
        await app.state.db.dispose()
    return str(answer.json()["name"]) if answer.status_code == 200 else None


async def test_a_second_demo_prints_a_new_working_token_and_says_why(empty_database_url: str) -> None:
    demo = ("demo", "--users", "2", "--days", "1", "--seed", "3")
    first = await asyncio.to_thread(run_cli, *demo, database_url=empty_database_url)
    assert first.returncode == 0, first.stderr
    assert "operator 'demo-operator' created" in first.stderr
    second = await asyncio.to_thread(run_cli, *demo, database_url=empty_database_url)
    assert second.returncode == 0, second.stderr
    assert "was there from an earlier run: a new token" in second.stderr
    assert "coachco2 operator revoke demo-operator" in second.stderr
    # the last line of the output is the token alone (the dashboard's test reads it so)
    tokens = [done.stdout.strip().splitlines()[-1] for done in (first, second)]
    assert all(token.startswith("cc2o_") for token in tokens) and tokens[0] != tokens[1]
    for token in tokens:  # the first run's token still works too
        assert await signed_in_as(empty_database_url, token) == "demo-operator"


async def test_operator_token_gives_an_existing_operator_another_token(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade, empty_database_url)
    missing = await asyncio.to_thread(run_cli, "operator", "token", "nobody", database_url=empty_database_url)
    assert missing.returncode == 1 and "no operator named 'nobody'" in missing.stderr
    created = await asyncio.to_thread(run_cli, "operator", "create", "yelo", database_url=empty_database_url)
    assert created.returncode == 0, created.stderr
    again = await asyncio.to_thread(run_cli, "operator", "token", "yelo", database_url=empty_database_url)
    assert again.returncode == 0, again.stderr
    assert "shown this once" in again.stderr
    first, second = created.stdout.strip(), again.stdout.strip()
    assert second.startswith("cc2o_") and second != first
    assert await signed_in_as(empty_database_url, first) == "yelo"
    assert await signed_in_as(empty_database_url, second) == "yelo"
    revoked = await asyncio.to_thread(run_cli, "operator", "revoke", "yelo", database_url=empty_database_url)
    assert "revoked 2 token(s)" in revoked.stdout
    assert await signed_in_as(empty_database_url, second) is None
