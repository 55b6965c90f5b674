"""Structured logs that never carry a secret, a coordinate or a person's identifier.

Every record goes through `Redact`, which masks bearer tokens, token hashes, UUIDs (user, trip, token ids),
anything that looks like a latitude or longitude, and what a database error quotes of the data (SQL
parameters, PostgreSQL's DETAIL lines), whatever logged it (the app, uvicorn, SQLAlchemy). The
app's own access log records the route template (`/v1/me/trips/{trip_id}`), never the concrete path or
the query string.

Every answer carries a request id (`X-Request-ID`): the client's when it is short and safe, else one made
here. It is kept in a context variable for the time of the request, so every record logged meanwhile,
by any logger, carries it as `request_id` (`current_request_id()` reads it).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import trace
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_PATTERNS = [
    # What a database error quotes of the request's data: SQLAlchemy's parameter list (the engine hides it
    # too: app/core/db.py), PostgreSQL's DETAIL and "Key (...)=(...)" lines, asyncpg's bad-argument text.
    (re.compile(r"\[parameters: [^\n]*"), "[parameters hidden]"),
    (re.compile(r"(?m)^(\s*)DETAIL: [^\n]*"), r"\1DETAIL: [hidden]"),
    (re.compile(r"Key \([^\n]*"), "Key [hidden]"),
    (re.compile(r"invalid input for query argument \$\d+: [^\n]*"), "invalid input for a query argument"),
    (re.compile(r"cc2[uo]_[A-Za-z0-9_\-]{8,}"), "cc2?_[token]"),
    (re.compile(r"(?i)bearer\s+\S+"), "Bearer [token]"),
    (re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.I), "[id]"),
    # token hashes (SHA-256) and any other long hexadecimal digest
    (re.compile(r"\b[0-9a-f]{40,}\b", re.I), "[hash]"),
    # A number with four or more decimals is a coordinate at metre precision or closer.
    (re.compile(r"-?\b\d{1,3}\.\d{4,}\b"), "[coord]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

#: what a client's X-Request-ID may be to be kept: short, and nothing a log or header could trip on
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def current_request_id() -> str | None:
    """The id of the request being served, None outside a request."""
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Stamps each record with the request id (None outside a request) and, when tracing is on, the
    trace it belongs to."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        if not hasattr(record, "trace_id"):
            context = trace.get_current_span().get_span_context()
            record.trace_id = format(context.trace_id, "032x") if context.is_valid else None
        return True


class JsonFormatter(logging.Formatter):
    converter = staticmethod(time.gmtime)  # UTC, like every time the service keeps

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%SZ"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("method", "route", "status", "duration_ms", "request_id", "trace_id"):
            if getattr(record, key, None) is not None:
                entry[key] = getattr(record, key)
        if record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`LEVEL logger: message`, then `[request_id]` during a request."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id is None:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} [{request_id}]{newline}{rest}"


def configure(fmt: str = "json", level: int = logging.INFO) -> None:
    """Route every logger through one redacting handler."""
    handler = logging.StreamHandler()
    handler.addFilter(Redact())
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # The app writes its own access log, by route template.
    logging.getLogger("uvicorn.access").disabled = True


access_log = logging.getLogger("coachco2.access")


#: what is told of each answered request: method, route template, status, seconds taken
RequestObserver = Callable[[str, str, int, float], None]


class RouteTemplates:
    """Finds the route a path belongs to, as its template (no ids, no query string), among the templates
    `templates()` lists (read at the first request, once the app has every route)."""

    def __init__(self, templates: Callable[[], Iterable[str]] = tuple) -> None:
        self.templates = templates
        self._compiled: list[tuple[re.Pattern[str], str]] | None = None

    def __call__(self, path: str) -> str:
        if self._compiled is None:
            self._compiled = [
                (re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(t)) + "$"), t)
                for t in self.templates()
            ]
        for pattern, template in self._compiled:
            if pattern.match(path):
                return template
        return UNMATCHED


#: the route of a path no route template matches
UNMATCHED = "(unmatched)"

#: the methods metrics and traces name as such (anything else a client sends is named as "other")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class AccessLogMiddleware:
    """One log line per request: method, route template, status, duration; `observers` (the metrics)
    are told the same."""

    def __init__(
        self,
        app: ASGIApp,
        templates: Callable[[], Iterable[str]] | RouteTemplates = tuple,
        observers: Iterable[RequestObserver] = (),
    ) -> None:
        self.app = app
        self.template = templates if isinstance(templates, RouteTemplates) else RouteTemplates(templates)
        self.observers = tuple(observers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            template = self.template(scope["path"])
            duration_s = time.perf_counter() - start
            access_log.info(
                "%s %s %s",
                scope["method"],
                template,
                status,
                extra={
                    "method": scope["method"],
                    "route": template,
                    "status": status,
                    "duration_ms": round(duration_s * 1000, 1),
                },
            )
            for observe in self.observers:
                observe(scope["method"], template, status, duration_s)


class RequestIdMiddleware:
    """Gives each request an id, echoed as `X-Request-ID` on every answer and carried by every log record
    written while it is served. A client's own id is kept when it matches `SAFE_REQUEST_ID`.

    It wraps the whole application (see `app.main`), server errors included, so that even a 500 and the
    record of its exception carry the id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
        request_id = offered if SAFE_REQUEST_ID.fullmatch(offered) else secrets.token_hex(8)
        header = (b"x-request-id", request_id.encode())

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        reset = _request_id.set(request_id)
        try:
            await self.app(scope, receive, with_id)
        finally:
            _request_id.reset(reset)


class SecurityHeadersMiddleware:
    """Headers every answer carries; HSTS when the request came over TLS (directly or via the proxy)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        personal = scope["path"].startswith(("/v1/", "/usercache", "/timeline", "/pipeline"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
                if personal:
                    extra.append((b"cache-control", b"no-store"))
                if https:
                    extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def wrap_whole_app(app: Starlette, wrapper: Callable[[ASGIApp], ASGIApp]) -> None:
    """Put `wrapper` around the whole of `app`, outside even Starlette's error middleware (which answers
    the 500 of an unhandled exception), so that every answer passes through it. Each call wraps the
    previous ones."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: wrapper(build())  # type: ignore[method-assign]
