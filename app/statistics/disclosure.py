"""Statistical disclosure control for the territory's aggregates. Pure arithmetic, no I/O.

Every published figure goes through three protections, and an optional fourth:

1. **Contribution cap.** A person's contribution to a release is bounded: their trips, passenger-km and
   CO2e summed over all the release's cells are scaled down to at most `Caps` (one very mobile person
   cannot dominate a cell, and the sensitivity of the release is known).
2. **k-anonymity threshold.** A cell is published only if at least `k` distinct people contribute to it
   (default 11, the rule INSEE applies to statistics about persons); smaller cells are suppressed.
3. **Secondary suppression.** Where a total is published, a group with exactly one hidden cell would give
   it away (total minus the visible cells), so the smallest visible cell of that group is hidden too,
   repeatedly until no group has a single hidden cell. A total itself is hidden when fewer than `k`
   people stand behind it.
4. **Differential privacy (optional).** With an ε, Laplace noise calibrated to the caps is added to each
   published measure (ε split evenly between trips, passenger-km and CO2e), and the operator's privacy
   budget is charged (see `app/statistics/repository.py`). Counts of people are not published under DP.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_K = 11


@dataclass(frozen=True)
class Caps:
    """The most one person may add to one release (over all its cells)."""

    # About the 95th percentile of a person's month: 2 trips a day, 50 km a day, and the CO2e of 50 km a
    # day by car. Above, a person's figures are scaled down; the smaller the caps, the smaller the noise.
    trips: float = 60.0
    distance_m: float = 1_500_000.0  # 1,500 km
    co2e_g: float = 200_000.0  # 200 kg


@dataclass
class Cell:
    users: int = 0
    trips: float = 0.0
    distance_m: float = 0.0
    co2e_g: float = 0.0
    suppressed: bool = False
    reason: str | None = None
    contributors: set[Hashable] = field(default_factory=set, repr=False)


Contribution = tuple[Hashable, Hashable, float, float, float]  # (cell key, person, trips, distance_m, co2e_g)


def combine(contributions: Iterable[Contribution], caps: Caps) -> dict[Any, Cell]:
    """Sum contributions per cell after scaling each person's total down to the caps."""
    per_person: dict[Hashable, list[tuple[Hashable, float, float, float]]] = {}
    for key, person, trips, distance, co2e in contributions:
        per_person.setdefault(person, []).append((key, trips, distance, co2e))
    cells: dict[Any, Cell] = {}
    for person, parts in per_person.items():
        totals = [sum(p[1] for p in parts), sum(p[2] for p in parts), sum(p[3] for p in parts)]
        limits = (caps.trips, caps.distance_m, caps.co2e_g)
        scale = [
            min(1.0, limit / total) if total > 0 else 1.0 for total, limit in zip(totals, limits, strict=True)
        ]
        for key, trips, distance, co2e in parts:
            cell = cells.setdefault(key, Cell())
            if person not in cell.contributors:
                cell.contributors.add(person)
                cell.users += 1
            cell.trips += trips * scale[0]
            cell.distance_m += distance * scale[1]
            cell.co2e_g += co2e * scale[2]
    return cells


def suppress(
    cells: dict[Any, Cell],
    groups: Sequence[Sequence[Any]],
    k: int = DEFAULT_K,
    group_users: Sequence[int] | None = None,
) -> int:
    """Primary then secondary suppression in place; returns how many cells were hidden in all.

    `group_users[i]`, when given, is the number of distinct people behind group `i` (computed where the
    cells were, in SQL); otherwise it is the union of the cells' contributors."""
    hidden = 0
    for cell in cells.values():
        if cell.users < k:
            cell.suppressed, cell.reason = True, f"fewer than {k} people"
            hidden += 1
    changed = True
    while changed:
        changed = False
        for index, group in enumerate(groups):
            members = [key for key in group if key in cells]
            if group_users is not None:
                total_users = group_users[index]
            else:
                total_users = (
                    len(set().union(*(cells[key].contributors for key in members))) if members else 0
                )
            if total_users < k:
                continue  # the group's total is hidden itself, so it gives nothing away
            concealed = [key for key in members if cells[key].suppressed]
            if len(concealed) != 1:
                continue
            visible = [key for key in members if not cells[key].suppressed]
            if not visible:
                continue
            smallest = min(visible, key=lambda key: (cells[key].users, cells[key].trips))
            cells[smallest].suppressed = True
            cells[smallest].reason = "hidden so that the total does not reveal another hidden cell"
            hidden += 1
            changed = True
    return hidden


def group_total(
    cells: dict[Any, Cell], members: Iterable[Any], k: int = DEFAULT_K, users: int | None = None
) -> Cell:
    """The true total of a group; hidden when fewer than `k` people stand behind it."""
    total = Cell()
    people: set[Hashable] = set()
    for key in members:
        if key in cells:
            cell = cells[key]
            people |= cell.contributors
            total.trips += cell.trips
            total.distance_m += cell.distance_m
            total.co2e_g += cell.co2e_g
    total.users = len(people) if users is None else users
    total.contributors = people
    if total.users < k:
        total.suppressed, total.reason = True, f"fewer than {k} people"
    return total


def people_behind(cells: Iterable[Cell]) -> set[Hashable]:
    """Everyone who contributes to at least one published cell (for the access log)."""
    people: set[Hashable] = set()
    for cell in cells:
        if not cell.suppressed:
            people |= cell.contributors
    return people


def rounded(value: float) -> float:
    return 0.0 if not math.isfinite(value) else round(value, 1)
