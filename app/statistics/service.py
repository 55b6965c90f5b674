"""The release logic of the territory's statistics: read, cap, suppress, maybe noise, log who was
counted, and say which protections were applied (see app/statistics/disclosure.py). No SQL here: the
queries are in app/statistics/repository.py."""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import repository as accounts
from app.core.problems import ProblemError
from app.models import ZoneSet
from app.selfdata.repository import log_access
from app.settings import Settings
from app.statistics import repository as store
from app.statistics.disclosure import (
    Caps,
    Cell,
    add_noise,
    combine,
    group_total,
    people_behind,
    rounded,
    suppress,
)

Period = Literal["day", "week", "month"]
CAPS = Caps()


@dataclass(frozen=True)
class Scope:
    zone_set: ZoneSet
    day_from: int
    day_to: int
    zone: str | None
    epsilon: float | None


def day_int(value: date) -> int:
    return value.year * 10000 + value.month * 100 + value.day


def month_of(period_start: Any) -> int:
    """YYYYMM of a period's first day written as YYYY-MM-DD."""
    return int(str(period_start)[:7].replace("-", ""))


def day_date(day: int) -> date:
    return date(day // 10000, day // 100 % 100, day % 100)


def period_of(day: int, period: Period) -> str:
    d = day_date(day)
    if period == "day":
        return d.isoformat()
    if period == "week":
        return (d - timedelta(days=d.weekday())).isoformat()
    return d.replace(day=1).isoformat()


async def release(
    session: AsyncSession,
    settings: Settings,
    operator: accounts.OperatorPrincipal,
    sc: Scope,
    dims: Sequence[str],
    key: Callable[[tuple[Any, ...]], Any],
    groups: Callable[[dict[Any, Cell]], dict[Any, list[Any]]],
    what: str,
    monthly: bool = False,
) -> tuple[dict[Any, Cell], dict[Any, Cell], dict[str, Any]]:
    """Read, cap, suppress, maybe noise; log who was counted; say what protection was applied.

    A release by month over all zones is computed in SQL from the monthly rollups (its cost follows people
    and months); any other is combined here from per-person rows of the daily rollups."""
    in_sql = monthly and sc.zone is None and set(dims) <= {"day", "mode"}
    people_by_month: dict[int, list[uuid.UUID]] = {}
    if in_sql:
        caps = (CAPS.trips, CAPS.distance_m, CAPS.co2e_g)
        rows, people_by_month = await store.monthly_release(
            session, sc.zone_set.id, sc.day_from, sc.day_to, "mode" in dims, caps
        )
        n = len(dims)
        cells = {}
        for row in rows:
            cell_key = key(tuple(row[0] * 100 + 1 if d == "day" else row[i] for i, d in enumerate(dims)))
            cells[cell_key] = Cell(users=row[n], trips=row[n + 1], distance_m=row[n + 2], co2e_g=row[n + 3])
    else:
        rows = await store.contributions(session, sc.zone_set.id, sc.day_from, sc.day_to, dims, sc.zone)
        n = len(dims)
        cells = combine(((key(row[:n]), row[n], row[n + 1], row[n + 2], row[n + 3]) for row in rows), CAPS)
    grouping = groups(cells)
    group_users = [len(people_by_month.get(month_of(name), ())) for name in grouping] if in_sql else None
    hidden = suppress(cells, list(grouping.values()), settings.stats_k, group_users)
    totals = {
        name: group_total(
            cells, members, settings.stats_k, group_users[i] if group_users is not None else None
        )
        for i, (name, members) in enumerate(grouping.items())
    }
    dp: dict[str, Any] | None = None
    if sc.epsilon is not None:
        remaining = await store.spend_budget(
            session, operator.operator_id, sc.epsilon, settings.dp_monthly_budget
        )
        if remaining is None:
            now = datetime.now(UTC)
            month_end = datetime(now.year, now.month, calendar.monthrange(now.year, now.month)[1], tzinfo=UTC)
            wait = int((month_end + timedelta(days=1) - now).total_seconds())
            raise ProblemError(
                429,
                "privacy-budget-exhausted",
                f"This release would spend ε={sc.epsilon} and this month's budget of ε={settings.dp_monthly_budget} "
                "does not allow it.",
                headers={"Retry-After": str(wait)},
            )
        add_noise(cells.values(), sc.epsilon, CAPS, np.random.default_rng())
        for name, members in grouping.items():
            # Totals of noisy cells are post-processing: they cost no more budget.
            total = totals[name]
            total.trips = sum(cells[m].trips for m in members if m in cells)
            total.distance_m = sum(cells[m].distance_m for m in members if m in cells)
            total.co2e_g = sum(cells[m].co2e_g for m in members if m in cells)
        dp = {
            "mechanism": "laplace",
            "epsilon": sc.epsilon,
            "split": "ε/3 each for trips, passenger-km and CO2e",
            "sensitivity": "the per-person caps",
            "budget_period": datetime.now(UTC).strftime("%Y-%m"),
            "budget_remaining": round(remaining, 6),
        }
    if in_sql:
        published = {
            month_of(k[0] if isinstance(k, tuple) else k) for k, c in cells.items() if not c.suppressed
        }
        published |= {month_of(name) for name, total in totals.items() if not total.suppressed}
        counted: set[Any] = {person for m in published for person in people_by_month.get(m, ())}
    else:
        counted = people_behind([*cells.values(), *totals.values()])
    name = await operator_name(session, operator)
    await log_access(
        session,
        [uuid.UUID(str(p)) if not isinstance(p, uuid.UUID) else p for p in counted],
        actor=f"operator: {name}",
        action="aggregate",
        reason=f"counted in {what} ({day_date(sc.day_from)} to {day_date(sc.day_to)}, zone set {sc.zone_set.name})",
    )
    await session.commit()
    protection = {
        "k_anonymity": {"k": settings.stats_k, "suppressed_cells": hidden, "secondary_suppression": True},
        "contribution_cap": {
            "scope": "per person, over the whole release",
            "trips": CAPS.trips,
            "passenger_km": CAPS.distance_m / 1000,
            "co2e_kg": CAPS.co2e_g / 1000,
        },
        "differential_privacy": dp,
        "consent": "only trips made while the person had granted territory_statistics, by people whose "
        "consent still stands",
        "privacy_zones": "trip ends inside people's privacy zones are cut before anything is counted",
    }
    return cells, totals, protection


async def operator_name(session: AsyncSession, operator: accounts.OperatorPrincipal) -> str:
    found = await accounts.get_operator(session, operator.operator_id)
    return found.name if found else str(operator.operator_id)


def measures(cell: Cell, dp: bool) -> dict[str, Any]:
    if cell.suppressed:
        return {"suppressed": True, "reason": cell.reason, "people": None, "trips": None, "passenger_km": None,
                "co2e_g": None}  # fmt: skip
    return {
        "suppressed": False,
        "people": None if dp else cell.users,
        "trips": rounded(cell.trips),
        "passenger_km": rounded(cell.distance_m / 1000),
        "co2e_g": rounded(cell.co2e_g),
    }


def share(part: float | None, whole: float | None) -> float | None:
    if part is None or not whole:
        return None
    return round(part / whole, 4)


def group_by(cells: dict[Any, Cell], of: Callable[[Any], Any]) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = {}
    for key in cells:
        groups.setdefault(of(key), []).append(key)
    return groups


def head(sc: Scope, period: str | None) -> dict[str, Any]:
    head: dict[str, Any] = {
        "zone_set": sc.zone_set.name,
        "from": day_date(sc.day_from).isoformat(),
        "to": day_date(sc.day_to).isoformat(),
        "zone": sc.zone,
    }
    if period is not None:
        head["period"] = period
    return head


async def backfill(db: Any, zone_set_id: uuid.UUID, settings: Settings) -> int:
    """Assign every consenting person's past trips to a new zone set (one person per transaction)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(settings.timezone)
    async with db.session() as session:
        people = await store.consenting_people(session)
        await session.commit()
    rows = 0
    for user_id in people:
        async with db.session() as session:
            rows += await store.rebuild_rollups(session, user_id, tz, None, {zone_set_id})
            await session.commit()
    return rows
