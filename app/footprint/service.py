"""The carbon footprint of legs and trips, with the person's profile and the territory's factors.

The glue between the store and the pure `app.emissions` library, used alike by the pipeline worker, a
person's correction and `coachco2 emissions recompute`, so a figure is computed the same way wherever
it comes from, and each leg records the set, the factor key, the unit and the value that produced it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from app.emissions import (
    FACTOR_SETS,
    EmissionPolicy,
    FactorOverride,
    Profile,
    apply_profile,
    leg_emission,
)
from app.emissions.coaching import EmissionFn
from app.emissions.profile import BikeKind, CarFuel
from app.footprint import repository
from app.models import UserProfile


@dataclass(frozen=True)
class FootprintContext:
    policy: EmissionPolicy
    overrides: tuple[FactorOverride, ...]
    profile: Profile | None


async def load_overrides(session: AsyncSession) -> tuple[FactorOverride, ...]:
    rows = await repository.territory_factors(session)
    return tuple(
        FactorOverride(
            id=str(r.id),
            mode=r.mode,
            g_per_km=r.g_per_km,
            unit=cast(Any, r.unit),
            source=r.source,
            valid_from_ms=r.valid_from_ms,
            variant=r.variant,
        )
        for r in rows
    )


def profile_of(row: UserProfile | None) -> Profile | None:
    if row is None:
        return None
    return Profile(
        car_fuel=cast(CarFuel | None, row.car_fuel),
        car_occupancy=row.car_occupancy,
        bike_kind=cast(BikeKind | None, row.bike_kind),
    )


async def load_context(session: AsyncSession, policy: EmissionPolicy, user_id: uuid.UUID) -> FootprintContext:
    """Everything that decides a person's figures: one small query each."""
    profile = profile_of(await repository.profile(session, user_id))
    return FootprintContext(policy, await load_overrides(session), profile)


def leg_figures(
    ctx: FootprintContext,
    *,
    mode: str,
    mode_source: str,
    distance_m: float,
    great_circle_m: float,
    occupants: int | None,
    start_ts_ms: int,
) -> dict[str, Any]:
    """The emission columns of a leg. Inferred modes pass through the person's profile first; a mode the
    person chose is taken as said (with the occupants they gave)."""
    if mode_source == "user":
        factor_mode, variant, people = mode, "", occupants
    else:
        choice = apply_profile(mode, ctx.profile)
        factor_mode, variant, people = choice.mode, choice.variant, choice.occupants
    emission = leg_emission(
        factor_mode,
        distance_m,
        great_circle_m=great_circle_m,
        occupants=people,
        variant=variant,
        policy=ctx.policy,
        overrides=ctx.overrides,
        at_ms=start_ts_ms,
    )
    factor = emission.factor
    return {
        "mode": mode if mode_source == "user" else factor_mode,
        "co2e_g": emission.co2e_g,
        "factor_set": factor.factor_set if factor else ctx.policy.label,
        "factor_key": factor.key if factor else "",
        "factor_unit": factor.unit if factor else "passenger-km",
        "factor_g_per_km": factor.g_per_km if factor else 0.0,
        "occupants": emission.occupants if factor and factor.unit == "vehicle-km" else None,
    }


_SOURCES: dict[tuple[str, str], str] = {
    (s.id, f.key): f.source for s in FACTOR_SETS.values() for f in s.factors
}


async def factor_sources(session: AsyncSession, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The source line of each (factor_set, key) a leg records; territory factors are read from the store."""
    result: dict[tuple[str, str], str] = {}
    override_ids: dict[uuid.UUID, tuple[str, str]] = {}
    for factor_set, key in pairs:
        if key.startswith("override:"):
            try:
                override_ids[uuid.UUID(key.split(":", 1)[1])] = (factor_set, key)
            except ValueError:
                result[(factor_set, key)] = "territory factor"
            continue
        result[(factor_set, key)] = _SOURCES.get((factor_set.split(":", 1)[0], key), "")
    if override_ids:
        sources = await repository.factor_source_lines(session, list(override_ids))
        for factor_id, source in sources.items():
            result[override_ids[factor_id]] = f"Territory factor: {source}"
    return result


async def recompute_user(session: AsyncSession, policy: EmissionPolicy, user_id: uuid.UUID) -> int:
    """Recompute every leg and trip figure of one person with the factors, overrides and profile in force
    now. Corrections are kept as the person made them; inferred legs pass through the profile again.
    Returns how many legs were recomputed. The caller commits."""
    ctx = await load_context(session, policy, user_id)
    rows = await repository.legs_to_recompute(session, user_id)
    updates = []
    for row in rows:
        by_person = row.mode_source == "user"
        figures = leg_figures(
            ctx,
            mode=row.mode if by_person else row.inferred_mode,
            mode_source=row.mode_source,
            distance_m=row.distance_m,
            great_circle_m=row.great_circle_m,
            occupants=row.occupants if by_person else None,
            start_ts_ms=row.start_ts_ms,
        )
        updates.append({"id": row.id, **figures})
    if updates:
        await repository.write_leg_figures(session, user_id, updates)
    return len(updates)


def emission_fn(ctx: FootprintContext, at_ms: int | None = None) -> EmissionFn:
    """The CO2e of a hypothetical leg under this context's factors (for coaching's alternatives)."""

    def emission(mode: str, distance_m: float, great_circle: float, occupants: int | None) -> float:
        return leg_emission(
            mode,
            distance_m,
            great_circle_m=great_circle,
            occupants=occupants,
            policy=ctx.policy,
            overrides=ctx.overrides,
            at_ms=at_ms,
        ).co2e_g

    return emission
