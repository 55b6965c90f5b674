"""Servers started by the tests print nothing while the tests pass; a failing test shows what they logged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TESTS = """
import os

import httpx

from tests.support.servers import running_server

ENV = {**os.environ, "DATABASE_URL": os.environ["QUIET_TEST_DATABASE_URL"]}


def test_passes():
    with running_server(ENV, log_level="info") as server:
        assert httpx.get(server.base + "/health/live").status_code == 200


def test_fails_after_its_server_stopped():
    with running_server(ENV, log_level="info") as server:
        assert httpx.get(server.base + "/v1/modes").status_code == 200
    assert server.output
    assert False, "failed on purpose"
"""


def test_only_a_failing_tests_report_shows_its_servers_output(tmp_path: Path) -> None:
    (tmp_path / "test_servers_quiet.py").write_text(TESTS)
    env = {**os.environ, "QUIET_TEST_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'quiet.db'}"}
    # the suite's own conftest, as a plugin, runs these tests as it runs the suite's
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "-p", "tests.conftest",
         "-p", "no:cacheprovider", "-q", str(tmp_path / "test_servers_quiet.py")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    sections = [
        line for line in done.stdout.splitlines() if "Captured stdout and stderr of the server" in line
    ]
    assert len(sections) == 1
    assert "GET /v1/modes 200" in done.stdout  # the failing test's server, stopped before the failure
    assert "/health/live" not in done.stdout  # the passing test's server printed nothing
    assert done.stderr == ""
