"""The columnar reader of a phone's batch against the contract's models: the same columns for what both
accept, and nothing accepted that the models refuse."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError

from app.ingest.reader import MIRRORS, Batch, read_batch, read_fast, read_with_models

T0 = 1_700_000_000.0
BIG = int("9" * 400)


def point(i: int, **fields: Any) -> dict[str, Any]:
    fix: dict[str, Any] = {
        "ts": T0 + i * 5.0,
        "lat": 46.1591 + i * 1e-5,
        "lon": -1.152 - i * 1e-5,
        "accuracy": 8.0,
        "altitude": 3.0,
        "speed": 1.4,
        "heading": 271.0,
    }
    fix.update(fields)
    return {k: v for k, v in fix.items() if v is not ...}


def body(data: Any) -> bytes:
    return json.dumps(data).encode()


def test_each_mirror_has_the_fields_of_its_model() -> None:
    for model, mirror in MIRRORS:
        assert set(model.model_fields) == set(mirror.__annotations__), model.__name__


VALID: list[tuple[str, dict[str, Any]]] = [
    ("plain", {"points": [point(i) for i in range(20)]}),
    ("optional readings absent or null", {"points": [point(0, accuracy=..., speed=None), point(1)]}),
    ("integers where floats go", {"points": [point(0, ts=1_700_000_000, lat=46, lon=-1, accuracy=5)]}),
    ("an RFC 3339 time among numbers", {"points": [point(0), point(1, ts="2023-11-14T22:13:25.5Z"), point(2)]}),
    ("times with offsets only", {"points": [point(0, ts="2023-11-15T00:13:20+02:00"), point(1)]}),
    ("out of order, repeated", {"points": [point(3), point(1), point(3, lat=10.0), point(2), point(1, lat=9.0)]}),
    ("extra fields of the phone", {"points": [{**point(0), "provider": "fused", "floor": 2}]}),
    ("edges of the ranges", {"points": [point(0, lat=90, lon=-180, accuracy=0, altitude=-12000.0, speed=-1,
                                              heading=360), point(1, lat=-90.0, lon=180.0, heading=-1.0)]}),
    (
        "activities",
        {
            "points": [point(0)],
            "activities": [
                {"ts": T0 + 30, "type": "automotive", "confidence": None},
                {"ts": T0, "type": "walking", "confidence": 90},
                {"ts": "2023-11-14T22:14:20Z", "type": "unknown", "extra": 1},
                {"ts": T0, "type": "cycling"},
            ],
        },
    ),
    ("half-milliseconds round half to even", {"points": [point(0, ts=1_700_000_000.0625),
                                                         point(1, ts=1_700_000_000.1875)]}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "data"), VALID, ids=[c for c, _ in VALID])
def test_a_valid_batch_is_read_fast_as_the_models_read_it(case: str, data: dict[str, Any]) -> None:
    fast = read_fast(body(data), time.time())
    assert fast is not None, case
    assert fast == read_with_models(body(data))
    assert read_batch(body(data)) == fast


def test_the_columns_are_in_time_order_with_the_first_point_of_each_time() -> None:
    data = {"points": [point(3), point(1), point(3, lat=10.0), point(2), point(1, lat=9.0)]}
    batch = read_batch(body(data))
    assert batch.points_sent == 5
    assert batch.points.ts_ms == [1_700_000_005_000, 1_700_000_010_000, 1_700_000_015_000]
    assert batch.points.lat == [point(1)["lat"], point(2)["lat"], point(3)["lat"]]


INVALID: list[tuple[str, Any]] = [
    ("lat above 90", {"points": [point(0, lat=90.5)]}),
    ("lat a boolean", {"points": [point(0, lat=True)]}),
    ("lat a string", {"points": [point(0, lat="46.1")]}),
    ("lat huge", {"points": [point(0, lat=BIG)]}),
    ("accuracy negative", {"points": [point(0, accuracy=-1)]}),
    ("accuracy a boolean", {"points": [point(0, accuracy=False)]}),
    ("accuracy huge", {"points": [point(0, accuracy=1e39)]}),
    ("speed a string", {"points": [point(0, speed="fast")]}),
    ("ts missing", {"points": [point(0, ts=...)]}),
    ("ts a boolean", {"points": [point(0, ts=True)]}),
    ("ts huge", {"points": [point(0, ts=BIG)]}),
    ("ts hugely negative", {"points": [point(0, ts=-BIG)]}),
    ("ts before 1980", {"points": [point(0, ts=1000)]}),
    ("ts in milliseconds", {"points": [point(0, ts=1_700_000_000_000)]}),
    ("ts more than a day ahead", {"points": [point(0, ts=time.time() + 25 * 3600)]}),
    ("ts without offset", {"points": [point(0, ts="2023-11-14T22:13:20")]}),
    ("ts not a date", {"points": [point(0, ts="yesterday")]}),
    ("ts text before 1980", {"points": [point(0, ts="1970-01-01T00:00:00Z")]}),
    ("ts null", {"points": [point(0, ts=None)]}),
    ("no points", {"points": []}),
    ("too many points", {"points": [point(i) for i in range(10_001)]}),
    ("points not a list", {"points": {"ts": T0}}),
    ("a point not an object", {"points": [point(0), [T0, 46.1, -1.1]]}),
    ("unknown top-level field", {"points": [point(0)], "trips": []}),
    ("not an object", [point(0)]),
    ("activity of an unknown type", {"points": [point(0)], "activities": [{"ts": T0, "type": "flying"}]}),
    ("activity confidence 101", {"points": [point(0)], "activities": [{"ts": T0, "type": "walking",
                                                                        "confidence": 101}]}),
    ("activity confidence a float", {"points": [point(0)], "activities": [{"ts": T0, "type": "walking",
                                                                            "confidence": 90.0}]}),
    ("activity ts huge", {"points": [point(0)], "activities": [{"ts": BIG, "type": "walking"}]}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "data"), INVALID, ids=[c for c, _ in INVALID])
def test_what_the_models_refuse_the_fast_path_refuses_too(case: str, data: Any) -> None:
    with pytest.raises(RequestValidationError):
        read_with_models(body(data))
    assert read_fast(body(data), time.time()) is None, case
    with pytest.raises(RequestValidationError):
        read_batch(body(data))


def test_bodies_that_are_not_json_are_refused() -> None:
    for raw in (b"", b"{", b'{"points": [{"ts": 1700000000, "lat": 46.1,', b"\xff\xfe", b'{"points": NaN}'):
        assert read_fast(raw, time.time()) is None
        with pytest.raises(RequestValidationError):
            read_batch(raw)
    raw = body({"points": [point(0)]}).replace(b'"altitude": 3.0', b'"altitude": NaN')
    assert read_fast(raw, time.time()) is None
    with pytest.raises(RequestValidationError):
        read_batch(raw)


MUTATIONS: list[Any] = [
    None, True, False, 0, -1, 1, 1.5, -1e-50, 1e-50, 1e39, 1e300, BIG, "", "1", "46.1", "2023-11-14T22:13:20Z",
    "2023-11-14 22:13:20+00:00", [], {}, 91, -181, 360.5, 1_700_000_000, 1_700_000_000.0005, 315_964_799.9994,
    315_964_800, ...,
]  # fmt: skip
FIELDS = ["ts", "lat", "lon", "accuracy", "altitude", "speed", "heading"]


def test_random_mutations_never_find_a_batch_the_fast_path_reads_otherwise() -> None:
    """Seeded: the same 600 bodies every run, each a few points with one to three fields changed."""
    rng = random.Random(20261207)
    now_s = time.time()
    accepted = refused = 0
    for _ in range(600):
        points = [point(i) for i in range(rng.randint(1, 6))]
        for _ in range(rng.randint(1, 3)):
            fix = rng.choice(points)
            fix[rng.choice(FIELDS)] = rng.choice(MUTATIONS)
        data = {"points": [{k: v for k, v in p.items() if v is not ...} for p in points]}
        try:
            expected: Batch | None = read_with_models(body(data))
        except RequestValidationError:
            expected = None
        assert read_fast(body(data), now_s) == expected, data
        accepted += expected is not None
        refused += expected is None
    assert accepted > 50 and refused > 50  # both sides of the contract were tried
