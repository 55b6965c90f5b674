"""The expected error of the territory's main figures under differential privacy, for a territory of
1,000 and of 20,000 consenting people, at the configured ε of a release.

A synthetic month is drawn per person (trips, passenger-km, CO2e, modes, starting commune), bounded by
the same code as the server (`app.statistics.privacy.bound`), and noised by the same OpenDP sampler, many
times over. For each main figure the script prints its typical true value, the 95 % margin the API
publishes beside it, that margin relative to the value, and the share of draws whose error stayed inside
the margin (it should be about 0.95, which checks the published margins).

    .venv/bin/python bench/privacy_error.py [--people 1000 20000] [--epsilon 0.5] [--draws 200]

The synthetic months follow the orders of magnitude of French urban mobility (about 1.5 trips a day,
9 km a trip, half of them by car): they say what the noise costs, not what a territory does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import emit, log, machine

MODES = ["car", "walk", "bus", "bike", "train", "carpool"]
MODE_WEIGHTS = [0.50, 0.25, 0.10, 0.08, 0.03, 0.04]
CO2E_G_PER_KM = {"car": 218.0, "walk": 0.0, "bus": 113.0, "bike": 0.0, "train": 24.8, "carpool": 109.0}
COMMUNES = 28


def synthetic_month(people: int, rng: np.random.Generator) -> list[tuple]:
    """Rows (mode, commune, day, person, trips, distance_m, co2e_g) of one month, one per person,
    day and mode."""
    rows = []
    for person in range(people):
        home = int(rng.integers(COMMUNES))
        trips_month = int(rng.poisson(45))
        for _ in range(trips_month):
            mode = MODES[int(rng.choice(len(MODES), p=MODE_WEIGHTS))]
            km = float(rng.lognormal(np.log(6.0), 0.8))
            day = int(rng.integers(1, 31))
            rows.append((mode, home, day, person, 1.0, km * 1000, km * CO2E_G_PER_KM[mode]))
    return rows


def figures(people: int, epsilon: float, draws: int, rng: np.random.Generator) -> dict:
    from app.statistics import privacy
    from app.statistics.disclosure import Caps

    caps = Caps()
    rows = synthetic_month(people, rng)
    month = 202611
    out: dict[str, dict] = {}

    def measure(name: str, keys: list, key_of, measures: tuple[str, ...], pick, people_sensitivity: int = 1):
        cells = [(key_of(r), month, r[3], r[4], r[5], r[6]) for r in rows]
        bounded = privacy.bound(keys, cells, caps)
        chosen = privacy.measures_for(caps, measures, people_sensitivity)
        share = epsilon / len(chosen)
        true = pick({m.name: bounded.values[m.name].astype(float) / m.per_unit for m in chosen}, keys)
        errors = []
        margin = None
        for _ in range(draws):
            noisy = {
                m.name: privacy.noisy(bounded.values[m.name], m.sensitivity, share).astype(float) / m.per_unit
                for m in chosen
            }
            errors.append(pick(noisy, keys) - true)
        scales = {m.name: privacy.scale_for(m.sensitivity, share) / m.per_unit for m in chosen}
        margin = pick.margin(scales, keys)  # type: ignore[attr-defined]
        errors_a = np.abs(np.array(errors))
        out[name] = {
            "true": round(float(true), 1),
            "margin_95": round(float(margin), 1) if margin is not None else None,
            "relative_margin": round(float(margin / true), 4) if margin is not None and true else None,
            "median_relative_error": round(float(np.median(errors_a) / true), 4) if true else None,
            "coverage": round(float(np.mean(errors_a <= margin)), 3) if margin is not None else None,
        }
        log(f"{people} people, {name}: {out[name]}")

    class Pick:
        def __init__(self, fn, margin) -> None:
            self.fn, self.margin = fn, margin

        def __call__(self, values, keys):
            return self.fn(values, keys)

    # The month's trips and CO2e (timeseries, period=month: one cell per measure).
    measure(
        "month_trips", [month], lambda r: month, ("trips", "passenger_km", "co2e_g"),
        Pick(lambda v, k: v["trips"][0], lambda s, k: privacy.margin_95(s["trips"])),
    )  # fmt: skip
    measure(
        "month_co2e_kg", [month], lambda r: month, ("trips", "passenger_km", "co2e_g"),
        Pick(lambda v, k: v["co2e_g"][0] / 1000, lambda s, k: privacy.margin_95(s["co2e_g"]) / 1000),
    )  # fmt: skip
    # The car's trips in the month (modal-share, period=month: one cell per mode).
    car = MODES.index("car")
    measure(
        "month_car_trips", MODES, lambda r: r[0], ("trips", "passenger_km", "co2e_g"),
        Pick(lambda v, k: v["trips"][car], lambda s, k: privacy.margin_95(s["trips"])),
    )  # fmt: skip
    # CO2e per active person in the month (co2-per-user: CO2e and people share ε).
    measure(
        "month_active_people", [month], lambda r: month, ("co2e_g", "people"),
        Pick(lambda v, k: v["people"][0], lambda s, k: privacy.margin_95(s["people"])),
    )  # fmt: skip
    # A day's trips (timeseries, period=day: a person-month spreads over 30 cells, each sees the cap).
    days = list(range(1, 31))
    measure(
        "day_trips", days, lambda r: r[2], ("trips", "passenger_km", "co2e_g"),
        Pick(lambda v, k: v["trips"][14], lambda s, k: privacy.margin_95(s["trips"])),
    )  # fmt: skip
    # A commune's trips in the month (zones: zone totals and the zone's modes share ε in four).
    communes = list(range(COMMUNES))
    measure(
        "commune_month_trips", communes, lambda r: r[1], ("trips", "passenger_km", "co2e_g", "people"),
        Pick(lambda v, k: v["trips"][0], lambda s, k: privacy.margin_95(s["trips"])),
    )  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, nargs="+", default=[1000, 20000])
    parser.add_argument("--epsilon", type=float, default=None, help="ε of a release (the setting by default)")
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    from app.settings import Settings

    epsilon = args.epsilon if args.epsilon is not None else Settings().dp_release_epsilon
    rng = np.random.default_rng(args.seed)
    result = {str(n): figures(n, epsilon, args.draws, rng) for n in args.people}
    emit({"benchmark": "privacy_error", "epsilon": epsilon, "draws": args.draws, "territories": result,
          "machine": machine(pg=False)})  # fmt: skip


if __name__ == "__main__":
    main()
