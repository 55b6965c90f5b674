"""POST /v1/me/locations: validation, atomicity, idempotence, gzip, size caps, pending counts."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.models import LocationPoint, MotionActivity
from tests.conftest import Person

T0 = 1_700_000_000.0


def points(n: int, start: float = T0, step: float = 5.0) -> list[dict[str, Any]]:
    return [
        {
            "ts": start + i * step,
            "lat": 46.1591 + i * 1e-5,
            "lon": -1.1520 - i * 1e-5,
            "accuracy": 8.0,
            "altitude": 3.0,
            "speed": 1.4,
            "heading": 271.0,
        }
        for i in range(n)
    ]


async def stored(app: FastAPI, person: Person) -> list[LocationPoint]:
    async with app.state.db.session() as session:
        rows = await session.scalars(
            sa.select(LocationPoint)
            .where(LocationPoint.user_id == person.user_id)
            .order_by(LocationPoint.ts_ms)
        )
        return list(rows)


async def pending(client: httpx.AsyncClient, person: Person) -> int:
    response = await client.get("/v1/me/pipeline", headers=person.headers)
    assert response.status_code == 200
    return int(response.json()["pending_points"])


async def test_points_are_stored_as_sent(app: FastAPI, client: httpx.AsyncClient, alice: Person) -> None:
    batch = points(3)
    batch[1] = {
        "ts": "2023-11-14T22:13:25.5Z",
        "lat": 46.16,
        "lon": -1.15,
    }  # T0 + 5.5 s, optional fields absent
    batch[2]["accuracy"] = None
    response = await client.post("/v1/me/locations", headers=alice.headers, json={"points": batch})
    assert response.status_code == 202
    assert response.json() == {"accepted": 3, "duplicates": 0, "activities_received": 0}
    rows = await stored(app, alice)
    assert [r.ts_ms for r in rows] == [1_700_000_000_000, 1_700_000_005_500, 1_700_000_010_000]
    assert (rows[0].lat, rows[0].lon) == (46.1591, -1.1520)
    assert rows[0].accuracy_m == pytest.approx(8.0) and rows[0].heading_deg == pytest.approx(271.0)
    assert rows[1].accuracy_m is None and rows[1].speed_mps is None
    assert rows[2].accuracy_m is None and rows[2].altitude_m == pytest.approx(3.0)


async def test_resending_a_batch_stores_nothing_twice(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    batch = {"points": points(50)}
    first = await client.post("/v1/me/locations", headers=alice.headers, json=batch)
    again = await client.post("/v1/me/locations", headers=alice.headers, json=batch)
    assert first.json()["accepted"] == 50 and first.json()["duplicates"] == 0
    assert again.status_code == 202
    assert again.json()["accepted"] == 0 and again.json()["duplicates"] == 50
    overlapping = await client.post("/v1/me/locations", headers=alice.headers, json={"points": points(80)})
    assert overlapping.json()["accepted"] == 30 and overlapping.json()["duplicates"] == 50
    assert len(await stored(app, alice)) == 80
    assert await pending(client, alice) == 80


async def test_a_time_repeated_within_a_batch_is_a_duplicate_and_the_first_wins(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    batch = points(3)
    batch.append({**batch[0], "lat": 10.0})
    response = await client.post("/v1/me/locations", headers=alice.headers, json={"points": batch})
    assert response.json()["accepted"] == 3 and response.json()["duplicates"] == 1
    assert (await stored(app, alice))[0].lat == 46.1591


async def test_the_same_time_from_two_people_is_two_points(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, bob: Person
) -> None:
    for person in (alice, bob):
        response = await client.post("/v1/me/locations", headers=person.headers, json={"points": points(5)})
        assert response.json()["accepted"] == 5
    assert await pending(client, alice) == 5 and await pending(client, bob) == 5
    assert len(await stored(app, bob)) == 5


async def test_concurrent_overlapping_batches_count_every_point_once(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    batches = [
        {"points": points(200, start=T0 + k * 500)} for k in range(6)
    ]  # 1,000 s each, half overlapping
    responses = await asyncio.gather(
        *(client.post("/v1/me/locations", headers=alice.headers, json=b) for b in batches)
    )
    assert all(r.status_code == 202 for r in responses)
    distinct = {p["ts"] for b in batches for p in b["points"]}
    assert sum(r.json()["accepted"] for r in responses) == len(distinct)
    assert len(await stored(app, alice)) == len(distinct)
    assert await pending(client, alice) == len(distinct)


async def test_activities_are_stored_and_deduplicated(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    body = {
        "points": points(2),
        "activities": [
            {"ts": T0, "type": "walking", "confidence": 90},
            {"ts": T0 + 30, "type": "automotive", "confidence": None},
            {"ts": "2023-11-14T22:14:20Z", "type": "unknown"},
        ],
    }
    first = await client.post("/v1/me/locations", headers=alice.headers, json=body)
    assert first.json()["activities_received"] == 3
    await client.post("/v1/me/locations", headers=alice.headers, json=body)
    async with app.state.db.session() as session:
        rows = list(
            await session.scalars(
                sa.select(MotionActivity)
                .where(MotionActivity.user_id == alice.user_id)
                .order_by(MotionActivity.ts_ms)
            )
        )
    assert [(r.ts_ms, r.activity_type, r.confidence) for r in rows] == [
        (1_700_000_000_000, "walking", 90),
        (1_700_000_030_000, "automotive", None),
        (1_700_000_060_000, "unknown", None),
    ]


def _future() -> float:
    return time.time() + 25 * 3600


INVALID = [
    ("latitude above 90", lambda b: b["points"][17].update(lat=90.5), "points/17/lat"),
    ("latitude below -90", lambda b: b["points"][3].update(lat=-91), "points/3/lat"),
    ("longitude above 180", lambda b: b["points"][17].update(lon=180.01), "points/17/lon"),
    ("longitude below -180", lambda b: b["points"][0].update(lon=-200), "points/0/lon"),
    ("missing ts", lambda b: b["points"][5].pop("ts"), "points/5/ts"),
    ("missing lat", lambda b: b["points"][6].pop("lat"), "points/6/lat"),
    ("negative accuracy", lambda b: b["points"][2].update(accuracy=-1), "points/2/accuracy"),
    ("ts more than 24 h ahead", lambda b: b["points"][9].update(ts=_future()), "points/9/ts"),
    ("ts as milliseconds far ahead", lambda b: b["points"][9].update(ts=1_700_000_000_000), "points/9/ts"),
    ("ts before 1980", lambda b: b["points"][1].update(ts=1000), "points/1/ts"),
    ("ts without offset", lambda b: b["points"][4].update(ts="2023-11-14T22:13:20"), "points/4/ts"),
    ("ts not a date", lambda b: b["points"][4].update(ts="yesterday"), "points/4/ts"),
    ("ts a boolean", lambda b: b["points"][4].update(ts=True), "points/4/ts"),
    ("lat as a string", lambda b: b["points"][8].update(lat="46.1"), "points/8/lat"),
    ("speed not a number", lambda b: b["points"][8].update(speed="fast"), "points/8/speed"),
    ("no points", lambda b: b.update(points=[]), "points"),
    ("points not a list", lambda b: b.update(points={"ts": T0}), "points"),
    (
        "unknown activity type",
        lambda b: b.update(activities=[{"ts": T0, "type": "flying"}]),
        "activities/0/type",
    ),
    (
        "activity confidence above 100",
        lambda b: b.update(activities=[{"ts": T0, "type": "walking", "confidence": 101}]),
        "activities/0/confidence",
    ),
    ("unknown top-level field", lambda b: b.update(trips=[]), "trips"),
]


@pytest.mark.parametrize(("case", "mutate", "field"), INVALID, ids=[c[0] for c in INVALID])
async def test_an_invalid_field_refuses_the_whole_request_and_is_named(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, case: str, mutate: Any, field: str
) -> None:
    body: dict[str, Any] = {"points": points(20)}
    mutate(body)
    response = await client.post("/v1/me/locations", headers=alice.headers, json=body)
    assert response.status_code == 422, case
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["type"] == "/problems/validation-error"
    assert [e["field"] for e in problem["errors"]] == [field]
    assert problem["errors"][0]["pointer"] == "#/" + field
    assert field in problem["detail"]
    # Atomic: the valid points of the same request are not stored either.
    assert await stored(app, alice) == []
    assert await pending(client, alice) == 0


async def test_more_than_10000_points_is_refused(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    response = await client.post(
        "/v1/me/locations", headers=alice.headers, json={"points": points(10_001, step=1)}
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["points"]
    ok = await client.post("/v1/me/locations", headers=alice.headers, json={"points": points(10_000, step=1)})
    assert ok.status_code == 202 and ok.json()["accepted"] == 10_000
    assert len(await stored(app, alice)) == 10_000


async def test_non_finite_numbers_are_refused(client: httpx.AsyncClient, alice: Person) -> None:
    raw = json.dumps({"points": points(2)}).replace('"altitude": 3.0', '"altitude": NaN', 1)
    response = await client.post(
        "/v1/me/locations", headers={**alice.headers, "Content-Type": "application/json"}, content=raw
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["points/0/altitude"]


async def test_bad_json_is_refused_with_a_problem(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    response = await client.post(
        "/v1/me/locations",
        headers={**alice.headers, "Content-Type": "application/json"},
        content=b'{"points": [{"ts": 1700000000, "lat": 46.1,',
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "JSON" in response.json()["errors"][0]["detail"]
    assert await stored(app, alice) == []


async def test_a_gzip_body_is_accepted(app: FastAPI, client: httpx.AsyncClient, alice: Person) -> None:
    raw = json.dumps({"points": points(500)}).encode()
    response = await client.post(
        "/v1/me/locations",
        headers={**alice.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
        content=gzip.compress(raw),
    )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 500
    assert len(await stored(app, alice)) == 500


async def test_a_corrupt_gzip_body_is_400(client: httpx.AsyncClient, alice: Person) -> None:
    packed = gzip.compress(json.dumps({"points": points(50)}).encode())
    for body in (b"this is not gzip", packed[: len(packed) // 2]):
        response = await client.post(
            "/v1/me/locations",
            headers={**alice.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
            content=body,
        )
        assert response.status_code == 400
        assert response.json()["type"] == "/problems/invalid-body"


async def test_an_unknown_content_encoding_is_415(client: httpx.AsyncClient, alice: Person) -> None:
    response = await client.post(
        "/v1/me/locations",
        headers={**alice.headers, "Content-Type": "application/json", "Content-Encoding": "br"},
        content=b"{}",
    )
    assert response.status_code == 415


async def test_a_body_over_the_cap_is_413(app: FastAPI, client: httpx.AsyncClient, alice: Person) -> None:
    cap = app.state.settings.max_body_bytes
    body = b'{"points": [' + b" " * cap + b"]}"
    response = await client.post(
        "/v1/me/locations", headers={**alice.headers, "Content-Type": "application/json"}, content=body
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"

    async def chunks() -> Any:  # no Content-Length: the cap applies to what actually arrives
        for _ in range(cap // 65536 + 2):
            yield b" " * 65536

    streamed = await client.post(
        "/v1/me/locations", headers={**alice.headers, "Content-Type": "application/json"}, content=chunks()
    )
    assert streamed.status_code == 413


async def test_a_gzip_bomb_is_413(client: httpx.AsyncClient, alice: Person, app: FastAPI) -> None:
    cap = app.state.settings.max_body_bytes
    bomb = gzip.compress(b'{"points": [' + b" " * (4 * cap) + b"]}", compresslevel=9)
    assert len(bomb) < cap // 100
    response = await client.post(
        "/v1/me/locations",
        headers={**alice.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
        content=bomb,
    )
    assert response.status_code == 413


async def test_pending_points_count_what_was_accepted(client: httpx.AsyncClient, alice: Person) -> None:
    assert (await client.get("/v1/me/pipeline", headers=alice.headers)).json() == {
        "pending_points": 0,
        "processed_until": None,
        "failed_attempts": 0,
        "next_attempt": None,
    }
    await client.post("/v1/me/locations", headers=alice.headers, json={"points": points(10)})
    await client.post("/v1/me/locations", headers=alice.headers, json={"points": points(15)})
    assert await pending(client, alice) == 15


async def test_stored_points_are_counted_as_pending_from_the_earliest_new_one(
    app: FastAPI, alice: Person
) -> None:
    # On PostgreSQL the insert and the pending count are one statement; on SQLite two. Both must leave the
    # same state: every new point counted once, the earliest new time remembered, duplicates changing nothing.
    from app.ingest.repository import PointColumns, store_points
    from app.models import PipelineState

    def columns(first: int, last: int) -> PointColumns:
        ts = [1_700_000_000_000 + i * 1000 for i in range(first, last + 1)]
        n = len(ts)
        return PointColumns(ts, [46.1] * n, [-1.1] * n, [5.0] * n, [None] * n, [None] * n, [None] * n)

    async def state() -> tuple[int, int | None]:
        async with app.state.db.session() as session:
            row = await session.get(PipelineState, alice.user_id)
            assert row is not None
            return row.pending_points, row.dirty_from_ms

    async def store(first: int, last: int) -> int:
        async with app.state.db.session() as session:
            accepted = await store_points(session, alice.user_id, columns(first, last))
            await session.commit()
            return accepted

    async def processed() -> None:  # as the worker leaves it: nothing dirty
        async with app.state.db.session() as session:
            await session.execute(
                sa.update(PipelineState)
                .where(PipelineState.user_id == alice.user_id)
                .values(dirty_from_ms=None)
            )
            await session.commit()

    assert await store(10, 20) == 11
    assert await state() == (11, 1_700_000_010_000)
    assert await store(15, 30) == 10  # later new points leave the earliest where it was
    assert await state() == (21, 1_700_000_010_000)
    await processed()
    # 5..9 and 31..35 are new: the earliest of them, not of the batch, marks where trips may change
    assert await store(5, 35) == 10
    assert await state() == (31, 1_700_000_005_000)
    await processed()
    assert await store(20, 40) == 5
    assert await state() == (36, 1_700_000_036_000)
    assert await store(1, 2) == 2  # earlier ones move it back
    assert await state() == (38, 1_700_000_001_000)
    assert await store(5, 40) == 0  # a resent batch counts nothing
    assert await state() == (38, 1_700_000_001_000)
    expected = [1_700_000_000_000 + i * 1000 for i in (1, 2, *range(5, 41))]
    assert [p.ts_ms for p in await stored(app, alice)] == expected
