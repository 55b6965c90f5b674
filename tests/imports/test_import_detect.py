"""Format detection and parse_file dispatch."""

from __future__ import annotations

import io
from typing import Any

import pytest

from app.imports.parsers import ImportFormatError, detect_format, parse_file

GPX = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">'
    b'<trk><trkseg><trkpt lat="46.1" lon="-1.1"><time>2024-05-01T10:00:00Z</time></trkpt>'
    b"</trkseg></trk></gpx>"
)
GEOJSON = (
    b'{"type": "FeatureCollection", "features": [{"type": "Feature", '
    b'"geometry": {"type": "Point", "coordinates": [-1.1, 46.1]}, "properties": {"time": 1714557600}}]}'
)
RECORDS = (
    b'{"locations": [{"latitudeE7": 461000000, "longitudeE7": -11000000, "timestampMs": "1714557600000"}]}'
)
TIMELINE = (
    b'{"semanticSegments": [{"startTime": "2024-05-01T10:00:00.000+02:00", '
    b'"endTime": "2024-05-01T12:00:00.000+02:00", '
    b'"timelinePath": [{"point": "46.1\xc2\xb0, -1.1\xc2\xb0", "time": "2024-05-01T10:05:00.000+02:00"}]}], '
    b'"rawSignals": [], "userLocationProfile": {}}'
)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (GPX, "gpx"),
        (b"\xef\xbb\xbf  \n" + GPX, "gpx"),
        (b'<gpx:gpx xmlns:gpx="http://www.topografix.com/GPX/1/0" version="1.0"></gpx:gpx>', "gpx"),
        (b"<!-- exported -->\n<gpx version='1.0'>", "gpx"),
        (GEOJSON, "geojson"),
        (b'{"features": [' + b'{"type": "Feature"},' * 5000, "geojson"),  # "type" after a huge list
        (b'{"type": "Feature", "geometry": null, "properties": {}}', "geojson"),
        (RECORDS, "google_records"),
        (RECORDS[:40], "google_records"),  # cut in the middle, as a head is
        (TIMELINE, "google_timeline"),
        (b'{"rawSignals": [{"position": {}}', "google_timeline"),
    ],
)
def test_detect_each_format(head: bytes, expected: str) -> None:
    assert detect_format(head) == expected


@pytest.mark.parametrize(
    ("head", "fragment"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "starts with '%PDF"),
        (b"ts,lat,lon\n1714557600,46.1,-1.1\n", "starts with 'ts,lat,lon"),
        (b"", "empty file"),
        (b"   \n\t", "empty file"),
        (b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2">', "root element <kml>"),
        (b'{"foo": 1, "bar": [1, 2]}', "top-level keys 'foo', 'bar'"),
        (b'[{"startTime": "2024-01-01T00:00:00Z"}]', "JSON array"),
        (b'{"timelineObjects": []}', "Semantic Location History"),
        (b"PK\x03\x04\x14\x00", "not a GPX, GeoJSON or Google location history file"),
    ],
)
def test_detect_refuses(head: bytes, fragment: str) -> None:
    with pytest.raises(ImportFormatError) as info:
        detect_format(head)
    assert fragment in str(info.value)


class _NonSeekable(io.RawIOBase):
    """An upload stream that cannot seek, read in small pieces."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), 1000, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


@pytest.mark.parametrize(("data", "n_points"), [(GPX, 1), (GEOJSON, 1), (RECORDS, 1), (TIMELINE, 1)])
def test_parse_file_dispatches_seekable_and_not(data: bytes, n_points: int) -> None:
    for stream in (io.BytesIO(data), _NonSeekable(data)):
        batches = list(parse_file(stream))  # type: ignore[arg-type]
        assert sum(len(b.points) for b in batches) == n_points
        assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)


def test_parse_file_large_non_seekable_head_is_not_lost() -> None:
    body = b"".join(
        b'<trkpt lat="46.1" lon="-1.1"><time>2024-05-01T10:%02d:%02dZ</time></trkpt>\n' % divmod(i, 60)
        for i in range(3000)
    )
    data = b'<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>' + body + b"</trkseg></trk></gpx>"
    assert len(data) > 64 * 1024
    pts = [p for b in parse_file(_NonSeekable(data), batch_size=1000) for p in b.points]  # type: ignore[arg-type]
    assert len(pts) == 3000
    assert pts[0].ts_s == 1714557600.0


def test_parse_file_refuses_pdf() -> None:
    with pytest.raises(ImportFormatError, match="%PDF"):
        list(parse_file(io.BytesIO(b"%PDF-1.4 whatever")))


def test_parse_file_explicit_format() -> None:
    assert len(next(parse_file(io.BytesIO(GPX), fmt="gpx")).points) == 1
    with pytest.raises(ImportFormatError, match="GPX: root element"):
        list(parse_file(io.BytesIO(b"<kml></kml>"), fmt="gpx"))
    with pytest.raises(ValueError, match="unknown import format"):
        list(parse_file(io.BytesIO(GPX), fmt="kml"))


@pytest.mark.parametrize("data", [GPX, GEOJSON, RECORDS, TIMELINE])
def test_utf8_bom_is_accepted(data: bytes) -> None:
    with_bom = b"\xef\xbb\xbf" + data
    streams: list[Any] = [io.BytesIO(with_bom), _NonSeekable(with_bom)]
    for stream in streams:
        assert sum(len(b.points) for b in parse_file(stream)) == 1
