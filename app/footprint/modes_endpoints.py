"""The transport modes and the emission factor in force for each."""

from __future__ import annotations

import math

from fastapi import APIRouter

from app.core.deps import SessionDep, SettingsDep
from app.emissions import COMPONENTS, MODES
from app.footprint.schemas import ModeFactorOut, ModesOut
from app.footprint.service import load_overrides
from app.models import utcnow

router = APIRouter(tags=["modes"])


@router.get("/v1/modes", response_model=ModesOut)
async def list_modes(session: SessionDep, settings: SettingsDep) -> ModesOut:
    """Every mode id with the factor in force now: value, unit (per passenger-km, or per vehicle-km shared
    by the occupants), the components counted and the source. Planes have one entry per distance band. A
    territory factor set by an operator replaces the set's figure from its date on."""
    policy = settings.emission_policy
    overrides = await load_overrides(session)
    await session.commit()
    now_ms = int(utcnow().timestamp() * 1000)
    counted = [c for c in COMPONENTS if c in policy.components]
    entries: list[ModeFactorOut] = []
    for mode in MODES:
        local = [o for o in overrides if o.mode == mode and o.variant == "" and o.valid_from_ms <= now_ms]
        if local:
            chosen = max(local, key=lambda o: o.valid_from_ms)
            entries.append(
                ModeFactorOut(
                    mode=mode,
                    g_per_km=chosen.g_per_km,
                    unit=chosen.unit,
                    components={},
                    source=f"Territory factor: {chosen.source}",
                    factor_set="territory",
                    key=f"override:{chosen.id}",
                )
            )
            continue
        for factor in policy.factor_set.factors:
            if factor.mode != mode or factor.variant:
                continue
            entries.append(
                ModeFactorOut(
                    mode=mode,
                    g_per_km=factor.g_per_km(policy.components),
                    unit=factor.unit,
                    components={k: v for k, v in factor.components.items() if k in policy.components},
                    source=factor.source,
                    factor_set=policy.label,
                    key=factor.key,
                    min_km=factor.min_km if mode == "plane" else None,
                    max_km=factor.max_km if mode == "plane" and math.isfinite(factor.max_km) else None,
                )
            )
    return ModesOut(factor_set=policy.factor_set.id, components=counted, modes=entries)
