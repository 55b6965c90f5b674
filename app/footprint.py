"""The carbon footprint of legs and trips, with the person's profile and the territory's factors.

The glue between the store and the pure `app.emissions` library, used alike by the pipeline worker, a
person's correction and `coachco2 emissions recompute`, so a figure is computed the same way wherever
it comes from, and each leg records the set, the factor key, the unit and the value that produced it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.emissions import (
    EmissionPolicy,
    FactorOverride,
    Profile,
    apply_profile,
    leg_emission,
)
from app.emissions.profile import BikeKind, CarFuel
from app.store.models import TerritoryFactor, UserProfile


@dataclass(frozen=True)
class FootprintContext:
    policy: EmissionPolicy
    overrides: tuple[FactorOverride, ...]
    profile: Profile | None


async def load_overrides(session: AsyncSession) -> tuple[FactorOverride, ...]:
    rows = await session.scalars(sa.select(TerritoryFactor).order_by(TerritoryFactor.valid_from_ms))
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
    profile = profile_of(await session.get(UserProfile, user_id))
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
