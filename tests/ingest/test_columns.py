"""POST /v1/me/locations/columns: the columnar body, read as the object form is, validated as strictly,
stored the same way."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from app.ingest.columns import MIRRORS, read_columns, read_columns_fast, read_columns_with_model
from app.ingest.reader import read_batch
from app.models import LocationPoint, MotionActivity
from tests.conftest import Person

T0 = 1_700_000_000.0
URL = "/v1/me/locations/columns"
FIELDS = ("ts", "lat", "lon", "accuracy", "altitude", "speed", "heading")
OPTIONAL = ("accuracy", "altitude", "speed", "heading")


def columns(n: int, start: float = T0, step: float = 5.0) -> dict[str, Any]:
    """`n` points as columns, every optional reading given."""
    return {
        "ts": [start + i * step for i in range(n)],
        "lat": [46.1591 + i * 1e-5 for i in range(n)],
        "lon": [-1.1520 - i * 1e-5 for i in range(n)],
        "accuracy": [8.0] * n,
        "altitude": [3.0] * n,
        "speed": [1.4] * n,
        "heading": [271.0] * n,
    }


def as_objects(data: dict[str, Any]) -> dict[str, Any]:
    """The same batch in the object form (absent columns absent from every point)."""
    names = [name for name in FIELDS if name in data]
    points = [dict(zip(names, values, strict=True)) for values in zip(*(data[n] for n in names), strict=True)]
    body: dict[str, Any] = {"points": points}
    if "activities" in data:
        acts = data["activities"]
        keys = [k for k in ("ts", "type", "confidence") if k in acts]
        body["activities"] = [
            dict(zip(keys, v, strict=True)) for v in zip(*(acts[k] for k in keys), strict=True)
        ]
    return body


def encoded(data: Any) -> bytes:
    return json.dumps(data).encode()


async def stored(app: FastAPI, person: Person) -> list[tuple[Any, ...]]:
    async with app.state.db.session() as session:
        rows = await session.execute(
            sa.select(
                LocationPoint.ts_ms,
                LocationPoint.lat,
                LocationPoint.lon,
                LocationPoint.accuracy_m,
                LocationPoint.altitude_m,
                LocationPoint.speed_mps,
                LocationPoint.heading_deg,
            )
            .where(LocationPoint.user_id == person.user_id)
            .order_by(LocationPoint.ts_ms)
        )
        return [tuple(row) for row in rows]


async def stored_activities(app: FastAPI, person: Person) -> list[tuple[int, str, int | None]]:
    async with app.state.db.session() as session:
        rows = await session.execute(
            sa.select(MotionActivity.ts_ms, MotionActivity.activity_type, MotionActivity.confidence)
            .where(MotionActivity.user_id == person.user_id)
            .order_by(MotionActivity.ts_ms)
        )
        return [(int(r[0]), str(r[1]), r[2]) for r in rows]


async def pending(client: httpx.AsyncClient, person: Person) -> int:
    response = await client.get("/v1/me/pipeline", headers=person.headers)
    assert response.status_code == 200
    return int(response.json()["pending_points"])


# -- the reader ----------------------------------------------------------------------------------------


def test_each_mirror_has_the_fields_of_its_model() -> None:
    for model, mirror in MIRRORS:
        assert set(model.model_fields) == set(mirror.__annotations__), model.__name__


def _without(data: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in names}


VALID: list[tuple[str, dict[str, Any]]] = [
    ("every column", columns(20)),
    ("optional columns absent", _without(columns(5), *OPTIONAL)),
    ("some optional columns absent", _without(columns(5), "altitude", "heading")),
    ("nulls in optional columns", {**columns(3), "accuracy": [None, 5.0, None], "speed": [None] * 3}),
    ("integers where floats go", {"ts": [1_700_000_000], "lat": [46], "lon": [-1], "accuracy": [5]}),
    ("an RFC 3339 time among numbers", {**columns(3), "ts": [T0, "2023-11-14T22:13:25.5Z", T0 + 10]}),
    ("times with offsets only", {**columns(2), "ts": ["2023-11-15T00:13:20+02:00", T0 + 5]}),
    ("out of order, repeated", {**columns(5), "ts": [T0 + 3, T0 + 1, T0 + 3, T0 + 2, T0 + 1]}),
    ("unknown keys", {**columns(2), "provider": ["fused", "gps"], "version": 3}),
    ("edges of the ranges", {"ts": [T0, T0 + 1], "lat": [90, -90.0], "lon": [-180, 180.0], "accuracy": [0, 1e6],
                             "altitude": [-12000.0, 1e5], "speed": [-1, 1000], "heading": [360, -1.0]}),
    ("activities", {**columns(1), "activities": {"ts": [T0 + 30, T0, "2023-11-14T22:14:20Z", T0],
                                                  "type": ["automotive", "walking", "unknown", "cycling"],
                                                  "confidence": [None, 90, 50, 10], "extra": 1}}),
    ("activities without confidence", {**columns(1), "activities": {"ts": [T0], "type": ["walking"]}}),
    ("no activities", {**columns(1), "activities": {"ts": [], "type": []}}),
    ("half-milliseconds round half to even", {**columns(2), "ts": [1_700_000_000.0625, 1_700_000_000.1875]}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "data"), VALID, ids=[c for c, _ in VALID])
def test_a_valid_batch_is_read_as_the_model_and_the_object_form_read_it(
    case: str, data: dict[str, Any]
) -> None:
    fast = read_columns_fast(encoded(data), time.time())
    assert fast is not None, case
    assert fast == read_columns_with_model(encoded(data))
    assert fast == read_batch(encoded(as_objects(data)))
    assert read_columns(encoded(data)) == fast


def _set(name: str, index: int, value: Any) -> Any:
    def mutate(data: dict[str, Any]) -> None:
        data[name][index] = value

    return mutate


def _future() -> float:
    return time.time() + 25 * 3600


INVALID: list[tuple[str, Any, list[str]]] = [
    ("latitude above 90", _set("lat", 17, 90.5), ["lat/17"]),
    ("latitude below -90", _set("lat", 3, -91), ["lat/3"]),
    ("longitude above 180", _set("lon", 0, 180.01), ["lon/0"]),
    ("negative accuracy", _set("accuracy", 2, -1), ["accuracy/2"]),
    ("altitude out of range", _set("altitude", 2, 1e7), ["altitude/2"]),
    ("speed out of range", _set("speed", 2, 1001), ["speed/2"]),
    ("heading out of range", _set("heading", 2, 361), ["heading/2"]),
    ("a null latitude", _set("lat", 4, None), ["lat/4"]),
    ("a null time", _set("ts", 4, None), ["ts/4"]),
    ("ts more than 24 h ahead", lambda d: d["ts"].__setitem__(9, _future()), ["ts/9"]),
    ("ts as milliseconds", _set("ts", 9, 1_700_000_000_000), ["ts/9"]),
    ("ts before 1980", _set("ts", 1, 1000), ["ts/1"]),
    ("ts without offset", _set("ts", 4, "2023-11-14T22:13:20"), ["ts/4"]),
    ("ts not a date", _set("ts", 4, "yesterday"), ["ts/4"]),
    ("ts a boolean", _set("ts", 4, True), ["ts/4"]),
    ("lat a boolean", _set("lat", 5, False), ["lat/5"]),
    ("lat as a string", _set("lat", 8, "46.1"), ["lat/8"]),
    ("speed not a number", _set("speed", 8, "fast"), ["speed/8"]),
    ("a column not a list", lambda d: d.update(accuracy=8.0), ["accuracy"]),
    ("a null column", lambda d: d.update(accuracy=None), ["accuracy"]),
    ("missing lat", lambda d: d.pop("lat"), ["lat"]),
    ("a column shorter than ts", lambda d: d["accuracy"].pop(), ["accuracy"]),
    ("a column longer than ts", lambda d: d["lon"].append(1.0), ["lon"]),
    ("two columns of other lengths", lambda d: (d["lat"].pop(), d["heading"].pop()), ["lat", "heading"]),
    ("ts shorter than the rest", lambda d: d["ts"].pop(), [*FIELDS[1:]]),
    ("empty", lambda d: d.update(ts=[], lat=[], lon=[]), ["ts", "lat", "lon"]),
    ("an empty object", lambda d: d.clear(), ["ts", "lat", "lon"]),
    ("unknown activity type", lambda d: d.update(activities={"ts": [T0], "type": ["flying"]}),
     ["activities/type/0"]),
    ("activity confidence above 100",
     lambda d: d.update(activities={"ts": [T0, T0 + 1], "type": ["walking"] * 2, "confidence": [1, 101]}),
     ["activities/confidence/1"]),
    ("activity types fewer than times", lambda d: d.update(activities={"ts": [T0, T0 + 1], "type": ["walking"]}),
     ["activities/type"]),
    ("activities without times", lambda d: d.update(activities={"type": ["walking"]}), ["activities/ts"]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "mutate", "fields"), INVALID, ids=[c[0] for c in INVALID])
def test_an_invalid_batch_is_refused_by_both_paths_and_the_field_named(
    case: str, mutate: Any, fields: list[str]
) -> None:
    data = columns(20)
    mutate(data)
    assert read_columns_fast(encoded(data), time.time()) is None, case
    with pytest.raises(RequestValidationError) as refused:
        read_columns_with_model(encoded(data))
    named = [
        "/".join(str(p) for p in e["loc"][1:] if not str(p).startswith("function-"))
        for e in refused.value.errors()
    ]
    assert named == fields


# -- the endpoint, on both databases ---------------------------------------------------------------------


async def test_points_are_stored_and_resent_points_are_duplicates(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    first = await client.post(URL, headers=alice.headers, json=columns(50))
    assert first.status_code == 202, first.text
    assert first.json() == {"accepted": 50, "duplicates": 0, "activities_received": 0}
    again = await client.post(URL, headers=alice.headers, json=columns(50))
    assert again.json() == {"accepted": 0, "duplicates": 50, "activities_received": 0}
    overlapping = await client.post(URL, headers=alice.headers, json=columns(80))
    assert overlapping.json()["accepted"] == 30 and overlapping.json()["duplicates"] == 50
    repeated = columns(3, start=T0 + 1000)
    for name in FIELDS:
        repeated[name].append(repeated[name][0])  # the first point's time again: a duplicate
    repeated["lat"][-1] = 10.0
    within = await client.post(URL, headers=alice.headers, json=repeated)
    assert within.json()["accepted"] == 3 and within.json()["duplicates"] == 1
    rows = await stored(app, alice)
    assert len(rows) == 83 and 10.0 not in [row[1] for row in rows]
    assert await pending(client, alice) == 83


async def test_the_same_points_are_stored_as_from_the_object_form(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, bob: Person
) -> None:
    data = {**columns(40), "ts": [T0 + i * 5.0 for i in range(39)] + ["2023-11-14T22:16:40.25Z"]}
    data["accuracy"][3] = None
    data["activities"] = {"ts": [T0, T0 + 60], "type": ["walking", "automotive"], "confidence": [90, None]}
    objects = await client.post("/v1/me/locations", headers=alice.headers, json=as_objects(data))
    cols = await client.post(URL, headers=bob.headers, json=data)
    assert cols.status_code == 202
    assert cols.json() == objects.json() == {"accepted": 40, "duplicates": 0, "activities_received": 2}
    rows = await stored(app, bob)
    assert rows == await stored(app, alice)
    assert rows[3][3] is None and rows[-1][0] == 1_700_000_200_250
    assert await stored_activities(app, bob) == await stored_activities(app, alice)
    assert await stored_activities(app, bob) == [
        (1_700_000_000_000, "walking", 90),
        (1_700_000_060_000, "automotive", None),
    ]


async def test_optional_columns_may_be_absent_or_hold_nulls(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    absent = {name: values for name, values in columns(3).items() if name in ("ts", "lat", "lon")}
    nulls = {**columns(3, start=T0 + 100), "altitude": [None, None, 5.0], "speed": [None] * 3}
    for body in (absent, nulls):
        response = await client.post(URL, headers=alice.headers, json=body)
        assert response.status_code == 202 and response.json()["accepted"] == 3
    rows = await stored(app, alice)
    assert [row[3:] for row in rows[:3]] == [(None, None, None, None)] * 3
    assert [row[4] for row in rows[3:]] == [None, None, 5.0]
    assert [row[5] for row in rows[3:]] == [None] * 3
    assert all(row[3] == 8.0 and row[6] == 271.0 for row in rows[3:])


def _problem_fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["type"] == "/problems/validation-error"
    return [e["field"] for e in problem["errors"]]


HTTP_INVALID = [
    ("a column of another length", lambda d: d["accuracy"].pop(), ["accuracy"]),
    ("latitude out of range", _set("lat", 3, 91.0), ["lat/3"]),
    ("a boolean for a number", _set("speed", 7, True), ["speed/7"]),
    ("a string for a number", _set("lon", 2, "-1.15"), ["lon/2"]),
    ("a time too far ahead", lambda d: d["ts"].__setitem__(9, _future()), ["ts/9"]),
    ("empty", lambda d: d.update(ts=[], lat=[], lon=[], accuracy=[], altitude=[], speed=[], heading=[]),
     ["ts", "lat", "lon"]),
    ("a bad activity", lambda d: d.update(activities={"ts": [T0], "type": ["flying"]}), ["activities/type/0"]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "mutate", "fields"), HTTP_INVALID, ids=[c[0] for c in HTTP_INVALID])
async def test_an_invalid_body_is_refused_whole_and_the_field_named(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, case: str, mutate: Any, fields: list[str]
) -> None:
    data = columns(20)
    mutate(data)
    response = await client.post(URL, headers=alice.headers, json=data)
    assert _problem_fields(response) == fields, case
    problem = response.json()
    assert problem["errors"][0]["pointer"] == "#/" + fields[0]
    assert fields[0] in problem["detail"]
    # Atomic: the valid values of the same request are not stored either.
    assert await stored(app, alice) == []
    assert await stored_activities(app, alice) == []
    assert await pending(client, alice) == 0


async def test_a_length_mismatch_is_said_in_the_readers_language(
    client: httpx.AsyncClient, alice: Person
) -> None:
    data = columns(5)
    data["heading"] = data["heading"][:4]
    english = await client.post(URL, headers=alice.headers, json=data)
    assert "has 4 values where ts has 5" in english.json()["errors"][0]["detail"]
    french = await client.post(URL, headers={**alice.headers, "Accept-Language": "fr"}, json=data)
    assert "compte 4 valeurs quand ts en compte 5" in french.json()["errors"][0]["detail"]


async def test_more_than_10000_points_is_refused(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    response = await client.post(
        URL, headers=alice.headers, json=_without(columns(10_001, step=1), *OPTIONAL)
    )
    assert _problem_fields(response) == ["ts", "lat", "lon"]
    assert await stored(app, alice) == []
    ok = await client.post(URL, headers=alice.headers, json=columns(10_000, step=1))
    assert ok.status_code == 202 and ok.json()["accepted"] == 10_000
    assert len(await stored(app, alice)) == 10_000


async def test_non_finite_numbers_are_refused(client: httpx.AsyncClient, alice: Person) -> None:
    raw = json.dumps(columns(3)).replace('"altitude": [3.0', '"altitude": [NaN', 1)
    response = await client.post(
        URL, headers={**alice.headers, "Content-Type": "application/json"}, content=raw
    )
    assert _problem_fields(response) == ["altitude/0"]


async def test_a_gzip_body_is_accepted(app: FastAPI, client: httpx.AsyncClient, alice: Person) -> None:
    response = await client.post(
        URL,
        headers={**alice.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
        content=gzip.compress(encoded(columns(500))),
    )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 500
    assert len(await stored(app, alice)) == 500


async def test_points_land_under_the_caller_only(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, bob: Person
) -> None:
    response = await client.post(URL, headers=bob.headers, json=columns(7))
    assert response.json()["accepted"] == 7
    assert len(await stored(app, bob)) == 7 and await pending(client, bob) == 7
    assert await stored(app, alice) == [] and await pending(client, alice) == 0
    # the same times from another person are that person's own points, not duplicates
    mine = await client.post(URL, headers=alice.headers, json=columns(7))
    assert mine.json()["accepted"] == 7 and mine.json()["duplicates"] == 0


async def test_a_token_is_required(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, json=columns(2))
    assert response.status_code == 401


def test_the_contract_names_the_body_and_the_operation(app: FastAPI) -> None:
    document = app.openapi()
    operation = document["paths"][URL]["post"]
    assert operation["operationId"] == "ingest-locations-columns"
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/LocationColumnsIn"}
    assert operation["responses"]["202"] == document["paths"]["/v1/me/locations"]["post"]["responses"]["202"]
    body = document["components"]["schemas"]["LocationColumnsIn"]
    assert body["required"] == ["ts", "lat", "lon"] and body["examples"]
