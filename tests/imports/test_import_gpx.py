"""GPX 1.0 / 1.1 parsing."""

from __future__ import annotations

import io
import time

import pytest

from app.imports.parsers import ImportedPoint, ImportFormatError, parse_gpx

T = 1714557600.0  # 2024-05-01T10:00:00Z


def points(data: bytes, batch_size: int = 5000) -> list[ImportedPoint]:
    out: list[ImportedPoint] = []
    for pts, acts in parse_gpx(io.BytesIO(data), batch_size=batch_size):
        assert acts == []
        assert 0 < len(pts) <= batch_size
        out.extend(pts)
    return out


GPX11 = b"""<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="hand" xmlns="http://www.topografix.com/GPX/1/1"
     xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v2">
  <metadata><time>2024-01-01T00:00:00Z</time></metadata>
  <trk><name>morning</name><trkseg>
    <trkpt lat="46.1591" lon="-1.1520"><ele>12.5</ele><time>2024-05-01T10:00:00Z</time></trkpt>
    <trkpt lat="46.1592" lon="-1.1521"><time>2024-05-01T10:00:01.250Z</time>
      <extensions><gpxtpx:TrackPointExtension><gpxtpx:speed>4.5</gpxtpx:speed>
      <gpxtpx:course>270</gpxtpx:course></gpxtpx:TrackPointExtension></extensions></trkpt>
    <trkpt lat="-33.5" lon="151.25"><time>2024-05-01T12:00:02+02:00</time></trkpt>
    <trkpt lat="0" lon="0"><time>2024-05-01T05:30:03.123456789-04:30</time></trkpt>
  </trkseg></trk>
</gpx>
"""


def test_gpx11_default_namespace() -> None:
    pts = points(GPX11)
    assert [p.ts_s for p in pts] == [T, T + 1.25, T + 2, pytest.approx(T + 3.123456)]
    assert pts[0] == ImportedPoint(T, 46.1591, -1.1520, altitude_m=12.5)
    assert pts[1].speed_mps == 4.5 and pts[1].heading_deg == 270.0  # extension fallback
    assert (pts[2].lat, pts[2].lon) == (-33.5, 151.25)


GPX10 = b"""<?xml version="1.0"?>
<gpx version="1.0" creator="old" xmlns="http://www.topografix.com/GPX/1/0">
<trk><trkseg>
<trkpt lat="48.8566" lon="2.3522"><ele>35</ele><time>2024-05-01T10:00:00Z</time><course>90.5</course>
<speed>1.4</speed></trkpt>
<trkpt lat="48.8567" lon="2.3523"><time>2024-05-01T10:00:05</time></trkpt>
</trkseg></trk></gpx>
"""


def test_gpx10_speed_course_and_naive_time_is_utc() -> None:
    pts = points(GPX10)
    assert pts[0] == ImportedPoint(T, 48.8566, 2.3522, altitude_m=35.0, speed_mps=1.4, heading_deg=90.5)
    assert pts[1].ts_s == T + 5


def test_namespace_prefixes_and_no_namespace() -> None:
    prefixed = (
        b'<g:gpx xmlns:g="http://www.topografix.com/GPX/1/1" version="1.1"><g:trk><g:trkseg>'
        b'<g:trkpt lat="1" lon="2"><g:ele>3</g:ele><g:time>2024-05-01T10:00:00Z</g:time></g:trkpt>'
        b"</g:trkseg></g:trk></g:gpx>"
    )
    bare = (
        b'<gpx version="1.0"><trk><trkseg><trkpt lat="1" lon="2"><ele>3</ele>'
        b"<time>2024-05-01T10:00:00Z</time></trkpt></trkseg></trk></gpx>"
    )
    prefixed10 = prefixed.replace(b"GPX/1/1", b"GPX/1/0")
    expected = [ImportedPoint(T, 1.0, 2.0, altitude_m=3.0)]
    assert points(prefixed) == points(bare) == points(prefixed10) == expected


def test_rtept_and_wpt_only_with_time() -> None:
    data = (
        b'<gpx xmlns="http://www.topografix.com/GPX/1/1">'
        b'<wpt lat="1" lon="1"><name>POI</name></wpt>'
        b'<wpt lat="2" lon="2"><time>2024-05-01T10:00:00Z</time></wpt>'
        b'<rte><rtept lat="3" lon="3"/><rtept lat="4" lon="4"><time>2024-05-01T10:00:01Z</time></rtept></rte>'
        b"</gpx>"
    )
    assert [(p.lat, p.ts_s) for p in points(data)] == [(2.0, T), (4.0, T + 1)]


def test_trkpt_without_time_names_the_line() -> None:
    data = (
        b'<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>\n'
        b'<trkpt lat="1" lon="1"><time>2024-05-01T10:00:00Z</time></trkpt>\n'
        b'\n<trkpt lat="1" lon="1"><ele>5</ele></trkpt>\n</trkseg></trk></gpx>'
    )
    with pytest.raises(ImportFormatError, match=r"GPX: <trkpt> at line 4 has no <time>"):
        points(data)


@pytest.mark.parametrize(
    ("attrs", "time_text", "message"),
    [
        (b'lat="91" lon="0"', b"2024-05-01T10:00:00Z", "impossible latitude 91.0"),
        (b'lat="0" lon="-180.5"', b"2024-05-01T10:00:00Z", "impossible longitude -180.5"),
        (b'lon="0"', b"2024-05-01T10:00:00Z", "has no lat attribute"),
        (b'lat="abc" lon="0"', b"2024-05-01T10:00:00Z", "non-numeric lat/lon"),
        (b'lat="0" lon="0"', b"yesterday", "unreadable <time> 'yesterday'"),
        (b'lat="0" lon="0"', b"2024-05-01", "unreadable <time>"),
    ],
)
def test_bad_points_raise(attrs: bytes, time_text: bytes, message: str) -> None:
    data = (
        b"<gpx><trk><trkseg><trkpt "
        + attrs
        + b"><time>"
        + time_text
        + b"</time></trkpt></trkseg></trk></gpx>"
    )
    with pytest.raises(ImportFormatError, match=message) as info:
        points(data)
    assert "line 1" in str(info.value)


def test_truncated_anywhere_raises_format_error() -> None:
    for cut in range(10, len(GPX11) - 1, 37):
        with pytest.raises(ImportFormatError, match="GPX: the file is truncated"):
            points(GPX11[:cut])


def test_not_gpx_root_and_garbage() -> None:
    with pytest.raises(ImportFormatError, match="root element is <kml>"):
        points(b'<kml xmlns="http://www.opengis.net/kml/2.2"></kml>')
    with pytest.raises(ImportFormatError, match="malformed XML at line 1"):
        points(b"<gpx><trk></gpx>")
    with pytest.raises(ImportFormatError, match="truncated or empty"):
        points(b"")
    with pytest.raises(ImportFormatError, match="encoding"):
        points(b'<?xml version="1.0" encoding="NOPE-8"?><gpx></gpx>')


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<gpx><trk><trkseg><trkpt lat="0" lon="0"><name>&lol9;</name><time>2024-05-01T10:00:00Z</time></trkpt>
</trkseg></trk></gpx>
"""


def test_billion_laughs_refused_quickly() -> None:
    start = time.perf_counter()
    with pytest.raises(ImportFormatError, match="entities"):
        points(BILLION_LAUGHS)
    assert time.perf_counter() - start < 1.0


def test_external_entity_refused() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<gpx><wpt lat='0' lon='0'><name>&xxe;</name></wpt></gpx>"
    )
    with pytest.raises(ImportFormatError, match="entities"):
        points(xxe)


def test_undeclared_entity_is_malformed() -> None:
    with pytest.raises(ImportFormatError, match="malformed XML"):
        points(b"<gpx><wpt lat='0' lon='0'><name>&nope;</name></wpt></gpx>")


def test_batch_sizes_respected() -> None:
    body = b"".join(
        b'<trkpt lat="1" lon="1"><time>2024-05-01T10:00:%02dZ</time></trkpt>' % i for i in range(12)
    )
    data = b"<gpx><trk><trkseg>" + body + b"</trkseg></trk></gpx>"
    sizes = [len(b.points) for b in parse_gpx(io.BytesIO(data), batch_size=5)]
    assert sizes == [5, 5, 2]
    with pytest.raises(ValueError):
        list(parse_gpx(io.BytesIO(data), batch_size=0))
