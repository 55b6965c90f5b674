"""Observability: Prometheus metrics (by route template, the pipeline's backlog, the worker, the abuse
limits; who may read them), request ids on every answer and log line, and OpenTelemetry traces."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

import app.pipeline.worker as worker_module
from app.core.logs import JsonFormatter, RequestIdFilter, TextFormatter, current_request_id
from app.core.metrics import Metrics, serve_metrics
from app.core.tracing import new_provider, provider_from_settings
from app.main import create_app
from app.pipeline.repository import backlog_query
from app.settings import Settings
from tests.conftest import Person, register
from tests.support.servers import COACHCO2

TOKEN = "metrics-token-for-tests-0123456789"
PRODUCTION = {"environment": "production", "controller_email": "dpo@agglo.example.fr",
              "privacy_policy_url": "https://agglo.example.fr/privacy"}  # fmt: skip


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels, read with prometheus_client's own parser."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def points_from(start_s: float, n: int) -> list[dict[str, float]]:
    """A walk along a street, one fix every 10 s from `start_s`."""
    return [{"ts": start_s + 10 * i, "lat": 46.1591 + i * 1e-4, "lon": -1.152} for i in range(n)]


@asynccontextmanager
async def app_client(app: FastAPI, client_host: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(client_host, 50_000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await app.state.db.dispose()


# --- Metrics ------------------------------------------------------------------------------------------


async def test_requests_are_counted_by_route_template_method_and_status(
    client: httpx.AsyncClient, alice: Person
) -> None:
    before = await scrape(client)
    trip_id = uuid.uuid4()
    for _ in range(2):
        response = await client.get(f"/v1/me/trips/{trip_id}?from=2026-01-01", headers=alice.headers)
        assert response.status_code == 404
    assert (await client.get("/v1/me/trips", headers=alice.headers)).status_code == 200
    assert (await client.request("BREW", "/v1/me/trips")).status_code == 405
    response = await client.get("/metrics")
    after = parse(response.text)

    labels = {"method": "GET", "route": "/v1/me/trips/{trip_id}", "status": "404"}
    assert value(after, "coachco2_http_requests_total", **labels) == (
        value(before, "coachco2_http_requests_total", **labels) + 2
    )
    assert value(after, "coachco2_http_request_duration_seconds_count", **labels) == (
        value(before, "coachco2_http_request_duration_seconds_count", **labels) + 2
    )
    listed = {"method": "GET", "route": "/v1/me/trips", "status": "200"}
    assert value(after, "coachco2_http_requests_total", **listed) >= 1
    # the registration of the fixture, counted as its template with its status
    assert value(
        after, "coachco2_http_requests_total", method="POST", route="/v1/auth/register", status="201"
    )
    # an unknown method is counted, as `other`, so that no client can grow the series
    assert value(after, "coachco2_http_requests_total", method="other", route="/v1/me/trips", status="405")
    # no concrete path, id or query string in any label
    assert str(trip_id) not in response.text and "2026-01-01" not in response.text
    routes = {dict(labels)["route"] for name, labels in after if name == "coachco2_http_requests_total"}
    assert all(route.startswith("/") or route == "(unmatched)" for route in routes)
    assert value(after, "coachco2_build_info", version="0.1.0", python=_python()) == 1


def _python() -> str:
    import platform

    return platform.python_version()


async def test_the_backlog_shows_points_just_uploaded_and_the_worker_drains_it(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, bob: Person
) -> None:
    before = await scrape(client)
    assert value(before, "coachco2_database_up") == 1
    now = time.time()
    # alice's phone was offline for two hours; bob sends what he recorded 10 minutes ago
    for person, start_s, n in ((alice, now - 7200, 40), (bob, now - 600, 25)):
        response = await client.post(
            "/v1/me/locations", headers=person.headers, json={"points": points_from(start_s, n)}
        )
        assert response.status_code == 202
    waiting = await scrape(client)
    assert (
        value(waiting, "coachco2_pipeline_pending_points")
        == value(before, "coachco2_pipeline_pending_points") + 65
    )
    assert (
        value(waiting, "coachco2_pipeline_pending_people")
        == value(before, "coachco2_pipeline_pending_people") + 2
    )
    lag = value(waiting, "coachco2_pipeline_lag_seconds")
    assert 7200 <= lag < 7200 + 60, lag  # the oldest waiting point: alice's first

    runs = value(waiting, "coachco2_worker_runs_total", outcome="done")
    processed = value(waiting, "coachco2_worker_points_processed_total")
    assert await app.state.worker.run_until_idle() == 2
    drained = await scrape(client)
    assert value(drained, "coachco2_pipeline_pending_points") == 0
    assert value(drained, "coachco2_pipeline_pending_people") == 0
    assert value(drained, "coachco2_pipeline_lag_seconds") == 0
    assert value(drained, "coachco2_worker_runs_total", outcome="done") == runs + 2
    assert value(drained, "coachco2_worker_points_processed_total") == processed + 65
    assert value(drained, "coachco2_worker_run_duration_seconds_count") >= runs + 2


async def test_a_failed_run_is_counted(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = await client.post(
        "/v1/me/locations", headers=alice.headers, json={"points": points_from(1.7e9, 30)}
    )
    assert response.status_code == 202
    before = await scrape(client)

    def broken(*_: Any) -> Any:
        raise RuntimeError("a bug met by this history")

    monkeypatch.setattr(worker_module, "run_pipeline", broken)
    assert await app.state.worker.run_until_idle() == 1
    after = await scrape(client)
    assert value(after, "coachco2_worker_failures_total", stage="person") == (
        value(before, "coachco2_worker_failures_total", stage="person") + 1
    )
    assert value(after, "coachco2_worker_runs_total", outcome="failed") == (
        value(before, "coachco2_worker_runs_total", outcome="failed") + 1
    )
    # still waiting, and for the failed points' age
    assert value(after, "coachco2_pipeline_pending_points") == 30
    assert value(after, "coachco2_pipeline_lag_seconds") > time.time() - 1.7e9 - 60


async def test_a_rate_limit_refusal_is_counted_by_limit(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, rate_limit_register_per_hour=2))
    async with app_client(app) as client:
        statuses = [(await client.post("/v1/auth/register", json={})).status_code for _ in range(3)]
        assert statuses == [201, 201, 429]
        samples = await scrape(client)
    assert value(samples, "coachco2_rate_limited_total", limit="registration") == 1
    assert value(samples, "coachco2_rate_limited_total", limit="ingest") == 0
    assert (
        value(samples, "coachco2_http_requests_total", method="POST", route="/v1/auth/register", status="429")
        == 1
    )


async def test_the_backlog_is_read_through_the_index_of_people_waiting(app: FastAPI) -> None:
    """The scrape's query (and the workers' claims) can be served by the partial index of the people with
    work waiting, on both stores, instead of reading everyone's row."""
    db = app.state.db
    query = backlog_query().compile(db.engine, compile_kwargs={"literal_binds": True})
    async with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            await conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(row[0] for row in await conn.execute(sa.text(f"EXPLAIN {query}")))
        else:
            rows = await conn.execute(sa.text(f"EXPLAIN QUERY PLAN {query}"))
            plan = "\n".join(str(row[-1]) for row in rows)
        await conn.rollback()
    assert "ix_pipeline_states_work" in plan, plan


# --- Who may read the metrics -------------------------------------------------------------------------


async def test_development_serves_the_metrics_to_loopback_clients_only(database_url: str) -> None:
    async with app_client(create_app(Settings(database_url=database_url))) as local:
        assert (await local.get("/metrics")).status_code == 200
    app = create_app(Settings(database_url=database_url))
    async with app_client(app, client_host="203.0.113.9") as remote:
        response = await remote.get("/metrics")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


async def test_production_hides_the_metrics_unless_a_token_is_set(database_url: str) -> None:
    async with app_client(create_app(Settings(database_url=database_url, **PRODUCTION))) as client:
        response = await client.get("/metrics")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 404

    settings = Settings(database_url=database_url, metrics_token=TOKEN, **PRODUCTION)
    async with app_client(create_app(settings), client_host="203.0.113.9") as client:
        for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": f"Basic {TOKEN}"}):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "coachco2_" not in refused.text
        french = await client.get("/metrics", headers={"Accept-Language": "fr"})
        assert french.json()["detail"].startswith("Les métriques répondent")
        samples = await scrape(client, Authorization=f"Bearer {TOKEN}")
        assert value(samples, "coachco2_database_up") == 1


def test_settings_refuse_a_short_token_and_an_open_port_in_production() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="metrics_token"):
        Settings(metrics_token="short")
    with pytest.raises(ValidationError, match="COACHCO2_METRICS_HOST"):
        Settings(metrics_port=9464, metrics_host="0.0.0.0", **PRODUCTION)
    Settings(metrics_port=9464, metrics_host="0.0.0.0", metrics_token=TOKEN, **PRODUCTION)
    Settings(metrics_port=9464, **PRODUCTION)  # loopback: the machine's own scraper


def _free_ports(n: int) -> int:
    """The first of `n` consecutive free ports on the loopback interface."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        if first + n > 65535:
            continue
        try:
            with _holding(first, n):
                return first
        except OSError:
            continue
    raise AssertionError("no free ports")


@contextmanager
def _holding(first: int, n: int) -> Iterator[None]:
    held = []
    try:
        for port in range(first, first + n):
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", port))
        yield
    finally:
        for s in held:
            s.close()


async def test_a_port_of_their_own_serves_the_metrics_and_the_api_port_does_not(database_url: str) -> None:
    port = _free_ports(1)
    app = create_app(Settings(database_url=database_url, metrics_port=port, worker_in_process=False))
    async with app.router.lifespan_context(app), app_client(app) as api:
        assert (await api.get("/metrics")).status_code == 404  # served apart, not on the API's port
        await api.post("/v1/auth/register", json={})
        async with httpx.AsyncClient() as scraper:
            response = await scraper.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    samples = parse(response.text)
    assert (
        value(samples, "coachco2_http_requests_total", method="POST", route="/v1/auth/register", status="201")
        == 1
    )
    assert value(samples, "coachco2_database_up") == 1


async def test_the_metrics_port_asks_for_the_token_when_one_is_set(database_url: str) -> None:
    settings = Settings(database_url=database_url, metrics_token=TOKEN)
    metrics = Metrics()
    server = await serve_metrics(metrics, settings, 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as scraper:
            refused = await scraper.get("/metrics", headers={"Accept-Language": "fr"})
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
            assert refused.json()["type"] == "/problems/unauthorized"
            assert refused.json()["detail"].startswith("Les métriques répondent")
            assert (
                await scraper.get("/metrics", headers={"Authorization": "Bearer wrong"})
            ).status_code == 401
            granted = await scraper.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            openmetrics = await scraper.get(
                "/metrics",
                headers={
                    "Authorization": f"Bearer {TOKEN}",
                    "Accept": "application/openmetrics-text; version=1.0.0",
                },
            )
    finally:
        await server.stop()
    assert granted.status_code == 200 and "coachco2_build_info" in granted.text
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")


async def test_a_separate_worker_process_is_scraped_on_its_own_port(tmp_path: Any) -> None:
    """`coachco2 worker --processes 2` serves each process's metrics on the worker port and the next."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}"
    port = _free_ports(2)
    env = {**os.environ, "DATABASE_URL": url, "COACHCO2_WORKER_METRICS_PORT": str(port),
           "COACHCO2_WORKER_POLL_S": "0.2"}  # fmt: skip
    worker = await asyncio.create_subprocess_exec(
        COACHCO2, "worker", "--processes", "2", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    app = create_app(Settings(database_url=url, worker_in_process=False))
    try:
        async with httpx.AsyncClient() as scraper:

            async def both() -> list[Samples]:
                found = []
                for p in (port, port + 1):
                    for _ in range(300):
                        try:
                            response = await scraper.get(f"http://127.0.0.1:{p}/metrics")
                            break
                        except httpx.TransportError:
                            await asyncio.sleep(0.1)
                    else:
                        pytest.fail(f"no worker metrics on port {p} within 30 s")
                    found.append(parse(response.text))
                return found

            await both()  # both processes are up (and have migrated the database)
            async with app_client(app) as api:
                token = (await api.post("/v1/auth/register", json={})).json()["token"]
                headers = {"Authorization": f"Bearer {token}"}
                response = await api.post(
                    "/v1/me/locations", headers=headers, json={"points": points_from(1.7e9, 50)}
                )
                assert response.status_code == 202
                for _ in range(300):
                    scrapes = await both()
                    if sum(value(s, "coachco2_worker_points_processed_total") for s in scrapes) == 50:
                        break
                    await asyncio.sleep(0.1)
                else:
                    pytest.fail("the worker processes did not report the 50 points within 30 s")
                # Scraped again now that both say the run is done: a process scraped just before the
                # other committed its run read the backlog before that commit.
                scrapes = await both()
    finally:
        worker.terminate()
        output = (await asyncio.wait_for(worker.communicate(), 20))[0].decode(errors="replace")
    assert all(value(s, "coachco2_pipeline_pending_points") == 0 for s in scrapes)
    assert sum(value(s, "coachco2_worker_runs_total", outcome="done") for s in scrapes) == 1
    assert "Traceback" not in output, output


# --- Request ids --------------------------------------------------------------------------------------


GENERATED = re.compile(r"[0-9a-f]{16}")


async def test_a_safe_request_id_is_echoed_and_any_other_replaced(client: httpx.AsyncClient) -> None:
    kept = await client.get("/health", headers={"X-Request-ID": "phone-7.batch_42"})
    assert kept.headers["x-request-id"] == "phone-7.batch_42"
    made = await client.get("/health")
    assert GENERATED.fullmatch(made.headers["x-request-id"])
    assert (await client.get("/health")).headers["x-request-id"] != made.headers["x-request-id"]
    for unsafe in ("a" * 65, "id with spaces", "id;drop", "é", ""):
        answer = await client.get("/health", headers={"X-Request-ID": unsafe.encode("utf-8")})
        assert GENERATED.fullmatch(answer.headers["x-request-id"]), unsafe
    assert current_request_id() is None  # nothing leaks out of a request


async def test_every_answer_carries_the_request_id_errors_included(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, max_body_bytes=1024))
    async with app_client(app) as client:
        person = await register(client)
        body = b'{"points": []' + b" " * 2048 + b"}"
        answers = [
            await client.get("/no/such/path"),
            await client.get(f"/v1/me/trips/{uuid.uuid4()}", headers=person.headers),
            await client.get(f"/v1/me/trips/{uuid.uuid4()}"),
            await client.post("/v1/me/locations", headers={**person.headers, "Content-Type": "application/json"},
                              content=body),
            await client.post("/v1/me/locations", headers=person.headers, json={"points": "none"}),
            await client.delete("/health"),
        ]  # fmt: skip
        sent = [await client.get("/no/such/path", headers={"X-Request-ID": f"r-{i}"}) for i in range(2)]
    assert [a.status_code for a in answers] == [404, 404, 401, 413, 422, 405]
    for answer in answers:
        assert GENERATED.fullmatch(answer.headers["x-request-id"]), answer.status_code
    assert [a.headers["x-request-id"] for a in sent] == ["r-0", "r-1"]


async def test_an_unexpected_failure_answers_500_with_the_request_id_in_its_log(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url))

    async def failing() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/test-only/failing", failing)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    with captured("", JsonFormatter()) as stream:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            answer = await client.get("/test-only/failing", headers={"X-Request-ID": "r-500"})
        await app.state.db.dispose()
    assert answer.status_code == 500
    assert answer.headers["x-request-id"] == "r-500"
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    logged = [r for r in records if r["logger"] == "coachco2.access"]
    assert [(r["status"], r["request_id"]) for r in logged] == [(500, "r-500")]


async def test_browsers_of_allowed_origins_may_send_and_read_the_request_id(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, cors_origins="https://app.example.org"))
    async with app_client(app) as client:
        origin = {"Origin": "https://app.example.org"}
        answer = await client.get("/health", headers={**origin, "X-Request-ID": "from-a-browser"})
        preflight = await client.options(
            "/v1/me/trips",
            headers={
                **origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-request-id",
            },
        )
    assert answer.headers["x-request-id"] == "from-a-browser"
    assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
    assert (
        preflight.status_code == 200
        and "x-request-id" in preflight.headers["access-control-allow-headers"].lower()
    )


@contextmanager
def captured(logger: str, formatter: logging.Formatter) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(formatter)
    log = logging.getLogger(logger)
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


async def test_log_lines_written_during_a_request_carry_its_id(client: httpx.AsyncClient) -> None:
    with captured("coachco2.access", JsonFormatter()) as stream:
        await client.get("/health", headers={"X-Request-ID": "trace-me-1"})
        await client.get("/health/live")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == "trace-me-1" and first["route"] == "/health"
    assert GENERATED.fullmatch(second["request_id"])
    with captured("coachco2.access", TextFormatter()) as stream:
        await client.get("/health", headers={"X-Request-ID": "trace-me-2"})
    assert stream.getvalue().startswith("INFO coachco2.access: GET /health 200 [trace-me-2]")
    with captured("coachco2.elsewhere", JsonFormatter()) as stream:
        logging.getLogger("coachco2.elsewhere").info("outside any request")
    assert "request_id" not in json.loads(stream.getvalue())


# --- Traces -------------------------------------------------------------------------------------------


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def traced_app(database_url: str, exporter: InMemorySpanExporter) -> FastAPI:
    provider = new_provider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return create_app(Settings(database_url=database_url), tracer_provider=provider)


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_a_span_per_request_named_by_its_route_with_no_personal_data(
    database_url: str, exporter: InMemorySpanExporter
) -> None:
    app = traced_app(database_url, exporter)
    async with app_client(app) as client:
        person = await register(client)
        trip_id = uuid.uuid4()
        missing = await client.get(
            f"/v1/me/trips/{trip_id}?from=2026-03-01", headers={**person.headers, "X-Request-ID": "span-1"}
        )
        assert missing.status_code == 404
        await client.post("/v1/me/locations", headers=person.headers, json={"points": points_from(1.7e9, 30)})
        await client.get("/nothing/here")
        assert await app.state.worker.run_until_idle() == 1
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert {"POST /v1/auth/register", "GET /v1/me/trips/{trip_id}", "POST /v1/me/locations", "GET",
            "pipeline run"} <= set(spans)  # fmt: skip
    trip = spans["GET /v1/me/trips/{trip_id}"]
    assert _attributes(trip) == {
        "http.request.method": "GET",
        "http.route": "/v1/me/trips/{trip_id}",
        "http.response.status_code": 404,
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "coachco2.request_id": "span-1",
    }
    assert trip.kind.name == "SERVER" and trip.status.is_ok  # a 4xx is the client's, not an error
    assert trip.parent is None  # no traceparent: a trace of its own
    assert "http.route" not in _attributes(spans["GET"])  # an unknown path names no route
    run = spans["pipeline run"]
    assert _attributes(run) == {"coachco2.pending_points": 30, "coachco2.outcome": "done"}
    everything = repr([(s.name, _attributes(s)) for s in exporter.get_finished_spans()])
    for secret in (str(person.user_id), person.token, str(trip_id), "2026-03-01", "46.1591", "-1.152"):
        assert secret not in everything
    assert {s.resource.attributes["service.name"] for s in exporter.get_finished_spans()} == {"coachco2"}


async def test_a_traceparent_is_continued(database_url: str, exporter: InMemorySpanExporter) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    app = traced_app(database_url, exporter)
    with captured("coachco2.access", JsonFormatter()) as stream:
        async with app_client(app) as client:
            answer = await client.get("/health", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    assert answer.status_code == 200
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /health"
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None and format(span.parent.span_id, "016x") == parent_id
    assert span.parent.is_remote
    assert _attributes(span)["coachco2.request_id"] == answer.headers["x-request-id"]
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["trace_id"] == trace_id  # the log line names the trace it belongs to


def test_tracing_is_on_only_with_an_endpoint() -> None:
    assert provider_from_settings(Settings()) is None
    settings = Settings(otel_exporter_otlp_endpoint="http://collector:4318/")
    assert settings.traces_url == "http://collector:4318/v1/traces"
    assert Settings(tracing_endpoint="http://c:4318/traces").traces_url == "http://c:4318/traces"
    assert Settings(otel_exporter_otlp_endpoint="http://c:4318", otel_sdk_disabled=True).traces_url is None
    provider = provider_from_settings(settings)
    assert provider is not None
    provider.shutdown()  # nothing was traced: nothing is sent
