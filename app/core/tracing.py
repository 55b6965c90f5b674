"""OpenTelemetry traces, when an OTLP endpoint is configured (docs/operations.md).

`provider_from_settings` builds a tracer provider (service name `coachco2`) exporting in batches over
OTLP/HTTP; without an endpoint it returns None and nothing is traced: no middleware is installed and the
worker's tracer is the API's no-op one. Each app keeps its own provider (no process-wide state), so that
several apps in one process, as in the tests, each see only their own spans.

`TracingMiddleware` opens one server span per request, named by method and route template, continuing the
trace of an incoming `traceparent` (W3C Trace Context). Its attributes are those of OpenTelemetry's HTTP
semantic conventions that carry no personal data: the method, the route template, the status, the scheme
and the protocol version, plus the request id. Never the concrete path (it holds ids), the query string
(it holds times), the client's address or user agent; exceptions are recorded by their type only, as
their messages may quote data.
"""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import __version__
from app.core.logs import HTTP_METHODS, UNMATCHED, current_request_id
from app.settings import Settings

SERVICE_NAME = "coachco2"

#: the request headers that carry a trace's context (W3C Trace Context and Baggage)
_PROPAGATION_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})


def new_provider() -> TracerProvider:
    """A provider for the service, with no exporter yet. OTEL_RESOURCE_ATTRIBUTES and the sampler
    variables (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG) apply as the SDK reads them."""
    return TracerProvider(
        resource=Resource.create({"service.name": SERVICE_NAME, "service.version": __version__})
    )


def provider_from_settings(settings: Settings) -> TracerProvider | None:
    """A provider exporting to the configured OTLP/HTTP endpoint, or None when tracing is off."""
    url = settings.traces_url
    if url is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = new_provider()
    # headers, timeout and compression come from the standard OTEL_EXPORTER_OTLP_* variables
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    return provider


def tracer_of(provider: TracerProvider | None) -> Tracer:
    """The service's tracer from `provider`, or a tracer that records nothing."""
    return provider.get_tracer(SERVICE_NAME, __version__) if provider is not None else trace.NoOpTracer()


class TracingMiddleware:
    """One server span per request, `METHOD /route/{template}`, child of the caller's `traceparent`."""

    def __init__(self, app: ASGIApp, tracer: Tracer, route_of: Callable[[str], str]) -> None:
        self.app = app
        self.tracer = tracer
        self.route_of = route_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope["headers"]
            if key in _PROPAGATION_HEADERS
        }
        method = scope["method"] if scope["method"] in HTTP_METHODS else "_OTHER"  # as the conventions say
        route = self.route_of(scope["path"])
        attributes: dict[str, str] = {
            "http.request.method": method,
            "url.scheme": scope.get("scheme", "http"),
            "network.protocol.version": scope.get("http_version", "1.1"),
        }
        if route != UNMATCHED:
            attributes["http.route"] = route
        request_id = current_request_id()
        if request_id is not None:
            attributes["coachco2.request_id"] = request_id
        name = method if route == UNMATCHED else f"{method} {route}"
        with self.tracer.start_as_current_span(
            name,
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:

            async def observed(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:  # a server span's error: 5xx only, 4xx are the client's
                        span.set_attribute("error.type", str(status))
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            try:
                await self.app(scope, receive, observed)
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                span.set_status(Status(StatusCode.ERROR))
                raise
