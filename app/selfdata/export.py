"""Everything held about a person, streamed in four formats.

- `json`: one document with every table, described by the JSON Schema served at /v1/me/export/schema.
- `geojson`: a FeatureCollection with one Feature per trip and one per leg (RFC 7946).
- `gpx`: GPX 1.1, a track per trip (a segment per leg) and, between them, tracks of the points recorded
  between trips, so that every point held appears once, with its time.
- `csv`: a zip with one CSV file per table.

Rows are read through server-side cursors in chunks and written out as they come, so a year of points
(millions of rows) exports in bounded memory.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app import __version__
from app.core.db import Database
from app.core.schemas import rfc3339, rfc3339_ms
from app.footprint import repository as footprint_store
from app.ingest import repository as ingest_store
from app.models import Leg, OpenpathInput, OpenpathOpcode, Trip, utcnow
from app.selfdata import repository as store

FORMATS = {
    "json": ("application/json", "json"),
    "geojson": ("application/geo+json", "geojson"),
    "gpx": ("application/gpx+xml", "gpx"),
    "csv": ("application/zip", "zip"),
}


@dataclass(frozen=True)
class Held:
    """The small tables of a person, read once at the start of an export."""

    account: dict[str, Any]
    devices: list[dict[str, Any]]
    profile: dict[str, Any]
    consents: list[dict[str, Any]]
    consent_history: list[dict[str, Any]]
    privacy_zones: list[dict[str, Any]]
    access_log: list[dict[str, Any]]
    pipeline: dict[str, Any]
    openpath: dict[str, Any]


async def held(session: AsyncSession, user_id: uuid.UUID) -> Held | None:
    """The person's small tables; None when the person is gone (erased meanwhile)."""
    user = await store.user(session, user_id)
    if user is None:
        return None
    profile = await footprint_store.profile(session, user_id)
    state = await ingest_store.pipeline_state(session, user_id)
    return Held(
        account={
            "user_id": str(user.id),
            "created_at": rfc3339(user.created_at),
            "point_retention_days": user.point_retention_days,
            "learn_from_confirmations": user.learn_from_confirmations,
        },
        devices=[
            {
                "id": str(t.id),
                "device_label": t.device_label,
                "created_at": rfc3339(t.created_at),
                "last_used_at": rfc3339(t.last_used_at),
                "revoked_at": rfc3339(t.revoked_at),
            }
            for t in await store.tokens(session, user_id)
        ],
        profile={
            "car_fuel": profile.car_fuel if profile else None,
            "car_occupancy": profile.car_occupancy if profile else None,
            "bike_kind": profile.bike_kind if profile else None,
        },
        consents=[
            {"purpose": c.purpose, "granted": c.granted, "updated_at": rfc3339(c.updated_at)}
            for c in (await store.consents(session, user_id)).values()
        ],
        consent_history=[
            {
                "id": str(e.id),
                "purpose": e.purpose,
                "granted": e.granted,
                "at": rfc3339(e.at),
                "receipt": e.receipt,
            }
            for e in await store.consent_events(session, user_id)
        ],
        privacy_zones=[
            {
                "id": str(z.id),
                "label": z.label,
                "lat": z.lat,
                "lon": z.lon,
                "radius_m": z.radius_m,
                "created_at": rfc3339(z.created_at),
            }
            for z in await store.zones(session, user_id)
        ],
        access_log=[
            {"at": rfc3339(a.at), "actor": a.actor, "action": a.action, "reason": a.reason}
            for a in await store.access_log(session, user_id, limit=100_000)
        ],
        pipeline={
            "pending_points": state.pending_points if state else 0,
            "processed_until": rfc3339_ms(state.processed_until_ms) if state else None,
            "points_purged_until": rfc3339_ms(state.purged_until_ms) if state else None,
        },
        openpath=await _openpath(session, user_id),
    )


async def _openpath(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any]:
    opcodes = await session.scalars(
        sa.select(OpenpathOpcode).where(OpenpathOpcode.user_id == user_id).order_by(OpenpathOpcode.issued_at)
    )
    inputs = await session.scalars(
        sa.select(OpenpathInput).where(OpenpathInput.user_id == user_id).order_by(OpenpathInput.write_ts_ms)
    )
    return {
        "opcodes": [
            {
                "study": o.study,
                "subgroup": o.subgroup,
                "issued_at": rfc3339(o.issued_at),
                "registered_at": rfc3339(o.registered_at),
                "last_used_at": rfc3339(o.last_used_at),
                "revoked_at": rfc3339(o.revoked_at),
                "profile": o.profile,
            }
            for o in opcodes
        ],
        "inputs": [
            {
                "key": i.key,
                "written_at": rfc3339_ms(i.write_ts_ms),
                "start_time": rfc3339_ms(i.start_ts_ms),
                "end_time": rfc3339_ms(i.end_ts_ms),
                "label": i.label,
                "status": i.status,
                "trip_id": str(i.trip_id) if i.trip_id else None,
                "entry": i.entry,
            }
            for i in inputs
        ],
    }


def point_dict(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "ts": rfc3339_ms(row[0]),
        "lat": row[1],
        "lon": row[2],
        "accuracy": row[3],
        "altitude": row[4],
        "speed": row[5],
        "heading": row[6],
    }


def leg_dict(leg: Leg) -> dict[str, Any]:
    return {
        "id": str(leg.id),
        "start_time": rfc3339_ms(leg.start_ts_ms),
        "end_time": rfc3339_ms(leg.end_ts_ms),
        "mode": leg.mode,
        "mode_source": leg.mode_source,
        "inferred_mode": leg.inferred_mode,
        "confidence": leg.confidence,
        "occupants": leg.occupants,
        "distance_m": leg.distance_m,
        "co2e_g": leg.co2e_g,
        "factor_set": leg.factor_set,
        "factor_key": leg.factor_key,
        "factor_unit": leg.factor_unit,
        "factor_g_per_km": leg.factor_g_per_km,
        "point_count": leg.point_count,
        "geometry": {"type": "LineString", "coordinates": leg.geometry},
        "reasons": leg.reasons or [],
        "features": leg.features,
    }


def trip_dict(trip: Trip, legs: Sequence[Leg]) -> dict[str, Any]:
    return {
        "id": str(trip.id),
        "status": trip.status,
        "start_time": rfc3339_ms(trip.start_ts_ms),
        "end_time": rfc3339_ms(trip.end_ts_ms),
        "start": {"lat": trip.start_lat, "lon": trip.start_lon},
        "end": {"lat": trip.end_lat, "lon": trip.end_lon},
        "distance_m": trip.distance_m,
        "duration_s": (trip.end_ts_ms - trip.start_ts_ms) / 1000,
        "co2e_g": trip.co2e_g,
        "purpose": trip.purpose,
        "purpose_source": trip.purpose_source,
        "legs": [leg_dict(leg) for leg in legs],
    }


async def _trips(conn: AsyncSession, user_id: uuid.UUID) -> AsyncIterator[tuple[Trip, list[Leg]]]:
    async for chunk in store.stream_rows(conn, store.trips_query(user_id)):
        trips = [row[0] for row in chunk]
        legs = await store.legs_for(conn, user_id, [t.id for t in trips])
        for trip in trips:
            yield trip, legs.get(trip.id, [])


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def _json(conn: AsyncSession, user_id: uuid.UUID, h: Held) -> AsyncIterator[bytes]:
    head = {
        "format": "coachco2-export",
        "format_version": 1,
        "schema": "/v1/me/export/schema",
        "generator": f"Coach CO2 {__version__}",
        "exported_at": rfc3339(utcnow()),
        "account": h.account,
        "devices": h.devices,
        "profile": h.profile,
        "consents": h.consents,
        "consent_history": h.consent_history,
        "privacy_zones": h.privacy_zones,
        "access_log": h.access_log,
        "pipeline": h.pipeline,
        "openpath": h.openpath,
    }
    yield _dumps(head)[:-1].encode() + b',"trips":['
    first = True
    async for trip, legs in _trips(conn, user_id):
        yield (b"" if first else b",") + _dumps(trip_dict(trip, legs)).encode()
        first = False
    yield b'],"points":['
    first = True
    async for chunk in store.stream_rows(conn, store.points_query(user_id)):
        text = ",".join(_dumps(point_dict(row)) for row in chunk)
        yield (b"" if first else b",") + text.encode()
        first = False
    yield b'],"activities":['
    first = True
    async for chunk in store.stream_rows(conn, store.activities_query(user_id)):
        text = ",".join(_dumps({"ts": rfc3339_ms(r[0]), "type": r[1], "confidence": r[2]}) for r in chunk)
        yield (b"" if first else b",") + text.encode()
        first = False
    yield b"]}"


async def _geojson(conn: AsyncSession, user_id: uuid.UUID, h: Held) -> AsyncIterator[bytes]:
    yield b'{"type":"FeatureCollection","features":['
    first = True
    async for trip, legs in _trips(conn, user_id):
        path: list[list[float]] = []
        for leg in legs:
            path.extend(leg.geometry if not path else leg.geometry[1:])
        properties = {k: v for k, v in trip_dict(trip, []).items() if k not in ("legs", "start", "end")}
        features = [
            {
                "type": "Feature",
                "id": str(trip.id),
                "geometry": {"type": "LineString", "coordinates": path} if len(path) >= 2 else None,
                "properties": {"kind": "trip", **properties, "leg_ids": [str(leg.id) for leg in legs]},
            }
        ]
        for leg in legs:
            props = {k: v for k, v in leg_dict(leg).items() if k != "geometry"}
            features.append(
                {
                    "type": "Feature",
                    "id": str(leg.id),
                    "geometry": {"type": "LineString", "coordinates": leg.geometry},
                    "properties": {"kind": "leg", "trip_id": str(trip.id), **props},
                }
            )
        yield (b"" if first else b",") + ",".join(_dumps(f) for f in features).encode()
        first = False
    yield b"]}"


def _trkpt(lat: float, lon: float, ele: float | None, ts_ms: int | None) -> str:
    inner = ""
    if ele is not None:
        inner += f"<ele>{ele:.1f}</ele>"
    if ts_ms is not None:
        inner += f"<time>{rfc3339_ms(ts_ms)}</time>"
    return f'<trkpt lat="{lat:.7f}" lon="{lon:.7f}">{inner}</trkpt>'


class _GpxWriter:
    """Merges the time-ordered stream of points with the time-ordered trips into GPX tracks."""

    def __init__(self, trips: list[tuple[Trip, list[Leg]]]) -> None:
        self.trips = trips
        self.index = 0  # the first trip not yet finished
        self.track: tuple[str, int] | None = None  # ("trip", i) or ("between", i)
        self.segment: int | None = None
        self.emitted: set[int] = set()
        self.out: list[str] = []

    def _close(self) -> None:
        if self.track is not None:
            self.out.append("</trkseg></trk>")
        self.track, self.segment = None, None

    def _geometry_only(self, i: int) -> None:
        """A trip whose raw points were purged by retention: its simplified path, without times."""
        trip, legs = self.trips[i]
        self.out.append(self._trip_head(trip, legs))
        for n, leg in enumerate(legs):
            if n:
                self.out.append("</trkseg><trkseg>")
            self.out.extend(_trkpt(lat, lon, None, None) for lon, lat in leg.geometry)
        self.out.append("</trkseg></trk>")

    def _trip_head(self, trip: Trip, legs: list[Leg]) -> str:
        modes = "+".join(leg.mode for leg in legs) or "unknown"
        name = escape(f"Trip {rfc3339_ms(trip.start_ts_ms)}")
        desc = escape(f"{trip.distance_m / 1000:.2f} km, {trip.co2e_g:.0f} g CO2e")
        return f"<trk><name>{name}</name><desc>{desc}</desc><type>{escape(modes)}</type><trkseg>"

    def _finish_trip(self) -> None:
        if self.track == ("trip", self.index):
            self._close()
        elif self.index not in self.emitted:
            self._close()
            self._geometry_only(self.index)
        self.index += 1

    def add(self, row: Sequence[Any]) -> None:
        ts = row[0]
        while self.index < len(self.trips) and self.trips[self.index][0].end_ts_ms < ts:
            self._finish_trip()
        in_trip = self.index < len(self.trips) and self.trips[self.index][0].start_ts_ms <= ts
        key = ("trip", self.index) if in_trip else ("between", self.index)
        if key != self.track:
            self._close()
            if in_trip:
                trip, legs = self.trips[self.index]
                self.out.append(self._trip_head(trip, legs))
                self.emitted.add(self.index)
            else:
                self.out.append("<trk><name>Between trips</name><type>stay</type><trkseg>")
            self.track, self.segment = key, 0
        if in_trip:
            legs = self.trips[self.index][1]
            seg = sum(1 for leg in legs[1:] if leg.start_ts_ms <= ts)
            if self.segment is not None and seg != self.segment:
                self.out.append("</trkseg><trkseg>")
            self.segment = seg
        self.out.append(_trkpt(row[1], row[2], row[4], ts))

    def finish(self) -> None:
        while self.index < len(self.trips):
            self._finish_trip()
        self._close()

    def drain(self) -> bytes:
        text = "".join(self.out)
        self.out.clear()
        return text.encode()


async def _gpx(conn: AsyncSession, user_id: uuid.UUID, h: Held) -> AsyncIterator[bytes]:
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="Coach CO2" xmlns="http://www.topografix.com/GPX/1/1" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://www.topografix.com/GPX/1/1 http://www.topografix.com/GPX/1/1/gpx.xsd">'
        f"<metadata><name>{escape('Coach CO2 export')}</name><desc>{escape('Person ' + h.account['user_id'])}"
        f"</desc><time>{rfc3339(utcnow())}</time></metadata>"
    ).encode()
    # Trips and legs are small next to points (a few thousand a year): they are held, the points stream.
    trips = [(t, legs) async for t, legs in _trips(conn, user_id)]
    writer = _GpxWriter(trips)
    async for chunk in store.stream_rows(conn, store.points_query(user_id)):
        for row in chunk:
            writer.add(row)
        yield writer.drain()
    writer.finish()
    yield writer.drain() + b"</gpx>\n"


class _Sink(io.RawIOBase):
    """An unseekable file that keeps what is written until it is drained."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.buffer += data
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def drain(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


TABLE_COLUMNS: dict[str, list[str]] = {
    "trips": ["id", "status", "start_time", "end_time", "start_lat", "start_lon", "end_lat", "end_lon",
              "distance_m", "duration_s", "co2e_g", "purpose", "purpose_source"],
    "legs": ["id", "trip_id", "seq", "start_time", "end_time", "mode", "mode_source", "inferred_mode",
             "confidence", "occupants", "distance_m", "co2e_g", "factor_set", "factor_key", "factor_unit",
             "factor_g_per_km", "point_count", "geometry"],
    "points": ["ts", "lat", "lon", "accuracy", "altitude", "speed", "heading"],
    "activities": ["ts", "type", "confidence"],
}  # fmt: skip


async def _csv(conn: AsyncSession, user_id: uuid.UUID, h: Held) -> AsyncIterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def table(name: str, header: list[str], rows: list[list[Any]]) -> None:
            with archive.open(f"{name}.csv", "w", force_zip64=True) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                writer = csv.writer(text)
                writer.writerow(header)
                writer.writerows(rows)
                text.flush()
                text.detach()

        table("account", list(h.account), [list(h.account.values())])
        table("profile", list(h.profile), [list(h.profile.values())])
        table("pipeline", list(h.pipeline), [list(h.pipeline.values())])
        for name, records in (
            ("devices", h.devices),
            ("consents", h.consents),
            ("privacy_zones", h.privacy_zones),
            ("access_log", h.access_log),
        ):
            header = list(records[0]) if records else []
            table(name, header, [list(r.values()) for r in records])
        table(
            "consent_history",
            ["id", "purpose", "granted", "at", "receipt"],
            [[e["id"], e["purpose"], e["granted"], e["at"], _dumps(e["receipt"])] for e in h.consent_history],
        )
        yield sink.drain()

        async def streamed(
            name: str, chunks: AsyncIterator[Sequence[Any]], to_row: Callable[[Any], list[Any]]
        ) -> AsyncIterator[bytes]:
            with archive.open(f"{name}.csv", "w", force_zip64=True) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                writer = csv.writer(text)
                writer.writerow(TABLE_COLUMNS[name])
                async for chunk in chunks:
                    writer.writerows(to_row(item) for item in chunk)
                    text.flush()
                    yield sink.drain()
                text.flush()
                text.detach()
            yield sink.drain()

        async def trip_chunks() -> AsyncIterator[Sequence[tuple[Trip, list[Leg]]]]:
            batch: list[tuple[Trip, list[Leg]]] = []
            async for item in _trips(conn, user_id):
                batch.append(item)
                if len(batch) >= 500:
                    yield batch
                    batch = []
            if batch:
                yield batch

        def trip_row(item: tuple[Trip, list[Leg]]) -> list[Any]:
            d = trip_dict(item[0], [])
            return [d["id"], d["status"], d["start_time"], d["end_time"], d["start"]["lat"], d["start"]["lon"],
                    d["end"]["lat"], d["end"]["lon"], d["distance_m"], d["duration_s"], d["co2e_g"],
                    d["purpose"], d["purpose_source"]]  # fmt: skip

        async for data in streamed("trips", trip_chunks(), trip_row):
            yield data

        async def leg_chunks() -> AsyncIterator[Sequence[tuple[Trip, Leg]]]:
            async for chunk in trip_chunks():
                yield [(trip, leg) for trip, legs in chunk for leg in legs]

        def leg_row(item: tuple[Trip, Leg]) -> list[Any]:
            trip, leg = item
            d = leg_dict(leg)
            return [d["id"], str(trip.id), leg.seq, d["start_time"], d["end_time"], d["mode"], d["mode_source"],
                    d["inferred_mode"], d["confidence"], d["occupants"], d["distance_m"], d["co2e_g"],
                    d["factor_set"], d["factor_key"], d["factor_unit"], d["factor_g_per_km"], d["point_count"],
                    _dumps(d["geometry"])]  # fmt: skip

        async for data in streamed("legs", leg_chunks(), leg_row):
            yield data
        async for data in streamed(
            "points",
            store.stream_rows(conn, store.points_query(user_id)),
            lambda r: list(point_dict(r).values()),
        ):
            yield data
        async for data in streamed(
            "activities",
            store.stream_rows(conn, store.activities_query(user_id)),
            lambda r: [rfc3339_ms(r[0]), r[1], r[2]],
        ):
            yield data
    yield sink.drain()


WRITERS = {"json": _json, "geojson": _geojson, "gpx": _gpx, "csv": _csv}


async def export_stream(db: Database, user_id: uuid.UUID, fmt: str, h: Held) -> AsyncIterator[bytes]:
    """The person's data in `fmt`, chunk by chunk, read in one consistent snapshot where the store has one.
    `h` is read before the answer begins (see :func:`held`): a person erased while the body streams gets
    the rest of what was still held, and a well-formed document."""
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(sqlite_readonly=True)
        async with AsyncSession(bind=conn, expire_on_commit=False) as reader:
            async for data in WRITERS[fmt](reader, user_id, h):
                if data:
                    yield data
        await conn.rollback()
