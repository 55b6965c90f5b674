"""Value types shared by the import parsers, the error they raise, and format sniffing.

Everything the parsers produce is one of two frozen dataclasses:

* :class:`ImportedPoint` -- one location fix: ``ts_s`` (epoch seconds, UTC, float), ``lat``/``lon``
  (WGS84 degrees) and the optional ``accuracy_m`` (horizontal radius, metres), ``altitude_m``
  (metres), ``speed_mps`` (metres per second) and ``heading_deg`` (degrees clockwise from north).
* :class:`ImportedActivity` -- one phone motion-activity sample: ``ts_s``, ``type`` (one of
  :data:`ACTIVITY_TYPES`) and ``confidence`` (0-100, or ``None`` when the source gives none).

Parsers yield :class:`ImportBatch` named tuples ``(points, activities)``; a NamedTuple is a plain
tuple, so ``for points, activities in parse_gpx(f)`` works as well as ``batch.points``.

:func:`detect_format` recognises the four supported file formats from the first few KB:

* ``"gpx"`` -- XML whose root element is ``<gpx>`` (any or no namespace prefix);
* ``"geojson"`` -- a JSON object whose top-level keys include ``"features"``, or ``"type"`` set to
  ``"FeatureCollection"`` or ``"Feature"`` (RFC 7946);
* ``"google_records"`` -- a JSON object with a top-level ``"locations"`` key (Google Takeout
  ``Records.json``, formerly ``Location History.json``);
* ``"google_timeline"`` -- a JSON object with a top-level ``"semanticSegments"``, ``"rawSignals"`` or
  ``"userLocationProfile"`` key (the on-device Google Maps Timeline export ``Timeline.json``).

Anything else raises :class:`ImportFormatError` with a message that quotes how the file starts.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import NamedTuple

import ijson

ACTIVITY_TYPES: frozenset[str] = frozenset(
    {"stationary", "walking", "running", "cycling", "automotive", "unknown"}
)

FORMATS: tuple[str, ...] = ("gpx", "geojson", "google_records", "google_timeline")


@dataclass(frozen=True, slots=True)
class ImportedPoint:
    """One location fix. ``ts_s`` is epoch seconds UTC; optional fields are ``None`` when absent."""

    ts_s: float
    lat: float
    lon: float
    accuracy_m: float | None = None
    altitude_m: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None


@dataclass(frozen=True, slots=True)
class ImportedActivity:
    """One motion-activity sample; ``type`` is one of :data:`ACTIVITY_TYPES`, confidence 0-100 or None."""

    ts_s: float
    type: str
    confidence: int | None


class ImportBatch(NamedTuple):
    """What every parser yields: at most ``batch_size`` points and at most ``batch_size`` activities."""

    points: list[ImportedPoint]
    activities: list[ImportedActivity]


class ImportFormatError(Exception):
    """The file is not one of the supported formats, or is truncated or malformed.

    ``str(error)`` (also ``error.message``) is a human-readable sentence naming what is wrong and
    where, e.g. ``"GPX: <trkpt> at line 1204 has no <time>"``; it is safe to show to the uploader
    (it never quotes more than a few bytes of the file).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_GPX_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?gpx[\s/>]")
_XML_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_UTF8_BOM = b"\xef\xbb\xbf"


def describe_head(head: bytes, n: int = 12) -> str:
    """A short, printable quotation of how ``head`` starts, for error messages."""
    text = head[:n].decode("latin-1")
    return "".join(ch if ch.isprintable() else "." for ch in text)


def _json_top_level(head: bytes, offset: int) -> tuple[list[str], str | None]:
    """Top-level keys of a JSON object (as far as ``head`` goes) and its top-level "type" string.

    ``head`` goes through the same :class:`~app.imports.parsers.jsonguard.JsonGuard` as the parsers
    (``offset``: where it starts in the file): a 40 KB head nested 20,000 deep cost ijson 3 s and 1 GB,
    and is refused here at once. ``basic_parse`` with a depth count, not ``parse``: only the top level matters,
    and ijson's prefix strings are what grows with the depth.
    """
    from app.imports.parsers.jsonguard import JsonGuard  # here: jsonguard imports ImportFormatError

    keys: list[str] = []
    type_value: str | None = None
    depth = 0
    key: object = None
    try:
        for event, value in ijson.basic_parse(JsonGuard(io.BytesIO(head), offset=offset)):
            if event == "start_map" or event == "start_array":
                depth += 1
            elif event == "end_map" or event == "end_array":
                depth -= 1
            elif depth == 1 and event == "map_key":
                keys.append(str(value))
                key = value
            elif depth == 1 and event == "string" and key == "type":
                type_value = str(value)
    except (ijson.JSONError, UnicodeError):
        pass  # the head is cut mid-document (expected) or the document is malformed (found later)
    return keys, type_value


def detect_format(head: bytes) -> str:
    """Return ``"gpx"``, ``"geojson"``, ``"google_records"`` or ``"google_timeline"`` for a file head.

    ``head`` should be the first few KB (4-64 KB) of the file. Raises :class:`ImportFormatError`
    for an empty file or anything else (PDF, CSV, KML, a JSON document of another shape...), and for a
    JSON head that breaks the limits of :mod:`app.imports.parsers.jsonguard` (nested too deep, say).
    """
    data = head[len(_UTF8_BOM) :] if head.startswith(_UTF8_BOM) else head
    stripped = data.lstrip()
    if not stripped:
        raise ImportFormatError("empty file: expected a GPX, GeoJSON or Google location history file")
    first = stripped[:1]
    if first == b"<":
        if _GPX_ROOT.search(stripped):
            return "gpx"
        roots = [m.group(1).decode("ascii", "replace") for m in _XML_ROOT.finditer(stripped)]
        root = next((r for r in roots if not r.startswith(("?", "!"))), None)
        what = f"root element <{root}>" if root else "no root element in the first bytes"
        raise ImportFormatError(f"XML file but not GPX ({what}); only GPX 1.0/1.1 XML is supported")
    if first == b"{":
        keys, type_value = _json_top_level(stripped, len(head) - len(stripped))
        keyset = set(keys)
        if keyset & {"semanticSegments", "rawSignals", "userLocationProfile"}:
            return "google_timeline"
        if "locations" in keyset:
            return "google_records"
        if "features" in keyset or type_value in ("FeatureCollection", "Feature"):
            return "geojson"
        if "timelineObjects" in keyset:
            raise ImportFormatError(
                "Google Semantic Location History (timelineObjects) is not supported: "
                "upload Records.json or Timeline.json instead"
            )
        shown = ", ".join(repr(k) for k in keys[:5]) or "none readable"
        raise ImportFormatError(
            "JSON file but not GeoJSON or Google location history: top-level keys " + shown
        )
    if first == b"[":
        raise ImportFormatError(
            "JSON array at top level: not a GeoJSON or Google location history file "
            "(the iOS Timeline export, a top-level array, is not supported)"
        )
    raise ImportFormatError(
        f"not a GPX, GeoJSON or Google location history file: starts with {describe_head(stripped)!r}"
    )
