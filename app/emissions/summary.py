"""Summaries of a person's trips per day, week, month or year, by mode and by purpose.

Periods are counted in the territory's local time (a day is a local day; weeks start on Monday, ISO 8601).
A trip belongs to the period in which it starts. Per mode, distances and CO2e add up the legs in that
mode, and a trip counts once, under its main mode (the mode of its longest leg): trip counts and CO2e per
mode add up to the period's totals exactly; distances per mode add up the legs, which may leave out a few
metres of a trip that no leg covers (a gap in the signal between two legs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Period = Literal["day", "week", "month", "year"]

#: The most periods one summary covers: a leap year of days, five years of weeks, ten years of months, fifty
#: years. Past that a summary is no longer something to read, and its cost grows with the periods.
MAX_PERIODS: dict[Period, int] = {"day": 366, "week": 260, "month": 120, "year": 50}


@dataclass(frozen=True)
class LegRecord:
    mode: str
    distance_m: float
    co2e_g: float


@dataclass(frozen=True)
class TripRecord:
    start_ts_ms: int
    distance_m: float
    co2e_g: float
    purpose: str | None
    legs: Sequence[LegRecord]

    @property
    def main_mode(self) -> str:
        if not self.legs:
            return "unknown"
        return max(self.legs, key=lambda leg: leg.distance_m).mode


@dataclass
class Totals:
    trips: int = 0
    distance_m: float = 0.0
    co2e_g: float = 0.0

    def add(self, trips: int, distance_m: float, co2e_g: float) -> None:
        self.trips += trips
        self.distance_m += distance_m
        self.co2e_g += co2e_g


@dataclass
class PeriodSummary:
    start: datetime
    end: datetime
    total: Totals = field(default_factory=Totals)
    by_mode: dict[str, Totals] = field(default_factory=dict)
    by_purpose: dict[str, Totals] = field(default_factory=dict)


def period_start(moment: datetime, period: Period) -> datetime:
    """The start of the period holding `moment` (an aware datetime in the local zone)."""
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def next_start(start: datetime, period: Period) -> datetime:
    """The start of the following period; computed on the calendar, so summer time changes are honoured."""
    tz = start.tzinfo
    naive = start.replace(tzinfo=None)
    if period == "day":
        naive += timedelta(days=1)
    elif period == "week":
        naive += timedelta(days=7)
    elif period == "month":
        naive = naive.replace(year=naive.year + naive.month // 12, month=naive.month % 12 + 1)
    else:
        naive = naive.replace(year=naive.year + 1)
    return naive.replace(tzinfo=tz)


def previous_start(start: datetime, period: Period) -> datetime:
    tz = start.tzinfo
    naive = start.replace(tzinfo=None)
    if period == "day":
        naive -= timedelta(days=1)
    elif period == "week":
        naive -= timedelta(days=7)
    elif period == "month":
        naive = naive.replace(year=naive.year - (naive.month == 1), month=(naive.month - 2) % 12 + 1)
    else:
        naive = naive.replace(year=naive.year - 1)
    return naive.replace(tzinfo=tz)


def period_count(start: datetime, end: datetime, period: Period) -> int:
    """How many periods overlap [start, end) (aware datetimes in the local zone), counted on the calendar
    without walking it: 0 when `end` is not after `start`."""
    if end <= start:
        return 0
    a, b = start.date(), (end - timedelta(microseconds=1)).date()
    if period == "day":
        return b.toordinal() - a.toordinal() + 1
    if period == "week":  # 0001-01-01 is a Monday: ordinal - weekday is the ordinal of the week's Monday
        return ((b.toordinal() - b.weekday()) - (a.toordinal() - a.weekday())) // 7 + 1
    if period == "month":
        return (b.year - a.year) * 12 + b.month - a.month + 1
    return b.year - a.year + 1


def periods_between(start: datetime, end: datetime, period: Period) -> list[PeriodSummary]:
    """Empty summaries for every period that overlaps [start, end), in order: linear in their number."""
    result = []
    cursor = period_start(start, period)
    while cursor < end:
        following = next_start(cursor, period)
        result.append(PeriodSummary(cursor, following))
        cursor = following
    return result


def summarize(
    trips: Sequence[TripRecord], period: Period, zone: ZoneInfo, start: datetime, end: datetime
) -> list[PeriodSummary]:
    """Fill the periods overlapping [start, end) with the trips that start in them: O(periods + trips x
    log(periods)). Near the edges of the calendar (years 1 and 9999) the period arithmetic may leave it and
    raise OverflowError or ValueError, like `period_start`, `next_start` and `previous_start`."""
    periods = periods_between(start.astimezone(zone), end.astimezone(zone), period)
    if not periods:
        return []
    starts = [p.start for p in periods]
    for trip in trips:
        moment = datetime.fromtimestamp(trip.start_ts_ms / 1000, UTC).astimezone(zone)
        index = _locate(starts, moment)
        if index is None or moment >= periods[index].end:
            continue
        summary = periods[index]
        summary.total.add(1, trip.distance_m, trip.co2e_g)
        main = trip.main_mode
        summary.by_mode.setdefault(main, Totals()).trips += 1
        for leg in trip.legs:
            summary.by_mode.setdefault(leg.mode, Totals()).add(0, leg.distance_m, leg.co2e_g)
        purpose = trip.purpose or "unlabelled"
        summary.by_purpose.setdefault(purpose, Totals()).add(1, trip.distance_m, trip.co2e_g)
    return periods


def _locate(starts: Sequence[datetime], moment: datetime) -> int | None:
    lo, hi = 0, len(starts)
    while lo < hi:
        mid = (lo + hi) // 2
        if starts[mid] <= moment:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1 if lo > 0 else None
