"""The application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from opentelemetry.sdk.trace import TracerProvider

from app import __version__, dashboard
from app.accounts import endpoints as auth
from app.accounts import operator_endpoints as operator
from app.core import apidocs, offload, problems
from app.core import endpoints as service
from app.core.db import Database
from app.core.gctuning import tune_for_serving
from app.core.logs import (
    AccessLogMiddleware,
    RequestIdMiddleware,
    RouteTemplates,
    SecurityHeadersMiddleware,
    wrap_whole_app,
)
from app.core.metrics import Metrics, install_metrics, serve_metrics
from app.core.middleware import BodyGuardMiddleware
from app.core.openapi import build_openapi, operation_id
from app.core.ratelimit import make_limiter
from app.core.tracing import TracingMiddleware, provider_from_settings, tracer_of
from app.footprint import endpoints as me
from app.footprint import modes_endpoints as modes
from app.footprint import operator_endpoints as territory_factors
from app.imports import endpoints as imports
from app.imports.service import STALE_AFTER_S, recover_imports
from app.ingest import endpoints as ingest
from app.openpath import diary_endpoints as openpath_diary
from app.openpath import endpoints as emission
from app.pipeline.worker import PipelineWorker
from app.selfdata import endpoints as selfdata
from app.settings import Settings, get_settings
from app.statistics import endpoints as statistics
from app.statistics import publication_endpoints as publications
from app.transit import endpoints as transit
from app.trips import endpoints as trips

DESCRIPTION = """
Coach CO2 turns the GPS traces of a phone into trips, transport modes and a carbon footprint, and gives
each person control of their own data.

- Register pseudonymously with `POST /v1/auth/register`, then send `Authorization: Bearer <token>`.
- The phone posts points to `POST /v1/me/locations`; processing happens off the request path.
- Errors are RFC 9457 problem details (`application/problem+json`); validation errors name each field.
"""


#: how often the SQLite journal is copied into the database (see Database.checkpoint)
CHECKPOINT_S = 2.0


#: how long a shutdown waits for the background loops to finish the step under way before cancelling them
STOP_GRACE_S = 10.0


async def _pause(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`, or less if the server is stopping; True when it is."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    return stopping.is_set()


async def _checkpoint_forever(db: Database, stopping: asyncio.Event) -> None:
    if db.dialect != "sqlite":
        return
    while not await _pause(stopping, CHECKPOINT_S):
        try:
            await db.checkpoint()
        except Exception:
            logging.getLogger("coachco2.db").warning("could not checkpoint the journal", exc_info=True)


async def _recover_imports_forever(db: Database, import_dir: str, stopping: asyncio.Event) -> None:
    """Settle, now and then, the imports another process left under way when it stopped."""
    while not await _pause(stopping, STALE_AFTER_S):
        try:
            await recover_imports(db, import_dir)
        except Exception:  # the database may be out of reach for a while: try again later
            logging.getLogger("coachco2.imports").warning(
                "could not settle interrupted imports", exc_info=True
            )


def create_app(settings: Settings | None = None, *, tracer_provider: TracerProvider | None = None) -> FastAPI:
    """The app; `tracer_provider` (tests) replaces the one the settings would build (docs/operations.md)."""
    settings = settings or get_settings()
    db = Database(settings)

    worker = PipelineWorker.from_settings(db, settings)
    metrics = Metrics(db)
    provider = tracer_provider or provider_from_settings(settings)
    worker.metrics, worker.tracer = metrics, tracer_of(provider)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # first, so that a metrics port already taken stops the start before anything runs
        port = settings.metrics_port
        metrics_server = await serve_metrics(metrics, settings, port) if port else None
        try:
            await recover_imports(db, settings.import_dir)
        except Exception:  # a database out of reach must not stop the server: /health/ready tells
            logging.getLogger("coachco2.imports").warning(
                "could not settle interrupted imports", exc_info=True
            )
        if settings.gc_tuning:
            tune_for_serving()
        stopping = asyncio.Event()
        worker.resume()
        task = asyncio.create_task(worker.run_forever()) if settings.worker_in_process else None
        sweeper = asyncio.create_task(_recover_imports_forever(db, settings.import_dir, stopping))
        checkpoints = asyncio.create_task(_checkpoint_forever(db, stopping))
        try:
            yield
        finally:
            if metrics_server is not None:
                await metrics_server.stop()
            # The loops finish the database step under way (a statement cancelled half-way leaves its
            # connection to be reset while cancelled, which the pool reports as an error), then stop.
            stopping.set()
            worker.stop()
            loops = [t for t in (task, sweeper, checkpoints) if t is not None]
            if loops:
                await asyncio.wait(loops, timeout=STOP_GRACE_S)
            for running in [*loops, *app.state.import_tasks]:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
            await db.dispose()
            offload.shutdown()
            if provider is not None and tracer_provider is None:
                provider.shutdown()  # sends the spans still waiting in the batch

    app = FastAPI(
        title="Coach CO2",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by app.core.apidocs, without a CDN
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs else None,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.worker = worker
    app.state.import_tasks = set()
    app.state.imports_running = {}  # import id -> the task running it, so erasure can stop it
    app.state.limiter = make_limiter(settings)
    problems.install(app)
    # Imports stream large files to disk with their own cap; everything else is held to the body cap.
    app.add_middleware(
        BodyGuardMiddleware,
        max_body_bytes=settings.max_body_bytes,
        exempt_prefixes=["/v1/me/imports", "/v1/operator/transit-feeds"],
    )
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Content-Encoding",
                "Accept-Language",
                "X-Request-ID",
                "traceparent",
            ],
            expose_headers=["X-Request-ID"],
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware)
    routes = RouteTemplates(lambda: [*app.openapi().get("paths", {}), "/dashboard", "/metrics"])
    app.add_middleware(AccessLogMiddleware, templates=routes, observers=[metrics.observe_request])
    # Around everything, 500s included: the trace's span, and outermost the request id.
    if provider is not None:
        tracer = tracer_of(provider)
        wrap_whole_app(app, lambda inner: TracingMiddleware(inner, tracer, routes))
    wrap_whole_app(app, RequestIdMiddleware)
    install_metrics(app, metrics)
    for module in (
        service,
        auth,
        ingest,
        trips,
        me,
        selfdata,
        imports,
        modes,
        operator,
        territory_factors,
        statistics,
        publications,
        transit,
        emission,
        openpath_diary,
    ):
        app.include_router(module.router)
    app.include_router(dashboard.router)
    app.mount("/dashboard/static", dashboard.static_files(), name="dashboard-static")
    if settings.docs:
        apidocs.install(app)
    app.openapi = lambda: build_openapi(app, settings)  # type: ignore[method-assign]
    return app
