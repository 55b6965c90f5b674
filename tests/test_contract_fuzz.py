"""Fuzzing the contract: schemathesis generates requests from the served OpenAPI document and sends them
to a real server with a person's token and an operator's token. No answer may be a 5xx, and every answer
must match the schema the document gives for it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.support.servers import COACHCO2, running_server

# Endpoints left out, with why: the dashboard and docs are pages, not API; /problems answer documents.
EXCLUDED = ("/dashboard", "/docs", "/redoc")
# Calls that would end the fuzzing account's session early (they have their own tests).
ENDING = {("DELETE", "/v1/me"), ("DELETE", "/v1/auth/tokens/current")}
# the OpenPATH routes take the person's credential in the body's `user` field
OPENPATH_PREFIXES = ("/usercache", "/pipeline", "/timeline", "/profile", "/datastreams", "/result")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite+aiosqlite:///{folder / 'fuzz.db'}"
    env = {**os.environ, "DATABASE_URL": url, "COACHCO2_IMPORT_DIR": str(folder / "imports"),
           "COACHCO2_RATE_LIMIT_REGISTER_PER_HOUR": "100000", "COACHCO2_RATE_LIMIT_INGEST_PER_MINUTE": "100000",
           "COACHCO2_RATE_LIMIT_EXPORT_PER_HOUR": "100000", "COACHCO2_RATE_LIMIT_IMPORT_PER_HOUR": "100000",
           "COACHCO2_LOG_FORMAT": "text"}  # fmt: skip
    operator = subprocess.run(
        [COACHCO2, "operator", "create", "fuzzer"], env=env, capture_output=True, text=True
    )
    assert operator.returncode == 0, operator.stderr
    with running_server(env) as server:
        person = httpx.post(f"{server.base}/v1/auth/register", json={}).json()["token"]
        yield {"base": server.base, "person": person, "operator": operator.stdout.strip()}


def test_no_server_error_and_every_answer_matches_its_schema(served: dict[str, Any]) -> None:
    api = schemathesis.openapi.from_url(f"{served['base']}/openapi.json")
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    failures: list[str] = []
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        if operation.path.startswith(EXCLUDED) or (operation.method.upper(), operation.path) in ENDING:
            continue
        operations += 1
        token = served["operator"] if operation.path.startswith("/v1/operator") else served["person"]
        headers = {"Authorization": f"Bearer {token}"}

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def exercise(case: Any) -> None:
            if operation.path.startswith(OPENPATH_PREFIXES) and isinstance(case.body, dict):
                case.body.setdefault("user", served["person"])
            case.call_and_validate(base_url=served["base"], headers=headers, checks=checks)

        try:
            exercise()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # collect every operation's failure (an exception group), then report
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    assert operations >= 40
    assert failures == [], "\n\n".join(failures)
