"""Receiving an uploaded file (a history file, a transit feed): streamed to disk as it arrives, capped,
as the raw body or as multipart with a `file` field."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Request

from app.core.problems import ProblemError, invalid_field

#: bytes read at a time from a multipart part
CHUNK = 1024 * 1024


def bad_file(detail: str) -> ProblemError:
    """A 422 naming the `file` field."""
    return invalid_field("file", detail, in_summary=True)


async def _copy(chunks: AsyncIterator[bytes], target: Path, cap: int) -> int:
    """Write chunks to disk (in a thread, not blocking the loop), refusing more than `cap` bytes."""
    out = await asyncio.to_thread(target.open, "wb")
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > cap:
                raise ProblemError(413, "payload-too-large", f"The file is larger than {cap} bytes.")
            await asyncio.to_thread(out.write, chunk)
    finally:
        await asyncio.to_thread(out.close)
    return size


async def save_upload(request: Request, target: Path, cap: int, what: str) -> tuple[str, int]:
    """Write the uploaded file (``what``, for messages: "the history file") to ``target`` as it
    arrives; returns its name and size."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=5) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise bad_file(f"send {what} in a multipart field named `file`")

            async def parts() -> AsyncIterator[bytes]:
                while chunk := await upload.read(CHUNK):
                    yield chunk

            return upload.filename or "upload", await _copy(parts(), target, cap)
    return request.query_params.get("filename") or "upload", await _copy(request.stream(), target, cap)
