"""Legs: split a trip where the transport mode changes (Zheng et al. 2008 change points).

People walk between any two vehicle modes, so the trip is cut into *slow* and *fast* parts.
Work is done on steps (the interval between two consecutive points) rather than on points, so
legs are contiguous in time and gaps (no fix, e.g. underground) belong to exactly one leg.
When the phone's activity hints cover the trip, their walk / bike / vehicle changes are the change
points instead (steps 1 and 3 are skipped). Otherwise:

1. each step is *slow* when the window speed at both its ends is under ``walk_speed_max_mps``
   (Zheng et al. 2008: about 2.5 m/s; we use 2.0 m/s), else *fast*; a gap step takes the class
   of its implied speed, so a subway ride without any fix still forms a fast part;
2. runs shorter than ``min_segment_s`` merge into their neighbours (shortest first);
3. a slow run is a walk only when people walk steadily in it: at the start or end of the trip it
   must last ``min_walk_leg_s``, move ``min_walk_leg_m``, spend ``walk_min_pace_share`` of its time
   at walking pace and at most ``walk_max_stop_share`` stopped; between two vehicle parts (a
   transfer) it must last ``transfer_walk_min_s`` with ``transfer_min_pace_share`` at walking pace
   and at most ``transfer_max_stop_share`` stopped, because vehicles crawl in queues and wait at
   stops far more often than people change vehicles. Other slow runs are vehicle stops or queues
   and join their neighbours;
4. a step without fix for ``long_gap_s`` or more becomes a part of its own (a vehicle change
   can hide in it);
5. (in the pipeline) adjacent parts of the same inferred mode merge, as do legs shorter than
   ``min_leg_s``; a short non-walking leg between two legs of one vehicle joins them (no walk,
   no change of vehicle: :func:`app.mobility.pipeline._smooth_sandwiches`).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from app.mobility.params import DEFAULT_PARAMS, PipelineParams
from app.mobility.types import ActivityArrays, FloatArray, IntArray

#: step classes of the speed rules
SLOW = 0
FAST = 1
GAP = 2


@dataclass
class StepRun:
    """A run of steps ``[first, last]`` (step k joins points k and k+1) of one class."""

    first: int
    last: int
    kind: int

    def duration(self, t: FloatArray) -> float:
        """Seconds from its first to its last point."""
        return float(t[self.last + 1] - t[self.first])


def step_classes(
    t: FloatArray, x: FloatArray, y: FloatArray, v: FloatArray, params: PipelineParams
) -> IntArray:
    """SLOW / FAST class of each step (length n - 1)."""
    dt = np.diff(t)
    hop = np.hypot(np.diff(x), np.diff(y))
    v_step = np.maximum(v[:-1], v[1:])
    gap = dt > params.gap_s
    v_step = np.where(gap, hop / np.maximum(dt, 1e-3), v_step)
    return np.where(v_step >= params.walk_speed_max_mps, FAST, SLOW).astype(np.intp)


def _runs_of(kinds: IntArray) -> list[StepRun]:
    """Maximal runs of equal step classes."""
    if kinds.size == 0:
        return []
    change = np.flatnonzero(np.diff(kinds) != 0) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change - 1, [kinds.size - 1]))
    return [StepRun(int(a), int(b), int(kinds[a])) for a, b in zip(starts, ends, strict=True)]


def _merge_adjacent(runs: list[StepRun]) -> list[StepRun]:
    """Neighbouring runs of the same class as one run."""
    out: list[StepRun] = []
    for r in runs:
        if out and out[-1].kind == r.kind:
            out[-1] = StepRun(out[-1].first, r.last, r.kind)
        else:
            out.append(StepRun(r.first, r.last, r.kind))
    return out


def _absorb_short(runs: list[StepRun], t: FloatArray, min_s: float) -> list[StepRun]:
    """Flip the shortest run under ``min_s`` to its neighbours' class until none is left.

    The shortest run (the earliest of equals) goes first; an interior run takes the class of its
    longer neighbour (the one before on a tie), an end run that of its only neighbour, and runs of
    one class side by side then merge. The runs are a linked list and the short ones a heap, so a
    trip of many runs costs n log n, not n squared.
    """
    runs = _merge_adjacent(runs)
    n = len(runs)
    first = [r.first for r in runs]
    last = [r.last for r in runs]
    kind = [r.kind for r in runs]
    durs: list[float] = (t[np.array(last, dtype=np.intp) + 1] - t[np.array(first, dtype=np.intp)]).tolist()
    before = list(range(-1, n - 1))
    after = [*range(1, n), -1]
    alive = [True] * n
    short = [(d, i) for i, d in enumerate(durs) if d < min_s]  # (duration, position): the earliest on ties
    heapq.heapify(short)
    left = n
    while left > 1 and short:
        d, k = heapq.heappop(short)
        if not alive[k] or d != durs[k]:
            continue  # merged since: a longer run now, queued again if still short
        p, q = before[k], after[k]
        if p == -1:
            kind[k] = kind[q]
        elif q == -1:
            kind[k] = kind[p]
        else:
            kind[k] = kind[p] if durs[p] >= durs[q] else kind[q]
        # neighbours were of other classes than each run: only k and its neighbours merge now
        a = p if p != -1 and kind[p] == kind[k] else k
        b = q if q != -1 and kind[q] == kind[k] else k
        last[a] = last[b]
        kind[a] = kind[k]
        i = after[a]
        while i != after[b]:
            alive[i] = False
            left -= 1
            i = after[i]
        after[a] = after[b]
        if after[b] != -1:
            before[after[b]] = a
        durs[a] = float(t[last[a] + 1] - t[first[a]])
        if durs[a] < min_s:
            heapq.heappush(short, (durs[a], a))
    out: list[StepRun] = []
    i = 0 if n else -1
    while i != -1:
        out.append(StepRun(first[i], last[i], kind[i]))
        i = after[i]
    return out


#: activity families of steps, from the phone's hints
ACT_UNKNOWN = -1
ACT_WALK = 10
ACT_BIKE = 11
ACT_MOTOR = 12
_ACT_OF_KIND = {"walking": ACT_WALK, "running": ACT_WALK, "cycling": ACT_BIKE, "automotive": ACT_MOTOR}
#: a hint older than this (s) says nothing about a step (phones re-report every minute or two)
ACT_HOLD_S = 300.0
#: hints below this confidence are ignored (both platforms call >= 50 "likely")
ACT_MIN_CONFIDENCE = 50.0
#: share of a trip's time the hints must cover to drive its segmentation
ACT_MIN_COVERAGE = 0.5


def activity_step_classes(t: FloatArray, activities: ActivityArrays | None) -> IntArray:
    """Family (walk / bike / motor / unknown) the phone's latest confident moving hint gives each
    step of a trip; stationary and unknown hints say nothing about the mode."""
    out = np.full(max(t.size - 1, 0), ACT_UNKNOWN, dtype=np.intp)
    if activities is None or len(activities) == 0 or t.size < 2:
        return out
    # Only the hints that can reach this trip's steps: the mapping below costs per hint, not per point.
    lo = int(np.searchsorted(activities.ts_s, t[0] - ACT_HOLD_S, side="left"))
    hi = int(np.searchsorted(activities.ts_s, t[-1], side="right"))
    confidence, kinds, times = activities.confidence[lo:hi], activities.kind[lo:hi], activities.ts_s[lo:hi]
    conf = np.where(np.isfinite(confidence), confidence, ACT_MIN_CONFIDENCE)
    code = np.array([_ACT_OF_KIND.get(str(k), ACT_UNKNOWN) for k in kinds], dtype=np.intp)
    keep = (code != ACT_UNKNOWN) & (conf >= ACT_MIN_CONFIDENCE)
    ts, code = times[keep], code[keep]
    if ts.size == 0:
        return out
    mid = 0.5 * (t[:-1] + t[1:])
    i = np.searchsorted(ts, mid, side="right") - 1
    ok = (i >= 0) & (mid - ts[np.maximum(i, 0)] <= ACT_HOLD_S)
    out[ok] = code[i[ok]]
    return out


def _fill_unknown(kinds: IntArray) -> IntArray:
    """Unknown steps take the family of the nearest known step before them (after, at the start)."""
    known = kinds != ACT_UNKNOWN
    idx = np.where(known, np.arange(kinds.size), -1)
    prev = np.maximum.accumulate(idx)
    first_known = int(np.argmax(known))
    prev = np.where(prev < 0, first_known, prev)
    return kinds[prev]


def change_points(
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    v: FloatArray,
    params: PipelineParams = DEFAULT_PARAMS,
    activities: ActivityArrays | None = None,
) -> list[StepRun]:
    """Candidate legs of one trip as runs of steps.

    With the phone's activity hints covering most of the trip, the hints' family changes are the
    change points (the platforms' recognisers are strong for walk / bike / vehicle, docs/research.md, "Legs");
    otherwise the speed rules of this module apply, SLOW meaning walk and FAST a vehicle or bike.

    Args:
        t, x, y: the trip's points (time order, projected metres).
        v: their window speeds (:func:`app.mobility.motion.window_speed`).
        params: ``walk_speed_max_mps``, ``min_segment_s``, ``min_walk_leg_s``, ``min_walk_leg_m``
            and the walk tests (see :class:`PipelineParams`).
        activities: the phone's hints, if any.
    """
    if t.size < 2:
        return []
    hinted = activity_step_classes(t, activities)
    dt_all = np.diff(t)
    if float(dt_all[hinted != ACT_UNKNOWN].sum()) >= ACT_MIN_COVERAGE * float(dt_all.sum()) > 0:
        return _absorb_short(_runs_of(_fill_unknown(hinted)), t, params.min_segment_s)
    kinds = step_classes(t, x, y, v, params)
    runs = _absorb_short(_runs_of(kinds), t, params.min_segment_s)
    if len(runs) == 1:
        return runs
    # slow runs that do not walk steadily are vehicle stops or queues, not walks
    dt = np.diff(t)
    w = np.where(dt > params.gap_s, 0.0, dt)
    v_mid = 0.5 * (v[:-1] + v[1:])
    step = np.where(dt > params.gap_s, np.hypot(np.diff(x), np.diff(y)), v_mid * dt)
    pace = (v_mid >= params.walk_pace_min_mps) & (v_mid < params.walk_speed_max_mps)
    stopped = v_mid < params.stop_speed_mps
    for k, r in enumerate(runs):
        if r.kind != SLOW:
            continue
        sl = slice(r.first, r.last + 1)
        moved = float(step[sl].sum())
        total = float(w[sl].sum())
        pace_share = float(w[sl][pace[sl]].sum()) / total if total > 0 else 0.0
        stop_share = float(w[sl][stopped[sl]].sum()) / total if total > 0 else 1.0
        edge = k == 0 or k == len(runs) - 1
        if edge:
            walk = (
                r.duration(t) >= params.min_walk_leg_s
                and moved >= params.min_walk_leg_m
                and pace_share >= params.walk_min_pace_share
                and stop_share <= params.walk_max_stop_share
            )
        else:
            walk = (
                r.duration(t) >= params.transfer_walk_min_s
                and pace_share >= params.transfer_min_pace_share
                and stop_share <= params.transfer_max_stop_share
            )
        if not walk:
            r.kind = FAST
    return _split_at_long_gaps(_merge_adjacent(runs), t, params)


def _split_at_long_gaps(runs: list[StepRun], t: FloatArray, params: PipelineParams) -> list[StepRun]:
    """Give each step without fix for ``long_gap_s`` or more a part of its own: the user may have
    changed vehicle out of sight (down into the metro), which no walking fix shows."""
    dt = np.diff(t)
    out: list[StepRun] = []
    for r in runs:
        long_gaps = np.flatnonzero(dt[r.first : r.last + 1] >= params.long_gap_s) + r.first
        start = r.first
        for g in long_gaps.tolist():
            if g > start:
                out.append(StepRun(start, g - 1, r.kind))
            out.append(StepRun(g, g, GAP))
            start = g + 1
        if start <= r.last:
            out.append(StepRun(start, r.last, r.kind))
    return out
