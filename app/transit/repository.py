"""The territory's public transport networks: storing a feed's stops, and reading those around a
person's points for the pipeline."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.mobility.transit import TransitStops
from app.models import TransitFeed, TransitStopRow
from app.transit import GtfsNetwork

#: rows per INSERT when storing a feed's stops
INSERT_CHUNK = 5_000
#: margin (degrees, about 2 km) around a person's points within which stops are read
MARGIN_DEG = 0.02


async def replace_feed(
    session: AsyncSession, name: str, network: GtfsNetwork
) -> tuple[TransitFeed, bool] | None:
    """Store ``network`` under ``name``, replacing a feed of that name; returns it and whether it
    replaced one, or None when another publication of a new feed of that name got in first. The caller
    commits: readers see the old feed or the new one, never a mix."""
    old = await session.scalar(sa.select(TransitFeed).where(TransitFeed.name == name))
    if old is not None:
        await session.execute(sa.delete(TransitStopRow).where(TransitStopRow.feed_id == old.id))
        await session.delete(old)
        await session.flush()
    lats = [s.lat for s in network.stops]
    lons = [s.lon for s in network.stops]
    feed = TransitFeed(
        name=name,
        stops=len(network.stops),
        routes=network.routes,
        min_lat=min(lats),
        min_lon=min(lons),
        max_lat=max(lats),
        max_lon=max(lons),
    )
    try:
        async with session.begin_nested():
            session.add(feed)
            await session.flush()
    except IntegrityError:
        return None
    rows: list[dict[str, Any]] = [
        {
            "feed_id": feed.id,
            "stop_id": s.stop_id[:255],
            "name": s.name[:255],
            "lat": s.lat,
            "lon": s.lon,
            "kinds": s.kinds,
            "routes": json.dumps(list(s.routes), separators=(",", ":")),
        }
        for s in network.stops
    ]
    for i in range(0, len(rows), INSERT_CHUNK):
        await session.execute(sa.insert(TransitStopRow), rows[i : i + INSERT_CHUNK])
    return feed, old is not None


async def list_feeds(session: AsyncSession) -> list[TransitFeed]:
    return list(await session.scalars(sa.select(TransitFeed).order_by(TransitFeed.name)))


async def delete_feed(session: AsyncSession, name: str) -> bool:
    feed = await session.scalar(sa.select(TransitFeed).where(TransitFeed.name == name))
    if feed is None:
        return False
    await session.execute(sa.delete(TransitStopRow).where(TransitStopRow.feed_id == feed.id))
    await session.delete(feed)
    return True


async def stops_around(conn: AsyncConnection, lat: np.ndarray, lon: np.ndarray) -> TransitStops | None:
    """The stops of every feed within :data:`MARGIN_DEG` of the box around these points (one indexed
    query), None when there are none. Line ids are made unique across feeds."""
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        return None
    lo_lat, hi_lat = float(lat[ok].min()) - MARGIN_DEG, float(lat[ok].max()) + MARGIN_DEG
    lo_lon, hi_lon = float(lon[ok].min()) - MARGIN_DEG, float(lon[ok].max()) + MARGIN_DEG
    result = await conn.execute(
        sa.select(
            TransitStopRow.lat,
            TransitStopRow.lon,
            TransitStopRow.kinds,
            TransitStopRow.routes,
            TransitStopRow.feed_id,
        ).where(TransitStopRow.lat.between(lo_lat, hi_lat), TransitStopRow.lon.between(lo_lon, hi_lon))
    )
    rows = result.all()
    if not rows:
        return None
    return TransitStops(
        np.array([r[0] for r in rows], dtype=np.float64),
        np.array([r[1] for r in rows], dtype=np.float64),
        np.array([r[2] for r in rows], dtype=np.intp),
        tuple(frozenset(f"{r[4]}/{route}" for route in json.loads(r[3])) for r in rows),
    )
