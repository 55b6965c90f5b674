"""Inputs at the edges: times outside the calendar, forged cursors, huge numbers, readings a 4-byte float
cannot hold, NUL characters. Each answers a 422 naming the field (or is handled), never a 500, on both
databases."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.models import LocationPoint
from tests.conftest import Person

STATS = ["modal-share", "co2-per-user", "profile", "timeseries", "od", "zones"]
NOW = int(time.time()) - 3600
BIG = int("9" * 400)  # a 400-digit integer: valid JSON, too large for any float


def fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in response.json()["errors"]]


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


async def stored_point(app: FastAPI, person: Person) -> LocationPoint:
    async with app.state.db.session() as session:
        (point,) = (
            await session.scalars(sa.select(LocationPoint).where(LocationPoint.user_id == person.user_id))
        ).all()
        await session.commit()
    return point


# 1. Statistics ranges at the edges of the calendar ---------------------------------------------------------


@pytest.mark.parametrize("route", STATS)
async def test_statistics_ranges_at_the_edges_of_the_calendar(
    client: httpx.AsyncClient, operator_headers: dict[str, str], route: str
) -> None:
    url = f"/v1/operator/stats/{route}"
    extra: dict[str, str] = {}
    if route == "od":  # flows are between the zones of an uploaded zone set, not the grid's cells
        square = {
            "type": "Polygon",
            "coordinates": [[[-1.3, 46.0], [-1.0, 46.0], [-1.0, 46.3], [-1.3, 46.0]]],
        }
        zones = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": square,
                                                            "properties": {"code": "17300"}}]}  # fmt: skip
        created = await client.post("/v1/operator/zone-sets?name=one", headers=operator_headers, json=zones)
        assert created.status_code == 201
        extra = {"zone_set": "one"}
    # `to` in year 1: the default `from` (a year earlier) stops at the start of the calendar; nothing to count.
    for to in ("0001-01-01T00:00:00Z", "0001-01-01", "0001-06-30"):
        response = await client.get(url, headers=operator_headers, params={**extra, "to": to})
        assert response.status_code == 200, response.text
        assert response.json()["from"] == "0001-01-01"
    for params in ({"from": "9999-12-31"}, {"from": "2026-02-01", "to": "2026-01-31"}):
        assert fields(await client.get(url, headers=operator_headers, params={**extra, **params})) == ["from"]
    # A release covers days that have ended: the last day of the calendar is not one yet.
    last = await client.get(
        url, headers=operator_headers, params={**extra, "from": "9999-12-31", "to": "9999-12-31"}
    )
    assert fields(last) == ["to"]
    assert fields(await client.get(url, headers=operator_headers, params={**extra, "to": "10000-01-01"})) == [
        "to"
    ]


# 2. The trip list's times and cursor ---------------------------------------------------------------------


async def test_trip_list_times_outside_the_calendar_are_named(
    client: httpx.AsyncClient, alice: Person
) -> None:
    values = ["inf", "-inf", "nan", "1e20", str(2**63), str(-(2**63)), "1" + "0" * 400, "-62135596801",
              "253402300800", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59.9999Z"]  # fmt: skip
    for field in ("from", "to"):
        for value in values:
            response = await client.get("/v1/me/trips", headers=alice.headers, params={field: value})
            assert fields(response) == [field], (field, value)
    for value in ("-62135596800", "253402300799.5", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z"):
        response = await client.get(
            "/v1/me/trips", headers=alice.headers, params={"from": value, "to": value}
        )
        assert response.status_code == 200, (value, response.text)


async def test_a_forged_cursor_is_named(client: httpx.AsyncClient, alice: Person) -> None:
    some_id = f'"{uuid.uuid4()}"'
    forged = [
        cursor(f"[Infinity, {some_id}]"),
        cursor(f"[-Infinity, {some_id}]"),
        cursor(f"[NaN, {some_id}]"),
        cursor(f"[1e20, {some_id}]"),
        cursor(f"[1.5, {some_id}]"),
        cursor(f"[{2**63}, {some_id}]"),
        cursor(f"[{-(2**63) - 1}, {some_id}]"),
        cursor(f"[{BIG}, {some_id}]"),
        cursor(f"[253402300800000, {some_id}]"),
        cursor(f"[true, {some_id}]"),
        cursor("[1, 5]"),
        cursor("[1, null]"),
        cursor('[1, "not-a-uuid"]'),
        cursor('{"a": 1, "b": 2}'),
        cursor("[" * 5000 + "]" * 5000),
        "A" * 201,
    ]
    for value in forged:
        assert fields(await client.get("/v1/me/trips", headers=alice.headers, params={"cursor": value})) == [
            "cursor"
        ], value
    fine = cursor(f"[{NOW * 1000}, {some_id}]")
    response = await client.get("/v1/me/trips", headers=alice.headers, params={"cursor": fine})
    assert response.status_code == 200 and response.json()["trips"] == []


# 3. Summaries: a capped number of periods, and the edges of the calendar -----------------------------------


async def test_a_summary_covers_a_bounded_number_of_periods(client: httpx.AsyncClient, alice: Person) -> None:
    # The first of these took minutes, on the event loop: the number of periods is now capped.
    for period, since in (("day", "2000-01-01"), ("day", "1900-01-01"), ("week", "1900-01-01"),
                          ("month", "1900-01-01"), ("year", "1900-01-01"), ("day", "0001-01-01")):  # fmt: skip
        started = time.perf_counter()
        response = await client.get(
            "/v1/me/summary", headers=alice.headers, params={"period": period, "from": f"{since}T00:00:00Z"}
        )
        assert fields(response) == ["from"], (period, since)
        assert time.perf_counter() - started < 2
    # At the cap exactly: a leap year of days, five years of weeks, ten years of months, fifty years.
    for period, since, until, count in (
        ("day", "2024-01-01T00:00:00+01:00", "2025-01-01T00:00:00+01:00", 366),
        ("week", "2020-01-06T00:00:00+01:00", "2024-12-30T00:00:00+01:00", 260),
        ("month", "2016-01-01T00:00:00+01:00", "2026-01-01T00:00:00+01:00", 120),
        ("year", "1976-01-01T00:00:00+01:00", "2026-01-01T00:00:00+01:00", 50),
    ):
        response = await client.get(
            "/v1/me/summary", headers=alice.headers, params={"period": period, "from": since, "to": until}
        )
        assert response.status_code == 200, (period, response.text)
        assert len(response.json()["periods"]) == count
        over = await client.get(
            "/v1/me/summary",
            headers=alice.headers,
            params={"period": period, "from": since.replace(since[:4], str(int(since[:4]) - 1)), "to": until},
        )
        assert fields(over) == ["from"], period


@pytest.mark.parametrize("period", ["day", "week", "month", "year"])
async def test_a_summary_at_the_edges_of_the_calendar(
    client: httpx.AsyncClient, alice: Person, period: str
) -> None:
    async def summary(**params: str) -> httpx.Response:
        return await client.get("/v1/me/summary", headers=alice.headers, params={"period": period, **params})

    # The period before the first one (for comparison) would start before year 1.
    assert fields(await summary(**{"from": "0001-01-01T00:00:00Z", "to": "0001-01-05T00:00:00Z"})) == ["from"]
    # The default range (twelve periods back from `to`) would start before year 1.
    assert fields(await summary(to="0001-01-05T00:00:00Z")) == ["to"]
    # The last period would end after year 9999 (in Paris, 23:59 UTC is already the year 10000).
    end = "9999-12-31T23:59:59Z"
    assert fields(await summary(to=end)) == ["to"]
    assert fields(await summary(**{"from": "9999-12-25T00:00:00Z", "to": end})) == ["to"]
    assert fields(await summary(**{"from": "9999-12-31T23:30:00Z", "to": "9999-12-31T23:31:00Z"})) == ["to"]
    # Inside the calendar, a range near its start is answered (with nothing in it).
    if period == "day":
        response = await summary(**{"from": "0001-01-03T00:00:00Z", "to": "0001-01-05T00:00:00Z"})
        assert response.status_code == 200, response.text
        assert response.json()["total"]["trips"] == 0 and len(response.json()["periods"]) == 3


def test_period_counts_match_the_periods_walked() -> None:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from app.emissions.summary import period_count, periods_between

    zone = ZoneInfo("Europe/Paris")
    start = datetime(2023, 3, 26, 1, 30, tzinfo=zone)  # the night summer time begins
    for period in ("day", "week", "month", "year"):
        for days in (0, 1, 6, 7, 30, 31, 365, 366, 400, 1000):
            end = start + timedelta(days=days, hours=5)
            assert period_count(start, end, period) == len(periods_between(start, end, period))  # type: ignore[arg-type]
        assert period_count(start, start, period) == 0  # type: ignore[arg-type]


# 4. The e-mission timeline at the edges of the calendar --------------------------------------------------


async def test_the_timeline_of_a_day_at_the_edge_of_the_calendar(
    client: httpx.AsyncClient, alice: Person
) -> None:
    for day in ("9999-12-31", "9999-12-30", "0001-01-01"):
        response = await client.post(f"/timeline/getTrips/{day}", json={"user": alice.token})
        assert response.status_code == 200, (day, response.text)
        assert response.json() == {"timeline": []}
    response = await client.post("/timeline/getTrips/10000-01-01", json={"user": alice.token})
    assert fields(response) == ["day"]
    # The person is still checked first.
    assert (await client.post("/timeline/getTrips/9999-12-31", json={"user": "nobody"})).status_code == 401


# 5. Huge numbers in phone bodies -------------------------------------------------------------------------


async def test_huge_numbers_in_phone_bodies_are_refused_or_skipped(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    # Python writes integers of any length in JSON: these bodies carry the 400 digits as they are.
    point = {"ts": NOW, "lat": 46.1, "lon": -1.1}
    for body, field in (
        ({"points": [{**point, "ts": BIG}]}, "points/0/ts"),
        ({"points": [{**point, "ts": -BIG}]}, "points/0/ts"),
        ({"points": [{**point, "accuracy": BIG}]}, "points/0/accuracy"),
        ({"points": [{**point, "lat": BIG}]}, "points/0/lat"),
        ({"points": [point], "activities": [{"ts": BIG, "type": "walking"}]}, "activities/0/ts"),
    ):
        assert fields(await client.post("/v1/me/locations", headers=alice.headers, json=body)) == [field]

    def location(**data: Any) -> dict[str, Any]:
        fix = {"ts": NOW, "latitude": 46.1, "longitude": -1.1, **data}
        return {"metadata": {"key": "background/location"}, "data": fix}

    motion = {"metadata": {"key": "background/motion_activity", "write_ts": NOW},
              "data": {"ts": BIG, "type": 0, "confidence": 50}}  # fmt: skip
    entries = [
        location(ts=BIG),
        location(latitude=BIG),
        location(ts=-BIG),
        motion,
        location(accuracy=BIG, altitude=-BIG, sensed_speed=BIG, bearing=BIG),
    ]
    body = json.dumps({"user": alice.token, "phone_to_server": entries})
    response = await client.post("/usercache/put", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    answer = response.json()
    # The entries whose time or position is no number are listed and left out; the huge optional readings
    # of the last one are dropped, the point kept.
    assert answer["accepted"] == 1
    assert any(e.startswith("entry 0 ") for e in answer["errors"])
    assert any(e.startswith("entry 1 ") for e in answer["errors"])
    assert any(e.startswith("entry 3 ") for e in answer["errors"])
    point = await stored_point(app, alice)
    assert (point.accuracy_m, point.altitude_m, point.speed_mps, point.heading_deg) == (
        None,
        None,
        None,
        None,
    )


# 6. Readings a 4-byte float (REAL) cannot hold -------------------------------------------------------------


async def test_readings_beyond_a_real_column_are_refused_and_named(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    for name in ("accuracy", "altitude", "speed", "heading"):
        for value in (1e39, 3.5e38, -3.5e38, 1e300):
            body = {"points": [{"ts": NOW, "lat": 46.1, "lon": -1.1, name: value}]}
            response = await client.post("/v1/me/locations", headers=alice.headers, json=body)
            assert fields(response) == [f"points/0/{name}"], (name, value)
    # The edges of the plausible ranges, and iOS's -1 for "no reading", are taken.
    edge = {"accuracy": 1e6, "altitude": -12000.0, "speed": -1.0, "heading": 360.0}
    body = {"points": [{"ts": NOW, "lat": 46.1, "lon": -1.1, **edge}, {"ts": NOW + 1, "lat": 46.1, "lon": -1.1,
            "accuracy": 1e-50, "altitude": 100000.0, "speed": 1000.0, "heading": -1.0}]}  # fmt: skip
    response = await client.post("/v1/me/locations", headers=alice.headers, json=body)
    assert response.status_code == 202 and response.json()["accepted"] == 2, response.text


async def test_usercache_readings_beyond_their_range_become_null(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    data = {"ts": NOW, "latitude": 46.1, "longitude": -1.1, "accuracy": 3.5e38, "altitude": -1e39,
            "sensed_speed": 1e39, "bearing": 3.5e38}  # fmt: skip
    entry = {"metadata": {"key": "background/location"}, "data": data}
    response = await client.post("/usercache/put", json={"user": alice.token, "phone_to_server": [entry]})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    point = await stored_point(app, alice)
    assert (point.accuracy_m, point.altitude_m, point.speed_mps, point.heading_deg) == (
        None,
        None,
        None,
        None,
    )


# 7. NUL characters in text -------------------------------------------------------------------------------


async def test_nul_characters_in_text_are_refused_and_named(
    client: httpx.AsyncClient, alice: Person, operator_headers: dict[str, str]
) -> None:
    nul = "Pixel\u00008"
    factor = {"mode": "bus", "g_per_km": 50, "source": "fleet 2026", "valid_from": "2026-01-01T00:00:00Z"}
    for method, url, headers, body, field in (
        ("POST", "/v1/auth/register", {}, {"device_label": nul}, "device_label"),
        ("POST", "/v1/auth/tokens", alice.headers, {"device_label": nul}, "device_label"),
        ("POST", "/v1/me/privacy-zones", alice.headers, {"label": nul, "lat": 46.1, "lon": -1.1}, "label"),
        ("POST", "/v1/operator/factors", operator_headers, {**factor, "source": "fleet\u0000"}, "source"),
        ("POST", "/v1/operator/factors", operator_headers, {**factor, "variant": "\u0000"}, "variant"),
        ("POST", "/v1/operator/factors", operator_headers, {**factor, "mode": "bus\u0000"}, "mode"),
        (
            "POST",
            "/v1/operator/factors",
            operator_headers,
            {**factor, "valid_from": "2026\u0000"},
            "valid_from",
        ),
    ):
        response = await client.request(method, url, headers=headers, json=body)
        assert fields(response) == [field], (url, field)
        assert "NUL" in response.json()["errors"][0]["detail"] or field in ("mode", "valid_from")
    # Nothing was stored.
    assert (await client.get("/v1/me/privacy-zones", headers=alice.headers)).json()["zones"] == []
    assert (await client.get("/v1/operator/factors", headers=operator_headers)).json()["factors"] == []
    tokens = (await client.get("/v1/auth/tokens", headers=alice.headers)).json()["tokens"]
    assert len(tokens) == 1


# 8. A territory factor's valid_from at the edges of time -------------------------------------------------


async def test_a_factor_valid_from_outside_the_calendar_is_refused(
    client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    factor = {"mode": "bus", "g_per_km": 50, "source": "fleet 2026"}
    for valid_from in ("0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-01:00",
                       "9999-12-31T23:00:00-23:59", "10000-01-01T00:00:00Z", "2026-01-01", 1767225600, None):  # fmt: skip
        response = await client.post(
            "/v1/operator/factors", headers=operator_headers, json={**factor, "valid_from": valid_from}
        )
        assert fields(response) == ["valid_from"], valid_from
    assert (await client.get("/v1/operator/factors", headers=operator_headers)).json()["factors"] == []
    # The first and the last instants of the calendar can be written back, so they are taken.
    for valid_from, shown in (("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
                              ("9999-12-31T23:59:59.999+00:00", "9999-12-31T23:59:59.999Z")):  # fmt: skip
        response = await client.post(
            "/v1/operator/factors", headers=operator_headers, json={**factor, "valid_from": valid_from}
        )
        assert response.status_code == 201, response.text
        assert response.json()["valid_from"] == shown
    listed = await client.get("/v1/operator/factors", headers=operator_headers)
    assert listed.status_code == 200 and len(listed.json()["factors"]) == 2
    assert (await client.get("/v1/modes")).status_code == 200
