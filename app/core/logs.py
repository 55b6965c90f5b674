"""Structured logs that never carry a secret, a coordinate or a person's identifier.

Every record goes through `Redact`, which masks bearer tokens, token hashes, UUIDs (user, trip, token ids),
anything that looks like a latitude or longitude, and what a database error quotes of the data (SQL
parameters, PostgreSQL's DETAIL lines), whatever logged it (the app, uvicorn, SQLAlchemy). The
app's own access log records the route template (`/v1/me/trips/{trip_id}`), never the concrete path or
the query string.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

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


class JsonFormatter(logging.Formatter):
    converter = staticmethod(time.gmtime)  # UTC, like every time the service keeps

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%SZ"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("method", "route", "status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure(fmt: str = "json", level: int = logging.INFO) -> None:
    """Route every logger through one redacting handler."""
    handler = logging.StreamHandler()
    handler.addFilter(Redact())
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # The app writes its own access log, by route template.
    logging.getLogger("uvicorn.access").disabled = True


access_log = logging.getLogger("coachco2.access")


class AccessLogMiddleware:
    """One log line per request: method, route template, status, duration."""

    def __init__(self, app: ASGIApp, templates: Callable[[], Iterable[str]] = tuple) -> None:
        self.app = app
        self.templates = templates
        self._compiled: list[tuple[re.Pattern[str], str]] | None = None

    def template(self, path: str) -> str:
        """The route a path belongs to, as its template (no ids, no query string)."""
        if self._compiled is None:
            self._compiled = [
                (re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(t)) + "$"), t)
                for t in self.templates()
            ]
        for pattern, template in self._compiled:
            if pattern.match(path):
                return template
        return "(unmatched)"

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
            access_log.info(
                "%s %s %s",
                scope["method"],
                template,
                status,
                extra={
                    "method": scope["method"],
                    "route": template,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 1),
                },
            )


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
