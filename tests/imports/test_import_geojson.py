"""GeoJSON FeatureCollection / Feature parsing."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from app.imports.parsers import ImportedPoint, ImportFormatError, parse_geojson

T = 1714557600.0  # 2024-05-01T10:00:00Z


def point_feature(lon: float, lat: float, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}


def collection(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def points(data: bytes, batch_size: int = 5000) -> list[ImportedPoint]:
    out: list[ImportedPoint] = []
    for pts, acts in parse_geojson(io.BytesIO(data), batch_size=batch_size):
        assert acts == [] and len(pts) <= batch_size
        out.extend(pts)
    return out


def test_point_times_epoch_s_ms_rfc3339() -> None:
    data = collection(
        point_feature(-1.15, 46.15, time=T),
        point_feature(-1.15, 46.15, timestamp=int(T * 1000) + 500),
        point_feature(-1.15, 46.15, ts="2024-05-01T12:00:02.5+02:00"),
        point_feature(-1.15, 46.15, time="1714557603"),
        point_feature(-1.15, 46.15, time="1714557604000"),
        point_feature(-1.15, 46.15, time="2024-05-01T10:00:05Z"),
    )
    assert [p.ts_s for p in points(data)] == [T, T + 0.5, T + 2.5, T + 3, T + 4, T + 5]


def test_point_optional_properties_and_altitude_coordinate() -> None:
    feature = point_feature(2.35, 48.85, time=T, accuracy=8, speed=1.5, heading=45)
    feature["geometry"]["coordinates"].append(33.0)
    assert points(collection(feature)) == [
        ImportedPoint(T, 48.85, 2.35, accuracy_m=8.0, altitude_m=33.0, speed_mps=1.5, heading_deg=45.0)
    ]


def test_linestring_with_coordtimes() -> None:
    line = {
        "type": "Feature",
        "properties": {
            "name": "ride",
            "coordTimes": ["2024-05-01T10:00:00Z", "2024-05-01T10:00:01.5Z", "2024-05-01T12:00:03+02:00"],
        },
        "geometry": {"type": "LineString", "coordinates": [[-1.1, 46.1, 5.0], [-1.2, 46.2], [-1.3, 46.3, 7]]},
    }
    pts = points(collection(line))
    assert pts == [
        ImportedPoint(T, 46.1, -1.1, altitude_m=5.0),
        ImportedPoint(T + 1.5, 46.2, -1.2),
        ImportedPoint(T + 3, 46.3, -1.3, altitude_m=7.0),
    ]


def test_multilinestring_nested_and_flat_times_and_single_feature() -> None:
    coords = [[[0.0, 1.0], [0.0, 2.0]], [[0.0, 3.0]]]
    nested = {
        "type": "Feature",
        "geometry": {"type": "MultiLineString", "coordinates": coords},
        "properties": {"coordTimes": [[T, T + 1], [T + 2]]},
    }
    flat = {**nested, "properties": {"times": [T, T + 1, T + 2]}}
    expected = [(1.0, T), (2.0, T + 1), (3.0, T + 2)]
    assert [(p.lat, p.ts_s) for p in points(collection(nested))] == expected
    assert [(p.lat, p.ts_s) for p in points(json.dumps(flat).encode())] == expected  # top-level Feature


def test_skipped_geometries() -> None:
    polygon = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
        "properties": {},
    }
    nothing = {"type": "Feature", "geometry": None, "properties": {"time": T}}
    assert points(collection(polygon, nothing, point_feature(1, 1, time=T))) == [ImportedPoint(T, 1.0, 1.0)]


@pytest.mark.parametrize(
    ("feature", "message"),
    [
        (point_feature(1, 1), r"feature 1 \(Point\) has no time property"),
        (point_feature(1, 95, time=T), "feature 1 has an impossible latitude 95"),
        (point_feature(200, 1, time=T), "feature 1 has an impossible longitude 200"),
        (point_feature(1, 1, time="soon"), "feature 1 has an unreadable time 'soon'"),
        (
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[0, 0], [0, 1]]},
                "properties": {"coordTimes": [T]},
            },
            "feature 1 .LineString. has 2 vertices but 1 times",
        ),
        (
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[0, 0]]},
                "properties": {},
            },
            "has no per-vertex times",
        ),
        (
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[0, 0], [0, 91]]},
                "properties": {"coordTimes": [T, T + 1]},
            },
            "feature 1 vertex 1 has an impossible latitude",
        ),
    ],
)
def test_bad_features_name_the_index(feature: dict[str, Any], message: str) -> None:
    with pytest.raises(ImportFormatError, match=message):
        points(collection(point_feature(0, 0, time=T), feature))


def test_truncated_raises() -> None:
    data = collection(*[point_feature(1, 1, time=T + i) for i in range(20)])
    for cut in range(1, len(data) - 1, 41):
        with pytest.raises(ImportFormatError, match="GeoJSON"):
            points(data[:cut])


def test_malformed_and_bare_geometry() -> None:
    with pytest.raises(ImportFormatError, match="not valid JSON"):
        points(b'{"type": "FeatureCollection", "features": [}')
    with pytest.raises(ImportFormatError, match="bare LineString"):
        points(b'{"type": "LineString", "coordinates": [[0, 0], [1, 1]]}')


def test_batch_sizes_respected() -> None:
    data = collection(*[point_feature(1, 1, time=T + i) for i in range(7)])
    assert [len(b.points) for b in parse_geojson(io.BytesIO(data), batch_size=3)] == [3, 3, 1]
