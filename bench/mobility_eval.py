#!/usr/bin/env python3
"""Offline scorer of app.mobility on the shared evaluation data, without a server.

  .venv/bin/python bench/mobility_eval.py [--geolife DIR] [--emission DIR] [--max-points 50000]
  .venv/bin/python bench/mobility_eval.py --folds 3   # also per-fold scores of left-out user groups

Runs ``app.mobility.process`` directly on each case (points read in place, never copied) and
scores the result the way ../shared/bench/evaluate.py scores the service:

- GeoLife: the first ``--max-points`` rows of each user are "uploaded"; every labelled point gets
  the mode of the leg whose [start, end] holds it ("none" when no leg does) and is compared with
  its label in the classes walk, bike, bus, car, rail, plane, boat. Point accuracy, macro F1 over
  walk/bike/bus/car/rail, segment accuracy (majority vote, segments with >= 10 points),
  per-class table and confusion.
  With ``--folds K`` the users (sorted) are dealt round-robin into K groups and each group's scores
  are printed as well: a rule tuned while looking at K - 1 groups is judged on the one left out,
  so a change must help the left-out groups, not only the whole set.
- e-mission: predicted trips are matched one-to-one with the expected trips (both ends within
  120 s / 300 s, greedy by total error); F1, median relative distance error of matched trips
  (expected distance > 200 m) and time-weighted mode agreement (walk / bike / motorized, every 10 s).

The last line printed is a one-line JSON summary.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import statistics
import sys
import time
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.mobility import DEFAULT_PARAMS, ActivityArrays, PointArrays, Trip, process  # noqa: E402
from app.mobility.modes import FAMILY  # noqa: E402

# The evaluation's classes are the mode families the pipeline already knows.
PRED_CLASS = {mode: family for mode, family in FAMILY.items() if mode != "unknown"}
GEOLIFE_CLASS = {
    "walk": "walk",
    "run": "walk",
    "bike": "bike",
    "bus": "bus",
    "car": "car",
    "taxi": "car",
    "motorcycle": "car",
    "subway": "rail",
    "train": "rail",
    "airplane": "plane",
    "boat": "boat",
}
MOTORIZED = {"car", "bus", "rail", "plane", "boat"}
F1_CLASSES = ["walk", "bike", "bus", "car", "rail"]

LegRow = tuple[float, float, str]


def leg_index(trips: list[Trip]) -> tuple[list[float], list[LegRow]]:
    legs = sorted((leg.start_ts_s, leg.end_ts_s, leg.mode or "unknown") for t in trips for leg in t.legs)
    return [leg[0] for leg in legs], legs


def leg_at(starts: list[float], legs: list[LegRow], t: float) -> int:
    """Index of the leg whose [start, end] holds ``t``, -1 when none does."""
    i = bisect_right(starts, t) - 1
    return i if i >= 0 and legs[i][0] <= t <= legs[i][1] else -1


def mode_at(starts: list[float], legs: list[LegRow], t: float) -> str:
    i = leg_at(starts, legs, t)
    return PRED_CLASS.get(legs[i][2], "unknown") if i >= 0 else "none"


# ---------------------------------------------------------------- GeoLife


def load_geolife(path: str, max_points: int | None) -> tuple[list[dict[str, float | None]], list[LegRow]]:
    points: list[dict[str, float | None]] = []
    with gzip.open(os.path.join(path, "points.csv.gz"), "rt") as f:
        for row in csv.DictReader(f):
            points.append(
                {
                    "ts": float(row["ts"]),
                    "lat": float(row["lat"]),
                    "lon": float(row["lon"]),
                    "altitude": float(row["alt_m"]) if row["alt_m"] else None,
                }
            )
            if max_points and len(points) >= max_points:
                break
    labels = []
    with open(os.path.join(path, "labels.csv")) as f:
        for row in csv.DictReader(f):
            labels.append((float(row["start_ts"]), float(row["end_ts"]), row["mode"]))
    return points, sorted(labels)


def to_arrays(points: list[dict[str, float | None]]) -> PointArrays:
    def col(key: str) -> np.ndarray:
        return np.array([np.nan if p.get(key) is None else p[key] for p in points], dtype=np.float64)

    # the service stores one point per (user, ts): later duplicates are rejected
    ts = col("ts")
    _, first = np.unique(ts, return_index=True)
    arr = PointArrays(ts, col("lat"), col("lon"), col("accuracy"), col("speed"), col("altitude"))
    return arr.take(np.sort(first))


def score_geolife(points: list[dict[str, float | None]], labels: list[LegRow], trips: list[Trip]) -> dict:
    starts, legs = leg_index(trips)
    speed = {
        (leg.start_ts_s, leg.end_ts_s): leg.distance_m / max(leg.end_ts_s - leg.start_ts_s, 1.0)
        for trip in trips
        for leg in trip.legs
    }
    lab_starts = [lab[0] for lab in labels]
    per_point: list[tuple[str, str]] = []
    seg_votes: dict[int, Counter[str]] = defaultdict(Counter)
    leg_truth: dict[int, Counter[str]] = defaultdict(Counter)
    for p in points:
        ts = float(p["ts"])  # type: ignore[arg-type]
        i = bisect_right(lab_starts, ts) - 1
        if i < 0 or ts > labels[i][1]:
            continue
        truth = GEOLIFE_CLASS.get(labels[i][2])
        if truth is None:
            continue
        j = leg_at(starts, legs, ts)
        pred = PRED_CLASS.get(legs[j][2], "unknown") if j >= 0 else "none"
        per_point.append((truth, pred))
        seg_votes[i][pred] += 1
        if j >= 0:
            leg_truth[j][truth] += 1
    segs = [
        (GEOLIFE_CLASS.get(labels[i][2]), votes.most_common(1)[0][0])
        for i, votes in seg_votes.items()
        if sum(votes.values()) >= 10
    ]
    legs_scored = [
        (PRED_CLASS.get(legs[j][2], "unknown"), speed[(legs[j][0], legs[j][1])], counts)
        for j, counts in leg_truth.items()
    ]
    return {"pairs": per_point, "segments": segs, "legs": legs_scored}


#: a leg slower than this on average (m/s, 6.5 km/h) moves at walking pace
WALK_PACE_MPS = 1.8


def error_breakdown(pairs: list[tuple[str, str]], legs: list[tuple[str, float, Counter[str]]]) -> dict:
    """Where the labelled points that are not scored right go, as shares of all labelled points.

    - ``outside_legs``: labelled as travel but in no leg (a stay or a dropped fragment);
    - ``walking_pace_labelled_vehicle``: in a walk leg moving at walking pace on average, labelled
      as a vehicle (the user's label covers the walk to, from or inside a station);
    - ``bus_car``: bus taken for car and car for bus;
    - ``leg_majority_ceiling``: the accuracy if every leg took the label most of its points have,
      i.e. what a perfect mode per leg would reach with these legs.
    """
    n = len(pairs) or 1
    outside = sum(1 for _, p in pairs if p == "none")
    walk_pace = sum(
        sum(c for k, c in counts.items() if k in MOTORIZED)
        for pred, v, counts in legs
        if pred == "walk" and v <= WALK_PACE_MPS
    )
    bus_car = sum(1 for t, p in pairs if {t, p} == {"bus", "car"})
    ceiling = sum(counts.most_common(1)[0][1] for _, _, counts in legs if counts)
    return {
        "outside_legs": round(outside / n, 4),
        "walking_pace_labelled_vehicle": round(walk_pace / n, 4),
        "bus_car": round(bus_car / n, 4),
        "leg_majority_ceiling": round(ceiling / n, 4),
    }


def f1_table(pairs: list[tuple[str, str]]) -> tuple[float, dict]:
    per = {}
    for c in F1_CLASSES:
        tp = sum(1 for t, p in pairs if t == c and p == c)
        fp = sum(1 for t, p in pairs if t != c and p == c)
        fn = sum(1 for t, p in pairs if t == c and p != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        per[c] = {
            "precision": round(prec, 3),
            "recall": round(rec, 3),
            "support": tp + fn,
            "f1": round(2 * prec * rec / (prec + rec), 3) if prec + rec else 0.0,
        }
    present = [c for c in F1_CLASSES if per[c]["support"]]
    macro = sum(per[c]["f1"] for c in present) / len(present) if present else 0.0
    return macro, per


# ---------------------------------------------------------------- e-mission


def match_trips(
    pred: list[tuple[float, float]], exp: list[tuple[float, float]], tol: float
) -> list[tuple[int, int]]:
    cands = sorted(
        (abs(p[0] - e[0]) + abs(p[1] - e[1]), i, j)
        for i, p in enumerate(pred)
        for j, e in enumerate(exp)
        if abs(p[0] - e[0]) <= tol and abs(p[1] - e[1]) <= tol
    )
    used_p: set[int] = set()
    used_e: set[int] = set()
    pairs = []
    for _, i, j in cands:
        if i not in used_p and j not in used_e:
            used_p.add(i)
            used_e.add(j)
            pairs.append((i, j))
    return pairs


def emission_arrays(case: dict) -> tuple[PointArrays, ActivityArrays]:
    pts = sorted(case["points"], key=lambda p: p["ts"])
    arr = to_arrays(
        [
            {
                "ts": p["ts"],
                "lat": p["lat"],
                "lon": p["lon"],
                "accuracy": p.get("accuracy"),
                "speed": p.get("speed"),
                "altitude": p.get("altitude"),
            }
            for p in pts
        ]
    )
    acts = sorted(case.get("activities") or [], key=lambda a: a["ts"])
    act = ActivityArrays(
        np.array([a["ts"] for a in acts], dtype=np.float64),
        np.array([a.get("type") or "unknown" for a in acts], dtype=object),
        np.array(
            [np.nan if a.get("confidence") is None else a["confidence"] for a in acts], dtype=np.float64
        ),
    )
    return arr, act


def score_emission(case: dict, trips: list[Trip]) -> dict:
    exp = case["expected_trips"]
    if exp:
        lo = min(t["start_ts"] for t in exp) - 7200
        hi = max(t["end_ts"] for t in exp) + 7200
    else:
        lo, hi = float("-inf"), float("inf")
    pred = [t for t in trips if lo <= t.start_ts_s <= hi]
    pspans = [(t.start_ts_s, t.end_ts_s) for t in pred]
    espans = [(t["start_ts"], t["end_ts"]) for t in exp]
    out: dict = {"predicted": len(pred), "expected": len(exp), "pred_spans": pspans, "exp_spans": espans}
    for tol in (120, 300):
        out[f"matched_{tol}"] = len(match_trips(pspans, espans, tol))
    dist_err = []
    for i, j in match_trips(pspans, espans, 300):
        d_exp = exp[j].get("distance_m")
        if d_exp and d_exp > 200:
            dist_err.append(abs(pred[i].distance_m - d_exp) / d_exp)
    out["dist_err"] = dist_err
    starts, legs = leg_index(pred)
    agree = total = 0.0
    for t in exp:
        for s in t["sections"]:
            want = s["mode"]
            if want not in ("walk", "bike", "motorized"):
                continue
            x = s["start_ts"]
            while x <= s["end_ts"]:
                got = mode_at(starts, legs, x)
                got = "motorized" if got in MOTORIZED else got
                agree += got == want
                total += 1
                x += 10.0
    out["mode_agree"] = (agree, total)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1] if __doc__ else None)
    ap.add_argument("--geolife", default=str(ROOT / "../shared/data/geolife-dev"))
    ap.add_argument("--emission", default=str(ROOT / "../shared/data/emission-dev"))
    ap.add_argument("--max-points", type=int, default=50000)
    ap.add_argument("--users", help="comma-separated GeoLife users to score (default: all)")
    ap.add_argument("--folds", type=int, default=0, help="also score K round-robin groups of users")
    ap.add_argument("--skip-geolife", action="store_true")
    ap.add_argument("--skip-emission", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="per-trip detail for e-mission")
    ap.add_argument(
        "--param", action="append", default=[], help="override a PipelineParams field: name=value"
    )
    args = ap.parse_args()
    overrides: dict[str, object] = {}
    for kv in args.param:
        name, value = kv.split("=", 1)
        current = getattr(DEFAULT_PARAMS, name)
        overrides[name] = (
            value.lower() in ("1", "true", "yes") if isinstance(current, bool) else type(current)(value)
        )
    params = replace(DEFAULT_PARAMS, **overrides)
    summary: dict = {}
    proc_s = 0.0
    n_points = 0
    if not args.skip_geolife and os.path.isdir(args.geolife):
        pairs: list[tuple[str, str]] = []
        segs: list = []
        scored_legs: list = []
        by_user: dict[str, list[tuple[str, str]]] = {}
        wanted = set(args.users.split(",")) if args.users else None
        for user in sorted(os.listdir(args.geolife)):
            d = os.path.join(args.geolife, user)
            if not os.path.isdir(d) or (wanted and user not in wanted):
                continue
            points, labels = load_geolife(d, args.max_points)
            arr = to_arrays(points)
            t0 = time.perf_counter()
            res = process(arr, params=params)
            proc_s += time.perf_counter() - t0
            n_points += len(points)
            sc = score_geolife(points, labels, res.trips)
            acc_u = sum(t == p for t, p in sc["pairs"]) / len(sc["pairs"]) if sc["pairs"] else float("nan")
            print(
                f"geolife {user}: {len(points)} points, {len(sc['pairs'])} labelled, {len(res.trips)} trips, "
                f"accuracy {acc_u:.3f}",
                file=sys.stderr,
            )
            pairs += sc["pairs"]
            scored_legs += sc["legs"]
            by_user[user] = sc["pairs"]
            segs += sc["segments"]
        acc = sum(t == p for t, p in pairs) / len(pairs) if pairs else 0.0
        macro, per = f1_table(pairs)
        seg_acc = sum(t == p for t, p in segs) / len(segs) if segs else 0.0
        confusion = Counter(pairs)
        print("per class:", file=sys.stderr)
        for c, row in per.items():
            print(
                f"  {c:5s} P {row['precision']:.3f} R {row['recall']:.3f} F1 {row['f1']:.3f} n {row['support']}",
                file=sys.stderr,
            )
        print(
            "confusion:",
            ", ".join(f"{t}->{p} {n}" for (t, p), n in confusion.most_common(25)),
            file=sys.stderr,
        )
        breakdown = error_breakdown(pairs, scored_legs)
        print("where the errors are (share of labelled points):", breakdown, file=sys.stderr)
        folds = []
        users = sorted(by_user)
        for k in range(args.folds):
            fp = [pair for u in users[k :: args.folds] for pair in by_user[u]]
            f_macro, _ = f1_table(fp)
            f_acc = sum(t == p for t, p in fp) / len(fp) if fp else 0.0
            folds.append(
                {
                    "users": users[k :: args.folds],
                    "point_accuracy": round(f_acc, 4),
                    "macro_f1": round(f_macro, 4),
                }
            )
            print(
                f"fold {k}: accuracy {f_acc:.4f} macro-F1 {f_macro:.4f} ({len(fp)} points)", file=sys.stderr
            )
        summary["geolife"] = {
            "labelled_points": len(pairs),
            "point_accuracy": round(acc, 4),
            "macro_f1": round(macro, 4),
            "segment_accuracy": round(seg_acc, 4),
            "segments": len(segs),
            "per_class": {
                c: {"f1": r["f1"], "precision": r["precision"], "recall": r["recall"]} for c, r in per.items()
            },
            "confusion": {f"{t}->{p}": n for (t, p), n in confusion.most_common(12)},
            "errors": breakdown,
        }
        if folds:
            summary["geolife"]["folds"] = folds
    if not args.skip_emission and os.path.isdir(args.emission):
        tot: Counter[str] = Counter()
        dist_err: list[float] = []
        agree = total = 0.0
        for name in sorted(os.listdir(args.emission)):
            if not name.endswith(".json"):
                continue
            with open(os.path.join(args.emission, name)) as f:
                case = json.load(f)
            arr, act = emission_arrays(case)
            t0 = time.perf_counter()
            res = process(arr, act, params=params)
            proc_s += time.perf_counter() - t0
            n_points += len(arr)
            sc = score_emission(case, res.trips)
            for k in ("predicted", "expected", "matched_120", "matched_300"):
                tot[k] += sc[k]
            dist_err += sc["dist_err"]
            agree += sc["mode_agree"][0]
            total += sc["mode_agree"][1]
            print(
                f"emission {case['name']}: expected {sc['expected']} predicted {sc['predicted']} "
                f"matched@120s {sc['matched_120']} matched@300s {sc['matched_300']}",
                file=sys.stderr,
            )
            if args.verbose:
                for s, e in sc["exp_spans"]:
                    print(f"    exp  {s:.0f} {e:.0f}", file=sys.stderr)
                for tr in res.trips:
                    print(
                        f"    pred {tr.start_ts_s:.0f} {tr.end_ts_s:.0f} {tr.distance_m:.0f} m "
                        + " ".join(f"{lg.mode}:{lg.end_ts_s - lg.start_ts_s:.0f}" for lg in tr.legs),
                        file=sys.stderr,
                    )
        em: dict = {}
        for tol in (120, 300):
            m = tot[f"matched_{tol}"]
            p = m / tot["predicted"] if tot["predicted"] else 0.0
            r = m / tot["expected"] if tot["expected"] else 0.0
            em[f"trip_f1_{tol}s"] = round(2 * p * r / (p + r), 4) if p + r else 0.0
            em[f"trip_precision_{tol}s"] = round(p, 4)
            em[f"trip_recall_{tol}s"] = round(r, 4)
        em["expected_trips"] = tot["expected"]
        em["predicted_trips"] = tot["predicted"]
        em["median_distance_error"] = round(statistics.median(dist_err), 4) if dist_err else None
        em["mode_agreement"] = round(agree / total, 4) if total else None
        summary["emission"] = em
    summary["points"] = n_points
    summary["process_s"] = round(proc_s, 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
