"""Differential privacy for the territory's ad-hoc statistics. Pure arithmetic, no I/O.

**The unit protected is one person's data of one local month.** Whatever an operator asks, a release is
ε-differentially private with respect to any one person-month: adding, removing or changing everything
one person did in one month changes the probability of any answer by a factor of at most e^ε. Every
release is charged its ε on each month of data it touches, and each month has a lifetime budget
(`COACHCO2_DP_MONTH_EPSILON`) that is never renewed: over all releases ever made from a month, by every
operator, the guarantee for that month of a person's life is the budget (sequential composition). A
person's guarantee over several months is the sum of those months' budgets.

How a release is made:

1. **Contributions are bounded per person-month.** A person's trips, passenger-km and CO2e in one month,
   summed over all cells of the release, are scaled down to at most `Caps` (60 trips, 1,500 km, 200 kg),
   then floored to whole units (milli-trips, metres, grams), so one person-month moves the vector of a
   measure by at most the cap in L1 norm: that is the sensitivity.
2. **Cells are fixed by the question, not the data**: every period of the range and mode, every hour,
   every zone of the zone set (and `outside`). A cell nobody contributes to is published with noise like
   the others, so the list of cells tells nothing.
3. **Noise comes from OpenDP's discrete Laplace sampler** (`opendp.measurements.make_laplace` on integers),
   which samples exactly with integer arithmetic and so resists the floating-point attacks that break a
   textbook floating-point Laplace (Mironov, "On significance of the least significant bits for
   differential privacy", CCS 2012). The release's ε is split evenly between the measures it publishes;
   OpenDP's privacy map of each measurement is checked against its share.
4. **Counts of people** (active people per period) are a measure like the others: a person-month is
   counted in at most as many cells as there are periods of the range within one month, which is its
   sensitivity.
5. **Everything else is post-processing** and costs nothing: totals are sums of noisy cells, shares are
   ratios of noisy figures, negative figures are shown as 0.

Each figure comes with its 95 % margin of error: the noise of one cell is within ±b·ln 20 of zero with
95 % probability (b the Laplace scale), a total of n noisy cells within about ±1.96·b·√(2n).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from app.statistics.disclosure import Caps

# Whole units the measures are counted in before noise: milli-trips, metres, grams.
TRIP_UNITS = 1000
# Far above the rounding of sums of doubles (at most a few 1e-9 on figures under the caps), far below a
# unit: a person-month's floored rows still never sum above the cap while it has fewer than 10^6 rows.
FLOOR_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Measure:
    """One published measure of a release: its name, its unit count per published unit and its cap."""

    name: str
    per_unit: float  # stored units per published unit (1000 milli-trips per trip, 1000 m per km, 1 g)
    sensitivity: int  # the most one person-month moves the measure's vector, in stored units


def measures_for(caps: Caps, names: Sequence[str], people_sensitivity: int = 1) -> list[Measure]:
    known = {
        "trips": Measure("trips", TRIP_UNITS, int(caps.trips * TRIP_UNITS)),
        "passenger_km": Measure("passenger_km", 1000, int(caps.distance_m)),
        "co2e_g": Measure("co2e_g", 1, int(caps.co2e_g)),
        "people": Measure("people", 1, people_sensitivity),
    }
    return [known[name] for name in names]


@dataclass
class Bounded:
    """The exact, bounded sums of a release's cells, in stored units, before any noise."""

    keys: list[Hashable]
    values: dict[str, npt.NDArray[np.int64]]  # measure name -> one integer per key
    people: set[Hashable]  # everyone who contributed to at least one cell (for the access log)


def bound(
    keys: Sequence[Hashable],
    rows: Sequence[tuple[Hashable, int, Hashable, float, float, float]],
    caps: Caps,
    key_of: dict[Hashable, int] | None = None,
) -> Bounded:
    """Sum per cell the contributions of people, each person-month scaled down to the caps.

    `rows` are (cell key, month YYYYMM, person, trips, distance_m, co2e_g); a key outside `keys` counts under the
    key `"outside"` when there is one and nowhere otherwise. `people` is the number of distinct persons
    behind each cell (one person-month changes it by at most one in each cell it touches)."""
    index = key_of if key_of is not None else {key: i for i, key in enumerate(keys)}
    n = len(keys)
    outside = index.get("outside")
    values = {
        "trips": np.zeros(n, dtype=np.int64),
        "passenger_km": np.zeros(n, dtype=np.int64),
        "co2e_g": np.zeros(n, dtype=np.int64),
        "people": np.zeros(n, dtype=np.int64),
    }
    if not rows:
        return Bounded(list(keys), values, set())
    cell = np.fromiter(
        (index.get(row[0], -1 if outside is None else outside) for row in rows),
        dtype=np.int64,
        count=len(rows),
    )
    persons: dict[Hashable, int] = {}
    person = np.fromiter(
        (persons.setdefault(row[2], len(persons)) for row in rows), dtype=np.int64, count=len(rows)
    )
    month = np.fromiter((int(row[1]) for row in rows), dtype=np.int64, count=len(rows))
    raw = np.array([(row[3], row[4], row[5]) for row in rows], dtype=float).reshape(-1, 3)
    raw = np.clip(np.nan_to_num(raw, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
    keep = cell >= 0
    cell, person, month, raw = cell[keep], person[keep], month[keep], raw[keep]
    # One group per person-month: its totals, and the scale that brings them under the caps.
    _, unit = np.unique(np.stack([person, month]), axis=1, return_inverse=True)
    scaled = capped_units(raw, unit.reshape(-1), caps)
    for column, name in enumerate(("trips", "passenger_km", "co2e_g")):
        values[name] = np.bincount(cell, weights=scaled[:, column], minlength=n).astype(np.int64)
    # Distinct people per cell: one (cell, person) pair counts once, whatever its months.
    pairs = np.unique(np.stack([cell, person]), axis=1)
    values["people"] = np.bincount(pairs[0], minlength=n).astype(np.int64)
    names = {i: p for p, i in persons.items()}
    return Bounded(list(keys), values, {names[int(i)] for i in np.unique(person)})


def add_bounded(
    bounded: Bounded, cells: Sequence[tuple[Hashable, int, int, int, int]], people: Sequence[Hashable]
) -> None:
    """Add cells already bounded (key, people, milli-trips, metres, grams) to a release's sums, in place,
    with the people behind them; a key outside the release counts as `bound` counts it."""
    index = {key: i for i, key in enumerate(bounded.keys)}
    outside = index.get("outside")
    for key, persons, milli_trips, distance, co2e in cells:
        at = index.get(key, outside)
        if at is None:
            continue
        bounded.values["people"][at] += persons
        bounded.values["trips"][at] += milli_trips
        bounded.values["passenger_km"][at] += distance
        bounded.values["co2e_g"][at] += co2e
    bounded.people.update(people)


def capped_units(
    raw: npt.NDArray[np.float64], unit: npt.NDArray[np.int64], caps: Caps
) -> npt.NDArray[np.int64]:
    """Rows of (trips, distance_m, co2e_g), each group of rows sharing a `unit` (one person-month) scaled
    down so that its totals stay under the caps, then floored to whole units (milli-trips, metres, grams):
    a person-month's floored rows never sum above the cap. NaN and negative figures count as 0.

    The one arithmetic of a person-month's contribution: releases (`bound`) and the territory's monthly
    totals kept up to date (`app.statistics.repository`) both use it, so they give the same figures."""
    raw = np.clip(np.nan_to_num(raw, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
    limits = np.array([caps.trips, caps.distance_m, caps.co2e_g])
    totals = np.zeros((int(unit.max()) + 1 if unit.size else 0, 3))
    np.add.at(totals, unit, raw)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(totals > limits, limits / totals, 1.0)
    per_unit = np.array([TRIP_UNITS, 1.0, 1.0])
    # A figure within FLOOR_TOLERANCE below a whole unit is that unit: a capped person-month's figure is
    # the cap itself, not one unit less or not depending on the order in which the database summed.
    return np.asarray(np.floor(raw * scale[unit] * per_unit + FLOOR_TOLERANCE), dtype=np.int64)


@lru_cache(maxsize=256)
def _laplace(scale: float) -> Any:
    import opendp.prelude as dp

    dp.enable_features("contrib")
    # 64-bit integers: a month of CO2e in grams exceeds 2^31 for a large territory.
    return dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"), scale=scale)


def scale_for(sensitivity: int, epsilon: float) -> float:
    """The discrete Laplace scale that makes a vector of L1 sensitivity `sensitivity` ε-DP."""
    return float(max(sensitivity, 1)) / epsilon


def noisy(values: npt.NDArray[np.int64], sensitivity: int, epsilon: float) -> npt.NDArray[np.int64]:
    """`values` plus discrete Laplace noise calibrated so that the vector is ε-DP at that sensitivity.

    OpenDP's own privacy map is asked what the measurement spends at that sensitivity; it must not
    exceed ε (to a relative 1e-9, its map rounds up)."""
    if values.size == 0:
        return values.copy()
    measurement = _laplace(scale_for(sensitivity, epsilon))
    spent = float(measurement.map(int(max(sensitivity, 1))))
    if spent > epsilon * (1 + 1e-9):
        raise ArithmeticError(f"the noise would spend ε={spent}, more than its share ε={epsilon}")
    return np.asarray(measurement([int(v) for v in values.tolist()]), dtype=np.int64)


def margin_95(scale: float, cells: int = 1) -> float:
    """Half-width of the 95 % interval of the noise on a sum of `cells` noisy cells of that scale."""
    if cells <= 0:
        return 0.0
    if cells == 1:
        return scale * math.log(20)
    return 1.96 * scale * math.sqrt(2 * cells)


def split(epsilon: float, measures: Sequence[Measure]) -> float:
    """Each measure's share of the release's ε."""
    return epsilon / max(len(measures), 1)
