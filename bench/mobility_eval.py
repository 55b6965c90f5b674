#!/usr/bin/env python3
"""Offline scorer of app.mobility on the shared evaluation data, without a server.

  .venv/bin/python bench/mobility_eval.py [--geolife DIR] [--emission DIR] [--max-points 50000]
  .venv/bin/python bench/mobility_eval.py --folds 3 --folds 4   # also scores of left-out user groups
  .venv/bin/python bench/mobility_eval.py --gtfs FEED.zip      # with a transit network
  .venv/bin/python bench/mobility_eval.py --confirm-share 0.3  # what the person's confirmations teach

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

from app.mobility import DEFAULT_PARAMS, ActivityArrays, PointArrays, TransitStops, Trip, process  # noqa: E402
from app.mobility.modes import FAMILY  # noqa: E402
from app.mobility.personal import Confirmation, PersonalModel  # noqa: E402
from app.transit.gtfs import read_gtfs  # noqa: E402

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


# ---------------------------------------------------------------- network and confirmations


def load_network(paths: list[str]) -> TransitStops:
    """The stops of these GTFS feeds as the pipeline gets them (line ids unique across feeds)."""
    lat: list[float] = []
    lon: list[float] = []
    kinds: list[int] = []
    routes: list[frozenset[str]] = []
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0]
        for stop in read_gtfs(path).stops:
            lat.append(stop.lat)
            lon.append(stop.lon)
            kinds.append(stop.kinds)
            routes.append(frozenset(f"{name}/{r}" for r in stop.routes))
    return TransitStops(np.array(lat), np.array(lon), np.array(kinds, dtype=np.intp), tuple(routes))


#: the mode a person picks in the app for each GeoLife label
GEOLIFE_MODE_ID = {
    "walk": "walk",
    "run": "run",
    "bike": "bike",
    "bus": "bus",
    "car": "car",
    "taxi": "car",
    "motorcycle": "motorcycle",
    "subway": "metro",
    "train": "train",
    "airplane": "plane",
    "boat": "boat",
}


def confirm_case(
    arr: PointArrays,
    points: list[dict[str, float | None]],
    labels: list[LegRow],
    trips: list[Trip],
    share: float,
    params,
    transit: TransitStops | None,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], int]:
    """As ../shared/bench/evaluate.py --confirm-share does through the API: the person confirms every leg
    before the cut that lies mostly in labelled time with its majority label; the later points are scored
    without and with what the service learns from those confirmations (points of confirmed legs left out)."""
    lab_starts = [lab[0] for lab in labels]

    def label_at(t: float) -> str | None:
        i = bisect_right(lab_starts, t) - 1
        return labels[i][2] if i >= 0 and t <= labels[i][1] else None

    times = np.array([float(p["ts"]) for p in points])  # type: ignore[arg-type]
    labelled = [t for t in times.tolist() if label_at(t) is not None]
    if len(labelled) < 20:
        return [], [], 0
    cut = labelled[min(len(labelled) - 1, int(share * len(labelled)))]
    confirmations: list[Confirmation] = []
    skip: list[tuple[float, float]] = []
    for trip in trips:
        for leg in trip.legs:
            if leg.end_ts_s >= cut:
                continue
            lo, hi = (
                np.searchsorted(times, leg.start_ts_s - 1e-6),
                np.searchsorted(times, leg.end_ts_s, "right"),
            )
            votes = Counter(label_at(t) for t in times[lo:hi].tolist())
            n = sum(votes.values())
            votes.pop(None, None)
            if not votes or n == 0:
                continue
            label, k = votes.most_common(1)[0]
            if k < 0.5 * n or label not in GEOLIFE_MODE_ID:
                continue
            confirmations.append(Confirmation(GEOLIFE_MODE_ID[label], leg.mode, leg.features, leg.start_ts_s))
            skip.append((leg.start_ts_s, leg.end_ts_s))
    model = PersonalModel.from_confirmations(confirmations)
    learned = process(arr, params=params, transit=transit, personal=model).trips if model else trips
    later = [
        p for p in points if float(p["ts"]) >= cut and not any(a <= float(p["ts"]) <= b for a, b in skip)
    ]  # type: ignore[arg-type]
    return (
        score_geolife(later, labels, trips)["pairs"],
        score_geolife(later, labels, learned)["pairs"],
        len(confirmations),
    )


def confirm_summary(pairs: tuple[list, list], by_user: dict[str, tuple[list, list]], share: float) -> dict:
    out: dict = {"confirm_share": share}
    for name, prs in (("baseline", pairs[0]), ("with_confirmations", pairs[1])):
        macro, _ = f1_table(prs)
        out[name] = {
            "point_accuracy": round(sum(t == p for t, p in prs) / len(prs), 4) if prs else 0.0,
            "macro_f1": round(macro, 4),
        }
    gains = [
        sum(t == p for t, p in learn) / len(learn) - sum(t == p for t, p in base) / len(base)
        for base, learn in by_user.values()
        if base and learn
    ]
    out["gain"] = round(out["with_confirmations"]["point_accuracy"] - out["baseline"]["point_accuracy"], 4)
    out["per_user_mean_gain"] = round(statistics.mean(gains), 4) if gains else 0.0
    print(
        f"confirmations {share}: later accuracy {out['baseline']['point_accuracy']:.4f} -> "
        f"{out['with_confirmations']['point_accuracy']:.4f} (gain {out['gain']:+.4f}, per-user mean "
        f"{out['per_user_mean_gain']:+.4f})",
        file=sys.stderr,
    )
    return out


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
    ap.add_argument(
        "--folds",
        type=int,
        action="append",
        default=[],
        help="also score K round-robin groups of users (users[k::K]); repeat for several schemes",
    )
    ap.add_argument("--skip-geolife", action="store_true")
    ap.add_argument("--skip-emission", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="per-trip detail for e-mission")
    ap.add_argument(
        "--param", action="append", default=[], help="override a PipelineParams field: name=value"
    )
    ap.add_argument("--gtfs", action="append", default=[], help="a GTFS zip as the territory's network")
    ap.add_argument(
        "--confirm-share",
        type=float,
        default=None,
        help="GeoLife with confirmations: each user confirms the legs of this share of their labelled "
        "time; scores their later points with and without what the service learns",
    )
    args = ap.parse_args()
    transit = load_network(args.gtfs) if args.gtfs else None
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
        confirm_pairs: tuple[list, list] = ([], [])
        confirm_by_user: dict[str, tuple[list, list]] = {}
        wanted = set(args.users.split(",")) if args.users else None
        for user in sorted(os.listdir(args.geolife)):
            d = os.path.join(args.geolife, user)
            if not os.path.isdir(d) or (wanted and user not in wanted):
                continue
            points, labels = load_geolife(d, args.max_points)
            arr = to_arrays(points)
            t0 = time.perf_counter()
            res = process(arr, params=params, transit=transit)
            proc_s += time.perf_counter() - t0
            n_points += len(points)
            if args.confirm_share is not None:
                base, learn, n_conf = confirm_case(
                    arr, points, labels, res.trips, args.confirm_share, params, transit
                )
                confirm_pairs[0].extend(base)
                confirm_pairs[1].extend(learn)
                confirm_by_user[user] = (base, learn)
                a0 = sum(t == p for t, p in base) / len(base) if base else float("nan")
                a1 = sum(t == p for t, p in learn) / len(learn) if learn else float("nan")
                print(f"confirm {user}: {n_conf} legs confirmed; later {a0:.3f} -> {a1:.3f}", file=sys.stderr)
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
        for scheme in args.folds:
            for k in range(scheme):
                group = users[k::scheme]
                fp = [pair for u in group for pair in by_user[u]]
                f_macro, _ = f1_table(fp)
                f_acc = sum(t == p for t, p in fp) / len(fp) if fp else 0.0
                u_accs = [sum(t == p for t, p in by_user[u]) / len(by_user[u]) for u in group if by_user[u]]
                u_mean = statistics.mean(u_accs) if u_accs else 0.0
                folds.append(
                    {
                        "scheme": f"k::{scheme}",
                        "users": group,
                        "point_accuracy": round(f_acc, 4),
                        "per_user_mean": round(u_mean, 4),
                        "macro_f1": round(f_macro, 4),
                    }
                )
                print(
                    f"fold k={k}::{scheme}: accuracy {f_acc:.4f} per-user mean {u_mean:.4f} "
                    f"macro-F1 {f_macro:.4f} ({len(fp)} points)",
                    file=sys.stderr,
                )
        per_user = [sum(t == p for t, p in by_user[u]) / len(by_user[u]) for u in users if by_user[u]]
        user_mean = statistics.mean(per_user) if per_user else 0.0
        print(f"per-user mean accuracy {user_mean:.4f} over {len(per_user)} users", file=sys.stderr)
        if args.confirm_share is not None:
            summary["geolife_confirm"] = confirm_summary(confirm_pairs, confirm_by_user, args.confirm_share)
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
            "per_user_mean_accuracy": round(user_mean, 4),
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
