"""OpenPATH opcodes, profile and labels: sign-in as the app does it, labels kept and applied to trips."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.main import create_app
from app.mobility.simulate import LegPlan, Simulation, StayPlan, TripPlan, simulate
from app.models import Leg, OpenpathInput, Trip
from app.openpath.auth import issue_opcodes, parse_opcode, revoke_opcode
from app.settings import Settings
from tests.support.phone import android_entries, client_stats, ios_entries, label, survey

PLAN = [
    StayPlan(1800),
    TripPlan((LegPlan("walk", 500), LegPlan("car", 7000), LegPlan("walk", 300))),
    StayPlan(3600),
    TripPlan((LegPlan("bike", 3000),)),
    StayPlan(1800),
]
MODE, PURPOSE = "manual/mode_confirm", "manual/purpose_confirm"


@pytest.fixture(scope="module")
def day() -> Simulation:
    return simulate(PLAN, seed=21, sampling_s=5.0, phone=True, start_ts_s=1_764_662_400.0)


async def opcode(app: FastAPI, subgroup: str = "default") -> str:
    async with app.state.db.session() as session:
        (code,) = await issue_opcodes(session, "coachco2-larochelle", subgroup, 1)
        await session.commit()
    return code


async def signed_in(app: FastAPI, client: httpx.AsyncClient) -> tuple[str, uuid.UUID]:
    code = await opcode(app)
    created = await client.post("/profile/create", json={"user": code})
    assert created.status_code == 200, created.text
    return code, uuid.UUID(created.json()["uuid"])


async def put(client: httpx.AsyncClient, code: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"user": code, "phone_to_server": entries, "deployment_config_version": 1, "app_version": "1.9.6"}
    response = await client.post("/usercache/put", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert "deployment_config" not in answer
    return answer


async def trips_and_legs(app: FastAPI, user_id: uuid.UUID) -> list[tuple[Trip, list[Leg]]]:
    async with app.state.db.session() as session:
        trips = (
            await session.scalars(sa.select(Trip).where(Trip.user_id == user_id).order_by(Trip.start_ts_ms))
        ).all()
        out = []
        for trip in trips:
            legs = (
                await session.scalars(sa.select(Leg).where(Leg.trip_id == trip.id).order_by(Leg.seq))
            ).all()
            out.append((trip, list(legs)))
        return out


def test_opcodes_follow_the_apps_rules() -> None:
    assert parse_opcode("nrelop_coachco2-larochelle_default_abc") is not None
    assert parse_opcode("nrelop_study_code") is not None  # an old-style study: no subgroup
    for bad in (
        "nrelop__default_x",
        "nrelop_study",
        "other_study_default_x",
        "nrelop_study_default_",
        "é" * 9,
    ):
        assert parse_opcode(bad) is None


async def test_sign_in_is_idempotent_and_only_issued_opcodes_open_an_account(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    code = await opcode(app)
    first = await client.post("/profile/create", json={"user": code})
    again = await client.post("/profile/create", json={"user": code})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    made_up = "nrelop_coachco2-larochelle_default_" + "x" * 32
    refused = await client.post("/profile/create", json={"user": made_up})
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    malformed = await client.post("/profile/create", json={"user": "nrelop_x"})
    assert malformed.status_code == 422 and "user" in malformed.text
    assert (await client.post("/profile/create", json={"user": 12})).status_code == 422
    assert (await client.post("/profile/create", json={})).status_code == 401
    # an unregistered opcode reads nothing
    other = await opcode(app)
    assert (
        await client.post("/usercache/put", json={"user": other, "phone_to_server": []})
    ).status_code == 401
    # revoked: signed out, whatever the route
    async with app.state.db.session() as session:
        assert await revoke_opcode(session, code)
        await session.commit()
    assert (await client.post("/profile/get", json={"user": code})).status_code == 401
    assert (await client.post("/profile/create", json={"user": code})).status_code == 401


async def test_self_registration_accepts_the_studys_own_opcodes_only(database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        openpath_self_registration=True,
        openpath_subgroups="default,test",
        rate_limit_register_per_hour=100_000,
    )
    application = create_app(settings)
    transport = httpx.ASGITransport(app=application)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            joined = await client.post(
                "/profile/create", json={"user": "nrelop_coachco2-larochelle_test_" + "a1" * 16}
            )
            assert joined.status_code == 200
            foreign = await client.post(
                "/profile/create", json={"user": "nrelop_elsewhere_default_" + "b" * 32}
            )
            assert foreign.status_code == 403 and "coachco2-larochelle" in foreign.text
            subgroup = await client.post(
                "/profile/create", json={"user": "nrelop_coachco2-larochelle_x_" + "c" * 32}
            )
            assert subgroup.status_code == 403
            old_style = await client.post(
                "/profile/create", json={"user": "nrelop_coachco2-larochelle_" + "d" * 32}
            )
            assert old_style.status_code == 403
    finally:
        await application.state.db.dispose()


async def test_profile_keeps_the_apps_device_fields(app: FastAPI, client: httpx.AsyncClient) -> None:
    code, user_id = await signed_in(app, client)
    update = {"client_app_version": "1.9.6", "curr_platform": "android", "phone_lang": "fr",
              "device_token": "tok", "config_version": 3, "unrelated": {"nested": True}}  # fmt: skip
    done = await client.post("/profile/update", json={"user": code, "update_doc": update})
    assert done.status_code == 200 and done.json() == {"update": True}
    profile = (await client.post("/profile/get", json={"user": code})).json()
    assert profile["user_id"] == str(user_id)
    assert profile["client_app_version"] == "1.9.6" and profile["config_version"] == 3
    assert "unrelated" not in profile
    assert profile["total_trips"] == 0 and profile["pipeline_range"] == {"start_ts": None, "end_ts": None}
    for bad in (
        {"update_doc": []},
        {"update_doc": {"phone_lang": "x" * 400}},
        {"update_doc": {"model": [1]}},
    ):
        answer = await client.post("/profile/update", json={"user": code, **bad})
        assert answer.status_code == 422, answer.text
        assert "update_doc" in answer.json()["detail"] or "update_doc" in str(answer.json())


@pytest.mark.parametrize("platform", ["android", "ios"])
async def test_labels_before_and_after_their_trip(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation, platform: str
) -> None:
    code, user_id = await signed_in(app, client)
    car = day.trips[0]
    # the purpose of the car trip arrives before its points (labelled on the phone's own draft trip)
    early = await put(client, code, [label(platform, PURPOSE, car.start_ts_s + 20, car.end_ts_s - 20, "work",
                                           car.end_ts_s + 60)])  # fmt: skip
    assert early["labels"] == {"stored": 1, "duplicates": 0, "applied": 0, "pending": 1, "unknown": {}}
    entries = android_entries(day) if platform == "android" else ios_entries(day)
    answer = await put(client, code, entries + client_stats(platform, day.trips[-1].end_ts_s))
    assert answer["accepted"] > 0 and answer["errors"] == []
    assert answer["ignored"].get("statemachine/transition") == 4
    await app.state.worker.run_until_idle()
    trips = await trips_and_legs(app, user_id)
    assert len(trips) == 2
    car_trip = trips[0][0]
    assert (car_trip.purpose, car_trip.purpose_source) == ("commute", "user")
    # a mode label after the trip was built: applied at once, to the vehicle part of the trip
    after = await put(client, code, [label(platform, MODE, car_trip.start_ts_ms / 1000, car_trip.end_ts_ms / 1000,
                                           "e_car_drove_alone", car.end_ts_s + 600)])  # fmt: skip
    assert after["labels"]["applied"] == 1
    _, legs = (await trips_and_legs(app, user_id))[0]
    longest = max(legs, key=lambda leg: leg.distance_m)
    assert (longest.mode, longest.mode_source, longest.occupants) == ("ecar", "user", 1)
    assert all(leg.mode in ("walk", "ecar") for leg in legs)
    # a later label replaces it; an older one arriving late does not
    await put(client, code, [label(platform, MODE, car.start_ts_s, car.end_ts_s, "bus", car.end_ts_s + 900),
                             label(platform, MODE, car.start_ts_s, car.end_ts_s, "train", car.end_ts_s + 300)])  # fmt: skip
    trip, legs = (await trips_and_legs(app, user_id))[0]
    assert max(legs, key=lambda leg: leg.distance_m).mode == "bus"
    assert trip.co2e_g == pytest.approx(sum(leg.co2e_g for leg in legs), abs=0.01)
    # the same upload again stores nothing twice
    again = await put(
        client, code, [label(platform, MODE, car.start_ts_s, car.end_ts_s, "bus", car.end_ts_s + 900)]
    )
    assert again["labels"]["duplicates"] == 1 and again["labels"]["stored"] == 0
    # reprocessing keeps what the person said
    async with app.state.db.session() as session:
        from app.pipeline import repository as pipeline_store

        await pipeline_store.request_reprocess(session, [user_id], 0)
        await session.commit()
    await app.state.worker.run_until_idle()
    trip, legs = (await trips_and_legs(app, user_id))[0]
    assert max(legs, key=lambda leg: leg.distance_m).mode == "bus" and trip.purpose == "commute"
    async with app.state.db.session() as session:
        statuses = dict(
            (await session.execute(
                sa.select(OpenpathInput.label, OpenpathInput.status).where(OpenpathInput.user_id == user_id)
            )).all()
        )  # fmt: skip
    assert statuses == {"work": "applied", "e_car_drove_alone": "superseded", "bus": "applied",
                        "train": "superseded"}  # fmt: skip


async def test_unknown_and_broken_labels_are_reported_never_a_500(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation
) -> None:
    code, user_id = await signed_in(app, client)
    car = day.trips[0]
    await put(client, code, android_entries(day))
    await app.state.worker.run_until_idle()
    broken = [
        label("android", MODE, car.start_ts_s, car.end_ts_s, "segway", 1.0),
        label("android", MODE, car.end_ts_s, car.start_ts_s, "bus", 2.0),  # ends before it starts
        {"metadata": {"key": MODE, "write_ts": 3.0}, "data": {"start_ts": "x", "end_ts": 5, "label": "bus"}},
        {"metadata": {"key": MODE, "write_ts": 1e300}, "data": {"start_ts": 1, "end_ts": 5, "label": "bus"}},
        {"metadata": {"key": MODE, "write_ts": 4.0}, "data": {"start_ts": 1, "end_ts": 5, "label": 7}},
        {"metadata": {"key": MODE, "write_ts": 5.0}, "data": {"start_ts": 1, "end_ts": 5, "label": "a\x00b"}},
        {"metadata": {"key": MODE, "write_ts": 6.0}, "data": "nope"},
        survey("android", car.start_ts_s, car.end_ts_s, 7.0),
    ]
    answer = await put(client, code, broken)
    assert answer["labels"]["unknown"] == {"mode_confirm:segway": 1}
    assert answer["labels"]["stored"] == 2  # the unknown value and the survey answer, kept as sent
    assert len(answer["errors"]) == 6, answer["errors"]
    legs = (await trips_and_legs(app, user_id))[0][1]
    assert all(leg.mode_source != "user" for leg in legs)


async def test_not_a_trip_removes_the_trip(app: FastAPI, client: httpx.AsyncClient, day: Simulation) -> None:
    code, user_id = await signed_in(app, client)
    await put(client, code, ios_entries(day))
    await app.state.worker.run_until_idle()
    bike = day.trips[1]
    answer = await put(client, code, [label("ios", MODE, bike.start_ts_s, bike.end_ts_s, "not_a_trip", 9.0)])
    assert answer["labels"]["applied"] == 1
    assert len(await trips_and_legs(app, user_id)) == 1


async def test_another_persons_labels_never_touch_my_trips(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation
) -> None:
    alice, alice_id = await signed_in(app, client)
    bob, _ = await signed_in(app, client)
    await put(client, alice, android_entries(day))
    await app.state.worker.run_until_idle()
    car = day.trips[0]
    answer = await put(client, bob, [label("android", MODE, car.start_ts_s, car.end_ts_s, "bus", 5.0),
                                     label("android", MODE, day.trips[1].start_ts_s, day.trips[1].end_ts_s,
                                           "not_a_trip", 6.0)])  # fmt: skip
    assert answer["labels"]["pending"] == 2  # bob has no trip there
    trips = await trips_and_legs(app, alice_id)
    assert len(trips) == 2 and all(leg.mode_source != "user" for _, legs in trips for leg in legs)


async def test_export_holds_and_erasure_removes_the_apps_data(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation
) -> None:
    code, user_id = await signed_in(app, client)
    car = day.trips[0]
    await put(client, code, [label("android", PURPOSE, car.start_ts_s, car.end_ts_s, "shopping", 5.0)])
    async with app.state.db.session() as session:
        from app.accounts import repository as accounts

        _, token = await accounts.issue_user_token(session, user_id, "export")
        await session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    export = await client.get("/v1/me/export?format=json", headers=headers)
    assert export.status_code == 200
    held = export.json()["openpath"]
    assert [i["label"] for i in held["inputs"]] == ["shopping"]
    assert held["opcodes"][0]["study"] == "coachco2-larochelle" and code not in export.text
    assert (await client.delete("/v1/me", headers=headers)).status_code == 204
    async with app.state.db.session() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(OpenpathInput)) == 0
    assert (await client.post("/profile/get", json={"user": code})).status_code == 401
