"""Prometheus metrics of one running app or worker (docs/operations.md lists them).

Each app (and each `coachco2 worker` process) has a `Metrics` of its own, with its own registry, so that
several apps in one process never mix their counts. What is counted:

- every answered request, by method, route template (never the concrete path) and status, with its
  duration: `AccessLogMiddleware` tells `observe_request`;
- the pipeline's backlog (points waiting, people waiting, the age of the oldest waiting point), read from
  the database at each scrape by one aggregate over the people with work waiting;
- the worker's runs and failures, and the requests refused by an abuse limit, by limit;
- the build and the process (CPU, memory, open files).

They are served as `/metrics` on the API's port (`metrics_route`) under the rules of `served_on_api_port`,
and on a port of their own when configured (`serve_metrics`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import platform
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Histogram, Info, PlatformCollector, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.routing import Route

from app import __version__
from app.core.db import Database
from app.core.lang import Msg
from app.core.logs import HTTP_METHODS
from app.core.problems import ProblemError, problem_response
from app.pipeline import repository as pipeline_store
from app.settings import Settings

log = logging.getLogger("coachco2.metrics")

#: request durations, in seconds: from a health check to an export streaming a year of points
DURATION_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

#: pipeline runs on one person: a phone's day takes milliseconds, an imported history minutes
RUN_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

#: a scrape waits this long for the backlog query; past it, the backlog is left out of that scrape
BACKLOG_TIMEOUT_S = 5.0


class BacklogCollector(Collector):
    """The pipeline's backlog, as of the last `refresh` (the scrape calls it just before collecting)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.backlog: pipeline_store.Backlog | None = None
        self.read_at_s = 0.0

    async def refresh(self) -> None:
        try:
            async with asyncio.timeout(BACKLOG_TIMEOUT_S), self.db.engine.connect() as conn:
                # a read-only transaction: on SQLite it never waits for the write lock
                conn = await conn.execution_options(sqlite_readonly=True)
                self.backlog = await pipeline_store.backlog(conn)
                await conn.rollback()
            self.read_at_s = time.time()
        except Exception as exc:  # the scrape still answers, with the database marked down
            log.warning("could not read the pipeline backlog (%s)", type(exc).__name__)
            self.backlog = None

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "coachco2_database_up", "1 when the backlog could be read from the database at this scrape."
        )
        up.add_metric([], 0 if self.backlog is None else 1)
        yield up
        if self.backlog is None:
            return
        points = GaugeMetricFamily(
            "coachco2_pipeline_pending_points", "Accepted points not yet taken into trips, over everyone."
        )
        points.add_metric([], self.backlog.points)
        people = GaugeMetricFamily("coachco2_pipeline_pending_people", "People with points waiting.")
        people.add_metric([], self.backlog.people)
        lag = GaugeMetricFamily(
            "coachco2_pipeline_lag_seconds",
            "Age of the oldest point not yet processed (from the time the phone recorded it); 0 when none "
            "waits.",
        )
        oldest = self.backlog.oldest_ms
        lag.add_metric([], 0.0 if oldest is None else max(0.0, self.read_at_s - oldest / 1000.0))
        yield from (points, people, lag)


class Metrics:
    """The metrics of one app or worker process, in a registry of their own."""

    def __init__(self, db: Database | None = None) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "coachco2_http_requests",
            "Requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.request_duration = Histogram(
            "coachco2_http_request_duration_seconds",
            "Time to answer a request, by method, route template and status.",
            ["method", "route", "status"],
            buckets=DURATION_BUCKETS_S,
            registry=registry,
        )
        self.rate_limited = Counter(
            "coachco2_rate_limited",
            "Requests refused (429) by an abuse limit, by limit.",
            ["limit"],
            registry=registry,
        )
        self.worker_runs = Counter(
            "coachco2_worker_runs",
            "Pipeline runs on one person's points, by outcome (done, failed, lease_lost).",
            ["outcome"],
            registry=registry,
        )
        self.worker_run_duration = Histogram(
            "coachco2_worker_run_duration_seconds",
            "Time of a pipeline run on one person's points.",
            buckets=RUN_BUCKETS_S,
            registry=registry,
        )
        self.worker_points = Counter(
            "coachco2_worker_points_processed", "Points taken into trips by the worker.", registry=registry
        )
        self.worker_failures = Counter(
            "coachco2_worker_failures",
            "Failed pipeline runs: on one person's points (`person`, retried later with a back-off) or of "
            "a whole round of the worker (`round`, for instance the database out of reach).",
            ["stage"],
            registry=registry,
        )
        Info("coachco2_build", "The running version.", registry=registry).info(
            {"version": __version__, "python": platform.python_version()}
        )
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        self.backlog = BacklogCollector(db) if db is not None else None
        if self.backlog is not None:
            registry.register(self.backlog)

    def observe_request(self, method: str, route: str, status: int, duration_s: float) -> None:
        # any other method (a client may send anything) is counted as `other`: no client grows the series
        labels = (method if method in HTTP_METHODS else "other", route, str(status))
        self.requests.labels(*labels).inc()
        self.request_duration.labels(*labels).observe(duration_s)

    async def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """Every metric, the backlog read afresh, in the format the scraper's `Accept` asks for (the
        Prometheus text format unless it asks for OpenMetrics), and its media type."""
        if self.backlog is not None:
            await self.backlog.refresh()
        encode, media_type = choose_encoder(accept or "")
        return encode(self.registry), media_type


def metrics_of(app: Any) -> Metrics | None:
    """The metrics of an app (None for an app built without them)."""
    return getattr(app.state, "metrics", None)


# --- Who may read them --------------------------------------------------------------------------------


def token_matches(authorization: str | None, settings: Settings) -> bool:
    """Whether `Authorization: Bearer <token>` names the metrics token (compared in constant time)."""
    if settings.metrics_token is None or not authorization:
        return False
    scheme, _, presented = authorization.partition(" ")
    expected = settings.metrics_token.get_secret_value()
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), expected.encode())


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def served_on_api_port(settings: Settings, client_host: str | None) -> bool:
    """Whether `/metrics` on the API's port exists for this client: always when a token protects it; in
    development without a token, for loopback clients when no port of their own serves them."""
    if settings.metrics_token is not None:
        return True
    return settings.environment == "development" and settings.metrics_port is None and _loopback(client_host)


#: what a scrape without the metrics token is told, on the API's port and on a port of their own
TOKEN_REQUIRED = Msg(
    "The metrics answer to `Authorization: Bearer <token>` with the metrics token (COACHCO2_METRICS_TOKEN).",
    "Les métriques répondent à `Authorization: Bearer <jeton>` avec le jeton des métriques "
    "(COACHCO2_METRICS_TOKEN).",
)
METRICS_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="metrics"'}


def _unauthorized() -> ProblemError:
    return ProblemError(401, "unauthorized", TOKEN_REQUIRED, headers=METRICS_CHALLENGE)


metrics_route = APIRouter(include_in_schema=False)


@metrics_route.get("/metrics")
async def scrape(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not served_on_api_port(settings, request.client.host if request.client else None):
        raise HTTPException(404)  # as for any path that does not exist
    if settings.metrics_token is not None and not token_matches(
        request.headers.get("authorization"), settings
    ):
        raise _unauthorized()
    metrics: Metrics = request.app.state.metrics
    body, media_type = await metrics.exposition(request.headers.get("accept"))
    return Response(body, headers={"Content-Type": media_type})


# --- A port of their own ------------------------------------------------------------------------------


def metrics_app(metrics: Metrics, settings: Settings) -> Starlette:
    """The small app of the metrics port: `/metrics`, behind the token when one is set."""

    async def serve(request: StarletteRequest) -> Response:
        if settings.metrics_token is not None and not token_matches(
            request.headers.get("authorization"), settings
        ):
            return problem_response(
                401, "unauthorized", TOKEN_REQUIRED, scope=request.scope, headers=METRICS_CHALLENGE
            )
        body, media_type = await metrics.exposition(request.headers.get("accept"))
        return Response(body, headers={"Content-Type": media_type})

    return Starlette(routes=[Route("/metrics", serve, methods=["GET"])])


class _InLoopServer(uvicorn.Server):
    """A uvicorn server run as a task of an event loop that already has its signal handling (the API's
    server, or the worker's): it leaves signals alone and stops when told."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class MetricsServer:
    server: uvicorn.Server
    task: asyncio.Task[None]
    port: int

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def _listen(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(64)
    sock.setblocking(False)
    return sock


async def serve_metrics(metrics: Metrics, settings: Settings, port: int) -> MetricsServer:
    """Serve `metrics` on `settings.metrics_host`:`port` (0: any free port) from this event loop.

    The socket is bound here, so that a port already taken fails the start with its error."""
    sock = _listen(settings.metrics_host, port)
    config = uvicorn.Config(
        metrics_app(metrics, settings),
        lifespan="off",
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=2,
    )
    server = _InLoopServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    bound = int(sock.getsockname()[1])
    log.info("metrics served on %s port %d", settings.metrics_host, bound)
    return MetricsServer(server, task, bound)


def install_metrics(app: FastAPI, metrics: Metrics) -> None:
    """`/metrics` on the API's port (its access rules in `scrape`)."""
    app.state.metrics = metrics
    app.include_router(metrics_route)
