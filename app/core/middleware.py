"""Request-body guard: a size cap and `Content-Encoding: gzip` decoding, before any parsing.

Phones on metered data send gzip bodies. The cap applies to what arrives and again to what gzip expands
to, so a small "zip bomb" cannot balloon into gigabytes in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.lang import Msg
from app.core.problems import problem_response

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class _TooLarge(Exception):
    pass


def gunzip(data: bytes, limit: int) -> bytes:
    """Decode a gzip body (several members allowed), refusing to produce more than `limit` bytes."""
    out = bytearray()
    while data:
        decoder = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        out += decoder.decompress(data, limit + 1 - len(out))
        if len(out) > limit:
            raise _TooLarge
        if not decoder.eof:
            if decoder.unconsumed_tail:
                raise _TooLarge
            raise zlib.error("truncated gzip stream")
        data = decoder.unused_data
    return bytes(out)


class BodyGuardMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, exempt_prefixes: Sequence[str] = ()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.exempt_prefixes = tuple(exempt_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _BODY_METHODS
            or scope["path"].startswith(self.exempt_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip"):
            response = problem_response(
                415,
                "unsupported-encoding",
                Msg(
                    "Content-Encoding {encoding!r} is not accepted; use gzip or none.",
                    "Le Content-Encoding {encoding!r} n'est pas accepté ; utilisez gzip ou aucun.",
                    encoding=encoding,
                ),
                scope=scope,
            )
            await response(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send)
            return

        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await self._too_large(scope, receive, send)
                return

        if encoding == "gzip":
            try:
                data = gunzip(bytes(body), limit)
            except _TooLarge:
                await self._too_large(scope, receive, send)
                return
            except zlib.error as exc:
                response = problem_response(
                    400,
                    "invalid-body",
                    Msg(
                        "The gzip body cannot be decoded: {error}.",
                        "Le corps gzip ne peut pas être décodé : {error}.",
                        error=str(exc),
                    ),
                    scope=scope,
                )
                await response(scope, receive, send)
                return
        else:
            data = bytes(body)

        raw_headers = [
            (k, v) for k, v in scope["headers"] if k.lower() not in (b"content-encoding", b"content-length")
        ]
        raw_headers.append((b"content-length", str(len(data)).encode()))
        scope = dict(scope, headers=raw_headers)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "payload-too-large",
            Msg(
                "The request body is larger than {cap} bytes (after gzip decoding).",
                "Le corps de la requête dépasse {cap} octets (une fois décompressé).",
                cap=self.max_body_bytes,
            ),
            scope=scope,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
