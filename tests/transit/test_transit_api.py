"""The operator publishes the territory's public transport network; the pipeline uses it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from app.mobility import process
from app.mobility.simulate import Simulation, simulate
from app.pipeline.repository import request_reprocess
from tests.conftest import Person
from tests.support.gtfs import feed_zip, line_feed, table
from tests.support.traces import PLAN, bus_halts, payload, trips_of, upload

ZIP = {"Content-Type": "application/zip"}


@pytest.fixture(scope="module")
def ride() -> Simulation:
    return simulate(PLAN, seed=11, sampling_s=2.0)


async def publish(
    client: httpx.AsyncClient, headers: dict[str, str], feed: bytes, name: str = "yelo"
) -> httpx.Response:
    return await client.put(f"/v1/operator/transit-feeds/{name}", headers=headers | ZIP, content=feed)


def _without_network(sim: Simulation) -> list[str]:
    """The vehicle modes geometry alone gives the ride."""
    (trip,) = process(sim.points).trips
    return [leg.mode for leg in trip.legs if leg.mode != "walk"]


def _line_at_halts(sim: Simulation, offset_deg: float = 0.0) -> bytes:
    """One bus line with stops where the ride set off, halted and arrived; moved north by
    ``offset_deg`` (the ride then neither starts nor halts at any of them)."""
    lat, lon, ends = bus_halts(sim)
    halts = [(f"s{i}", float(a), float(o)) for i, (a, o) in enumerate(zip(lat, lon, strict=True))]
    places = [("start", *ends[0]), *halts, ("end", *ends[1])]
    stops = [(sid, a + offset_deg, o) for sid, a, o in places]
    return line_feed(stops, route_id="L1", route_type=3)


async def test_an_operator_publishes_replaces_lists_and_withdraws_a_network(
    client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    feed = line_feed([("a", 46.15, -1.15), ("b", 46.16, -1.14), ("c", 46.17, -1.13)])
    created = await publish(client, operator_headers, feed)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "yelo" and body["stops"] == 3 and body["routes"] == 1
    assert body["bbox"] == [-1.15, 46.15, -1.13, 46.17] and body["created_at"].endswith("Z")
    # multipart works too, and the same name replaces the feed
    smaller = line_feed([("a", 46.15, -1.15), ("b", 46.16, -1.14)])
    replaced = await client.put(
        "/v1/operator/transit-feeds/yelo",
        headers=operator_headers,
        files={"file": ("gtfs.zip", smaller, "application/zip")},
    )
    assert replaced.status_code == 200 and replaced.json()["stops"] == 2
    await publish(client, operator_headers, feed, "ter")
    listed = (await client.get("/v1/operator/transit-feeds", headers=operator_headers)).json()["feeds"]
    assert [(f["name"], f["stops"]) for f in listed] == [("ter", 3), ("yelo", 2)]
    assert (
        await client.delete("/v1/operator/transit-feeds/ter", headers=operator_headers)
    ).status_code == 204
    missing = await client.delete("/v1/operator/transit-feeds/ter", headers=operator_headers)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    listed = (await client.get("/v1/operator/transit-feeds", headers=operator_headers)).json()["feeds"]
    assert [f["name"] for f in listed] == ["yelo"]


async def test_a_bad_feed_is_refused_and_the_published_one_stays(
    client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    good = line_feed([("a", 46.15, -1.15), ("b", 46.16, -1.14)])
    assert (await publish(client, operator_headers, good)).status_code == 201
    broken = feed_zip({"stops.txt": table(["stop_id", "stop_lat", "stop_lon"], [("a", 46.1, -1.1)])})
    for content, detail in (
        (broken, "routes.txt: the feed has no such file"),
        (b"not a zip", "not a zip archive"),
    ):
        answer = await publish(client, operator_headers, content)
        assert answer.status_code == 422
        problem = answer.json()
        assert problem["errors"][0]["field"] == "file" and detail in problem["errors"][0]["detail"]
    no_file = await client.put(
        "/v1/operator/transit-feeds/yelo",
        headers=operator_headers,
        files={"other": ("x.zip", good, "application/zip")},
    )
    assert no_file.status_code == 422
    assert no_file.json()["errors"][0]["detail"] == "send the GTFS zip in a multipart field named `file`"
    bad_name = await publish(client, operator_headers, good, "Yélo%20bus")
    assert bad_name.status_code == 422 and bad_name.json()["errors"][0]["field"] == "name"
    (feed,) = (await client.get("/v1/operator/transit-feeds", headers=operator_headers)).json()["feeds"]
    assert feed["name"] == "yelo" and feed["stops"] == 2


async def test_people_cannot_publish_or_read_networks(client: httpx.AsyncClient, alice: Person) -> None:
    feed = line_feed([("a", 46.15, -1.15), ("b", 46.16, -1.14)])
    assert (await publish(client, alice.headers, feed, "x")).status_code == 403
    assert (await client.get("/v1/operator/transit-feeds", headers=alice.headers)).status_code == 403
    assert (await client.get("/v1/operator/transit-feeds")).status_code == 401


async def test_the_pipeline_takes_the_published_network_into_account(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Person,
    bob: Person,
    operator_headers: dict[str, str],
    ride: Simulation,
) -> None:
    points = payload(ride)
    put = await publish(client, operator_headers, _line_at_halts(ride))
    assert put.status_code == 201
    await upload(client, alice, points)
    await app.state.worker.run_until_idle()
    (trip,) = await trips_of(client, alice)
    vehicle = [leg for leg in trip["legs"] if leg["mode"] != "walk"]
    assert [(leg["mode"], leg["confidence"] >= 0.8) for leg in vehicle] == [("bus", True)]
    detail = (await client.get(f"/v1/me/trips/{trip['id']}", headers=alice.headers)).json()
    (bus,) = [leg for leg in detail["legs"] if leg["mode"] == "bus"]
    assert bus["reasons"][0]["rule"] == "line_stops" and bus["reasons"][0]["stops_served"] >= 3
    # the line runs elsewhere: halting away from any stop is no evidence of a car, geometry alone decides
    put = await publish(
        client,
        operator_headers,
        _line_at_halts(ride, 0.0018),
    )
    assert put.status_code == 200
    await upload(client, bob, points)
    await app.state.worker.run_until_idle()
    (trip,) = await trips_of(client, bob)
    assert [leg["mode"] for leg in trip["legs"] if leg["mode"] != "walk"] == _without_network(ride)


async def test_a_reprocess_takes_a_network_published_later_and_keeps_corrections(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Person,
    bob: Person,
    operator_headers: dict[str, str],
    ride: Simulation,
) -> None:
    for person in (alice, bob):
        await upload(client, person, payload(ride))
    await app.state.worker.run_until_idle()
    (before,) = await trips_of(client, alice)
    (bobs,) = await trips_of(client, bob)
    vehicle = next(leg for leg in bobs["legs"] if leg["mode"] != "walk")
    patched = await client.patch(
        f"/v1/me/trips/{bobs['id']}/legs/{vehicle['id']}", headers=bob.headers, json={"mode": "coach"}
    )
    assert patched.status_code == 200, patched.text
    put = await publish(client, operator_headers, _line_at_halts(ride))
    assert put.status_code == 201
    await app.state.worker.run_until_idle()
    assert await trips_of(client, alice) == [before]  # publishing alone rebuilds nothing

    async with app.state.db.session() as session:
        marked = await request_reprocess(session, None, 0)
        await session.commit()
    assert set(marked) == {alice.user_id, bob.user_id}
    assert (await client.get("/v1/me/pipeline", headers=alice.headers)).json()["pending_points"] == 0
    assert await app.state.worker.run_until_idle() == 2
    (after,) = await trips_of(client, alice)
    assert after["id"] == before["id"]
    detail = (await client.get(f"/v1/me/trips/{after['id']}", headers=alice.headers)).json()
    vehicles = [leg for leg in detail["legs"] if leg["mode"] != "walk"]
    assert [(leg["mode"], leg["reasons"][0]["rule"]) for leg in vehicles] == [("bus", "line_stops")]
    (bobs_after,) = await trips_of(client, bob)
    corrected = next(leg for leg in bobs_after["legs"] if leg["id"] == vehicle["id"])
    assert (corrected["mode"], corrected["mode_source"]) == ("coach", "user")
    assert await app.state.worker.run_until_idle() == 0  # done once
