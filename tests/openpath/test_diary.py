"""The OpenPATH app's diary and dashboard routes: composite trips in the shapes the app reads, the
labels it shows, the person's own metrics, and nobody else's data; bad bodies answer 422, never 500."""

from __future__ import annotations

import uuid
from datetime import datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.mobility.simulate import LegPlan, Simulation, StayPlan, TripPlan, simulate
from app.models import Leg, OpenpathInput, Trip
from tests.conftest import Person
from tests.support.traces import payload, upload

PLAN = [
    StayPlan(1800),
    TripPlan((LegPlan("walk", 600), LegPlan("bus", 6000), LegPlan("walk", 500))),
    StayPlan(3600),
    TripPlan((LegPlan("car", 9000),)),
    StayPlan(3600),
    TripPlan((LegPlan("bike", 3000),)),
    StayPlan(1800),
]
TZ = ZoneInfo("Europe/Paris")
FIND = "/datastreams/find_entries/timestamp"
BASE_MODES = {"WALKING", "BICYCLING", "E_BIKE", "E_SCOOTER", "MOPED", "CAR", "E_CAR", "BUS", "LIGHT_RAIL",
              "SUBWAY", "TRAIN", "AIR", "FERRY", "UNKNOWN"}  # fmt: skip
LOCAL_DT = {"year", "month", "day", "hour", "minute", "second", "weekday", "timezone"}


@pytest.fixture(scope="module")
def day() -> Simulation:
    # 2025-12-02 09:00 in La Rochelle
    return simulate(PLAN, seed=5, sampling_s=5.0, start_ts_s=1_764_662_400.0)


@pytest.fixture
async def trips(app: FastAPI, client: httpx.AsyncClient, alice: Person, day: Simulation) -> list[Trip]:
    await upload(client, alice, payload(day))
    await app.state.worker.run_until_idle()
    async with app.state.db.session() as session:
        found = list(
            (
                await session.scalars(
                    sa.select(Trip).where(Trip.user_id == alice.user_id).order_by(Trip.start_ts_ms)
                )
            ).all()
        )
    assert len(found) == 3
    return found


async def call(client: httpx.AsyncClient, path: str, body: Any) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == 200, (path, response.text)
    answer = response.json()
    assert isinstance(answer, dict)
    return answer


async def find(
    client: httpx.AsyncClient, person: Person, keys: list[str], start: float, end: float, **extra: Any
) -> list[dict[str, Any]]:
    body = {"user": person.token, "key_list": keys, "start_time": start, "end_time": end, **extra}
    entries: list[dict[str, Any]] = (await call(client, FIND, body))["phone_data"]
    return entries


async def diary(
    client: httpx.AsyncClient, person: Person, start: float = 0, end: float = 2e9
) -> list[dict[str, Any]]:
    return await find(client, person, ["analysis/composite_trip"], start, end, key_time="data.end_ts")


async def add_input(
    app: FastAPI,
    person: Person,
    key: str,
    label: str | None,
    start_s: float,
    end_s: float,
    write_s: float,
    *,
    trip_id: uuid.UUID | None = None,
    status: str = "applied",
    data: dict[str, Any] | None = None,
) -> OpenpathInput:
    entry = {
        "metadata": {"key": key, "write_ts": write_s, "platform": "android", "time_zone": "Europe/Paris",
                     "type": "message", "read_ts": 0, "plugin": "none"},
        "data": data or {"start_ts": start_s, "end_ts": end_s, "label": label},
    }  # fmt: skip
    row = OpenpathInput(
        id=uuid.uuid4(),
        user_id=person.user_id,
        key=key,
        write_ts_ms=round(write_s * 1000),
        start_ts_ms=round(start_s * 1000),
        end_ts_ms=round(end_s * 1000),
        label=label,
        entry=entry,
        trip_id=trip_id,
        status=status,
    )
    async with app.state.db.session() as session:
        session.add(row)
        await session.commit()
    return row


def ids_in(entry: dict[str, Any]) -> list[str]:
    """Every object id in a composite trip (the trip, its sections and locations; not its places)."""
    data = entry["data"]
    return [entry["_id"]["$oid"], *(s["_id"]["$oid"] for s in data["sections"]),
            *(p["_id"]["$oid"] for p in data["locations"])]  # fmt: skip


async def test_composite_trips_hold_what_the_diary_reads(
    client: httpx.AsyncClient, alice: Person, trips: list[Trip]
) -> None:
    entries = await diary(client, alice)
    assert [e["_id"]["$oid"] for e in entries] == [t.id.hex for t in trips]
    every_id = [i for e in entries for i in ids_in(e)]
    assert len(every_id) == len(set(every_id))
    for entry, trip in zip(entries, trips, strict=True):
        meta, data = entry["metadata"], entry["data"]
        assert meta["key"] == "analysis/composite_trip" and meta["platform"] == "server"
        assert meta["type"] == "document" and meta["time_zone"] == "Europe/Paris"
        assert isinstance(meta["write_ts"], float) and meta["origin_key"] == "analysis/confirmed_trip"
        assert entry["user_id"] == {"$uuid": alice.user_id.hex}
        assert data["start_ts"] == trip.start_ts_ms / 1000 and data["end_ts"] == trip.end_ts_ms / 1000
        assert data["duration"] == data["end_ts"] - data["start_ts"] and data["distance"] == trip.distance_m
        assert data["co2e_g"] == trip.co2e_g
        for end in ("start", "end"):
            moment = datetime.fromisoformat(data[f"{end}_fmt_time"])
            assert moment.timestamp() == pytest.approx(data[f"{end}_ts"], abs=1e-3)
            assert moment.utcoffset() is not None
            local = data[f"{end}_local_dt"]
            assert set(local) == LOCAL_DT and local["timezone"] == "Europe/Paris"
            assert (local["year"], local["month"], local["day"], local["hour"], local["weekday"]) == (
                moment.year, moment.month, moment.day, moment.hour, moment.weekday())  # fmt: skip
            assert data[f"{end}_loc"]["type"] == "Point" and len(data[f"{end}_loc"]["coordinates"]) == 2
        assert data["expectation"] == {"to_label": True} and 0 < data["confidence_threshold"] < 1
        assert data["user_input"] == {} and data["additions"] == []
        (guess,) = data["inferred_labels"]
        assert isinstance(guess["labels"]["mode_confirm"], str) and 0 <= guess["p"] <= 1
        summary = data["cleaned_section_summary"]
        assert set(summary) == {"count", "distance", "duration"} and set(summary["distance"]) <= BASE_MODES
        assert sum(summary["count"].values()) == len(data["sections"])
        assert data["inferred_section_summary"] == summary
        sections = data["sections"]
        assert sections
        for section in sections:
            s = section["data"]
            assert section["metadata"]["key"] == "analysis/cleaned_section"
            assert s["trip_id"] == {"$oid": trip.id.hex}
            assert data["start_ts"] <= s["start_ts"] < s["end_ts"] <= data["end_ts"]
            assert s["duration"] == s["end_ts"] - s["start_ts"] and s["distance"] > 0
            assert isinstance(s["sensed_mode"], int) and s["sensed_mode_str"] in BASE_MODES
            assert set(s["start_local_dt"]) == LOCAL_DT and s["start_fmt_time"] and s["end_fmt_time"]
            assert "mode" in s and "co2e_g" in s
        assert sum(s["data"]["co2e_g"] for s in sections) == pytest.approx(trip.co2e_g, abs=0.01)
        # every location lies in its own section's time range (the app sorts them into sections by time)
        by_id = {s["_id"]["$oid"]: s["data"] for s in sections}
        locations = data["locations"]
        assert 2 * len(sections) <= len(locations) <= 100 + len(sections)
        times = [p["data"]["ts"] for p in locations]
        assert times == sorted(times)
        for p in locations:
            loc = p["data"]
            section = by_id[loc["section"]["$oid"]]
            assert section["start_ts"] <= loc["ts"] <= section["end_ts"]
            assert len(loc["loc"]["coordinates"]) == 2 and loc["speed"] >= 0
        assert (
            locations[0]["data"]["ts"] == data["start_ts"] and locations[-1]["data"]["ts"] == data["end_ts"]
        )


async def test_consecutive_trips_share_one_place_and_ids_are_stable(
    client: httpx.AsyncClient, alice: Person, trips: list[Trip]
) -> None:
    entries = [e["data"] for e in await diary(client, alice)]
    first = entries[0]["start_confirmed_place"]
    last = entries[-1]["end_confirmed_place"]
    # the person's first place has no entry, their current place no exit: both open-ended
    assert "enter_ts" not in first["data"] and "duration" not in first["data"]
    assert first["data"]["exit_ts"] == entries[0]["start_ts"]
    assert "exit_ts" not in last["data"] and "duration" not in last["data"]
    assert last["data"]["enter_ts"] == entries[-1]["end_ts"]
    for a, b in pairwise(entries):
        place = a["end_confirmed_place"]
        assert place == b["start_confirmed_place"]
        assert a["end_place"] == b["start_place"] == place["_id"]
        p = place["data"]
        assert place["metadata"]["key"] == "analysis/confirmed_place"
        assert p["enter_ts"] == a["end_ts"] and p["exit_ts"] == b["start_ts"]
        assert p["duration"] == pytest.approx(p["exit_ts"] - p["enter_ts"])
        assert p["location"]["coordinates"] == a["end_loc"]["coordinates"]
        assert p["ending_trip"]["$oid"] != p["starting_trip"]["$oid"]
        assert p["display_name"] == "" and p["user_input"] == {} and p["additions"] == []
        assert set(p["enter_local_dt"]) == LOCAL_DT and p["exit_fmt_time"]
    places = [entries[0]["start_confirmed_place"]] + [e["end_confirmed_place"] for e in entries]
    assert len({p["_id"]["$oid"] for p in places}) == 4
    # asked for the middle trip only, the same ids come back, and its places are complete
    middle = trips[1]
    again = await diary(client, alice, middle.end_ts_ms / 1000 - 1, middle.end_ts_ms / 1000 + 1)
    (only,) = again
    assert only["_id"]["$oid"] == middle.id.hex
    assert only["data"]["start_confirmed_place"] == entries[0]["end_confirmed_place"]
    assert only["data"]["end_confirmed_place"] == entries[2]["start_confirmed_place"]
    assert ids_in(only) == ids_in((await diary(client, alice))[1])
    # the places alone, by the time they were entered
    places_back = await find(client, alice, ["analysis/confirmed_place"], 0, 2e9, key_time="data.enter_ts")
    assert [p["_id"] for p in places_back] == [p["_id"] for p in places[1:]]


async def test_confirmed_trips_are_the_same_trips_without_locations(
    client: httpx.AsyncClient, alice: Person, trips: list[Trip]
) -> None:
    both = await find(client, alice, ["analysis/composite_trip", "analysis/confirmed_trip"], 0, 2e9,
                      key_time="data.start_ts")  # fmt: skip
    composite, confirmed = both[:3], both[3:]
    assert [e["metadata"]["key"] for e in confirmed] == ["analysis/confirmed_trip"] * 3
    assert len({e["_id"]["$oid"] for e in both}) == 6
    for c, t in zip(composite, confirmed, strict=True):
        assert c["data"]["confirmed_trip"] == t["_id"]
        assert "locations" not in t["data"] and "sections" not in t["data"]
        assert (
            t["data"]["start_ts"] == c["data"]["start_ts"]
            and t["data"]["end_place"] == c["data"]["end_place"]
        )


async def test_user_input_shows_the_latest_applied_label_as_plain_strings(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, trips: list[Trip]
) -> None:
    bus, car, _ = trips
    s, e = bus.start_ts_ms / 1000, bus.end_ts_ms / 1000
    await add_input(
        app, alice, "manual/mode_confirm", "walk", s, e, e + 60, trip_id=bus.id, status="superseded"
    )
    await add_input(app, alice, "manual/mode_confirm", "bus", s, e, e + 120, trip_id=bus.id)
    await add_input(app, alice, "manual/purpose_confirm", "work", s, e, e + 121, trip_id=bus.id)
    # a replaced mode and a note: kept with no trip, shown on the trip they overlap
    await add_input(app, alice, "manual/replaced_mode", "drove_alone", s + 5, e - 5, e + 122, status="stored")
    note = await add_input(app, alice, "manual/trip_addition_input", None, s, e, e + 123, status="stored",
                           data={"start_ts": s, "end_ts": e, "xmlResponse": "<x/>", "name": "note"})  # fmt: skip
    # an unknown value given to the car trip, and an applied label of another trip's: neither on the bus
    cs, ce = car.start_ts_ms / 1000, car.end_ts_ms / 1000
    await add_input(app, alice, "manual/mode_confirm", "segway", cs, ce, ce + 60, status="unknown-label")
    await add_input(app, alice, "manual/purpose_confirm", "shopping", cs, ce, ce + 61, trip_id=car.id)
    entries = [x["data"] for x in await diary(client, alice)]
    assert entries[0]["user_input"] == {"mode_confirm": "bus", "purpose_confirm": "work",
                                        "replaced_mode": "drove_alone"}  # fmt: skip
    (addition,) = entries[0]["additions"]
    assert addition["_id"] == {"$oid": note.id.hex} and addition["data"]["xmlResponse"] == "<x/>"
    # labelled: the inferred possibility repeats the labels, so the app keeps it
    assert all(g["labels"]["mode_confirm"] == "bus" for g in entries[0]["inferred_labels"])
    assert entries[1]["user_input"] == {"mode_confirm": "segway", "purpose_confirm": "shopping"}
    assert entries[2]["user_input"] == {}
    # a label entry with no value changes nothing; a note on the stay between bus and car goes to that place
    await add_input(app, alice, "manual/mode_confirm", None, s, e, e + 500, status="stored",
                    data={"start_ts": s, "end_ts": e})  # fmt: skip
    stay = await add_input(app, alice, "manual/place_addition_input", None, e + 60, e + 90, e + 90, status="stored",
                           data={"start_ts": e + 60, "end_ts": e + 90, "xmlResponse": "<p/>"})  # fmt: skip
    entries = [x["data"] for x in await diary(client, alice)]
    assert entries[0]["user_input"]["mode_confirm"] == "bus"
    (place_note,) = entries[0]["end_confirmed_place"]["data"]["additions"]
    assert place_note["_id"] == {"$oid": stay.id.hex}
    assert entries[1]["start_confirmed_place"] == entries[0]["end_confirmed_place"]
    assert entries[0]["start_confirmed_place"]["data"]["additions"] == []


async def test_corrections_made_through_our_api_show_as_openpath_values(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, trips: list[Trip]
) -> None:
    car = trips[1]
    async with app.state.db.session() as session:
        leg = (await session.scalars(sa.select(Leg).where(Leg.trip_id == car.id))).first()
        assert leg is not None
    fixed = await client.patch(f"/v1/me/trips/{car.id}/legs/{leg.id}", headers=alice.headers,
                               json={"mode": "carpool", "occupants": 2})  # fmt: skip
    assert fixed.status_code == 200, fixed.text
    purpose = await client.put(
        f"/v1/me/trips/{car.id}/purpose", headers=alice.headers, json={"purpose": "school"}
    )
    assert purpose.status_code == 200, purpose.text
    data = (await diary(client, alice))[1]["data"]
    assert data["user_input"] == {"mode_confirm": "shared_ride", "purpose_confirm": "school"}
    (section,) = [s["data"] for s in data["sections"] if s["_id"]["$oid"] == leg.id.hex]
    assert section["mode"] == "carpool" and section["mode_source"] == "user"
    # an OpenPATH label the person later corrected through our API gives way to the correction
    s, e = car.start_ts_ms / 1000, car.end_ts_ms / 1000
    await add_input(app, alice, "manual/mode_confirm", "bus", s, e, e + 60, trip_id=car.id)
    assert (await diary(client, alice))[1]["data"]["user_input"]["mode_confirm"] == "shared_ride"


async def test_get_range_ts(app: FastAPI, client: httpx.AsyncClient, alice: Person, day: Simulation) -> None:
    assert await call(client, "/pipeline/get_range_ts", {"user": alice.token}) == {
        "start_ts": None,
        "end_ts": None,
    }
    await upload(client, alice, payload(day))
    await app.state.worker.run_until_idle()
    span = await call(client, "/pipeline/get_range_ts", {"user": alice.token})
    entries = await diary(client, alice)
    assert span["start_ts"] == entries[0]["data"]["start_ts"]
    assert span["end_ts"] >= entries[-1]["data"]["end_ts"]
    assert span["end_ts"] <= float(day.points.ts_s[-1]) + 1


async def test_labels_come_back_as_stored_by_their_time_field(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, trips: list[Trip]
) -> None:
    bike = trips[2]
    s, e = bike.start_ts_ms / 1000, bike.end_ts_ms / 1000
    row = await add_input(app, alice, "manual/mode_confirm", "e-bike", s, e, e + 600, status="pending")
    back = await find(client, alice, ["manual/mode_confirm"], e + 500, e + 700)
    assert back == [{"_id": {"$oid": row.id.hex}, "user_id": {"$uuid": alice.user_id.hex},
                     "metadata": row.entry["metadata"], "data": row.entry["data"]}]  # fmt: skip
    assert await find(client, alice, ["manual/mode_confirm"], e + 601, e + 700) == []
    assert len(await find(client, alice, ["manual/mode_confirm"], s, s, key_time="data.start_ts")) == 1
    assert (
        await find(client, alice, ["manual/mode_confirm"], e + 500, e + 700, key_time="data.start_ts") == []
    )
    assert await find(client, alice, ["manual/purpose_confirm", "background/location", "x/y"], 0, 2e9) == []


async def test_time_key_and_truncation(client: httpx.AsyncClient, alice: Person, trips: list[Trip]) -> None:
    ids = [t.id.hex for t in trips]
    middle = trips[1]
    by_start = await diary(client, alice)
    only = await find(client, alice, ["analysis/composite_trip"], middle.start_ts_ms / 1000,
                      middle.start_ts_ms / 1000, key_time="data.start_ts")  # fmt: skip
    assert [e["_id"]["$oid"] for e in only] == [ids[1]]
    assert await find(client, alice, ["analysis/composite_trip"], 0, 2e9, key_time="data.ts") == []
    written = await find(client, alice, ["analysis/composite_trip"], 0, 2e9)  # metadata.write_ts
    assert [e["_id"]["$oid"] for e in written] == ids
    assert [e["data"]["start_confirmed_place"] for e in written] == [
        e["data"]["start_confirmed_place"] for e in by_start
    ]
    for method, expected in (("first", ids[:2]), ("last", ids[1:]), ("sample", ids[::2])):
        cut = await find(
            client, alice, ["analysis/composite_trip"], 0, 2e9, max_entries=2, trunc_method=method
        )
        assert [e["_id"]["$oid"] for e in cut] == expected
    assert len(await find(client, alice, ["analysis/composite_trip"], 0, 2e9, max_entries=5)) == 3


async def test_metrics_are_the_callers_own_per_day_and_mode(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, bob: Person, trips: list[Trip]
) -> None:
    bus = trips[0]
    await add_input(app, alice, "manual/mode_confirm", "bus", bus.start_ts_ms / 1000, bus.end_ts_ms / 1000,
                    bus.end_ts_ms / 1000 + 60, trip_id=bus.id)  # fmt: skip
    local_day = datetime.fromtimestamp(bus.start_ts_ms / 1000, TZ).date().isoformat()
    body = {"user": alice.token, "freq": "D", "start_time": local_day, "end_time": local_day,
            "is_return_aggregate": True, "app_config": {"label_options": {}},
            "metric_list": {"distance": ["mode_confirm", "purpose_confirm"], "duration": ["mode_confirm"],
                            "count": ["mode_confirm", "nonsense"], "footprint": ["mode_confirm"],
                            "response_count": ["mode_confirm"]}}  # fmt: skip
    answer = await call(client, "/result/metrics/yyyy_mm_dd", body)
    assert set(answer) == {"distance", "duration", "count", "footprint"}
    (distance,) = answer["distance"]
    (duration,) = answer["duration"]
    (count,) = answer["count"]
    (footprint,) = answer["footprint"]
    others = trips[1:]
    assert distance == {"date": local_day, "nUsers": 1, "mode_confirm_bus": pytest.approx(bus.distance_m),
                        "mode_confirm_UNLABELED": pytest.approx(sum(t.distance_m for t in others)),
                        "purpose_confirm_UNLABELED": pytest.approx(sum(t.distance_m for t in trips))}  # fmt: skip
    assert count == {"date": local_day, "nUsers": 1, "mode_confirm_bus": 1, "mode_confirm_UNLABELED": 2}
    assert duration["mode_confirm_bus"] == (bus.end_ts_ms - bus.start_ts_ms) / 1000
    assert footprint["mode_confirm_bus"] == {"kg_co2": pytest.approx(bus.co2e_g / 1000), "kwh": 0}
    assert footprint["mode_confirm_UNLABELED"]["kg_co2"] == pytest.approx(
        sum(t.co2e_g for t in others) / 1000
    )
    # days without trips are absent; the day before holds nothing
    before = {**body, "start_time": "2025-11-01", "end_time": "2025-12-01"}
    assert await call(client, "/result/metrics/yyyy_mm_dd", before) == {
        "distance": [], "duration": [], "count": [], "footprint": []}  # fmt: skip
    # only the metrics asked for are filled in
    short = await call(
        client, "/result/metrics/yyyy_mm_dd", {**body, "metric_list": {"count": ["mode_confirm"]}}
    )
    assert short["footprint"] == [] and len(short["count"]) == 1
    # bob, whatever he asks, has figures of his own only: none
    theirs = await call(client, "/result/metrics/yyyy_mm_dd", {**body, "user": bob.token})
    assert theirs == {"distance": [], "duration": [], "count": [], "footprint": []}


async def test_another_person_sees_nothing_of_alices(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, bob: Person, trips: list[Trip]
) -> None:
    bus = trips[0]
    await add_input(app, alice, "manual/mode_confirm", "bus", bus.start_ts_ms / 1000, bus.end_ts_ms / 1000,
                    bus.end_ts_ms / 1000 + 60, trip_id=bus.id)  # fmt: skip
    assert await call(client, "/pipeline/get_range_ts", {"user": bob.token}) == {
        "start_ts": None,
        "end_ts": None,
    }
    keys = [
        "analysis/composite_trip",
        "analysis/confirmed_trip",
        "analysis/confirmed_place",
        "manual/mode_confirm",
    ]
    for key_time in ("metadata.write_ts", "data.start_ts", "data.end_ts", "data.enter_ts"):
        assert await find(client, bob, keys, 0, 2e9, key_time=key_time) == []
    # bob's own label on alice's trip's times, even linked to her trip, never shows her trip
    await add_input(app, bob, "manual/mode_confirm", "car", bus.start_ts_ms / 1000, bus.end_ts_ms / 1000,
                    bus.end_ts_ms / 1000 + 70, trip_id=bus.id)  # fmt: skip
    assert (await diary(client, alice))[0]["data"]["user_input"]["mode_confirm"] == "bus"
    assert await diary(client, bob) == []
    assert len(await find(client, bob, ["manual/mode_confirm"], 0, 2e9)) == 1


async def test_calls_without_a_person_or_for_other_time_types(
    client: httpx.AsyncClient, alice: Person, trips: list[Trip]
) -> None:
    body = {"key_list": ["analysis/composite_trip"], "start_time": 0, "end_time": 2e9}
    for path in ("/pipeline/get_range_ts", FIND, "/result/metrics/yyyy_mm_dd"):
        assert (await client.post(path, json=body)).status_code == 401
        assert (await client.post(path, json={**body, "user": "cc2u_nobody"})).status_code == 401
    local = await client.post("/datastreams/find_entries/local_date", json={**body, "user": alice.token})
    assert local.status_code == 404 and "timestamp" in local.json()["detail"]
    old = await client.post("/result/metrics/timestamp", json={"user": alice.token, "start_time": 0})
    assert old.status_code == 404 and "update the app" in old.json()["detail"]


FIND_CASES = [
    ({"key_list": "analysis/composite_trip"}, "key_list"),
    ({"key_list": None}, "key_list"),
    ({"key_list": [f"k{i}" for i in range(21)]}, "key_list"),
    ({"key_list": [1]}, "key_list/0"),
    ({"key_list": ["ok", {"a": [1]}]}, "key_list/1"),
    ({"key_list": [""]}, "key_list/0"),
    ({"start_time": "yesterday"}, "start_time"),
    ({"start_time": None}, "start_time"),
    ({"start_time": True}, "start_time"),
    ({"start_time": -1}, "start_time"),
    ({"start_time": 1e300}, "start_time"),
    ({"start_time": 10**400}, "start_time"),
    ({"end_time": 253402300800}, "end_time"),
    ({"end_time": [1]}, "end_time"),
    ({"start_time": 100, "end_time": 10}, "end_time"),
    ({"key_time": "data.whatever"}, "key_time"),
    ({"key_time": 5}, "key_time"),
    ({"max_entries": 0}, "max_entries"),
    ({"max_entries": "5"}, "max_entries"),
    ({"max_entries": 2.5}, "max_entries"),
    ({"max_entries": True}, "max_entries"),
    ({"max_entries": 3, "trunc_method": "random"}, "trunc_method"),
    ({"max_entries": 3, "trunc_method": ["first"]}, "trunc_method"),
]


@pytest.mark.parametrize(("change", "field"), FIND_CASES)
async def test_bad_find_entries_fields_are_named(
    client: httpx.AsyncClient, alice: Person, change: dict[str, Any], field: str
) -> None:
    body = {"user": alice.token, "key_list": ["analysis/composite_trip"], "start_time": 0, "end_time": 2e9}
    response = await client.post(FIND, json={**body, **change})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


METRICS_CASES = [
    ({"start_time": "2025-13-01"}, "start_time"),
    ({"start_time": "20251201"}, "start_time"),
    ({"start_time": 1764662400}, "start_time"),
    ({"end_time": None}, "end_time"),
    ({"end_time": "2025-11-30"}, "end_time"),
    ({"end_time": "2027-12-01"}, "end_time"),
    ({"freq": "W"}, "freq"),
    ({"metric_list": ["distance"]}, "metric_list"),
    ({"metric_list": {"distance": "mode_confirm"}}, "metric_list/distance"),
    ({"metric_list": {"count": [None]}}, "metric_list/count"),
]


@pytest.mark.parametrize(("change", "field"), METRICS_CASES)
async def test_bad_metrics_fields_are_named(
    client: httpx.AsyncClient, alice: Person, change: dict[str, Any], field: str
) -> None:
    body = {"user": alice.token, "freq": "D", "start_time": "2025-12-01", "end_time": "2025-12-07",
            "metric_list": {"count": ["mode_confirm"]}}  # fmt: skip
    response = await client.post("/result/metrics/yyyy_mm_dd", json={**body, **change})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_hostile_bodies_never_answer_a_500(
    client: httpx.AsyncClient, alice: Person, trips: list[Trip]
) -> None:
    user = alice.token
    bodies: list[Any] = [
        [], "x", 5, None, [{"user": user}],
        {"user": user, "key_list": [[["deep"]]] * 3, "start_time": {"$gt": 0}, "end_time": [[[]]]},
        {"user": user, "key_list": ["analysis/composite_trip"], "start_time": 0, "end_time": 2e9,
         "max_entries": 10**30, "trunc_method": "sample", "key_time": "data.end_ts", "extra": {"a": [None]}},
        {"user": user, "key_list": ["analysis/composite_trip"] * 20, "start_time": 0, "end_time": 253402300799},
        {"user": user, "key_list": ["manual/mode_confirm"], "start_time": 0.5, "end_time": 0.5},
        {"user": [user], "key_list": []},
        {"user": user, "start_time": "0001-01-01", "end_time": "0001-01-01", "metric_list": {"x": []}},
        {"user": user, "start_time": "9999-12-31", "end_time": "9999-12-31"},
        {"user": user, "start_time": "2025-12-02", "end_time": "2025-12-02", "metric_list": {"count": ["x" * 5000]}},
    ]  # fmt: skip
    raw = [b'{"user": "%s", "start_time": NaN, "end_time": Infinity, "key_list": []}' % user.encode(),
           b'{"user": "%s", "start_time": 1e999, "end_time": -1e999, "key_list": []}' % user.encode(),
           b"{not json", b'{"user": "\\u0000"}']  # fmt: skip
    paths = ["/pipeline/get_range_ts", FIND, "/datastreams/find_entries/local_date",
             "/result/metrics/yyyy_mm_dd", "/result/metrics/%00"]  # fmt: skip
    for path in paths:
        for body in bodies:
            response = await client.post(path, json=body)
            assert response.status_code < 500, (path, body, response.text)
            assert response.status_code in (200, 401, 404, 422), (path, body, response.text)
        for content in raw:
            response = await client.post(path, content=content, headers={"Content-Type": "application/json"})
            assert response.status_code in (200, 401, 404, 422), (path, content, response.text)
    full = await find(
        client, alice, ["analysis/composite_trip"] * 20, 0, 253402300799, key_time="data.end_ts"
    )
    assert len(full) == 3
