"""Streaming GPX 1.0 / 1.1 parser.

Format (https://www.topografix.com/GPX/1/1/ and https://www.topografix.com/gpx_manual.asp for 1.0):

* root ``<gpx>`` in namespace ``http://www.topografix.com/GPX/1/1`` or ``.../GPX/1/0`` (or no namespace,
  which some exporters write); elements may carry any namespace prefix (``<gpx:trkpt>``), since names
  are resolved through the XML namespace declarations, not by their prefix;
* points: ``<trkpt>`` (track points, ``<trk>/<trkseg>``), ``<rtept>`` (route points) and ``<wpt>``
  (waypoints), each with ``lat`` and ``lon`` attributes (decimal degrees, WGS84);
* children read: ``<time>`` (ISO 8601 / RFC 3339, ``Z`` or numeric offset, fractional seconds; a time
  without offset is taken as UTC), ``<ele>`` (metres), ``<speed>`` (m/s, a GPX 1.0 element),
  ``<course>`` (degrees, GPX 1.0). When they are not direct children, a ``speed`` / ``course``
  element anywhere under the point's ``<extensions>`` (e.g. Garmin TrackPointExtension v2) is used;
* ``<trkpt>`` without ``<time>`` is an error (a trace without times cannot become trips);
  ``<rtept>`` and ``<wpt>`` without ``<time>`` are planned routes / POIs and are skipped silently;
* everything else (names, ``<hdop>``, ``<sat>``, metadata, extensions) is ignored.

Implementation: the file is read in 64 KB chunks and fed to an expat parser with namespace
processing; only the current point's few text values are held, so memory is bounded by the batch.
Hostile XML is refused the way ``defusedxml`` does it (same three guards: no entity declarations, so
no "billion laughs" / quadratic blow-up; no external entities; no unparsed entities): any
``<!ENTITY`` in a DOCTYPE raises :class:`ImportFormatError` as soon as it is seen. A DOCTYPE without
entities is tolerated. Errors name the line of the offending element.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO
from xml.parsers import expat

from app.imports.parsers._common import (
    CHUNK_SIZE,
    DEFAULT_BATCH_SIZE,
    Batcher,
    make_point,
    opt_float,
    parse_rfc3339,
)
from app.imports.parsers.types import ImportBatch, ImportedPoint, ImportFormatError

_POINT_TAGS = frozenset({"trkpt", "rtept", "wpt"})
_FIELD_TAGS = frozenset({"time", "ele", "speed", "course"})
_MAX_TEXT = 256


def _is_gpx_ns(ns: str) -> bool:
    return ns == "" or ns.startswith(("http://www.topografix.com/GPX/", "https://www.topografix.com/GPX/"))


class _Handler:
    """expat callbacks; completed points go into the batcher."""

    def __init__(self, parser: expat.XMLParserType, batcher: Batcher) -> None:
        self.parser = parser
        self.batcher = batcher
        self.root_checked = False
        self.in_point = False
        self.kind = ""
        self.line = 0
        self.lat_s: str | None = None
        self.lon_s: str | None = None
        self.depth = 0
        self.fields: dict[str, str] = {}
        self.fallback: dict[str, str] = {}
        self.capture: str | None = None
        self.capture_direct = False
        self.capture_depth = 0
        self.text = ""
        self.names: dict[str, tuple[str, str]] = {}

    def split(self, name: str) -> tuple[str, str]:
        """(namespace, local name) of an expat name, cached: a file uses a handful of names."""
        parts = self.names.get(name)
        if parts is None:
            ns, _, local = name.rpartition(" ")
            parts = self.names[name] = (ns, local)
        return parts

    # -- expat callbacks -------------------------------------------------------------------------
    def start(self, name: str, attrs: dict[str, str]) -> None:
        ns, local = self.split(name)
        if not self.root_checked:
            self.root_checked = True
            if local != "gpx":
                raise ImportFormatError(f"GPX: root element is <{local}>, not <gpx>")
        if not self.in_point:
            if local in _POINT_TAGS and _is_gpx_ns(ns):
                self.in_point = True
                self.kind = local
                self.line = self.parser.CurrentLineNumber
                self.lat_s = attrs.get("lat")
                self.lon_s = attrs.get("lon")
                self.depth = 0
                self.fields.clear()
                self.fallback.clear()
            return
        self.depth += 1
        if self.capture is None and local in _FIELD_TAGS:
            self.capture = local
            self.capture_direct = self.depth == 1 and _is_gpx_ns(ns)
            self.capture_depth = self.depth
            self.text = ""

    def chars(self, data: str) -> None:
        if self.capture is not None and len(self.text) < _MAX_TEXT:
            self.text += data  # one call per text node with buffer_text; "" + data allocates nothing

    def end(self, name: str) -> None:
        if not self.in_point:
            return
        if self.depth == 0:
            self.in_point = False
            self._finish()
            return
        if self.capture is not None and self.depth == self.capture_depth:
            value = self.text.strip()
            target = self.fields if self.capture_direct else self.fallback
            target.setdefault(self.capture, value)
            self.capture = None
        self.depth -= 1

    @staticmethod
    def refuse_entity(*_args: object) -> None:
        raise ImportFormatError(
            "GPX: the file declares XML entities (<!ENTITY>), which are refused for safety "
            "(possible XML bomb)"
        )

    @staticmethod
    def refuse_external(*_args: object) -> int:
        raise ImportFormatError("GPX: the file references external XML entities, which are refused")

    # -- point assembly --------------------------------------------------------------------------
    def _where(self) -> str:
        return f"<{self.kind}> at line {self.line}"

    def _finish(self) -> None:
        fields = self.fields
        time_s = fields.get("time")
        if not time_s:
            if self.kind != "trkpt":
                return  # planned route point / waypoint without a time: not part of a trace
            raise ImportFormatError(f"GPX: {self._where()} has no <time>")
        lat_s, lon_s = self.lat_s, self.lon_s
        if lat_s is None or lon_s is None:
            missing = "lat" if lat_s is None else "lon"
            raise ImportFormatError(f"GPX: {self._where()} has no {missing} attribute")
        try:
            lat = float(lat_s)
            lon = float(lon_s)
        except ValueError:
            raise ImportFormatError(
                f"GPX: {self._where()} has a non-numeric lat/lon ({lat_s[:30]!r}, {lon_s[:30]!r})"
            ) from None
        try:
            ts = parse_rfc3339(time_s)
        except ValueError:
            raise ImportFormatError(
                f"GPX: {self._where()} has an unreadable <time> {time_s[:40]!r}"
            ) from None
        ele = fields.get("ele")
        speed = fields.get("speed")
        course = fields.get("course")
        if self.fallback:
            speed = speed if speed is not None else self.fallback.get("speed")
            course = course if course is not None else self.fallback.get("course")
        altitude_m = None if ele is None else opt_float(ele)
        speed_mps = None if speed is None else opt_float(speed)
        heading_deg = None if course is None else opt_float(course)
        if -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0:
            point = ImportedPoint(ts, lat, lon, None, altitude_m, speed_mps, heading_deg)
        else:  # make_point raises the precise error (NaN also lands here)
            point = make_point("GPX", self._where(), ts, lat, lon)
        self.batcher.points.append(point)


def parse_gpx(f: BinaryIO, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[ImportBatch]:
    """Yield ``ImportBatch(points, [])`` batches of at most ``batch_size`` points from a GPX stream.

    Raises :class:`ImportFormatError` on malformed or truncated XML, a non-GPX root, entity
    declarations (XML bombs), a ``<trkpt>`` without ``<time>``, or impossible coordinates.
    """
    batcher = Batcher(batch_size)
    parser = expat.ParserCreate(namespace_separator=" ")
    handler = _Handler(parser, batcher)
    parser.buffer_text = True
    parser.buffer_size = CHUNK_SIZE
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.chars
    parser.EntityDeclHandler = handler.refuse_entity
    parser.UnparsedEntityDeclHandler = handler.refuse_entity
    parser.ExternalEntityRefHandler = handler.refuse_external
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    at_eof = False
    try:
        while True:
            chunk = f.read(CHUNK_SIZE)
            if not chunk:
                at_eof = True
                parser.Parse(b"", True)
                break
            parser.Parse(chunk, False)
            yield from batcher.drain()
    except expat.ExpatError as exc:
        reason = expat.errors.messages.get(exc.code, str(exc))
        if at_eof:
            raise ImportFormatError(
                f"GPX: the file is truncated or empty (XML ends unexpectedly at line {exc.lineno}: {reason})"
            ) from None
        raise ImportFormatError(
            f"GPX: malformed XML at line {exc.lineno}, column {exc.offset}: {reason}"
        ) from None
    except (LookupError, UnicodeError, ValueError) as exc:  # unknown / unsupported encoding="..."
        raise ImportFormatError(f"GPX: unsupported or invalid character encoding ({exc})") from None
    if not handler.root_checked:
        raise ImportFormatError("GPX: the file has no XML element")
    yield from batcher.flush()
