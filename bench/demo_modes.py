#!/usr/bin/env python3
"""Modes of the demo's residents: those simulated against those the pipeline infers.

  .venv/bin/python bench/demo_modes.py [--users 50] [--days 14] [--seed 2026] [--first-day 2026-01-18]

Plays the residents of `coachco2 demo` (same generator, same seed: `app.demo.simulate_residents`,
by default over the same days as the demo run today) and runs `app.mobility.process` on each one's
fixes, without a server, a transit network or activity hints, as the demo's worker does. Prints
(stderr) the simulated and inferred shares of trips (each in the family of its longest leg) and of
distance by mode family, the per-leg agreement (share of the simulated leg time covered by an inferred
leg of the same family) and the confusion of the families over time; then one JSON line (stdout).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import emit, log, machine

from app.demo import first_demo_day, infer, simulate_residents
from app.mobility.simulate import TrueTrip, compare_modes
from app.mobility.types import Trip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="residents (default 50, as the demo)")
    parser.add_argument("--days", type=int, default=14, help="days (default 14, as the demo)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026, as the demo)")
    parser.add_argument(
        "--first-day", help="first day, YYYY-MM-DD (default: the demo's, the days ending with last month)"
    )
    parser.add_argument("--timezone", default="Europe/Paris", help="the territory's time zone")
    args = parser.parse_args()
    tz = ZoneInfo(args.timezone)
    if args.first_day:
        first = datetime.fromisoformat(args.first_day).replace(tzinfo=tz)
    else:
        first = first_demo_day(tz, args.days)
    began = time.perf_counter()
    people: list[tuple[list[TrueTrip], list[Trip]]] = []
    points = 0
    for sim in simulate_residents(args.users, args.days, first, args.seed):
        people.append((sim.trips, infer(sim)))
        points += sum(len(day.ts) for day in sim.days)
    result = compare_modes(people)
    log(f"{args.users} residents, {args.days} days from {first.date()}, seed {args.seed}: {points} fixes")
    log("")
    log(f"{'family':8} {'trips sim':>10} {'inferred':>9}   {'distance sim':>13} {'inferred':>9}")
    for family, (sim_share, got_share) in result.trip_share.items():
        d_sim, d_got = result.distance_share[family]
        log(
            f"{family:8} {100 * sim_share:9.1f}% {100 * got_share:8.1f}%   {100 * d_sim:12.1f}% {100 * d_got:8.1f}%"
        )
    log(f"trips: {result.trips[0]} simulated, {result.trips[1]} inferred")
    log(f"agreement: {100 * result.agreement:.1f} % of the simulated leg time given the right family")
    log("")
    log("confusion (share of each simulated family's leg time, by inferred family; none: no leg):")
    for family, row in result.confusion.items():
        log(f"  {family:6} " + "  ".join(f"{g} {100 * share:.1f}%" for g, share in row.items()))
    log("")
    log(result.line())
    emit(
        {
            "bench": "demo_modes",
            "users": args.users,
            "days": args.days,
            "seed": args.seed,
            "first_day": str(first.date()),
            "fixes": points,
            "trips": {"simulated": result.trips[0], "inferred": result.trips[1]},
            "trip_share": {
                f: {"simulated": round(a, 4), "inferred": round(b, 4)}
                for f, (a, b) in result.trip_share.items()
            },
            "distance_share": {
                f: {"simulated": round(a, 4), "inferred": round(b, 4)}
                for f, (a, b) in result.distance_share.items()
            },
            "agreement": round(result.agreement, 4),
            "confusion": {f: {g: round(v, 4) for g, v in row.items()} for f, row in result.confusion.items()},
            "seconds": round(time.perf_counter() - began, 1),
            "machine": machine(pg=False),
        }
    )


if __name__ == "__main__":
    main()
