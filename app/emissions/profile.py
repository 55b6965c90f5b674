"""The person's declared vehicles, and how they turn an inferred mode into the right factor.

The pipeline sees a car, not what drives it. A person who says their car is electric gets the electric
car's factor for the legs inferred as `car`; a usual occupancy above one shares the car's emissions
(a thermal car then counts as a carpool, as the issue of the sustainable-mobility allowance would have it);
a declared electric bike or e-scooter replaces `bike`. Legs the person corrected are taken as said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CarFuel = Literal["petrol", "diesel", "hybrid", "plugin_hybrid", "electric"]
BikeKind = Literal["classic", "electric", "escooter"]


@dataclass(frozen=True)
class Profile:
    car_fuel: CarFuel | None = None
    car_occupancy: int | None = None
    bike_kind: BikeKind | None = None


@dataclass(frozen=True)
class FactorChoice:
    """What a leg is counted as: the mode whose factor applies, its variant and the occupants."""

    mode: str
    variant: str = ""
    occupants: int | None = None


def apply_profile(mode: str, profile: Profile | None) -> FactorChoice:
    """Map an inferred mode through the person's profile (never a mode they corrected themselves)."""
    if profile is None:
        return FactorChoice(mode)
    if mode == "car":
        occupants = profile.car_occupancy if profile.car_occupancy and profile.car_occupancy > 1 else None
        if profile.car_fuel == "electric":
            return FactorChoice("ecar", "", occupants)
        variant = (
            profile.car_fuel if profile.car_fuel in ("hybrid", "plugin_hybrid", "petrol", "diesel") else ""
        )
        if occupants is not None:
            return FactorChoice("carpool", variant, occupants)
        return FactorChoice("car", variant or "")
    if mode == "bike" and profile.bike_kind == "electric":
        return FactorChoice("ebike")
    if mode == "bike" and profile.bike_kind == "escooter":
        return FactorChoice("escooter")
    return FactorChoice(mode)
