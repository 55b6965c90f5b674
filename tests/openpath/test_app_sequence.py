"""The OpenPATH app's launch sequence, replayed call by call with the entries it sends, on Android and iOS:
opcode -> /profile/create -> /usercache/put (a day of locations, activities, transitions, stats, and a
mode and a purpose label on one trip) -> /pipeline/get_range_ts -> /datastreams/find_entries/timestamp
shows the day's trips with the labels -> /result/metrics/yyyy_mm_dd shows the footprint."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from app.mobility.simulate import LegPlan, Simulation, StayPlan, TripPlan, simulate
from app.openpath.auth import issue_opcodes
from tests.support.phone import android_entries, client_stats, ios_entries, label

PLAN = [
    StayPlan(1800),
    TripPlan((LegPlan("walk", 400), LegPlan("car", 8000))),
    StayPlan(3600),
    TripPlan((LegPlan("bike", 2500),)),
    StayPlan(1800),
]
TZ = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def day() -> Simulation:
    return simulate(PLAN, seed=33, sampling_s=5.0, phone=True, start_ts_s=1_764_662_400.0)


async def call(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    # Android accepts exactly 200 with a JSON object
    assert response.status_code == 200, (path, response.text)
    answer = response.json()
    assert isinstance(answer, dict)
    return answer


async def launch(app: FastAPI, client: httpx.AsyncClient, entries: list[dict[str, Any]]) -> str:
    async with app.state.db.session() as session:
        (code,) = await issue_opcodes(session, "coachco2-larochelle", "default", 1)
        await session.commit()
    await call(client, "/profile/create", {"user": code})
    await call(client, "/profile/get", {"user": code})
    await call(client, "/profile/update", {"user": code, "update_doc": {"client_app_version": "1.9.6"}})
    for i in range(0, len(entries), 10_000):
        body = {"user": code, "phone_to_server": entries[i : i + 10_000], "deployment_config_version": 1,
                "app_version": "1.9.6"}  # fmt: skip
        answer = await call(client, "/usercache/put", body)
        assert "deployment_config" not in answer
    await call(client, "/usercache/get", {"user": code})
    await app.state.worker.run_until_idle()
    return code


async def diary(client: httpx.AsyncClient, code: str, start_ts: float, end_ts: float) -> list[dict[str, Any]]:
    answer = await call(
        client,
        "/datastreams/find_entries/timestamp",
        {"user": code, "key_list": ["analysis/composite_trip"], "start_time": start_ts, "end_time": end_ts,
         "key_time": "data.end_ts"},
    )  # fmt: skip
    trips: list[dict[str, Any]] = answer["phone_data"]
    return trips


@pytest.mark.parametrize("platform", ["android", "ios"])
async def test_the_apps_launch_sequence_shows_the_days_labelled_trips_and_footprint(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, platform: str
) -> None:
    car, bike = day.trips
    labels = [
        label(
            platform, "manual/mode_confirm", car.start_ts_s, car.end_ts_s, "shared_ride", car.end_ts_s + 120
        ),
        label(
            platform, "manual/purpose_confirm", car.start_ts_s, car.end_ts_s, "shopping", car.end_ts_s + 121
        ),
    ]
    sensed = android_entries(day) if platform == "android" else ios_entries(day)
    entries = sorted(sensed + labels + client_stats(platform, bike.end_ts_s),
                     key=lambda e: e["metadata"]["write_ts"])  # fmt: skip
    code = await launch(app, client, entries)

    span = await call(client, "/pipeline/get_range_ts", {"user": code})
    assert span["start_ts"] <= car.start_ts_s + 300 and span["end_ts"] >= bike.end_ts_s - 300
    trips = await diary(client, code, span["start_ts"], span["end_ts"])
    assert len(trips) == 2
    ids = [t["_id"]["$oid"] for t in trips]
    assert len(set(ids)) == 2
    first, second = (t["data"] for t in trips)
    for trip in (first, second):
        assert trip["start_ts"] < trip["end_ts"] and trip["distance"] > 0 and trip["duration"] > 0
        assert len(trip["start_loc"]["coordinates"]) == len(trip["end_loc"]["coordinates"]) == 2
        assert trip["locations"] and all("coordinates" in p["data"]["loc"] and "ts" in p["data"]
                                         for p in trip["locations"])  # fmt: skip
        assert datetime.fromisoformat(trip["start_fmt_time"]).utcoffset() is not None
        assert trip["sections"]
    assert first["user_input"]["mode_confirm"] == "shared_ride"
    assert first["user_input"]["purpose_confirm"] == "shopping"
    assert "mode_confirm" not in second["user_input"]
    # the place between the two trips is one place
    assert first["end_confirmed_place"]["_id"] == second["start_confirmed_place"]["_id"]
    # the labels come back as the app wrote them, by write_ts
    back = await call(
        client,
        "/datastreams/find_entries/timestamp",
        {"user": code, "key_list": ["manual/mode_confirm"], "start_time": car.end_ts_s, "end_time": bike.end_ts_s},
    )  # fmt: skip
    assert [e["data"]["label"] for e in back["phone_data"]] == ["shared_ride"]

    local_day = datetime.fromtimestamp(car.start_ts_s, TZ).date().isoformat()
    metrics = await call(
        client,
        "/result/metrics/yyyy_mm_dd",
        {"user": code, "freq": "D", "start_time": local_day, "end_time": local_day, "is_return_aggregate": True,
         "metric_list": {"footprint": ["mode_confirm"], "distance": ["mode_confirm"], "count": ["mode_confirm"],
                         "duration": ["mode_confirm"]}, "app_config": {}},
    )  # fmt: skip
    (footprint,) = metrics["footprint"]
    assert footprint["date"] == local_day
    assert footprint["mode_confirm_shared_ride"]["kg_co2"] > 0
    (count,) = metrics["count"]
    assert count["mode_confirm_shared_ride"] == 1


async def test_a_second_persons_opcode_sees_nothing_of_the_first(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation
) -> None:
    car = day.trips[0]
    bus = label("android", "manual/mode_confirm", car.start_ts_s, car.end_ts_s, "bus", car.end_ts_s + 60)
    first = await launch(app, client, [*android_entries(day), bus])
    second = await launch(app, client, [])
    assert len(await diary(client, first, 0, 2e9)) == 2
    assert await diary(client, second, 0, 2e9) == []
    for key in ("manual/mode_confirm", "analysis/confirmed_place", "analysis/confirmed_trip"):
        answer = await call(client, "/datastreams/find_entries/timestamp",
                            {"user": second, "key_list": [key], "start_time": 0, "end_time": 2e9})  # fmt: skip
        assert answer["phone_data"] == []
    span = await call(client, "/pipeline/get_range_ts", {"user": second})
    assert span["start_ts"] is None
    profile = await call(client, "/profile/get", {"user": second})
    assert profile["total_trips"] == 0
    local_day = datetime.fromtimestamp(car.start_ts_s, TZ).date().isoformat()
    metrics = await call(client, "/result/metrics/yyyy_mm_dd",
                         {"user": second, "start_time": local_day, "end_time": local_day, "freq": "D",
                          "metric_list": {"footprint": ["mode_confirm"]}})  # fmt: skip
    assert metrics.get("footprint", []) == []
