"""The release logic of the territory's ad-hoc statistics: one question, one differentially private answer,
computed once and kept (see app/statistics/privacy.py for the guarantee). No SQL here: the queries are in
app/statistics/repository.py.

A release is made in three steps, so that nothing holds the database's write lock while figures are
computed: read the bounded contributions in a read-only transaction; add the noise (OpenDP, in a thread);
then, in one short write transaction, charge ε to every month of data the release touches (all or
nothing), store the answer under its question, and log who was counted. The same question asked again, by
any operator, gets the stored answer and costs nothing, so the noise cannot be averaged away.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import repository as accounts
from app.core.db import Database
from app.core.lang import Msg, join
from app.core.problems import ProblemError
from app.models import PrivacyRelease, ZoneSet, utcnow
from app.selfdata.repository import log_access
from app.settings import Settings
from app.statistics import privacy
from app.statistics import repository as store
from app.statistics.disclosure import Caps, rounded

Period = Literal["day", "week", "month"]
CAPS: Caps = store.CAPS


@dataclass(frozen=True)
class Scope:
    zone_set: ZoneSet
    day_from: int
    day_to: int
    zone: str | None
    epsilon: float


def day_int(value: date) -> int:
    return value.year * 10000 + value.month * 100 + value.day


def day_date(day: int) -> date:
    return date(day // 10000, day // 100 % 100, day % 100)


def period_of(day: int, period: Period) -> str:
    d = day_date(day)
    if period == "day":
        return d.isoformat()
    if period == "week":
        return (d - timedelta(days=d.weekday())).isoformat()
    return d.replace(day=1).isoformat()


def _days(day_from: int, day_to: int) -> list[date]:
    first, last = day_date(day_from), day_date(day_to)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def periods(day_from: int, day_to: int, period: Period) -> list[str]:
    """Every period of the range, oldest first: the cells of a release, whatever the data."""
    return sorted({period_of(day_int(d), period) for d in _days(day_from, day_to)})


def months_of(day_from: int, day_to: int) -> list[int]:
    """The local months (YYYYMM) a range of days touches: what a release over it is charged to."""
    return sorted({d.year * 100 + d.month for d in _days(day_from, day_to)})


def periods_per_month(day_from: int, day_to: int, period: Period) -> int:
    """The most periods of the range that one month's days fall in: how many cells one person-month can
    be counted in as a person (the sensitivity of a count of people per period)."""
    by_month: dict[int, set[str]] = {}
    for d in _days(day_from, day_to):
        by_month.setdefault(d.year * 100 + d.month, set()).add(period_of(day_int(d), period))
    return max((len(p) for p in by_month.values()), default=1)


def month_text(month: int) -> str:
    return f"{month // 100:04d}-{month % 100:02d}"


@dataclass
class Noisy:
    """A release's figures after noise, with what a reader needs to weigh them."""

    index: dict[Hashable, int]
    values: dict[str, npt.NDArray[np.int64]]  # noisy, in stored units (milli-trips, metres, grams, people)
    scales: dict[str, float]  # Laplace scale of each measure, in stored units
    per_unit: dict[str, float]
    detail_index: dict[Hashable, int] | None = None  # the finer cells of `trips_by_mode`, if measured

    def raw(self, name: str, keys: Sequence[Hashable]) -> float:
        """The unclamped noisy sum of some cells, in published units (unbiased)."""
        index = self.detail_index if name == DETAIL and self.detail_index is not None else self.index
        at = [index[k] for k in keys if k in index]
        return float(self.values[name][at].sum()) / self.per_unit[name] if at else 0.0

    def figure(self, name: str, keys: Sequence[Hashable]) -> float | None:
        """What is published for a cell or a sum of cells: never below 0, to 0.1 (people: whole)."""
        if name not in self.values:
            return None
        value = max(0.0, self.raw(name, keys))
        return float(round(value)) if name == "people" else rounded(value)

    def margin(self, name: str, cells: int = 1) -> float | None:
        if name not in self.scales:
            return None
        value = privacy.margin_95(self.scales[name], cells) / self.per_unit[name]
        return float(round(value)) if name == "people" else rounded(value)


def measures(noisy: Noisy, keys: Sequence[Hashable], names: Sequence[str] | None = None) -> dict[str, Any]:
    """A cell's (or a sum of cells') published figures with their 95 % margins of error."""
    wanted = set(names) if names is not None else set(noisy.values)
    figures: dict[str, Any] = {
        "suppressed": False,
        "reason": None,
        "people": noisy.figure("people", keys) if "people" in wanted else None,
        "trips": noisy.figure("trips", keys) if "trips" in wanted else None,
        "passenger_km": noisy.figure("passenger_km", keys) if "passenger_km" in wanted else None,
        "co2e_g": noisy.figure("co2e_g", keys) if "co2e_g" in wanted else None,
    }
    figures["margin_95"] = {
        name: noisy.margin(name, len(keys)) for name in ("people", "trips", "passenger_km", "co2e_g")
        if name in wanted and name in noisy.values
    }  # fmt: skip
    return figures


def share(part: float | None, whole: float | None) -> float | None:
    if part is None or not whole:
        return None
    return round(min(1.0, part / whole), 4)


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


@dataclass(frozen=True)
class Question:
    """What a release answers: the endpoint, the rollup dimensions it reads, its cells and measures."""

    endpoint: str
    extra: dict[str, Any]  # the endpoint's own parameters (period, by)
    dims: tuple[str, ...]
    keys: Sequence[Hashable]
    key_of: Callable[[tuple[Any, ...]], Hashable]
    measures: tuple[str, ...]
    people_sensitivity: int = 1
    monthly: bool = False  # whole months may be read from the monthly table
    # Trips also measured on finer cells (a zone's modes), with their own share of ε.
    detail_keys: Sequence[Hashable] | None = None
    detail_of: Callable[[tuple[Any, ...]], Hashable] | None = None


def digest(sc: Scope, question: Question) -> tuple[str, dict[str, Any]]:
    params = {
        "zone_set": str(sc.zone_set.id),
        "zone_set_name": sc.zone_set.name,
        "from": day_date(sc.day_from).isoformat(),
        "to": day_date(sc.day_to).isoformat(),
        "zone": sc.zone,
        "epsilon": round(sc.epsilon, 9),
        **question.extra,
    }
    canonical = json.dumps({"endpoint": question.endpoint, **params}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest(), params


DETAIL = "trips_by_mode"


def _noise(
    bounded: privacy.Bounded, detail: privacy.Bounded | None, question: Question, epsilon: float
) -> Noisy:
    chosen = privacy.measures_for(CAPS, question.measures, question.people_sensitivity)
    (trips,) = privacy.measures_for(CAPS, ("trips",))
    share_of = epsilon / (len(chosen) + (1 if detail is not None else 0))
    values, scales = {}, {}
    for measure in chosen:
        values[measure.name] = privacy.noisy(bounded.values[measure.name], measure.sensitivity, share_of)
        scales[measure.name] = privacy.scale_for(measure.sensitivity, share_of)
    per_unit = {m.name: m.per_unit for m in chosen}
    detail_index = None
    if detail is not None:
        values[DETAIL] = privacy.noisy(detail.values["trips"], trips.sensitivity, share_of)
        scales[DETAIL] = privacy.scale_for(trips.sensitivity, share_of)
        per_unit[DETAIL] = trips.per_unit
        detail_index = {key: i for i, key in enumerate(detail.keys)}
    index = {key: i for i, key in enumerate(bounded.keys)}
    return Noisy(index, values, scales, per_unit, detail_index)


async def _replay(session: AsyncSession, release: PrivacyRelease, settings: Settings) -> dict[str, Any]:
    """A stored answer as first published, with the budget of its months as it stands now."""
    body: dict[str, Any] = json.loads(json.dumps(release.body))
    body["release"] = {**body.get("release", {}), "replayed": True}
    spent = await store.spent(session, release.months)
    await session.commit()
    body["protection"]["differential_privacy"]["budget"] = _budget(release.months, spent, settings)
    return body


async def read_contributions(
    reader: AsyncSession, sc: Scope, question: Question
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[uuid.UUID]]:
    """What a release bounds: (dims..., month, person, trips, distance_m, co2e_g) per person, cell and month
    read from the rollups; and, for the whole months of a release by month over all zones, the territory's
    monthly totals already bounded, (dims..., person-months, milli-trips, metres, grams) per cell, with the
    people behind them. Those cost cells and months whatever the number of trips. The partial months at the
    ends of the range, whose caps depend on the days asked, are bounded in the database (people under the
    caps) and here (the few above them)."""
    dims = question.dims
    whole = None
    if (
        question.monthly
        and sc.zone is None
        and question.detail_keys is None
        and dims in (("day", "mode"), ("day",))
    ):
        whole = store.whole_months(sc.day_from, sc.day_to)
    if whole is None:
        rows = await store.person_month_rows(
            reader, sc.zone_set.id, sc.day_from, sc.day_to, dims, sc.zone, question.monthly
        )
        return rows, [], []
    by_mode = len(dims) == 2
    above: list[tuple[Any, ...]] = []
    totals = await store.cell_totals(reader, sc.zone_set.id, *whole, by_mode=by_mode)
    counted = await store.people_in_months(reader, sc.zone_set.id, *whole)
    for lo, hi in store.partial_ranges(sc.day_from, sc.day_to, whole):
        capped, summed, people = await store.partial_month(reader, sc.zone_set.id, lo, hi, by_mode, CAPS)
        above += capped
        totals += summed
        counted += people
    return above, totals, counted


async def answer(
    db: Database,
    session: AsyncSession,
    settings: Settings,
    operator: accounts.OperatorPrincipal,
    sc: Scope,
    question: Question,
    build: Callable[[Noisy], dict[str, Any]],
    what: str,
) -> dict[str, Any]:
    """The stored answer to this question, or a new differentially private one, charged and stored."""
    key, params = digest(sc, question)
    found = await store.stored_release(session, key)
    await session.commit()
    if found is not None:
        return await _replay(session, found, settings)
    months = months_of(sc.day_from, sc.day_to)
    left = await store.spent(session, months)
    await session.commit()
    short = [m for m in months if left.get(m, 0.0) + sc.epsilon > settings.dp_month_epsilon + 1e-9]
    if short:
        raise _exhausted(sc.epsilon, short, left, settings)
    async with db.engine.connect() as connection:
        connection = await connection.execution_options(sqlite_readonly=True)
        async with AsyncSession(bind=connection) as reader:
            rows, totals, counted = await read_contributions(reader, sc, question)
            await reader.rollback()
    n = len(question.dims)
    cells = [(question.key_of(row[:n]), *row[n:]) for row in rows]
    whole = [(question.key_of(row[:n]), *row[n:]) for row in totals]
    finer = None
    if question.detail_keys is not None and question.detail_of is not None:
        finer = [(question.detail_of(row[:n]), *row[n:]) for row in rows]

    def compute() -> tuple[privacy.Bounded, Noisy]:
        bounded = privacy.bound(question.keys, cells, CAPS)
        privacy.add_bounded(bounded, whole, counted)
        detail = privacy.bound(question.detail_keys or [], finer, CAPS) if finer is not None else None
        return bounded, _noise(bounded, detail, question, sc.epsilon)

    bounded, noisy = await asyncio.to_thread(compute)
    name = await operator_name(session, operator)
    release_id, now = uuid.uuid4(), utcnow()
    body = build(noisy)
    body["protection"] = protection(settings, sc, question, noisy, months)
    body["release"] = {
        "id": str(release_id),
        "created_at": now.isoformat().replace("+00:00", "Z"),
        "asked_by": name,
        "replayed": False,
    }
    if not await store.charge(session, months, sc.epsilon, settings.dp_month_epsilon):
        await session.rollback()  # another release spent the budget meanwhile: nothing is published
        left = await store.spent(session, months)
        await session.commit()
        short = [m for m in months if left.get(m, 0.0) + sc.epsilon > settings.dp_month_epsilon + 1e-9]
        raise _exhausted(sc.epsilon, short or months, left, settings)
    spent_now = await store.spent(session, months)
    body["protection"]["differential_privacy"]["budget"] = _budget(months, spent_now, settings)
    record = PrivacyRelease(
        id=release_id, question=key, endpoint=question.endpoint, params=params, epsilon=sc.epsilon,
        months=months, operator_id=operator.operator_id, operator_name=name, created_at=now, body=body,
    )  # fmt: skip
    if not await store.add_release(session, record):
        # The same question was answered meanwhile: that answer stands, and this one's charge is undone.
        await session.rollback()
        found = await store.stored_release(session, key)
        await session.commit()
        if found is None:  # pragma: no cover - the other release rolled back after all
            raise ProblemError(
                409,
                "conflict",
                Msg(
                    "The same release is being made: ask again.",
                    "La même diffusion est en cours : redemandez.",
                ),
            )
        return await _replay(session, found, settings)
    await log_access(
        session,
        [p if isinstance(p, uuid.UUID) else uuid.UUID(str(p)) for p in bounded.people],
        actor=f"operator: {name}",
        action="aggregate",
        reason=f"counted in {what} ({day_date(sc.day_from)} to {day_date(sc.day_to)}, zone set "
        f"{sc.zone_set.name}), with differential privacy ε={sc.epsilon:g}",
    )
    await session.commit()
    return body


def _budget(months: Sequence[int], spent: dict[int, float], settings: Settings) -> list[dict[str, Any]]:
    return [
        {
            "month": month_text(m),
            "lifetime_epsilon": settings.dp_month_epsilon,
            "spent_epsilon": round(spent.get(m, 0.0), 9),
            "remaining_epsilon": round(max(0.0, settings.dp_month_epsilon - spent.get(m, 0.0)), 9),
        }
        for m in months
    ]


def _exhausted(
    epsilon: float, months: Sequence[int], spent: dict[int, float], settings: Settings
) -> ProblemError:
    remaining = join(
        [
            Msg(
                "{month} has ε={left:.4g} left",
                "il reste ε={left:.4g} à {month}",
                month=month_text(m),
                left=max(0.0, settings.dp_month_epsilon - spent.get(m, 0.0)),
            )
            for m in months
        ],
        "; ",
    )
    return ProblemError(
        409,
        "privacy-budget-exhausted",
        Msg(
            "This release would spend ε={epsilon:g} on each month of data it covers, and the lifetime budget "
            "of ε={budget:g} per month does not allow it ({remaining}). Ask with a smaller epsilon or a "
            "shorter range, ask a question already answered (it costs nothing), or read the monthly "
            "publications (/v1/operator/publications).",
            "Cette diffusion dépenserait ε={epsilon:g} sur chaque mois de données qu'elle couvre, et le "
            "budget total de ε={budget:g} par mois ne le permet pas ({remaining}). Demandez avec un "
            "epsilon plus petit ou une période plus courte, posez une question déjà répondue (elle ne coûte "
            "rien), ou lisez les publications mensuelles (/v1/operator/publications).",
            epsilon=float(epsilon),
            budget=float(settings.dp_month_epsilon),
            remaining=remaining,
        ),
    )


def protection(
    settings: Settings, sc: Scope, question: Question, noisy: Noisy, months: Sequence[int]
) -> dict[str, Any]:
    share_of = sc.epsilon / max(len(noisy.values), 1)  # every measure (and the detail) has an equal share
    return {
        "differential_privacy": {
            "mechanism": "discrete Laplace (OpenDP)",
            "unit": "one person's data of one local month",
            "epsilon": sc.epsilon,
            "measures": [
                {
                    "measure": name,
                    "epsilon": round(share_of, 9),
                    "scale": rounded(noisy.scales[name] / noisy.per_unit[name]),
                    "margin_95": noisy.margin(name),
                }
                for name in noisy.values
            ],
            "months": [month_text(m) for m in months],
            "budget": [],
        },
        "contribution_cap": {
            "scope": "per person and local month, over the whole release",
            "trips": CAPS.trips,
            "passenger_km": CAPS.distance_m / 1000,
            "co2e_kg": CAPS.co2e_g / 1000,
        },
        "consent": "only trips made while the person had granted territory_statistics, by people whose "
        "consent still stood when the release was made",
        "privacy_zones": "trip ends inside people's privacy zones are cut before anything is counted",
    }


async def operator_name(session: AsyncSession, operator: accounts.OperatorPrincipal) -> str:
    found = await accounts.get_operator(session, operator.operator_id)
    return found.name if found else str(operator.operator_id)


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
