"""Health, documentation, the OpenAPI document and the problem-type pages."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from app.core.migrate import head_revision
from app.main import create_app
from app.settings import Settings


async def test_health_reports_the_database(client: httpx.AsyncClient) -> None:
    for path in ("/health", "/health/ready"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok", "schema": head_revision()}
    assert (await client.get("/health/live")).json() == {"status": "ok"}


async def test_a_database_not_at_the_expected_schema_is_not_ready(tmp_path: Path) -> None:
    """A database recreated empty (or left behind by an older version) answers, but cannot serve."""
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for path in ("/health", "/health/ready"):
            response = await client.get(path)
            assert response.status_code == 503
            assert response.headers["retry-after"]
            assert response.json() == {"status": "unavailable", "database": "not migrated", "schema": None}
        assert (await client.get("/health/live")).status_code == 200
        register = await client.post("/v1/auth/register", json={})
        assert register.status_code == 503
        assert register.headers["content-type"] == "application/problem+json"
    await app.state.db.dispose()


async def test_health_is_503_when_the_database_is_unreachable() -> None:
    app = create_app(Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/health")
    await app.state.db.dispose()
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


async def test_a_request_needing_an_unreachable_database_is_503_with_retry_after() -> None:
    app = create_app(Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/v1/auth/register", json={})
    await app.state.db.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"]


async def test_docs_and_openapi_are_served(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = (await client.get("/openapi.json")).json()
    for path in (
        "/v1/auth/register",
        "/v1/auth/tokens",
        "/v1/auth/tokens/current",
        "/v1/me/locations",
        "/v1/me/pipeline",
        "/health",
    ):
        assert path in spec["paths"], path


async def test_every_schema_in_the_openapi_document_has_an_example(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    assert schemas
    missing = [
        name
        for name, schema in schemas.items()
        if not (schema.get("examples") or schema.get("example") or schema.get("enum"))
    ]
    assert missing == []


async def test_validation_errors_are_documented_as_problem_details(app: FastAPI) -> None:
    spec = app.openapi()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    answer = spec["paths"]["/v1/me/locations"]["post"]["responses"]["422"]
    assert answer["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


async def test_problem_types_resolve(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/me/pipeline")
    problem_type = response.json()["type"]
    described = await client.get(problem_type)
    assert described.status_code == 200
    assert described.json()["type"] == problem_type
    unknown = await client.get("/problems/no-such-problem")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"


async def test_unknown_path_is_a_problem_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404
