"""Helpers shared by the parsers: time parsing, point validation, batching, head peeking, ijson errors."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import IO, Any, BinaryIO

import ijson

from app.imports.parsers.jsonguard import JsonGuard
from app.imports.parsers.types import ImportBatch, ImportedActivity, ImportedPoint, ImportFormatError

DEFAULT_BATCH_SIZE = 5000
CHUNK_SIZE = 64 * 1024

# A numeric timestamp at or above this is taken as epoch *milliseconds*: 1e11 s is the year 5138,
# while 1e11 ms is 1973-03-03, so every plausible track (1973 onwards) is classified correctly.
EPOCH_MS_THRESHOLD = 1e11

# One value built whole by iter_prefixed (a GeoJSON feature, a Google record or segment) may hold at most
# this many JSON values: 1,000,000 is a line of 250,000 vertices with their times (three days at one fix
# a second), some 60 MB once built in Python. Items of Google files hold a few dozen.
MAX_ITEM_VALUES = 1_000_000
# ... and at most this many characters in its strings and keys (up to 64 MB as Python str): the value
# count alone would let a million strings of 1 MiB each through.
MAX_ITEM_CHARS = 16 * 2**20


def parse_rfc3339(text: str) -> float:
    """Epoch seconds (UTC) from an ISO 8601 / RFC 3339 date-time string.

    Accepts ``Z`` or a numeric offset (``+02:00``, ``+0200``), a ``T`` or space separator and any
    number of fractional-second digits (beyond microseconds they are truncated). A date-time without
    an offset is taken as UTC (GPX 1.1 says ``<time>`` is UTC; GPX 1.0 files sometimes omit the ``Z``).
    A bare date (no time of day) is refused. Raises ``ValueError``.
    """
    s = text.strip()
    if len(s) < 16 or s[10] not in "Tt ":
        raise ValueError(f"not an RFC 3339 date-time: {s[:40]!r}")
    try:
        dt = datetime.fromisoformat(s)  # 3.11+: accepts "Z" and any number of fraction digits
    except ValueError:
        dt = datetime.fromisoformat(s.replace("t", "T").replace("z", "Z"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def epoch_seconds(value: float) -> float:
    """Epoch seconds from a number that is epoch seconds or milliseconds (see EPOCH_MS_THRESHOLD)."""
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"timestamp {value!r} is not finite")
    return v / 1000.0 if abs(v) >= EPOCH_MS_THRESHOLD else v


def parse_time_value(value: object) -> float:
    """Epoch seconds from an RFC 3339 string, a number (s or ms), or a string of digits (s or ms)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return epoch_seconds(value)
    if isinstance(value, str):
        s = value.strip()
        try:
            return epoch_seconds(float(s))
        except ValueError:
            return parse_rfc3339(s)
    # ijson may hand out Decimal when use_float is off; accept any real number
    try:
        return epoch_seconds(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a time: {value!r}") from exc


def opt_float(value: object) -> float | None:
    """A finite float, or None for absent / null / empty / non-numeric / NaN values."""
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def make_point(
    fmt: str,
    where: str,
    ts_s: float,
    lat: float,
    lon: float,
    accuracy_m: float | None = None,
    altitude_m: float | None = None,
    speed_mps: float | None = None,
    heading_deg: float | None = None,
) -> ImportedPoint:
    """Validate and build a point; ``fmt``/``where`` name the source for the error message."""
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ImportFormatError(f"{fmt}: {where} has an impossible latitude {lat!r} (must be within ±90)")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise ImportFormatError(f"{fmt}: {where} has an impossible longitude {lon!r} (must be within ±180)")
    if not math.isfinite(ts_s):
        raise ImportFormatError(f"{fmt}: {where} has an invalid time {ts_s!r}")
    return ImportedPoint(ts_s, lat, lon, accuracy_m, altitude_m, speed_mps, heading_deg)


class Batcher:
    """Accumulates points and activities; ``full`` once either list reaches ``batch_size``."""

    __slots__ = ("activities", "batch_size", "points")

    def __init__(self, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.points: list[ImportedPoint] = []
        self.activities: list[ImportedActivity] = []

    @property
    def full(self) -> bool:
        return len(self.points) >= self.batch_size or len(self.activities) >= self.batch_size

    def take(self) -> ImportBatch:
        batch = ImportBatch(self.points, self.activities)
        self.points = []
        self.activities = []
        return batch

    def drain(self) -> Iterator[ImportBatch]:
        """Yield full batches until fewer than ``batch_size`` of each remain."""
        n = self.batch_size
        while self.full:
            pts, acts = self.points, self.activities
            yield ImportBatch(pts[:n], acts[:n])
            self.points, self.activities = pts[n:], acts[n:]

    def flush(self) -> Iterator[ImportBatch]:
        """Yield everything left (in batches of at most ``batch_size``)."""
        yield from self.drain()
        if self.points or self.activities:
            yield self.take()


class PrefixedReader(io.RawIOBase):
    """A read-only binary stream that returns ``head`` and then the rest of ``rest``.

    Lets :func:`parse_file` sniff the first bytes of a non-seekable upload without losing them.
    """

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._pos = 0
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos < len(self._head):
            n = min(len(view), len(self._head) - self._pos)
            view[:n] = self._head[self._pos : self._pos + n]
            self._pos += n
            return n
        data = self._rest.read(len(view))
        if not data:
            return 0
        n = len(data)
        view[:n] = data
        return n


def read_head(f: BinaryIO, size: int) -> tuple[bytes, BinaryIO]:
    """Read up to ``size`` bytes and return them with a stream that still starts at the beginning."""
    head = b""
    while len(head) < size:
        chunk = f.read(size - len(head))
        if not chunk:
            break
        if not isinstance(chunk, bytes | bytearray):
            raise TypeError("import parsers need a binary file object (open the file with 'rb')")
        head += chunk
    try:
        if f.seekable():
            f.seek(f.tell() - len(head))
            return head, f
    except (OSError, AttributeError, ValueError):
        pass
    return head, io.BufferedReader(PrefixedReader(head, f), CHUNK_SIZE)


def open_json(f: BinaryIO, fmt: str, **limits: Any) -> JsonGuard:
    """The stream every JSON parser reads: ``f`` without a leading UTF-8 byte-order mark, behind a
    :class:`~app.imports.parsers.jsonguard.JsonGuard` so that ijson never sees JSON nested too deep, or a
    string or number too long (ijson has no limits of its own). ``limits`` go to the guard. Byte
    positions in errors count the mark.
    """
    head, stream = read_head(f, 3)
    offset = 0
    if head == b"\xef\xbb\xbf":
        stream.read(3)
        offset = 3
    return JsonGuard(stream, fmt, offset=offset, **limits)


def json_error(fmt: str, exc: Exception, f: JsonGuard) -> ImportFormatError:
    """An ImportFormatError for an ijson failure, naming the approximate byte offset."""
    where = f" (before byte {f.tell()})"
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, UnicodeError):
        return ImportFormatError(f"{fmt}: the file is not valid UTF-8 JSON{where}: {detail}")
    if "incomplete" in type(exc).__name__.lower() or "premature" in detail.lower():
        return ImportFormatError(f"{fmt}: the file is truncated or not valid JSON{where}: {detail}")
    return ImportFormatError(f"{fmt}: the file is not valid JSON{where}: {detail}")


def iter_prefixed(f: JsonGuard, labels: Mapping[str, str], fmt: str) -> Iterator[tuple[str, Any]]:
    """Stream a JSON document and yield ``(prefix, value)`` for every value found at a prefix of ``labels``.

    Prefixes use ijson's dotted notation (``"features.item"``, ``"rawSignals.item"``); ``labels`` maps
    each to how an error names its n-th value (``"feature {}"``). Each value is built on its own and
    handed out at once, so memory is bounded by the largest single value -- which is itself bounded:
    one holding more than :data:`MAX_ITEM_VALUES` JSON values or :data:`MAX_ITEM_CHARS` characters of
    strings is refused with an :class:`ImportFormatError` (a single GeoJSON line of ten million vertices
    would otherwise be built whole, at some 200 bytes a vertex). Unlike ``ijson.items`` this serves
    several prefixes in one pass.

    Why ``basic_parse`` and our own path: ijson's ``parse`` gives every event its prefix string, built
    anew at each key, so a path of long keys costs memory and time in proportion to its length at every
    key (16 KB keys 64 deep: 156 s and 6 GB for a 13 MB file). Here the path is a list of at most a few
    keys, only as deep as the deepest wanted prefix, and costs nothing further down. (No wanted prefix
    may lie inside another: a value at one is built whole, not searched further.)
    Raises ``ijson.JSONError`` on malformed or truncated input.
    """
    wanted: dict[tuple[str | None, ...], str] = {
        tuple(prefix.split(".")) if prefix else (): prefix for prefix in labels
    }
    reach = max(len(k) for k in wanted)
    seen = dict.fromkeys(labels, 0)
    path: list[str | None] = []  # the prefix of the current value, one entry per open container
    events = ijson.basic_parse(f, use_float=True)
    for event, value in events:
        if event == "map_key":
            path[-1] = value if len(path) <= reach else None
            continue
        if event == "end_map" or event == "end_array":
            path.pop()
            continue
        prefix = wanted.get(tuple(path)) if len(path) <= reach else None
        if prefix is not None:
            index = seen[prefix]
            seen[prefix] = index + 1
            if event == "start_map" or event == "start_array":
                yield prefix, _build(events, event, (fmt, labels[prefix], index), f)
            else:
                yield prefix, value
        elif event == "start_map":
            path.append(None)
        elif event == "start_array":
            path.append("item")


def _build(events: Iterator[tuple[str, Any]], first: str, label: tuple[str, str, int], f: JsonGuard) -> Any:
    """Build the container that ``first`` opened from the events up to its end (what ijson's
    ObjectBuilder does, inline for speed), refusing it past the item limits.

    ``label`` is ``(format name, label template, index)``, formatted only for an error message.
    """
    root: Any = {} if first == "start_map" else []
    stack: list[Any] = []
    current: Any = root
    key: Any = None
    values = 1
    chars = 0
    for event, value in events:
        if event == "map_key":
            key = value
            chars += len(value)
            if chars > MAX_ITEM_CHARS:
                raise _too_large(label, f"{MAX_ITEM_CHARS:,} characters of strings", f)
            continue
        if event == "end_map" or event == "end_array":
            if not stack:
                return root
            current = stack.pop()
            continue
        values += 1
        if values > MAX_ITEM_VALUES:
            raise _too_large(label, f"{MAX_ITEM_VALUES:,} JSON values", f)
        if event == "start_map" or event == "start_array":
            child: Any = {} if event == "start_map" else []
            if type(current) is list:
                current.append(child)
            else:
                current[key] = child
            stack.append(current)
            current = child
            continue
        if event == "string":
            chars += len(value)
            if chars > MAX_ITEM_CHARS:
                raise _too_large(label, f"{MAX_ITEM_CHARS:,} characters of strings", f)
        if type(current) is list:
            current.append(value)
        else:
            current[key] = value
    return root  # not reached on a whole document: ijson raises on a truncated one


def _too_large(label: tuple[str, str, int], what: str, f: JsonGuard) -> ImportFormatError:
    fmt, template, index = label
    return ImportFormatError(
        f"{fmt}: {template.format(index)} is too large to import in one piece: more than {what} "
        f"(before byte {f.tell()}); split it into smaller ones"
    )
