#!/usr/bin/env python3
"""Leave-days-out scoring of the stay and trip rules on the e-mission phone days.

  .venv/bin/python bench/leave_days_out.py [--emission DIR] [--grid small|pairs] [--errors]

For each day, the stay/trip settings are chosen among a grid of candidates as the ones that score best
on the *other* days (pooled trip F1 at 300 s, then at 120 s, then the fewest changes from the defaults),
and the left-out day is scored with that choice. A rule that only helps the day it was tuned on shows up
as a drop from the pooled dev score to the left-out scores; a setting chosen differently in every fold,
or one that helps a single day, is fitted to the dev days.

Printed: per day F1@120 s and F1@300 s with the defaults and with the left-out choice, the spread over
days, the choice of each fold, how often each setting was chosen, and (``--errors``) every day's trip
errors with their times: missed, split, merged, false and misaligned trips.

Scoring is that of ``bench/mobility_eval.py`` (its ``score_emission`` and ``match_trips``). The grid holds
the defaults, every single-field change of ``CANDIDATES`` and (``--grid pairs``) every pair of them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from mobility_eval import emission_arrays, match_trips, score_emission  # noqa: E402

from app.mobility import DEFAULT_PARAMS, PipelineParams, process  # noqa: E402

#: alternative values of the stay / gap / session / trip / departure / cleaning fields
CANDIDATES: dict[str, list[object]] = {
    "stay_radius_m": [75.0, 150.0],
    "stay_min_duration_s": [240.0, 420.0],
    "stay_inlier_share": [0.8, 1.0],
    "stay_start_at_window_middle": [False],
    "gap_break_s": [300.0, 900.0],
    "session_break_s": [0.0, 1200.0],
    "min_trip_distance_m": [50.0, 200.0],
    "departure_lead_max_s": [0.0],
    "max_accuracy_m": [100.0],
}
# structural variants present in PipelineParams are tried both ways
for _name in ("stay_split_places", "trip_across_silence"):
    if hasattr(DEFAULT_PARAMS, _name):
        CANDIDATES[_name] = [not getattr(DEFAULT_PARAMS, _name)]

Setting = tuple[tuple[str, object], ...]


@dataclass
class DayScore:
    expected: int
    predicted: int
    matched_120: int
    matched_300: int
    pred_spans: list[tuple[float, float]]
    exp_spans: list[tuple[float, float]]


def f1(matched: int, predicted: int, expected: int) -> float:
    p = matched / predicted if predicted else 0.0
    r = matched / expected if expected else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def grid(kind: str) -> list[Setting]:
    singles: list[Setting] = [((k, v),) for k, vs in CANDIDATES.items() for v in vs]
    out: list[Setting] = [(), *singles]
    if kind == "pairs":
        for a, b in itertools.combinations(singles, 2):
            if a[0][0] != b[0][0]:
                out.append(a + b)
    return out


def run_day(case: dict[str, Any], arrays: tuple[Any, Any], params: PipelineParams) -> DayScore:
    arr, act = arrays
    res = process(arr, act, params=params)
    sc = score_emission(case, res.trips)
    return DayScore(
        sc["expected"],
        sc["predicted"],
        sc["matched_120"],
        sc["matched_300"],
        sc["pred_spans"],
        sc["exp_spans"],
    )


def pooled(scores: list[DayScore]) -> tuple[float, float]:
    e = sum(s.expected for s in scores)
    p = sum(s.predicted for s in scores)
    return (
        f1(sum(s.matched_300 for s in scores), p, e),
        f1(sum(s.matched_120 for s in scores), p, e),
    )


def label(setting: Setting) -> str:
    return ", ".join(f"{k}={v}" for k, v in setting) or "defaults"


def errors(day: DayScore, tol: float) -> list[str]:
    """The trips not matched at ``tol``, each named by what went wrong.

    missed: an expected trip no predicted trip overlaps; split: two or more predicted trips overlap it;
    merged: one predicted trip overlaps it and another expected trip; misaligned: one predicted trip
    overlaps it alone but an end is more than ``tol`` off; false: a predicted trip overlapping no
    expected trip.
    """
    pred, exp = day.pred_spans, day.exp_spans
    pairs = match_trips(pred, exp, tol)
    mp = {i for i, _ in pairs}
    me = {j for _, j in pairs}

    def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return min(a[1], b[1]) > max(a[0], b[0])

    out = []
    for j, e in enumerate(exp):
        if j in me:
            continue
        over = [i for i, p in enumerate(pred) if overlaps(p, e)]
        span = f"{e[0]:.0f}-{e[1]:.0f} ({e[1] - e[0]:.0f} s)"
        if not over:
            out.append(f"missed     {span}")
        elif len(over) > 1:
            parts = " ".join(f"{pred[i][0]:.0f}-{pred[i][1]:.0f}" for i in over)
            out.append(f"split      {span} into {parts}")
        elif any(k != j and overlaps(pred[over[0]], x) for k, x in enumerate(exp)):
            p = pred[over[0]]
            out.append(f"merged     {span} into {p[0]:.0f}-{p[1]:.0f}")
        else:
            p = pred[over[0]]
            out.append(
                f"misaligned {span} as {p[0]:.0f}-{p[1]:.0f} (start {p[0] - e[0]:+.0f} s, end {p[1] - e[1]:+.0f} s)"
            )
    for i, p in enumerate(pred):
        if i not in mp and not any(overlaps(p, e) for e in exp):
            out.append(f"false      {p[0]:.0f}-{p[1]:.0f} ({p[1] - p[0]:.0f} s)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1] if __doc__ else None)
    ap.add_argument("--emission", default=str(ROOT / "../shared/data/emission-dev"))
    ap.add_argument("--grid", choices=("small", "pairs"), default="pairs")
    ap.add_argument("--errors", action="store_true", help="per-day trip errors with the defaults")
    args = ap.parse_args()
    t0 = time.perf_counter()
    cases = []
    for name in sorted(os.listdir(args.emission)):
        if name.endswith(".json"):
            with open(os.path.join(args.emission, name)) as f:
                case = json.load(f)
            cases.append((case, emission_arrays(case)))
    names = [c["name"] for c, _ in cases]
    settings = grid(args.grid)
    table: dict[Setting, list[DayScore]] = {}
    for s in settings:
        overrides: dict[str, Any] = dict(s)
        params = replace(DEFAULT_PARAMS, **overrides)
        table[s] = [run_day(case, arrays, params) for case, arrays in cases]
    base = table[()]

    print(
        f"{len(settings)} settings x {len(cases)} days in {time.perf_counter() - t0:.0f} s", file=sys.stderr
    )
    print(
        f"{'day':34s} {'n':>3s} | default F1@120 F1@300 | left-out F1@120 F1@300 | chosen on the other days"
    )
    chosen: dict[str, Setting] = {}
    rows = []
    for d, name in enumerate(names):
        others = [k for k in range(len(names)) if k != d]

        def key(s: Setting, others: list[int] = others) -> tuple[float, float, int]:
            f300, f120 = pooled([table[s][k] for k in others])
            return (round(f300, 6), round(f120, 6), -len(s))

        best = max(settings, key=key)
        chosen[name] = best
        b, o = base[d], table[best][d]
        row = (
            f1(b.matched_120, b.predicted, b.expected),
            f1(b.matched_300, b.predicted, b.expected),
            f1(o.matched_120, o.predicted, o.expected),
            f1(o.matched_300, o.predicted, o.expected),
        )
        rows.append(row)
        print(
            f"{name:34s} {b.expected:3d} |        {row[0]:.3f}  {row[1]:.3f} |         {row[2]:.3f}  {row[3]:.3f} "
            f"| {label(best)}"
        )
    left_out = [table[chosen[n]][d] for d, n in enumerate(names)]
    d300, d120 = pooled(base)
    l300, l120 = pooled(left_out)
    print(
        f"{'pooled':34s} {sum(s.expected for s in base):3d} |        {d120:.3f}  {d300:.3f} |         {l120:.3f}  {l300:.3f} |"
    )
    for i, what in enumerate(("default F1@120", "default F1@300", "left-out F1@120", "left-out F1@300")):
        vals = [r[i] for r in rows]
        print(
            f"spread {what:16s}: min {min(vals):.3f} median {statistics.median(vals):.3f} max {max(vals):.3f} "
            f"sd {statistics.pstdev(vals):.3f}"
        )
    # how each candidate setting does day by day against the defaults: one that helps one day only,
    # or helps some days and costs others, is fitted to the dev days
    print("\nsingle changes, per-day F1@300 difference from the defaults (+ helps, - costs):")
    for s in settings:
        if len(s) != 1:
            continue
        diffs = [
            f1(x.matched_300, x.predicted, x.expected) - f1(b.matched_300, b.predicted, b.expected)
            for x, b in zip(table[s], base, strict=True)
        ]
        helped = sum(v > 1e-9 for v in diffs)
        hurt = sum(v < -1e-9 for v in diffs)
        p300, p120 = pooled(table[s])
        print(
            f"  {label(s):38s} pooled F1@300 {p300:.3f} @120 {p120:.3f}  helps {helped} days, costs {hurt}: "
            + " ".join(f"{v:+.2f}" for v in diffs)
        )
    counts: dict[str, int] = {}
    for s in chosen.values():
        for k, v in s:
            counts[f"{k}={v}"] = counts.get(f"{k}={v}", 0) + 1
    print("\nchosen in how many of the", len(names), "folds:", counts or "defaults every time")
    if args.errors:
        for tol in (300,):
            print(f"\ntrip errors with the defaults at {tol} s:")
            for name, day in zip(names, base, strict=True):
                errs = errors(day, tol)
                print(f"  {name}: {len(errs)}")
                for e in errs:
                    print(f"    {e}")
    print(
        json.dumps(
            {
                "default": {"trip_f1_120s": round(d120, 4), "trip_f1_300s": round(d300, 4)},
                "left_out": {"trip_f1_120s": round(l120, 4), "trip_f1_300s": round(l300, 4)},
                "per_day": {
                    n: {
                        "default": [round(r[0], 3), round(r[1], 3)],
                        "left_out": [round(r[2], 3), round(r[3], 3)],
                    }
                    for n, r in zip(names, rows, strict=True)
                },
            }
        )
    )


if __name__ == "__main__":
    main()
