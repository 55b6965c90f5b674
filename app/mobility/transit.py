"""Evidence from the territory's public transport network for one motorised leg.

Geometry alone tells buses from cars poorly: both crawl, stop and turn in city traffic (the largest
confusion on GeoLife). The network the operator publishes (its GTFS feed, read by
:mod:`app.transit`) tells it far better, as published work found (docs/research.md, "Modes: transit network": GIS context adds 12
to 17 points, Stenneth et al. 2011; e-mission calls a motorised section transit when its start and
end lie within 150 m of stops sharing a route):

The network is **positive evidence only** (docs/research.md, "Modes: transit network"): it can say
"this leg rode line 3", never "this leg was a car". Halting away from stops is no evidence of a car:
most buses halt at lights and in queues too, feeds miss stops, and a territory may publish only some of
its services (a rail-only feed knows no bus stop at all). What it looks at:

- **ends on one line, and follows it**: the leg sets off from and arrives at stops of one line (within
  :data:`END_RADIUS_M` of where the vehicle starts and stops moving), and passes that line's stops on
  the way (within :data:`FOLLOW_M` of its path);
- **halts at stops**: the share of the leg's halts (other than its first and last) within
  :data:`AT_STOP_M` of a stop of a kind;
- **the kinds of service published**: a rail mode is named after what the network has (no metro
  without a metro line).

Pure numpy and shapely: the pipeline gets :class:`TransitStops` (stops near the person's points) and
asks :func:`leg_evidence` about each motorised leg.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from app.mobility.geo import Projection
from app.mobility.types import FloatArray, IntArray
from app.transit.gtfs import BUS, METRO, RAIL, TRAIN, TRAM

#: e-mission's radius around a section's ends for stops of one route (docs/research.md, "Modes: transit network")
END_RADIUS_M = 150.0
#: a halt within this distance of a stop is at the stop: a bus is 12-18 m long and halts at its pole,
#: GPS adds about 10 m
AT_STOP_M = 30.0
#: a stop within this distance of a leg's path is passed (served, for a line that calls there): GPS error
#: plus the width of a road with its pavements
FOLLOW_M = 50.0
#: a leg whose vehicle start and end are both farther than this from any stop is outside the
#: network's area: the network says nothing about it
COVER_RADIUS_M = 1000.0
#: a halt: speed below this (m/s) for at least HALT_MIN_S seconds (shorter ones are slow traffic)
HALT_SPEED_MPS = 0.6
HALT_MIN_S = 5.0
#: the vehicle is moving once faster than a brisk walk (m/s)
MOVING_MPS = 2.0


@dataclass(frozen=True)
class TransitStops:
    """Stops of the territory's network: WGS 84 positions, kinds of service (bits of
    :mod:`app.transit.gtfs`) and the lines calling at each (ids unique across feeds)."""

    lat: FloatArray
    lon: FloatArray
    kinds: IntArray
    routes: tuple[frozenset[str], ...]

    def __len__(self) -> int:
        return int(self.lat.size)


@dataclass(frozen=True)
class TransitEvidence:
    """What the network says about one leg: positive evidence only.

    Attributes:
        covered: the leg starts or ends within :data:`COVER_RADIUS_M` of a stop.
        bus_line: the bus line whose stops the vehicle started and stopped near, and passed most
            stops of on its way ("" when none); ``bus_stops_served`` counts the distinct stops of
            that line within :data:`FOLLOW_M` of the leg's path, its ends included.
        rail_kind / rail_line / rail_stops_served: the same for a rail line (``rail_kind`` its kind:
            tram, metro or train bits; 0 when none).
        halts: the leg's halts between its first and last.
        halts_at_bus_stops / halts_at_rail_stops: how many of them are at a stop of that kind.
        network_kinds: the kinds of service the published network has around the person's points
            (bits of :mod:`app.transit.gtfs`; 0 without a network), whether or not it reaches this leg:
            nothing is concluded about a kind of service the feeds lack.
    """

    covered: bool
    bus_line: str = ""
    bus_stops_served: int = 0
    rail_kind: int = 0
    rail_line: str = ""
    rail_stops_served: int = 0
    halts: int = 0
    halts_at_bus_stops: int = 0
    halts_at_rail_stops: int = 0
    network_kinds: int = 0


NO_EVIDENCE = TransitEvidence(covered=False)


class ProjectedNetwork:
    """The stops in the pipeline's projected metres, with a spatial index."""

    def __init__(self, stops: TransitStops, proj: Projection) -> None:
        x, y = proj.to_xy(stops.lat, stops.lon)
        self.kinds = stops.kinds
        self.routes = stops.routes
        self.tree = shapely.STRtree(shapely.points(np.column_stack((x, y))))
        self.kinds_present = int(np.bitwise_or.reduce(stops.kinds)) if len(stops) else 0

    def near(self, x: FloatArray, y: FloatArray, radius_m: float) -> tuple[IntArray, IntArray]:
        """Pairs (query index, stop index) of stops within ``radius_m`` of each query point."""
        pairs = self.tree.query(
            shapely.points(np.column_stack((x, y))), predicate="dwithin", distance=radius_m
        )
        return pairs[0].astype(np.intp), pairs[1].astype(np.intp)

    def near_path(self, x: FloatArray, y: FloatArray, radius_m: float) -> IntArray:
        """Stops within ``radius_m`` of the path through these points."""
        if x.size < 2:
            return self.near(x, y, radius_m)[1]
        line = shapely.linestrings(np.column_stack((x, y)))
        return np.asarray(self.tree.query(line, predicate="dwithin", distance=radius_m), dtype=np.intp)


def _halts(t: FloatArray, v: FloatArray) -> list[tuple[int, int]]:
    """Index ranges of halts: runs below HALT_SPEED_MPS lasting HALT_MIN_S or more."""
    slow = np.concatenate(([False], v < HALT_SPEED_MPS, [False])).astype(np.int8)
    edges = np.diff(slow)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True) if t[b] - t[a] >= HALT_MIN_S]


def _line_routes(net: ProjectedNetwork, idx: IntArray, kind_mask: int) -> set[str]:
    out: set[str] = set()
    for i in idx.tolist():
        if net.kinds[i] & kind_mask:
            out |= net.routes[i]
    return out


def _followed_line(
    net: ProjectedNetwork, lines: set[str], along: IntArray, kind_mask: int
) -> tuple[str, int]:
    """Of the lines both ends share, the one with most distinct stops along the path, and that count."""
    best, served = "", 0
    if not lines:
        return best, served
    counts: dict[str, int] = dict.fromkeys(lines, 0)
    for i in np.unique(along).tolist():
        if net.kinds[i] & kind_mask:
            for route in net.routes[i] & counts.keys():
                counts[route] += 1
    for line in sorted(counts):
        if counts[line] > served:
            best, served = line, counts[line]
    return best, served


def leg_evidence(
    net: ProjectedNetwork | None, t: FloatArray, x: FloatArray, y: FloatArray, v: FloatArray
) -> TransitEvidence:
    """What the network says about the leg made of these points (time order, projected metres,
    window speeds)."""
    if net is None or t.size < 2:
        return NO_EVIDENCE
    absent = TransitEvidence(covered=False, network_kinds=net.kinds_present)
    moving = np.flatnonzero(v >= MOVING_MPS)
    if moving.size == 0:
        return absent
    first, last = int(moving[0]), int(moving[-1])
    ends_x = np.array([x[first], x[last]])
    ends_y = np.array([y[first], y[last]])
    q, s = net.near(ends_x, ends_y, COVER_RADIUS_M)
    if q.size == 0:
        return absent
    q, s = net.near(ends_x, ends_y, END_RADIUS_M)
    start_stops, end_stops = s[q == 0], s[q == 1]
    bus_lines = _line_routes(net, start_stops, BUS) & _line_routes(net, end_stops, BUS)
    rail_kind, rail_lines = 0, set[str]()
    for kind in (TRAIN, METRO, TRAM):
        rail_lines = _line_routes(net, start_stops, kind) & _line_routes(net, end_stops, kind)
        if rail_lines:
            rail_kind = kind
            break
    # the stops along the path are looked up only for a leg whose two ends share a line
    along = np.zeros(0, dtype=np.intp)
    if bus_lines or rail_lines:
        along = net.near_path(x[first : last + 1], y[first : last + 1], FOLLOW_M)
        along = np.concatenate((along, start_stops, end_stops))
    bus_line, bus_served = _followed_line(net, bus_lines, along, BUS)
    rail_line, rail_served = _followed_line(net, rail_lines, along, rail_kind)
    # halts between the vehicle's start and end (boarding and alighting are the ends)
    halts = [(a, b) for a, b in _halts(t, v) if a > first and b < last]
    at_bus = at_rail = 0
    if halts:
        hx = np.array([x[a : b + 1].mean() for a, b in halts])
        hy = np.array([y[a : b + 1].mean() for a, b in halts])
        hq, hs = net.near(hx, hy, AT_STOP_M)
        kinds = net.kinds[hs]
        at_bus = int(np.unique(hq[(kinds & BUS) != 0]).size)
        at_rail = int(np.unique(hq[(kinds & RAIL) != 0]).size)
    return TransitEvidence(
        True,
        bus_line,
        bus_served,
        rail_kind,
        rail_line,
        rail_served,
        len(halts),
        at_bus,
        at_rail,
        net.kinds_present,
    )
