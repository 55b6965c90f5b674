"""The pipeline behind the API: from uploaded points to trips, incrementally, by concurrent workers."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from app.emissions import DEFAULT_FACTOR_SET
from app.mobility import Leg as MobilityLeg
from app.mobility import PipelineResult
from app.mobility import Trip as MobilityTrip
from app.mobility.pipeline import resume_point
from app.mobility.simulate import LegPlan, Simulation, StayPlan, TripPlan, simulate
from app.models import LocationPoint, PipelineState, Trip
from app.pipeline import repository as pipeline_store
from app.pipeline import worker as worker_module
from app.pipeline.worker import PipelineWorker
from tests.conftest import Person, register
from tests.support.traces import payload, spans, trips_of, upload

DAY = [
    StayPlan(1800),
    TripPlan((LegPlan("walk", 500), LegPlan("bus", 4000), LegPlan("walk", 300))),
    StayPlan(3 * 3600),
    TripPlan((LegPlan("bike", 3000),)),
    StayPlan(2 * 3600),
    TripPlan((LegPlan("car", 9000),)),
    StayPlan(3600),
]


@pytest.fixture(scope="module")
def day() -> Simulation:
    return simulate(DAY, seed=7, sampling_s=5.0)


async def test_a_day_of_points_becomes_closed_trips_with_legs(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, day: Simulation
) -> None:
    await upload(client, alice, payload(day))
    assert (await client.get("/v1/me/pipeline", headers=alice.headers)).json()["pending_points"] == len(
        day.points
    )
    await app.state.worker.run_until_idle()
    state = (await client.get("/v1/me/pipeline", headers=alice.headers)).json()
    assert state["pending_points"] == 0
    assert state["processed_until"].endswith("Z")

    trips = await trips_of(client, alice)
    assert len(trips) == len(day.trips)
    for got, truth in zip(trips, day.trips, strict=True):
        assert got["status"] == "closed"
        start = pytest.approx(truth.start_ts_s, abs=180)
        assert httpx_time(got["start_time"]) == start
        assert httpx_time(got["end_time"]) == pytest.approx(truth.end_ts_s, abs=180)
        true_distance = sum(leg.distance_m for leg in truth.legs)
        assert got["distance_m"] == pytest.approx(true_distance, rel=0.2)
        assert got["legs"] and all(leg["mode"] != "unknown" for leg in got["legs"])
        assert got["co2e_g"] == pytest.approx(sum(leg["co2e_g"] for leg in got["legs"]), abs=0.01)
        # Each leg's CO2e follows its mode's factor (the mode itself is tested in tests/mobility).
        for leg in got["legs"]:
            factor = DEFAULT_FACTOR_SET.factor(leg["mode"], leg["distance_m"] / 1000)
            assert factor is not None
            expected = leg["distance_m"] / 1000 * factor.g_per_km()
            assert leg["co2e_g"] == pytest.approx(expected, rel=0.01, abs=0.01)

    detail = (await client.get(f"/v1/me/trips/{trips[0]['id']}", headers=alice.headers)).json()
    for leg in detail["legs"]:
        assert leg["geometry"]["type"] == "LineString"
        assert len(leg["geometry"]["coordinates"]) >= 2
        lon, lat = leg["geometry"]["coordinates"][0]
        assert -2 < lon < 0 and 45 < lat < 47


def httpx_time(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def test_batches_processed_one_by_one_give_the_same_trips(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, bob: Person, day: Simulation
) -> None:
    points = payload(day)
    await upload(client, alice, points)
    await app.state.worker.run_until_idle()
    for i in range(0, len(points), 700):  # the phone sends every few minutes, the worker keeps up
        await upload(client, bob, points[i : i + 700])
        await app.state.worker.run_until_idle()
    assert spans(await trips_of(client, bob)) == spans(await trips_of(client, alice))


async def test_batches_arriving_while_a_run_is_under_way_give_the_same_trips(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, bob: Person, day: Simulation
) -> None:
    points = payload(day)
    await upload(client, alice, points)
    await app.state.worker.run_until_idle()
    worker = app.state.worker
    for i in range(0, len(points), 700):
        await upload(client, bob, points[i : i + 700])
        async with app.state.db.session() as session:
            claims = await pipeline_store.claim(session, worker.owner, 60.0, 8)
        # the next batch arrives after the claim, before the run reads its window: it is left to the next run
        await upload(client, bob, points[i + 700 : i + 1400])
        for claim in claims:
            assert claim.until_ms == round(points[min(i + 699, len(points) - 1)]["ts"] * 1000)
            assert await worker.process_claim(claim)
            async with app.state.db.session() as session:
                state = await session.get(PipelineState, claim.user_id, populate_existing=True)
                assert state is not None and state.processed_until_ms == claim.until_ms
        await worker.run_until_idle()
    assert spans(await trips_of(client, bob)) == spans(await trips_of(client, alice))


def test_a_rebuilt_trip_is_read_from_the_fix_before_its_silent_departure() -> None:
    """A duty-cycled phone wakes only once its owner has left, so a trip's start is moved back by the
    distance from the last fix before the silence. When the next run must rebuild that trip, it must
    read from that fix, not from the moved-back start (after it): else the start moves on each run."""
    leg = MobilityLeg(1_000.0, 1_900.0, "bus", "inferred", 0.7, 5_000.0, [(0.0, 0.0), (0.1, 0.1)], 90)
    trip = MobilityTrip(1_000.0, 1_900.0, 0, 0, 0.1, 0.1, 5_000.0, True, [leg], read_from_ts_s=400.0)
    # the dwell after the trip starts inside it: the run must start again with the trip
    inside = PipelineResult([], [trip], resume_from_ts_s=1_800.0)
    assert resume_point(inside.stays, inside.trips, inside.resume_from_ts_s) == 400.0
    # the last trip, closed by the time-out only, may go on: rebuilt from the same fix
    assert resume_point([], [trip], None) == 400.0
    # a trip seen from its first fix reads from there
    plain = MobilityTrip(1_000.0, 1_900.0, 0, 0, 0.1, 0.1, 5_000.0, True, [leg])
    assert resume_point([], [plain], 1_800.0) == 1_000.0


async def test_late_and_out_of_order_batches_reprocess_their_window(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, bob: Person, day: Simulation
) -> None:
    points = payload(day)
    await upload(client, alice, points)
    await app.state.worker.run_until_idle()
    half = len(points) // 2
    await upload(client, bob, points[half:])
    await app.state.worker.run_until_idle()
    await upload(client, bob, points[:half])
    await app.state.worker.run_until_idle()
    assert spans(await trips_of(client, bob)) == spans(await trips_of(client, alice))
    # A few points lost in the middle of the bus trip arrive a day late: only that window is redone.
    lost = [p for p in points if 2400 < p["ts"] - points[0]["ts"] < 2500]
    kept = [p for p in points if p not in lost]
    carol = await register(client)
    await upload(client, carol, kept)
    await app.state.worker.run_until_idle()
    await upload(client, carol, lost)
    await app.state.worker.run_until_idle()
    assert spans(await trips_of(client, carol)) == spans(await trips_of(client, alice))


async def test_reprocessing_keeps_the_persons_correction(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, day: Simulation
) -> None:
    points = payload(day)
    gap = [p for p in points if 2400 < p["ts"] - points[0]["ts"] < 2500]
    await upload(client, alice, [p for p in points if p not in gap])
    await app.state.worker.run_until_idle()
    trip = (await trips_of(client, alice))[0]
    longest = max(trip["legs"], key=lambda leg: leg["distance_m"])
    patched = await client.patch(
        f"/v1/me/trips/{trip['id']}/legs/{longest['id']}", headers=alice.headers, json={"mode": "tram"}
    )
    assert patched.status_code == 200
    assert patched.json()["mode_source"] == "user"
    assert patched.json()["co2e_g"] == pytest.approx(longest["distance_m"] / 1000 * 4.28, rel=1e-2)

    await upload(client, alice, gap)  # late points inside the corrected trip: it is rebuilt
    await app.state.worker.run_until_idle()
    rebuilt = (await trips_of(client, alice))[0]
    assert rebuilt["id"] == trip["id"]
    again = max(rebuilt["legs"], key=lambda leg: leg["distance_m"])
    assert (again["mode"], again["mode_source"]) == ("tram", "user")
    assert again["co2e_g"] == pytest.approx(again["distance_m"] / 1000 * 4.28, rel=1e-2)


async def test_a_trip_still_under_way_is_open_until_a_stay_or_the_time_out(
    app: FastAPI, client: httpx.AsyncClient, alice: Person
) -> None:
    sim = simulate([StayPlan(1800), TripPlan((LegPlan("car", 6000),))], seed=3, sampling_s=5.0)
    await upload(client, alice, payload(sim))
    last = float(sim.points.ts_s[-1])
    await app.state.worker.run_until_idle(now_s=last + 60)
    (trip,) = await trips_of(client, alice)
    assert trip["status"] == "open"
    assert await app.state.worker.close_timed_out_trips(now_s=last + 7200) == 1
    (trip,) = await trips_of(client, alice)
    assert trip["status"] == "closed"


async def _stored_trips(app: FastAPI) -> list[Trip]:
    async with app.state.db.session() as session:
        return list(await session.scalars(sa.select(Trip).order_by(Trip.user_id, Trip.start_ts_ms)))


async def test_two_workers_never_take_the_same_person(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation
) -> None:
    people = [await register(client) for _ in range(6)]
    points = payload(day)
    for person in people:
        await upload(client, person, points)
    first, second = PipelineWorker(app.state.db, owner="w1"), PipelineWorker(app.state.db, owner="w2")
    async with app.state.db.session() as session:
        taken_1 = await pipeline_store.claim(session, "w1", 300, 3)
    async with app.state.db.session() as session:
        taken_2 = await pipeline_store.claim(session, "w2", 300, 10)
    assert len(taken_1) == 3 and len(taken_2) == 3
    assert not {c.user_id for c in taken_1} & {c.user_id for c in taken_2}
    await asyncio.gather(
        *(first.process_claim(c) for c in taken_1), *(second.process_claim(c) for c in taken_2)
    )
    done = await asyncio.gather(first.run_until_idle(), second.run_until_idle())
    assert done == [0, 0]
    trips = await _stored_trips(app)
    per_person = {p.user_id: [t for t in trips if t.user_id == p.user_id] for p in people}
    assert {len(ts) for ts in per_person.values()} == {len(day.trips)}
    for person in people:
        state = (await client.get("/v1/me/pipeline", headers=person.headers)).json()
        assert state["pending_points"] == 0


async def test_concurrent_workers_on_many_people_process_each_point_once(
    app: FastAPI, client: httpx.AsyncClient, day: Simulation
) -> None:
    people = [await register(client) for _ in range(8)]
    points = payload(day)
    workers = [PipelineWorker(app.state.db, owner=f"w{i}", batch=1) for i in range(3)]
    for i in range(0, len(points), 1500):
        for person in people:
            await upload(client, person, points[i : i + 1500])
        await asyncio.gather(*(w.run_until_idle() for w in workers))
    trips = await _stored_trips(app)
    for person in people:
        mine = [t for t in trips if t.user_id == person.user_id]
        assert len(mine) == len(day.trips)
        assert all(a.end_ts_ms <= b.start_ts_ms for a, b in itertools.pairwise(mine))
        assert (await client.get("/v1/me/pipeline", headers=person.headers)).json()["pending_points"] == 0


async def test_a_killed_worker_loses_nothing_and_its_late_commit_is_refused(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, day: Simulation
) -> None:
    points = payload(day)
    await upload(client, alice, points[: len(points) // 2])
    async with app.state.db.session() as session:
        (dead_claim,) = await pipeline_store.claim(session, "dying-worker", 0.05, 5)
    # The worker dies before committing; more points arrive meanwhile.
    await upload(client, alice, points[len(points) // 2 :])
    await asyncio.sleep(0.1)  # its lease runs out
    survivor = PipelineWorker(app.state.db, owner="survivor")
    assert await survivor.run_until_idle() == 1
    # A worker that was only paused, not dead, finds its lease gone and writes nothing.
    assert await PipelineWorker(app.state.db, owner="dying-worker").process_claim(dead_claim) is False
    assert (await client.get("/v1/me/pipeline", headers=alice.headers)).json()["pending_points"] == 0
    assert len(await trips_of(client, alice)) == len(day.trips)
    async with app.state.db.session() as session:
        state = await session.get(PipelineState, alice.user_id)
        assert state is not None and state.lease_owner is None and state.claimed_points == 0


async def test_the_window_read_does_not_grow_with_history(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, day: Simulation
) -> None:
    """After a week of days, processing a new day reads that day (and the open tail), not the week."""
    points = payload(day)
    span = points[-1]["ts"] - points[0]["ts"] + 3600
    for d in range(5):
        await upload(client, alice, [p | {"ts": p["ts"] + d * span} for p in points])
        await app.state.worker.run_until_idle()
    await upload(client, alice, [p | {"ts": p["ts"] + 5 * span} for p in points])
    async with app.state.db.session() as session:
        (claim,) = await pipeline_store.claim(session, "probe", 300, 1)
        start = await pipeline_store.window_start(session, claim)
        read = await session.scalar(
            sa.select(sa.func.count()).where(
                LocationPoint.user_id == alice.user_id, LocationPoint.ts_ms >= start
            )
        )
        await session.commit()
    assert read is not None and read <= len(points) * 1.5


async def test_a_failing_run_backs_off_holds_up_no_one_and_loses_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Person,
    bob: Person,
    day: Simulation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    points = payload(day)
    await upload(client, alice, points)
    await upload(client, bob, [p | {"ts": p["ts"] + 1} for p in points])
    alice_first_ms = round(points[0]["ts"] * 1000)
    real_run = worker_module.run_pipeline

    def broken_for_alice(window: Any, now_s: float | None, transit: Any = None, confirmed: Any = ()) -> Any:
        if len(window.ts_ms) and int(window.ts_ms[0]) == alice_first_ms:
            raise RuntimeError("a bug met only by this history")
        return real_run(window, now_s, transit, confirmed)

    monkeypatch.setattr(worker_module, "run_pipeline", broken_for_alice)
    worker = app.state.worker
    assert await worker.run_until_idle() == 2  # both claimed once; alice's failure does not loop
    assert len(await trips_of(client, bob)) == len(day.trips)
    state = (await client.get("/v1/me/pipeline", headers=alice.headers)).json()
    assert state["pending_points"] == len(points) and state["failed_attempts"] == 1
    wait_s = httpx_time(state["next_attempt"]) - time.time()
    assert 50 < wait_s <= 60
    assert await trips_of(client, alice) == []

    async def attempt_now() -> None:  # the wait runs out
        async with app.state.db.session() as session:
            await session.execute(
                sa.update(PipelineState)
                .where(PipelineState.user_id == alice.user_id)
                .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.commit()

    await attempt_now()
    assert await worker.run_until_idle() == 1
    state = (await client.get("/v1/me/pipeline", headers=alice.headers)).json()
    assert state["failed_attempts"] == 2
    assert 110 < httpx_time(state["next_attempt"]) - time.time() <= 120  # twice as long

    monkeypatch.setattr(worker_module, "run_pipeline", real_run)  # the fix is deployed
    assert await worker.run_until_idle() == 0  # still waiting for its next attempt
    await attempt_now()
    assert await worker.run_until_idle() == 1
    state = (await client.get("/v1/me/pipeline", headers=alice.headers)).json()
    assert state == {
        "pending_points": 0,
        "processed_until": state["processed_until"],
        "failed_attempts": 0,
        "next_attempt": None,
    }
    assert len(await trips_of(client, alice)) == len(day.trips)
    async with app.state.db.session() as session:
        row = await session.get(PipelineState, alice.user_id)
        assert row is not None and row.lease_owner is None and row.claimed_points == 0
        assert row.last_error is None


def test_the_wait_between_failed_runs_doubles_up_to_an_hour() -> None:
    waits = [pipeline_store.failure_backoff_s(n) for n in range(1, 10)]
    assert waits[:4] == [60, 120, 240, 480]
    assert waits[-1] == 3600 and max(waits) == 3600


async def test_the_window_is_read_in_parts_exactly_on_either_database(
    app: FastAPI, client: httpx.AsyncClient, alice: Person, bob: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver-level window read, in parts of a few rows: every point and hint of the person from the
    start to the end asked, in time order, missing readings as NaN, nobody else's, and the connection
    left in a transaction that the caller ends."""
    monkeypatch.setattr(pipeline_store, "WINDOW_PART_ROWS", 7)
    base = 1_700_000_000
    points = [
        {"ts": base + i, "lat": 46.15 + i * 1e-5, "lon": -1.15 - i * 1e-5}
        | ({"accuracy": 5.0 + i, "speed": 1.5} if i % 3 else {"altitude": 12.0 + i})
        for i in range(40)
    ]
    activities = [
        {"ts": base + i, "type": "walking" if i % 2 else "cycling", "confidence": i} for i in range(0, 40, 4)
    ]
    activities[1].pop("confidence")
    for person in (alice, bob):
        body = {"points": points, "activities": activities}
        response = await client.post("/v1/me/locations", headers=person.headers, json=body)
        assert response.status_code == 202, response.text
    start_ms, until_ms = (base + 3) * 1000, (base + 33) * 1000
    async with app.state.db.engine.connect() as conn:
        conn = await conn.execution_options(sqlite_readonly=True)
        window = await pipeline_store.read_window(conn, alice.user_id, start_ms, until_ms)
        assert conn.in_transaction()
        await conn.rollback()
        everything = await pipeline_store.read_window(conn, alice.user_id, 0)
        await conn.rollback()
    chosen = points[3:34]
    assert window.ts_ms.tolist() == [p["ts"] * 1000 for p in chosen]
    assert window.lat.tolist() == [p["lat"] for p in chosen]
    assert window.lon.tolist() == [p["lon"] for p in chosen]
    for column, name in (
        (window.accuracy_m, "accuracy"),
        (window.speed_mps, "speed"),
        (window.altitude_m, "altitude"),
    ):
        expected = [p.get(name) for p in chosen]
        assert [None if v != v else v for v in column.tolist()] == expected  # NaN where none was sent
    assert window.activity_ts_ms.tolist() == [(base + i) * 1000 for i in range(4, 34, 4)]
    assert window.activity_kind.tolist() == ["walking" if i % 2 else "cycling" for i in range(4, 34, 4)]
    confidence = window.activity_confidence.tolist()
    assert confidence[0] != confidence[0] and confidence[1:] == [float(i) for i in range(8, 34, 4)]
    assert everything.ts_ms.size == 40 and everything.activity_ts_ms.size == 10
    empty_from = (base + 1000) * 1000
    async with app.state.db.engine.connect() as conn:
        nothing = await pipeline_store.read_window(conn, alice.user_id, empty_from)
        await conn.rollback()
    assert nothing.ts_ms.size == 0 and nothing.lat.dtype == float and nothing.activity_kind.size == 0
