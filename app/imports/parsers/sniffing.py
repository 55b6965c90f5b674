"""Format sniffing and dispatch: :func:`parse_file` picks the parser from the first bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

from app.imports.parsers._common import DEFAULT_BATCH_SIZE, read_head
from app.imports.parsers.geojson import parse_geojson
from app.imports.parsers.google import parse_google_records, parse_google_timeline
from app.imports.parsers.gpx import parse_gpx
from app.imports.parsers.types import ImportBatch, detect_format

HEAD_SIZE = 64 * 1024

Parser = Callable[[BinaryIO, int], Iterator[ImportBatch]]

PARSERS: dict[str, Parser] = {
    "gpx": parse_gpx,
    "geojson": parse_geojson,
    "google_records": parse_google_records,
    "google_timeline": parse_google_timeline,
}


def sniff(f: BinaryIO) -> tuple[str, BinaryIO]:
    """Detect the format of ``f`` from its first 64 KB; return it with a stream positioned at the start.

    A seekable file is rewound; a non-seekable one is wrapped so the sniffed bytes are read again.
    Raises :class:`~app.imports.types.ImportFormatError` for an unsupported or empty file.
    """
    head, stream = read_head(f, HEAD_SIZE)
    return detect_format(head), stream


def parse_file(
    f: BinaryIO, batch_size: int = DEFAULT_BATCH_SIZE, fmt: str | None = None
) -> Iterator[ImportBatch]:
    """Sniff the format of ``f`` (unless ``fmt`` names it) and yield its ``ImportBatch`` batches.

    Detection happens on the first ``next()`` (this is a generator); an unsupported file raises
    :class:`~app.imports.types.ImportFormatError` there. ``fmt``, when given, must be one of
    :data:`~app.imports.types.FORMATS` (``ValueError`` otherwise) and skips sniffing.
    """
    if fmt is None:
        fmt, f = sniff(f)
    elif fmt not in PARSERS:
        raise ValueError(f"unknown import format {fmt!r}; expected one of {', '.join(PARSERS)}")
    yield from PARSERS[fmt](f, batch_size)
