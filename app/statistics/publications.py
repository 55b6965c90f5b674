"""Exact, k-anonymous statistics of the territory, published once per official zone set and local month,
then frozen.

Ad-hoc releases are differentially private (app/statistics/service.py). Exact figures leave the store only
here: for each *official* zone set (the administrator's partition; the built-in grid by default) and each
whole local calendar month (`COACHCO2_TIMEZONE`), once the month is over and
`COACHCO2_PUBLICATION_DELAY_DAYS` more days have passed (late uploads arrive first), one publication is
computed and stored in `publications`. It never changes afterwards: data arriving late and consents revoked
later do not touch it (it is an anonymous aggregate of at least k people), and the next months are audited
against it as it stands.

What one publication holds
--------------------------
Linked tables of trips, passenger-km, CO2e and distinct people per cell, from the daily rollups of people
whose consent stands, each person's contribution over the month scaled down to the caps of
`disclosure.Caps` (stated in each publication), as `disclosure.combine` does:

- `days`: local day x mode, with each day's total over modes;
- `weeks`: ISO week x mode, with totals, for the weeks whose Sunday falls in the month, over all seven
  days (a week that begins in the previous month counts those days too, each person's contribution to
  them capped as the previous month's publication capped it);
- `month`: mode x month, with the month's total;
- `zones`: origin zone x mode, with each zone's total (`zone` null: trips starting outside every zone);
- `parents`: for uploaded zone sets whose zones name a `parent` (a commune): parent x mode with totals;
  zones without a parent are under the parent null.

A trip counts under its main mode for `trips`; passenger-km and CO2e are counted per leg mode. A cell
absent from a table had no traveller at all.

Protection
----------
1. **Primary suppression.** A cell behind which fewer than k distinct people stand is suppressed (figures
   null, `suppressed: true`, the reason).
2. **Secondary suppression**, over all the linked tables at once. The tables are tied by linear relations,
   each "a total equals the sum of its components": the modes of a day, a week, the month, a zone, a
   parent (components) and its total; the days of the month and of each week (per mode and for the
   total); the zones of the month, the zones of each parent and the parents of the month (per mode and for
   the total). Whoever reads the tables knows every published number and every relation, and can combine
   them. The audit checks:

   (a) *groups*: in every relation whose total is published, the suppressed components are none, or at
       least two that together stand for at least k distinct people (total minus the published
       components is exactly their sum);
   (b) *determination*: no suppressed cell's value follows from the system of relations. The suppressed
       cells are the unknowns x, the relations are rows of A x = b (b from the published numbers); a cell
       j is determined iff its unit vector e_j lies in the row space of A, i.e. iff every vector of A's
       null space is zero at j (the null space is computed once per round by SVD, which is what a
       `numpy.linalg.matrix_rank` test per cell amounts to). The relations of time (days, weeks, month:
       a few hundred unknowns) are solved densely. Those of place (zones x modes, parents x modes, the
       month's margins) are, with signs chosen per node, the conservation laws of a flow on a graph whose
       edges are the cells (a zone's row, a parent's column, the month's column and row are its nodes),
       so that a suppressed cell is determined iff it is a bridge of the graph of suppressed cells: that
       is found in linear time for thousands of zones. The two systems share only the month's cells; when
       some of those are suppressed, the place graph's relations on them (one per connected component of
       the other suppressed place cells) are added to the time system, and a place bridge is determined
       iff no flow through the suppressed month cells that the time system allows crosses it;
   (c) *differencing*: where the suppressed components of one relation (S_b) are among those of another
       (S_a), both totals published, S_a minus S_b is a derived group (for instance the zones of a mode
       outside one commune): it too must stand for at least k people.

   While a check fails, the smallest published cell (by people, then trips) of the offending relation is
   suppressed too, and everything is checked again. Every check can be met by suppressing this month's
   cells, so it ends.
3. **A week that begins in the previous month.** That month's publication is frozen: its cells keep the
   pattern stored with it (published cells are known numbers, suppressed ones unknowns), and only cells
   of this publication may be suppressed in addition (the week's own cell when nothing else works). Each
   publication stores, with its tables and never served, what the next one needs about the days after
   its last Sunday: a fingerprint of each of their cells, the relations it implies on their suppressed
   cells (its whole audited system projected on them, so nothing older is lost) and its groups of
   suppressed cells among them (for (c)). Those days are read again as they are now: a cell whose
   fingerprint changed (late data, a revocation, a correction) is a new unknown, counted as standing for
   nobody in (a) and (c), and neither it nor its change since the previous publication may be determined
   by (b), so that the week never gives away what changed, nor who revoked.

Published people counts are counts of distinct people: they do not add up across cells, and give no
relation. Everyone counted in a published cell finds the publication in their access log.

The publisher (`publish_due`) runs in the pipeline worker about once an hour and at its start, and on the
command line (`coachco2 publications publish`). It publishes, per official zone set and in order, every
due month after its latest publication (or from its first month with rollups), never more than 24 months
back, so that a publication always finds the one before it; a zone set whose past trips are still being
assigned to its zones (a new upload) waits.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import logging
import re
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from app.core.db import Database
from app.models import Publication, ZoneSet
from app.selfdata.repository import log_access
from app.settings import Settings
from app.statistics import repository as store
from app.statistics.disclosure import Caps, rounded
from app.statistics.zones import GRID_ID

log = logging.getLogger("coachco2.publications")

CAPS = Caps()
WINDOW_MONTHS = 24  # never publish further back than this
TOTAL = "*"  # the mode of a total cell, inside this module only
TOLERANCE = 1e-8

Key = tuple[Any, ...]

# -- calendar ------------------------------------------------------------------------------------------


def _date(day: int) -> date:
    return date(day // 10000, day // 100 % 100, day % 100)


def _int(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


def next_month(month: int) -> int:
    return month + 1 if month % 100 < 12 else (month // 100 + 1) * 100 + 1


def prev_month(month: int) -> int:
    return month - 1 if month % 100 > 1 else (month // 100 - 1) * 100 + 12


def month_days(month: int) -> list[int]:
    return [month * 100 + d for d in range(1, calendar.monthrange(month // 100, month % 100)[1] + 1)]


def weeks_of(month: int) -> list[tuple[int, list[int]]]:
    """(Monday, its seven days) of each ISO week whose Sunday falls in the month."""
    weeks = []
    for day in month_days(month):
        sunday = _date(day)
        if sunday.weekday() == 6:
            days = [_int(sunday - timedelta(days=6 - i)) for i in range(7)]
            weeks.append((days[0], days))
    return weeks


def trailing_days(month: int) -> list[int]:
    """The days after the month's last Sunday: they belong to a week of the next month's publication."""
    days = month_days(month)
    last_sunday = max(d for d in days if _date(d).weekday() == 6)
    return [d for d in days if d > last_sunday]


def month_label(month: int) -> str:
    return f"{month // 100:04d}-{month % 100:02d}"


_MONTH = re.compile(r"(\d{4})-(\d{2})")


def parse_month(text: str) -> int | None:
    """YYYY-MM (years 1 to 9999) as YYYYMM; None when malformed."""
    match = _MONTH.fullmatch(text)
    if match is None:
        return None
    year, month = int(match[1]), int(match[2])
    return year * 100 + month if year >= 1 and 1 <= month <= 12 else None


def due_at(month: int, tz: ZoneInfo, delay_days: int) -> datetime:
    """When a month may be published: `delay_days` after its end, local time."""
    following = next_month(month)
    return datetime(following // 100, following % 100, 1, tzinfo=tz) + timedelta(days=delay_days)


def _local_month(moment: datetime, tz: ZoneInfo) -> int:
    local = moment.astimezone(tz)
    return local.year * 100 + local.month


# -- cells -----------------------------------------------------------------------------------------------


@dataclass
class MonthInput:
    """What a publication is computed from (read by `_read`; plain values, no database)."""

    zone_set: str
    month: int
    days: Sequence[tuple[Any, ...]]  # (day, mode, person, trips, distance_m, co2e_g) over the month
    zones: Sequence[tuple[Any, ...]]  # (origin zone or None, mode, person, ...) over the month
    before: Sequence[tuple[Any, ...]]  # (day, mode, person, ...) over the previous month's days of week 1
    before_totals: Sequence[tuple[Any, ...]]  # (person, trips, distance_m, co2e_g) over the previous month
    parents: dict[str, str | None] | None  # zone -> parent, when the zone set names parents
    previous: dict[str, Any] | None  # the previous month's stored publication body


@dataclass
class Relation:
    total: int
    comps: np.ndarray
    system: str  # "time" or "place"


@dataclass
class Linked:
    """Every cell of one publication, and the previous month's cells its first week is linked to."""

    keys: list[Key] = field(default_factory=list)
    people: list[int] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    members: list[np.ndarray] = field(default_factory=list)
    own: list[bool] = field(default_factory=list)  # this publication's: may be suppressed
    hidden: list[bool] = field(default_factory=list)
    void: list[bool] = field(default_factory=list)  # stands for nobody in (a) and (c)
    reason: list[str | None] = field(default_factory=list)
    index: dict[Key, int] = field(default_factory=dict)

    def add(
        self, key: Key, people: int, values: np.ndarray, members: np.ndarray, *, own: bool, hidden: bool,
        void: bool = False,
    ) -> int:  # fmt: skip
        self.index[key] = len(self.keys)
        self.keys.append(key)
        self.people.append(people)
        self.values.append(values)
        self.members.append(members)
        self.own.append(own)
        self.hidden.append(hidden)
        self.void.append(void)
        self.reason.append(None)
        return self.index[key]


def _scales(users: np.ndarray, values: np.ndarray, n_users: int) -> np.ndarray:
    """Per person, the factor bringing each measure of their total down to the caps (`combine`'s rule)."""
    totals = np.column_stack(
        [np.bincount(users, weights=values[:, j], minlength=n_users) for j in range(3)]
    ).reshape(n_users, 3)
    limits = np.array([CAPS.trips, CAPS.distance_m, CAPS.co2e_g])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(totals > limits, limits / np.where(totals > 0, totals, 1.0), 1.0)


def _aggregate(
    cells: np.ndarray, users: np.ndarray, values: np.ndarray, size: int, n_users: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sums, distinct people and the people themselves (CSR: indptr, members) of each dense cell."""
    sums = np.column_stack(
        [np.bincount(cells, weights=values[:, j], minlength=size) for j in range(3)]
    ).reshape(size, 3)
    pairs = np.unique(cells.astype(np.int64) * max(n_users, 1) + users)
    people = np.bincount(pairs // max(n_users, 1), minlength=size)
    indptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(people, out=indptr[1:])
    return sums, people, indptr, (pairs % max(n_users, 1)).astype(np.int32)


def _zone_order(code: str | None) -> tuple[bool, str]:
    return (code is None, code or "")


def fingerprint(people: int, values: Sequence[float] | np.ndarray) -> str:
    """What the next publication compares to tell whether a cell of the days after the last Sunday changed."""
    text = f"{people}|{values[0]:.4f}|{values[1]:.1f}|{values[2]:.1f}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Model:
    """The linked cells, their relations and what is carried over from the previous publication."""

    linked: Linked
    relations: list[Relation]
    groups: list[np.ndarray]  # the previous publication's groups of suppressed cells (for (c))
    implied: list[dict[int, float]]  # the previous publication's relations on its suppressed cells
    deltas: list[tuple[int, int | None]]  # (cell now, cell then): a change that must not be determined
    place_edges: dict[int, tuple[Key, Key]]  # place cell -> (tail, head) node of its flow graph
    modes: list[str]
    weeks: list[tuple[int, list[int]]]
    has_parents: bool
    users: list[Any]


def build(inp: MonthInput, k: int) -> Model:
    """The cells of every table (primary suppression applied) and the relations that link them."""
    days = month_days(inp.month)
    weeks = weeks_of(inp.month)
    before_days = sorted({int(r[0]) for r in inp.before})
    modes = sorted({str(r[1]) for r in (*inp.days, *inp.zones, *inp.before)})
    mode_at = {m: i for i, m in enumerate(modes)}
    width = len(modes) + 1  # the last column is the total over modes
    user_at: dict[Any, int] = {}
    for row in (*inp.days, *inp.zones, *inp.before):
        user_at.setdefault(row[2], len(user_at))
    for row in inp.before_totals:
        user_at.setdefault(row[0], len(user_at))
    n_users = max(len(user_at), 1)

    def arrays(rows: Sequence[tuple[Any, ...]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        modes_ = np.array([mode_at[str(r[1])] for r in rows], dtype=np.int64)
        users = np.array([user_at[r[2]] for r in rows], dtype=np.int64)
        values = np.array([[float(r[3] or 0), float(r[4] or 0), float(r[5] or 0)] for r in rows]).reshape(
            -1, 3
        )
        return modes_, users, values

    d_mode, d_user, d_val = arrays(inp.days)
    scale = _scales(d_user, d_val, n_users)
    d_val = d_val * scale[d_user]
    z_mode, z_user, z_val = arrays(inp.zones)
    z_val = z_val * scale[z_user]
    b_mode, b_user, b_val = arrays(inp.before)
    if inp.before_totals:
        t_user = np.array([user_at[r[0]] for r in inp.before_totals], dtype=np.int64)
        t_val = np.array([[float(r[1] or 0), float(r[2] or 0), float(r[3] or 0)] for r in inp.before_totals])
        b_val = b_val * _scales(t_user, t_val.reshape(-1, 3), n_users)[b_user]
    day_at = {d: i for i, d in enumerate(days)}
    d_day = np.array([day_at[int(r[0])] for r in inp.days], dtype=np.int64)
    week_of_day = np.full(len(days), -1, dtype=np.int64)
    for w, (_, wdays) in enumerate(weeks):
        for d in wdays:
            if d in day_at:
                week_of_day[day_at[d]] = w
    linked = Linked()
    primary = f"fewer than {k} people"

    def table(
        entities: Sequence[Any], kind: str, ent: np.ndarray, mode: np.ndarray, users: np.ndarray,
        values: np.ndarray, own: bool = True,
    ) -> dict[Key, tuple[int, np.ndarray, np.ndarray]]:  # fmt: skip
        """Cells (entity x mode, and entity x total) of one table; added to `linked` when `own`."""
        size = len(entities) * width
        cells = np.concatenate([ent * width + mode, ent * width + width - 1])
        sums, people, indptr, members = _aggregate(
            cells, np.concatenate([users, users]), np.concatenate([values, values]), size, n_users
        )
        found = {}
        for c in np.flatnonzero(people > 0).tolist():
            e, m = divmod(c, width)
            key = (kind, *((entities[e],) if kind != "month" else ()), modes[m] if m < width - 1 else TOTAL)
            entry = (int(people[c]), sums[c], members[indptr[c] : indptr[c + 1]])
            found[key] = entry
            if own:
                i = linked.add(key, entry[0], entry[1], entry[2], own=True, hidden=entry[0] < k)
                linked.reason[i] = primary if entry[0] < k else None
        return found

    table(days, "day", d_day, d_mode, d_user, d_val)
    in_week = week_of_day[d_day] >= 0 if len(d_day) else np.zeros(0, dtype=bool)
    b_week = np.zeros(len(inp.before), dtype=np.int64)  # the days before the month are in its first week
    table(
        [w[0] for w in weeks], "week",
        np.concatenate([week_of_day[d_day][in_week], b_week]), np.concatenate([d_mode[in_week], b_mode]),
        np.concatenate([d_user[in_week], b_user]), np.concatenate([d_val[in_week], b_val]),
    )  # fmt: skip
    table([inp.month], "month", np.zeros(len(d_day), dtype=np.int64), d_mode, d_user, d_val)
    zone_codes = sorted({r[0] for r in inp.zones}, key=_zone_order)
    zone_at = {z: i for i, z in enumerate(zone_codes)}
    z_zone = np.array([zone_at[r[0]] for r in inp.zones], dtype=np.int64)
    table(zone_codes, "zone", z_zone, z_mode, z_user, z_val)
    parent_of: dict[Any, str | None] = {}
    has_parents = bool(inp.parents) and any(p is not None for p in (inp.parents or {}).values())
    if has_parents:
        parent_of = {z: (inp.parents or {}).get(z) if z is not None else None for z in zone_codes}
        parent_codes = sorted(set(parent_of.values()), key=_zone_order)
        parent_at = {p: i for i, p in enumerate(parent_codes)}
        z_parent = np.array([parent_at[parent_of[z]] for z in zone_codes], dtype=np.int64)
        table(parent_codes, "parent", z_parent[z_zone] if len(z_zone) else z_zone, z_mode, z_user, z_val)
    b_day = np.array([before_days.index(int(r[0])) for r in inp.before], dtype=np.int64)
    before = table(before_days, "day", b_day, b_mode, b_user, b_val, own=False)

    # The previous month's days of the first week: as its publication left them, or new unknowns.
    groups: list[np.ndarray] = []
    implied: list[dict[int, float]] = []
    deltas: list[tuple[int, int | None]] = []
    now_of: dict[Key, int] = {}  # previous cell -> the cell standing for its value now, in week relations
    empty = np.zeros(0, dtype=np.int32)
    previous = inp.previous
    if before_days or previous is not None:
        state: dict[Key, bool] = {}  # previous cell -> published?
        carry = (previous or {}).get("carry") or {}
        prints = carry.get("fingerprints") or {}
        first_days = {d for d in weeks[0][1]} if weeks else set()
        for row in (previous or {}).get("tables", {}).get("days", []):
            day = _int(date.fromisoformat(row["day"]))
            if day not in first_days:
                continue
            for mode, cell in [(TOTAL, row["total"]), *((m["mode"], m) for m in row["modes"])]:
                state[("day", day, mode)] = not cell["suppressed"]
        for key in sorted(set(state) | set(before), key=lambda k_: (k_[1], k_[2] == TOTAL, k_[2])):
            current = before.get(key)
            if previous is None:  # never published: unknowns, as they are now
                assert current is not None
                now_of[key] = linked.add(key, current[0], current[1], current[2], own=False, hidden=True)
                continue
            same = current is not None and prints.get(f"{key[1]}|{key[2]}") == fingerprint(
                current[0], current[1]
            )
            published = state.get(key)
            then: int | None = None
            if published is False:  # suppressed then: an unknown, known only through the stored relations
                people, values, members = current if same and current is not None else (0, np.zeros(3), empty)
                then = linked.add(key, people, values, members, own=False, hidden=True, void=not same)
            if same and current is not None and published is not None:
                if published:
                    now_of[key] = linked.add(key, current[0], current[1], current[2], own=False, hidden=False)
                else:
                    assert then is not None
                    now_of[key] = then
            elif current is not None:  # changed since (or new): a new unknown, standing for nobody
                now = linked.add(("now", key[1], key[2]), current[0], current[1], current[2], own=False,
                                 hidden=True, void=True)  # fmt: skip
                now_of[key] = now
                deltas.append((now, then))
        for group in carry.get("groups") or []:
            ids = [linked.index.get(("day", int(d), str(m))) for d, m in group]
            if all(i is not None and linked.hidden[i] for i in ids):
                groups.append(np.array(ids, dtype=np.int64))
        stored = carry.get("implied") or {}
        columns = [linked.index.get(("day", int(d), str(m))) for d, m in stored.get("cells", [])]
        for row in stored.get("rows", []):
            implied.append({c: float(v) for c, v in zip(columns, row, strict=True) if c is not None and v})

    relations = _relations(linked, modes, days, weeks, now_of, zone_codes, parent_of, has_parents)
    place_edges = _place_edges(linked, parent_of, has_parents)
    users = [None] * len(user_at)
    for user, i in user_at.items():
        users[i] = user
    return Model(linked, relations, groups, implied, deltas, place_edges, modes, weeks, has_parents, users)


def _relations(
    linked: Linked, modes: list[str], days: list[int], weeks: list[tuple[int, list[int]]],
    now_of: dict[Key, int], zone_codes: list[Any], parent_of: dict[Any, str | None], has_parents: bool,
) -> list[Relation]:  # fmt: skip
    """Every relation "total = sum of components" between the cells, in time and in place."""
    index = linked.index
    relations: list[Relation] = []
    columns = [*modes, TOTAL]

    def add(total: Key, comps: list[Key | int], system: str) -> None:
        t = index.get(total)
        ids = [c if isinstance(c, int) else index.get(c) for c in comps]
        found = [i for i in ids if i is not None]
        if t is not None and found:
            relations.append(Relation(t, np.array(found, dtype=np.int64), system))

    for d in days:
        add(("day", d, TOTAL), [("day", d, m) for m in modes], "time")
    for v in columns:
        add(("month", v), [("day", d, v) for d in days], "time")
    for monday, wdays in weeks:
        for v in columns:
            comps: list[Key | int] = []
            for d in wdays:
                if ("day", d, v) in now_of:  # a day of the previous month, as it stands now
                    comps.append(now_of[("day", d, v)])
                elif d // 100 == days[0] // 100:
                    comps.append(("day", d, v))
            add(("week", monday, v), comps, "time")
        add(("week", monday, TOTAL), [("week", monday, m) for m in modes], "time")
    add(("month", TOTAL), [("month", m) for m in modes], "time")
    for z in zone_codes:
        add(("zone", z, TOTAL), [("zone", z, m) for m in modes], "place")
    for v in columns:
        add(("month", v), [("zone", z, v) for z in zone_codes], "place")
    if has_parents:
        parents = sorted(set(parent_of.values()), key=_zone_order)
        members: dict[Any, list[Any]] = {}
        for z in zone_codes:
            members.setdefault(parent_of[z], []).append(z)
        for p in parents:
            add(("parent", p, TOTAL), [("parent", p, m) for m in modes], "place")
            for v in columns:
                add(("parent", p, v), [("zone", z, v) for z in members[p]], "place")
        for v in columns:
            add(("month", v), [("parent", p, v) for p in parents], "place")
    return relations


def _place_edges(
    linked: Linked, parent_of: dict[Any, str | None], has_parents: bool
) -> dict[int, tuple[Key, Key]]:
    """Each place cell as an edge (tail, head) of a flow graph whose conservation laws are the relations:
    at each node, what leaves equals what enters. Nodes: a zone's row ("zr"), a parent's column per mode
    ("pc"), the month's column per mode ("mc") and the month's row ("mr")."""
    edges: dict[int, tuple[Key, Key]] = {}
    for i, key in enumerate(linked.keys):
        kind, v = key[0], key[-1]
        if kind == "zone":
            column: Key = ("pc", parent_of[key[1]], v) if has_parents else ("mc", v)
            edges[i] = (("zr", key[1]), column) if v == TOTAL else (column, ("zr", key[1]))
        elif kind == "parent":
            edges[i] = (("pc", key[1], v), ("mc", v)) if v == TOTAL else (("mc", v), ("pc", key[1], v))
        elif kind == "month":
            edges[i] = (("mc", v), ("mr",)) if v == TOTAL else (("mr",), ("mc", v))
    return edges


# -- audit -----------------------------------------------------------------------------------------------

REASON_GROUP = "hidden so that a published total does not give away another hidden cell"
REASON_DETERMINED = "hidden so that the linked tables do not determine a hidden cell"
REASON_NESTED = "hidden so that differencing two published totals does not single out fewer than k people"


def _null_space(a: np.ndarray, n: int) -> np.ndarray:
    """An orthonormal basis (rows) of the null space of `a` (r x n)."""
    if a.shape[0] == 0 or n == 0:
        return np.eye(n)
    _, s, vt = np.linalg.svd(a, full_matrices=True)
    rank = int((s > TOLERANCE * max(1.0, float(s[0]))).sum()) if s.size else 0
    return vt[rank:]


def _bridges(
    n_nodes: int, tails: np.ndarray, heads: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bridges of an undirected multigraph (Tarjan, iterative): per edge whether it is one and the node on
    its far side from the DFS root, with the DFS entry and exit times of each node."""
    m = len(tails)
    ends = np.concatenate([tails, heads])
    others = np.concatenate([heads, tails])
    edge_ids = np.concatenate([np.arange(m), np.arange(m)])
    order = np.argsort(ends, kind="stable")
    start = np.searchsorted(ends[order], np.arange(n_nodes + 1))
    nbr, eid = others[order].tolist(), edge_ids[order].tolist()
    start_l = start.tolist()
    tin = [-1] * n_nodes
    tout = [-1] * n_nodes
    low = [0] * n_nodes
    bridge = np.zeros(m, dtype=bool)
    child = np.full(m, -1, dtype=np.int64)
    clock = 0
    for root in range(n_nodes):
        if tin[root] >= 0 or start_l[root] == start_l[root + 1]:
            continue
        tin[root] = low[root] = clock
        clock += 1
        stack = [(root, -1, start_l[root])]
        while stack:
            node, via, pos = stack[-1]
            if pos < start_l[node + 1]:
                stack[-1] = (node, via, pos + 1)
                nxt, e = nbr[pos], eid[pos]
                if e == via:
                    continue
                if tin[nxt] < 0:
                    tin[nxt] = low[nxt] = clock
                    clock += 1
                    stack.append((nxt, e, start_l[nxt]))
                else:
                    low[node] = min(low[node], tin[nxt])
                continue
            stack.pop()
            tout[node] = clock
            if stack:
                parent = stack[-1][0]
                low[parent] = min(low[parent], low[node])
                if low[node] > tin[parent]:
                    bridge[via] = True
                    child[via] = node
    return bridge, child, np.array(tin, dtype=np.int64), np.array(tout, dtype=np.int64)


class Audit:
    """Secondary suppression over the linked tables until checks (a), (b) and (c) all hold."""

    def __init__(self, model: Model, k: int) -> None:
        self.model = model
        self.k = k
        linked = model.linked
        self.n = len(linked.keys)
        self.hidden = np.array(linked.hidden, dtype=bool)
        self.own = np.array(linked.own, dtype=bool)
        self.void = np.array(linked.void, dtype=bool)
        self.people = np.array(linked.people, dtype=np.int64)
        self.trips = np.array([float(v[0]) for v in linked.values])
        self.members = linked.members
        self.touching: list[list[int]] = [[] for _ in range(self.n)]
        for r, rel in enumerate(model.relations):
            self.touching[rel.total].append(r)
            for c in rel.comps.tolist():
                self.touching[c].append(r)
        self.time_cells = [
            i for i, key in enumerate(linked.keys) if key[0] in ("day", "week", "month", "now")
        ]
        self.groups_done = np.zeros(len(model.relations), dtype=bool)  # relations that pass (a) for good

    # helpers
    def covered(self, ids: np.ndarray) -> bool:
        """Whether some cells together stand for at least k distinct people."""
        ids = ids[~self.void[ids]]
        if ids.size == 0:
            return False
        people = self.people[ids]
        if people.max() >= self.k:
            return True
        if people.sum() < self.k:
            return False
        return np.unique(np.concatenate([self.members[i] for i in ids.tolist()])).size >= self.k

    def smallest(self, candidates: Sequence[int] | np.ndarray) -> int | None:
        ids = [
            c for c in np.asarray(candidates, dtype=np.int64).tolist() if self.own[c] and not self.hidden[c]
        ]
        if not ids:
            return None
        return int(min(ids, key=lambda c: (self.people[c], self.trips[c], str(self.model.linked.keys[c]))))

    def hide(self, cell: int, reason: str) -> None:
        self.hidden[cell] = True
        self.model.linked.hidden[cell] = True
        self.model.linked.reason[cell] = reason

    # (a)
    def groups(self) -> int:
        """Every relation whose total is published: no single hidden component, and the hidden ones stand
        for k people (once true, it stays true: more hidden cells only add people)."""
        relations = self.model.relations
        done = self.groups_done
        queued = ~done
        queue = deque(np.flatnonzero(queued).tolist())
        hidden = 0
        while queue:
            r = queue.popleft()
            queued[r] = False
            if done[r]:
                continue
            rel = relations[r]
            if self.hidden[rel.total]:
                done[r] = True
                continue
            concealed = rel.comps[self.hidden[rel.comps]]
            if concealed.size == 0:
                continue
            if concealed.size >= 2 and self.covered(concealed):
                done[r] = True
                continue
            cell = self.smallest(rel.comps)
            if cell is None:
                cell = self.smallest([rel.total])
            if cell is None:  # cannot happen: every total is this publication's
                done[r] = True
                continue
            self.hide(cell, REASON_GROUP)
            hidden += 1
            for other in self.touching[cell]:
                if not queued[other] and not done[other]:
                    queued[other] = True
                    queue.append(other)
        return hidden

    # (c)
    def nested(self) -> int:
        """Relations whose hidden components contain another's: the difference stands for k people."""
        relations = self.model.relations
        sets: list[tuple[frozenset[int], int | None]] = []  # (hidden components, relation or None)
        for r, rel in enumerate(relations):
            if not self.hidden[rel.total]:
                concealed = rel.comps[self.hidden[rel.comps]]
                if concealed.size:
                    sets.append((frozenset(concealed.tolist()), r))
        sets.extend((frozenset(g.tolist()), None) for g in self.model.groups)
        containing: dict[int, list[int]] = {}
        for s, (cells, _) in enumerate(sets):
            for c in cells:
                containing.setdefault(c, []).append(s)
        hidden = 0
        touched: set[int] = set()
        unions: dict[int, int] = {}

        def union(s: int) -> int:
            if s not in unions:
                ids = np.array(sorted(sets[s][0]), dtype=np.int64)
                ids = ids[~self.void[ids]]
                unions[s] = (
                    np.unique(np.concatenate([self.members[i] for i in ids.tolist()])).size if ids.size else 0
                )
            return unions[s]

        for b, (inner, rb) in enumerate(sets):
            for a in containing.get(min(inner), []):
                outer, ra = sets[a]
                if a == b or len(outer) <= len(inner) or not inner <= outer:
                    continue
                rest = outer - inner
                if len(rest) >= 2 and union(a) - union(b) >= self.k:
                    continue
                if len(rest) >= 2 and self.covered(np.array(sorted(rest), dtype=np.int64)):
                    continue
                if (ra is not None and ra in touched) or (rb is not None and rb in touched):
                    continue
                cell = self._fix_pair(ra, rb)
                if cell is None:
                    continue
                self.hide(cell, REASON_NESTED)
                hidden += 1
                touched.update(self.touching[cell])
        return hidden

    def _fix_pair(self, ra: int | None, rb: int | None) -> int | None:
        relations = self.model.relations
        a_comps = set(relations[ra].comps.tolist()) if ra is not None else set()
        b_comps = set(relations[rb].comps.tolist()) if rb is not None else set()
        for candidates in (
            sorted(a_comps - b_comps),
            sorted(b_comps - a_comps),
            [relations[ra].total] if ra is not None else [],
            [relations[rb].total] if rb is not None else [],
        ):
            cell = self.smallest(candidates)
            if cell is not None:
                return cell
        return None

    # (b)
    def systems(self) -> tuple[list[int], np.ndarray, list[int]]:
        """The hidden cells that are unknowns of the time system, its rows (with the place graph's
        relations on the hidden month cells), and the hidden cells the place graph determines."""
        model = self.model
        hidden_time = [c for c in self.time_cells if self.hidden[c]]
        column = {c: j for j, c in enumerate(hidden_time)}
        rows: list[np.ndarray] = []
        for rel in model.relations:
            if rel.system != "time":
                continue
            row = np.zeros(len(hidden_time))
            if self.hidden[rel.total]:
                row[column[rel.total]] = 1.0
            for c in rel.comps.tolist():
                if self.hidden[c]:
                    row[column[c]] -= 1.0
            if row.any():
                rows.append(row)
        for stored in model.implied:
            row = np.zeros(len(hidden_time))
            for c, v in stored.items():
                if c in column:
                    row[column[c]] = v
            if row.any():
                rows.append(row)
        time_rows = np.array(rows).reshape(len(rows), len(hidden_time))

        # The place graph: hidden zone and parent cells are its edges; hidden month cells (shared with the
        # time system) are handled through the relations the graph implies on them.
        edges = [(c, e) for c, e in model.place_edges.items() if self.hidden[c]]
        shared = [c for c, _ in edges if model.linked.keys[c][0] == "month"]
        inner = [(c, e) for c, e in edges if model.linked.keys[c][0] != "month"]
        node_at: dict[Key, int] = {}
        for _, (tail, head) in edges:
            node_at.setdefault(tail, len(node_at))
            node_at.setdefault(head, len(node_at))
        tails = np.array([node_at[e[0]] for _, e in inner], dtype=np.int64)
        heads = np.array([node_at[e[1]] for _, e in inner], dtype=np.int64)
        bridge, child, tin, tout = _bridges(len(node_at), tails, heads)
        # Components of the inner graph (union-find) give the graph's relations on the shared cells.
        parent = list(range(len(node_at)))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for t, h in zip(tails.tolist(), heads.tolist(), strict=True):
            parent[find(t)] = find(h)
        balance: dict[int, np.ndarray] = {}
        for j, c in enumerate(shared):
            tail, head = model.place_edges[c]
            for node, sign in ((tail, 1.0), (head, -1.0)):
                balance.setdefault(find(node_at[node]), np.zeros(len(shared)))[j] += sign
        kept = [r for r in balance.values() if r.any()]
        b_rows = np.array(kept) if kept else np.zeros((0, len(shared)))
        if shared:
            lifted = np.zeros((b_rows.shape[0], len(hidden_time)))
            for j, c in enumerate(shared):
                lifted[:, column[c]] = b_rows[:, j]
            full_rows = np.vstack([time_rows, lifted])
        else:
            full_rows = time_rows
        determined_place: list[int] = []
        bridges = np.flatnonzero(bridge)
        if bridges.size:
            if not shared:
                determined_place = [inner[e][0] for e in bridges.tolist()]
            else:
                # A flow through the shared cells that the time system allows (its null space, on them)
                # and that balances on each component of the inner graph.
                null_t = _null_space(time_rows, len(hidden_time))
                on_shared = null_t[:, [column[c] for c in shared]]  # q x |S|
                free = _null_space(b_rows @ on_shared.T, on_shared.shape[0])  # z x q
                flows = on_shared.T @ free.T  # |S| x z: a basis of the allowed flows on the shared cells
                shared_tails = np.array([tin[node_at[model.place_edges[c][0]]] for c in shared])
                shared_heads = np.array([tin[node_at[model.place_edges[c][1]]] for c in shared])
                for e in bridges.tolist():
                    v = child[e]
                    inside_t = (shared_tails >= tin[v]) & (shared_tails < tout[v])
                    inside_h = (shared_heads >= tin[v]) & (shared_heads < tout[v])
                    crossing = inside_t.astype(float) - inside_h.astype(float)
                    if heads[e] != v:
                        crossing = -crossing
                    if flows.size == 0 or np.abs(crossing @ flows).max() < TOLERANCE:
                        determined_place.append(inner[e][0])
        return hidden_time, full_rows, determined_place

    def determined(self) -> list[int]:
        """The hidden cells (or changes since the previous publication) the relations determine."""
        hidden_time, rows, found = self.systems()
        column = {c: j for j, c in enumerate(hidden_time)}
        null = _null_space(rows, len(hidden_time))
        if hidden_time:
            norms = np.linalg.norm(null, axis=0) if null.size else np.zeros(len(hidden_time))
            found.extend(c for c, j in column.items() if norms[j] < TOLERANCE)
            for now, then in self.model.deltas:
                if then is not None and now in column and then in column:
                    gap = null[:, column[now]] - null[:, column[then]] if null.size else np.zeros(1)
                    if np.linalg.norm(gap) < TOLERANCE:
                        found.append(now)
        return sorted(set(found))

    def fix_determined(self) -> int:
        hidden = 0
        touched: set[int] = set()
        for cell in self.determined():
            if touched & set(self.touching[cell]):
                continue
            choice = self._near(cell)
            if choice is None:
                log.warning("a hidden cell %s is determined and nothing can be hidden to protect it",
                            self.model.linked.keys[cell])  # fmt: skip
                continue
            self.hide(choice, REASON_DETERMINED)
            hidden += 1
            touched.update(self.touching[choice])
        return hidden

    def _near(self, cell: int) -> int | None:
        """The smallest published cell of the relations around a hidden cell, looking further out through
        hidden cells when those relations have none."""
        relations = self.model.relations
        seen = {cell}
        frontier = [cell]
        while frontier:
            candidates: list[int] = []
            following: list[int] = []
            for c in frontier:
                for r in self.touching[c]:
                    rel = relations[r]
                    for other in [*rel.comps.tolist(), rel.total]:
                        candidates.append(other)
                        if self.hidden[other] and other not in seen:
                            seen.add(other)
                            following.append(other)
            comps_first = self.smallest([c for c in candidates if not self._is_total(c, frontier)])
            choice = comps_first if comps_first is not None else self.smallest(candidates)
            if choice is not None:
                return choice
            frontier = following
        return None

    def _is_total(self, cell: int, around: list[int]) -> bool:
        """Whether a cell is the total of a relation around the given cells (hidden last: larger)."""
        return any(self.model.relations[r].total == cell for c in around for r in self.touching[c])

    def run(self) -> None:
        while True:
            self.groups()
            if self.nested():
                continue
            if self.fix_determined():
                continue
            return

    # carried over to the next publication
    def carry(self, month: int) -> dict[str, Any]:
        """What the next month's publication needs about the days after this month's last Sunday."""
        linked = self.model.linked
        tail = set(trailing_days(month))
        prints = {}
        targets = []
        for i, key in enumerate(linked.keys):
            if key[0] == "day" and key[1] in tail and self.own[i]:
                prints[f"{key[1]}|{key[2]}"] = fingerprint(int(self.people[i]), linked.values[i])
                if self.hidden[i]:
                    targets.append(i)
        carry: dict[str, Any] = {"fingerprints": prints, "implied": {"cells": [], "rows": []}, "groups": []}
        if not targets:
            return carry
        hidden_time, rows, _ = self.systems()
        column = {c: j for j, c in enumerate(hidden_time)}
        target_cols = [column[c] for c in targets]
        chosen = set(target_cols)
        rest = [j for j in range(len(hidden_time)) if j not in chosen]
        if rows.shape[0]:
            left = _null_space(rows[:, rest].T, rows.shape[0]) if rest else np.eye(rows.shape[0])
            projected = left @ rows[:, target_cols]
            if projected.size:
                _, s, vt = np.linalg.svd(projected, full_matrices=False)
                rank = int((s > TOLERANCE * max(1.0, float(s[0]))).sum()) if s.size else 0
                carry["implied"] = {
                    "cells": [[linked.keys[c][1], linked.keys[c][2]] for c in targets],
                    "rows": [[float(f"{v:.12g}") for v in r] for r in vt[:rank]],
                }
        target_set = set(targets)
        for rel in self.model.relations:
            if rel.system == "time" and not self.hidden[rel.total]:
                concealed = rel.comps[self.hidden[rel.comps]].tolist()
                if concealed and set(concealed) <= target_set:
                    carry["groups"].append([[linked.keys[c][1], linked.keys[c][2]] for c in concealed])
        return carry


# -- the publication ---------------------------------------------------------------------------------------


def _cell(model: Model, i: int | None) -> dict[str, Any] | None:
    if i is None:
        return None
    linked = model.linked
    if linked.hidden[i]:
        return {"people": None, "trips": None, "passenger_km": None, "co2e_g": None, "suppressed": True,
                "reason": linked.reason[i]}  # fmt: skip
    trips, distance, co2e = (float(v) for v in linked.values[i])
    return {"people": int(linked.people[i]), "trips": rounded(trips), "passenger_km": rounded(distance / 1000),
            "co2e_g": rounded(co2e), "suppressed": False, "reason": None}  # fmt: skip


def _row(model: Model, prefix: Key) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    index = model.linked.index
    total = _cell(model, index.get((*prefix, TOTAL)))
    modes = [
        {"mode": m, **(_cell(model, index[(*prefix, m)]) or {})} for m in model.modes if (*prefix, m) in index
    ]
    return total, modes


def compute(inp: MonthInput, k: int) -> tuple[dict[str, Any], list[Any]]:
    """A month's publication body and the people counted in its published cells. Pure: no I/O."""
    model = build(inp, k)
    audit = Audit(model, k)
    audit.run()
    linked = model.linked
    days = []
    for d in month_days(inp.month):
        total, modes = _row(model, ("day", d))
        if total is not None:
            days.append({"day": _date(d).isoformat(), "total": total, "modes": modes})
    weeks = []
    for monday, wdays in model.weeks:
        total, modes = _row(model, ("week", monday))
        if total is not None:
            year, number, _ = _date(monday).isocalendar()
            weeks.append({"week": f"{year}-W{number:02d}", "from": _date(wdays[0]).isoformat(),
                          "to": _date(wdays[-1]).isoformat(), "total": total, "modes": modes})  # fmt: skip
    month_total, month_modes = _row(model, ("month",))
    zone_codes = sorted({key[1] for key in linked.keys if key[0] == "zone"}, key=_zone_order)
    zones = []
    for z in zone_codes:
        total, modes = _row(model, ("zone", z))
        row: dict[str, Any] = {"zone": z}
        if model.has_parents:
            row["parent"] = (inp.parents or {}).get(z) if z is not None else None
        zones.append({**row, "total": total, "modes": modes})
    parents = []
    for p in sorted({key[1] for key in linked.keys if key[0] == "parent"}, key=_zone_order):
        total, modes = _row(model, ("parent", p))
        parents.append({"parent": p, "total": total, "modes": modes})
    own = [i for i in range(len(linked.keys)) if linked.own[i]]
    suppressed = sum(1 for i in own if linked.hidden[i])
    counted: set[int] = set()
    for i in own:
        if not linked.hidden[i]:
            counted.update(linked.members[i].tolist())
    body = {
        "zone_set": inp.zone_set,
        "month": month_label(inp.month),
        "k": k,
        "caps": {"trips": CAPS.trips, "passenger_km": CAPS.distance_m / 1000, "co2e_kg": CAPS.co2e_g / 1000},
        "summary": {"cells_published": len(own) - suppressed, "cells_suppressed": suppressed},
        "tables": {
            "days": days,
            "weeks": weeks,
            "month": {"total": month_total, "modes": month_modes},
            "zones": zones,
            "parents": parents,
        },
        "carry": audit.carry(inp.month),
    }
    return body, [model.users[i] for i in sorted(counted)]


# -- publishing --------------------------------------------------------------------------------------------


async def _read(session: Any, zs: ZoneSet, month: int, previous: dict[str, Any] | None) -> MonthInput:
    days = month_days(month)
    first, last = days[0], days[-1]
    weeks = weeks_of(month)
    before_days = [d for d in weeks[0][1] if d < first] if weeks else []
    before: list[tuple[Any, ...]] = []
    before_totals: list[tuple[Any, ...]] = []
    if before_days:
        before = await store.publication_rows(session, zs.id, before_days[0], before_days[-1], "day")
        earlier = month_days(prev_month(month))
        before_totals = await store.person_totals(session, zs.id, earlier[0], earlier[-1])
    parents = await store.zone_parents(session, zs.id) if zs.kind != "grid" else None
    return MonthInput(
        zone_set=zs.name,
        month=month,
        days=await store.publication_rows(session, zs.id, first, last, "day"),
        zones=await store.publication_rows(session, zs.id, first, last, "origin_zone"),
        before=before,
        before_totals=before_totals,
        parents=parents if parents and any(p is not None for p in parents.values()) else None,
        previous=previous,
    )


async def _ready(session: Any, zs: ZoneSet, month: int) -> bool:
    """Whether the zone set counts every trip the grid counts over the month (and the days before it in
    its first week): a new upload's past trips are assigned in the background."""
    if zs.id == GRID_ID:
        return True
    days = month_days(month)
    weeks = weeks_of(month)
    first = min(days[0], weeks[0][1][0]) if weeks else days[0]
    mine = await store.rollup_extent(session, zs.id, first, days[-1])
    grid = await store.rollup_extent(session, GRID_ID, first, days[-1])
    return mine == grid


async def publish_month(db: Database, settings: Settings, zs: ZoneSet, month: int) -> Publication | str:
    """Compute and store one publication; or say why not ("published already", "not ready")."""
    async with db.session() as session:
        if await store.publication(session, zs.id, month) is not None:
            return "published already"
        if not await _ready(session, zs, month):
            return "not ready"
        before = await store.publication(session, zs.id, prev_month(month))
        inp = await _read(session, zs, month, before.body if before is not None else None)
        body, counted = await asyncio.to_thread(compute, inp, settings.stats_k)
        pub = Publication(zone_set_id=zs.id, month=month, body=body, created_at=datetime.now(UTC))
        if not await store.add_publication(session, pub):  # made meanwhile by another process
            await session.rollback()
            return "published already"
        await log_access(
            session,
            [p if isinstance(p, uuid.UUID) else uuid.UUID(str(p)) for p in counted],
            actor="territory publication",
            action="aggregate",
            reason=f"counted in the monthly publication of {month_label(month)} over the zone set {zs.name}",
        )
        await session.commit()
        return pub


def due_months(
    now: datetime, tz: ZoneInfo, delay_days: int, latest: int | None, first_day: int | None
) -> list[int]:
    """The months to publish now, in order: after the latest publication (or from the first month with
    rollups), due, and at most 24 months back."""
    last = _local_month(now, tz)
    while due_at(last, tz, delay_days) > now:
        last = prev_month(last)
    window = _local_month(now, tz)
    for _ in range(WINDOW_MONTHS):
        window = prev_month(window)
    if latest is not None:
        start = next_month(latest)
    elif first_day is not None:
        start = first_day // 100
    else:
        return []
    month, months = max(start, window), []
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


async def publish_due(
    db: Database,
    settings: Settings,
    now: datetime | None = None,
    *,
    report: Callable[[ZoneSet, Publication], None] | None = None,
) -> int:
    """Publish every due month of every official zone set; returns how many publications were made."""
    now = now or datetime.now(UTC)
    tz = ZoneInfo(settings.timezone)
    async with db.session() as session:
        plans = []
        for zs in await store.official_zone_sets(session):
            latest = await store.latest_publication_month(session, zs.id)
            first = await store.first_rollup_day(session, zs.id) if latest is None else None
            plans.append((zs, due_months(now, tz, settings.publication_delay_days, latest, first)))
        await session.commit()
    made = 0
    for zs, months in plans:
        for month in months:
            outcome = await publish_month(db, settings, zs, month)
            if outcome == "not ready":
                log.info("zone set %s: its past trips are still being assigned; publishing later", zs.name)
                break
            if isinstance(outcome, Publication):
                made += 1
                summary = outcome.body["summary"]
                log.info("published %s %s: %d cells, %d suppressed", zs.name, month_label(month),
                         summary["cells_published"] + summary["cells_suppressed"], summary["cells_suppressed"])  # fmt: skip
                if report is not None:
                    report(zs, outcome)
    return made
