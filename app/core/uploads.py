"""Receiving an uploaded file (a history file, a transit feed): streamed to disk as it arrives and capped
while it arrives, as the raw body or as multipart with a `file` field.

The cap holds for both shapes before anything reaches the disk: a declared `Content-Length` over it is
refused at once, and the bytes are counted as they come, so a body that lies about its length or is sent
chunked stops at the cap. Multipart bodies are parsed as a stream (python-multipart's push parser): the
`file` part goes straight to its file, never through a spooled temporary copy, and other fields are
bounded too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.core.lang import Msg
from app.core.problems import ProblemError, invalid_field

#: what a multipart body may carry beyond the file itself: boundaries, part headers, small fields
MULTIPART_OVERHEAD = 64 * 1024
#: the fields of a multipart body, other than the file, may hold this much in all
FIELD_BYTES = 16 * 1024


def bad_file(detail: Msg) -> ProblemError:
    """A 422 naming the `file` field."""
    return invalid_field("file", detail, in_summary=True)


def too_large(cap: int) -> ProblemError:
    return ProblemError(
        413,
        "payload-too-large",
        Msg("The file is larger than {cap} bytes.", "Le fichier dépasse {cap} octets.", cap=cap),
    )


def clean_filename(name: str | None) -> str:
    """A file's name as the client gave it, fit to store and show: control characters (NUL among them,
    which PostgreSQL cannot store) removed, at most 255 characters, "upload" when nothing is left."""
    cleaned = "".join(ch for ch in (name or "") if ch.isprintable()).strip()[:255]
    return cleaned or "upload"


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


class _MultipartFile:
    """python-multipart callbacks that write the part named `file` to `out` and count everything."""

    def __init__(self, out: BinaryIO, cap: int, what: Msg) -> None:
        self.out, self.cap, self.what = out, cap, what
        self.size = 0  # bytes of the file part
        self.other = 0  # bytes of every other part and of the part headers
        self.filename: str | None = None
        self.found = False
        self._in_file = False
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[bytes, bytes] = {}

    def _count_other(self, n: int) -> None:
        self.other += n
        if self.other > FIELD_BYTES:
            raise bad_file(
                Msg(
                    "send only {what} (the multipart fields beside `file` are too large)",
                    "envoyez seulement {what} (les champs multipart à côté de `file` sont trop grands)",
                    what=self.what,
                )
            )

    def on_part_begin(self) -> None:
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_other(end - start)
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_other(end - start)
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._field).lower()] = bytes(self._value)
        self._field.clear()
        self._value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._in_file = options.get(b"name") == b"file"
        if self._in_file:
            if self.found:
                raise bad_file(
                    Msg(
                        "send {what} alone, in one field named `file`",
                        "envoyez {what} seul, dans un unique champ nommé `file`",
                        what=self.what,
                    )
                )
            self.found = True
            name = options.get(b"filename")
            self.filename = name.decode("utf-8", "replace") if name else None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file:
            self._count_other(end - start)
            return
        self.size += end - start
        if self.size > self.cap:
            raise too_large(self.cap)
        self.out.write(data[start:end])

    def on_part_end(self) -> None:
        self._in_file = False


def _boundary(request: Request) -> bytes:
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise bad_file(
            Msg(
                "the multipart body declares no boundary",
                "le corps multipart ne déclare pas de délimiteur (boundary)",
            )
        )
    return boundary


async def _copy_multipart(request: Request, target: Path, cap: int, what: Msg) -> tuple[str, int]:
    boundary = _boundary(request)
    out = await asyncio.to_thread(target.open, "wb")
    try:
        sink = _MultipartFile(out, cap, what)
        callbacks = {
            name: getattr(sink, name)
            for name in (
                "on_part_begin",
                "on_header_field",
                "on_header_value",
                "on_header_end",
                "on_headers_finished",
                "on_part_data",
                "on_part_end",
            )
        }
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        try:
            async for chunk in request.stream():
                if chunk:
                    await asyncio.to_thread(parser.write, chunk)  # writes the file part in the thread
            await asyncio.to_thread(parser.finalize)
        except MultipartParseError as exc:
            raise bad_file(
                Msg(
                    "the multipart body cannot be read: {error}",
                    "le corps multipart est illisible : {error}",
                    error=str(exc),
                )
            ) from None
    finally:
        await asyncio.to_thread(out.close)
    if not sink.found:
        raise bad_file(
            Msg(
                "send {what} in a multipart field named `file`",
                "envoyez {what} dans un champ multipart nommé `file`",
                what=what,
            )
        )
    return clean_filename(sink.filename), sink.size


async def _copy(chunks: AsyncIterator[bytes], target: Path, cap: int) -> int:
    """Write chunks to disk (in a thread, not blocking the loop), refusing more than `cap` bytes."""
    out = await asyncio.to_thread(target.open, "wb")
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > cap:
                raise too_large(cap)
            await asyncio.to_thread(out.write, chunk)
    finally:
        await asyncio.to_thread(out.close)
    return size


async def save_upload(request: Request, target: Path, cap: int, what: Msg) -> tuple[str, int]:
    """Write the uploaded file (``what``, for messages: "the history file") to ``target`` as it
    arrives; returns its name and size. Over `cap` bytes answers 413 before more than `cap` bytes are
    written. The caller removes `target` when this raises."""
    multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
    declared = _declared_length(request)
    if declared is not None and declared > cap + (MULTIPART_OVERHEAD if multipart else 0):
        raise too_large(cap)
    if multipart:
        return await _copy_multipart(request, target, cap, what)
    return clean_filename(request.query_params.get("filename")), await _copy(request.stream(), target, cap)
