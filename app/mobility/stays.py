"""Stays and trips: where the user dwelt, and the movement between.

The detector follows Li et al. 2008 (a stay is a period of at least ``stay_min_duration_s`` whose
points stay within ``stay_radius_m``) in the form e-mission uses on phones (a trip ends once the
last 5 minutes of fixes are within 100 m of the current one), vectorised and made robust to
duty-cycled phones:

* each fix ``c`` looks back over a dwell window reaching the last fix at least
  ``stay_min_duration_s`` earlier; the window is a dwell when ``stay_inlier_share`` of its fixes
  lie within ``stay_radius_m`` of ``c`` (phones report network fixes hundreds of metres off while
  still). A silent phone (no fix while stationary) still yields a stay: its window holds two
  nearby fixes separated by a long gap;
* chains of dwell windows give stay runs: a window joins the chain before it when its dwell
  evidence (from its first fix within the radius) shares a fix with it, so two nearby places with a
  short, partly silent walk between them stay two places (``stay_split_places``). A stay starts in
  the middle of its first window's evidence (as e-mission ends trips) and ends on departure, at the
  last fix near its centre;
* a long, slow gap (``gap_break_s``, ``gap_break_speed_mps``; or silent for a dwell time at the
  dwell pace, e-mission) is untracked time and splits the movement around it; a gap that ends far
  away quickly is a trip with missing data (e.g. underground) and stays inside the trip;
* a move that starts after a silence counts the jump from the fix before it towards its distance
  (:func:`move_extent`): the phone slept through the start of the trip.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from app.mobility.numeric import median
from app.mobility.params import DEFAULT_PARAMS, PipelineParams
from app.mobility.types import BoolArray, FloatArray, IntArray


@dataclass(frozen=True)
class Span:
    """Inclusive index range ``[first, last]`` into the cleaned points.

    For a stay, ``evidence_first`` is the first fix of the dwell evidence (before ``first``, which
    is moved to the middle of the first dwell window): an incremental run must re-read from there
    to find the same stay again.
    """

    first: int
    last: int
    evidence_first: int = -1


@dataclass(frozen=True)
class Segmentation:
    """Stays and moving runs, in time order, as index spans into the cleaned points.

    ``moves_closed_by_data[k]`` tells whether move ``k`` ends because a stay or an untracked gap
    was seen after it (so it cannot grow any more).
    """

    stays: list[Span]
    moves: list[Span]
    moves_closed_by_data: list[bool]


def _range_max(v: FloatArray, lo: IntArray, hi: IntArray) -> FloatArray:
    """max(v[lo..hi]) for each inclusive range, O(1) per range from a sparse table of running maxima
    (level k covers 2**k values), built only as deep as the longest range needs."""
    level = np.floor(np.log2(np.maximum(hi - lo + 1, 1))).astype(np.intp)
    maxs = [v]
    for k in range(1, int(level.max(initial=0)) + 1):
        half = 1 << (k - 1)
        maxs.append(np.maximum(maxs[-1][:-half], maxs[-1][half:]))
    out = np.empty(lo.size)
    for lv in np.unique(level).tolist():
        sel = level == lv
        out[sel] = np.maximum(maxs[lv][lo[sel]], maxs[lv][hi[sel] - (1 << lv) + 1])
    return out


def _runs(mask: BoolArray) -> list[Span]:
    """Maximal runs of True as spans."""
    if mask.size == 0:
        return []
    m = np.concatenate(([False], mask, [False])).astype(np.int8)
    d = np.diff(m)
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return [Span(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


#: points of a dwell window compared with its last point (phones at 30 s have about 10)
WINDOW_SAMPLES = 32
#: fixes handled at once by the dwell test (memory: CHUNK x WINDOW_SAMPLES distances)
CHUNK = 65_536
#: the samples of a dwell window in the order they are looked at (see :func:`_dwell_evidence`): every
#: eighth, every eighth in between, then the rest
SAMPLE_ROUNDS: tuple[IntArray, ...] = (
    np.arange(8, WINDOW_SAMPLES + 1, 8),
    np.arange(4, WINDOW_SAMPLES + 1, 8),
    np.setdiff1d(np.arange(1, WINDOW_SAMPLES + 1), np.arange(4, WINDOW_SAMPLES + 1, 4)),
)
#: share of the dwell time the close points must span (one sampling interval of a 30 s phone
#: may be lost to a bad fix at the start of the window)
STAY_INLIER_SPAN = 0.8


def dwell_windows(
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    params: PipelineParams = DEFAULT_PARAMS,
    session_first: IntArray | None = None,
) -> tuple[IntArray, IntArray]:
    """Dwell windows as inclusive index ranges ``(first, last)`` (see :func:`_dwell_evidence`)."""
    lo, _, hi = _dwell_evidence(t, x, y, params, session_first)
    return lo, hi


def _window_samples(
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    cc: IntArray,
    w: IntArray,
    j: IntArray,
    params: PipelineParams,
) -> tuple[IntArray, FloatArray]:
    """Samples ``j`` (ascending, of 1..WINDOW_SAMPLES) of the dwell windows of fixes ``cc`` (widths
    ``w``, in fixes): how many lie farther than the radius from their fix, and the time of the
    earliest within it (inf when none)."""
    far = np.empty(cc.size, dtype=np.intp)
    earliest = np.empty(cc.size)
    long = w > WINDOW_SAMPLES
    for rows, spread in ((np.flatnonzero(long), True), (np.flatnonzero(~long), False)):
        if rows.size == 0:
            continue
        c = cc[rows, None]
        wc = w[rows, None]
        if spread:
            # ceil(w * j / WINDOW_SAMPLES) in integers: spread evenly, the last one the earliest fix
            others = c - (wc * j + WINDOW_SAMPLES - 1) // WINDOW_SAMPLES
            inlier = _near(x, y, others, c, params.stay_radius_m)
            far[rows] = j.size - np.count_nonzero(inlier, axis=1)
        else:  # a short window: each of its fixes, once
            used = j <= wc
            others = c - np.minimum(j, wc)
            inlier = _near(x, y, others, c, params.stay_radius_m) & used
            far[rows] = np.count_nonzero(used, axis=1) - np.count_nonzero(inlier, axis=1)
        # later samples lie earlier in the window: the earliest close fix is the last close sample
        last = j.size - 1 - np.argmax(inlier[:, ::-1], axis=1)
        earliest[rows] = np.where(
            inlier[np.arange(rows.size), last], t[others[np.arange(rows.size), last]], np.inf
        )
    return far, earliest


def _near(x: FloatArray, y: FloatArray, others: IntArray, c: IntArray, radius_m: float) -> BoolArray:
    """Whether each fix ``others`` lies within ``radius_m`` of its fix ``c`` (as ``np.hypot`` says)."""
    dx = x[others] - x[c]
    dy = y[others] - y[c]
    # squared distances against the squared radius, and the exact distance for the few that fall so
    # close to the radius that rounding could decide
    r2 = radius_m**2
    d2 = dx * dx + dy * dy
    inlier = d2 <= r2
    close = np.abs(d2 - r2) <= 1e-9 * r2
    if close.any():
        inlier[close] = np.hypot(dx[close], dy[close]) <= radius_m
    return inlier


def _dwell_evidence(
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    params: PipelineParams = DEFAULT_PARAMS,
    session_first: IntArray | None = None,
) -> tuple[IntArray, IntArray, IntArray]:
    """Dwell windows as inclusive index ranges ``(first, last)``, with the first fix of each window
    that lies within the radius (``first_inlier``): ``(first, first_inlier, last)``.

    For each point ``c`` the window reaches back to the last point at least ``stay_min_duration_s``
    earlier; it is a dwell when its points lie within ``stay_radius_m`` of ``c`` (e-mission's trip
    end test: the last 5 minutes within 100 m of the current point; Li et al. 2008 anchor the same
    test on the first point). Phones report fixes hundreds of metres off while still, so a share
    ``stay_inlier_share`` of the points is enough, provided the close ones span most of the window.

    ``session_first[c]`` is the first fix of the tracking session holding ``c``: a window never
    reaches back across the silence before it (the phone woke up because it sensed a departure).
    """
    n = t.size
    if n < 2:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, empty
    c = np.arange(n)
    # the window of c reaches back to the last point at or before t_c - T, so that it holds the
    # whole dwell time (a silent phone's gap forms a window of two points)
    k = np.searchsorted(t, t - params.stay_min_duration_s, side="right") - 1
    valid = k >= 0
    if session_first is not None:
        valid &= k >= session_first
    k = np.maximum(k, 0)
    width = c - k
    # distances from c to WINDOW_SAMPLES points spread evenly over its window (all of them when
    # the window is short, as with phones at 30 s); the earliest point is always among them
    w = np.maximum(width, 1)
    need = params.stay_inlier_share - 1e-9
    found: list[tuple[IntArray, FloatArray]] = []
    candidates = np.flatnonzero(valid & (c > 0))
    for lo in range(0, candidates.size, CHUNK):  # bounded memory for long histories
        cc = candidates[lo : lo + CHUNK]
        count = np.minimum(w[cc], WINDOW_SAMPLES)
        far = np.zeros(cc.size, dtype=np.intp)
        earliest = np.full(cc.size, np.inf)
        # the samples a few at a time (SAMPLE_ROUNDS): a window with too many far samples already
        # cannot be a dwell whatever the others say, and is not looked at again (most fixes of a
        # trip stop after the first round)
        for j in SAMPLE_ROUNDS:
            more_far, more_earliest = _window_samples(t, x, y, cc, w[cc], j, params)
            far += more_far
            earliest = np.minimum(earliest, more_earliest)
            still = (count - far) / count >= need
            cc, count, far, earliest = cc[still], count[still], far[still], earliest[still]
        within = (count - far) / count
        # the close points themselves must span most of the dwell time: one far fix before a gap
        # (the platform before a metro ride) does not make the next minute a stay
        span = t[cc] - np.minimum(earliest, t[cc])
        ok = (within >= need) & (span >= STAY_INLIER_SPAN * params.stay_min_duration_s)
        found.append((cc[ok], span[ok]))
    last = np.concatenate([f[0] for f in found]) if found else np.zeros(0, dtype=np.intp)
    span = np.concatenate([f[1] for f in found]) if found else np.zeros(0)
    first_inlier = np.minimum(np.searchsorted(t, t[last] - span), last)
    return k[last], first_inlier, last


def segment(
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    params: PipelineParams = DEFAULT_PARAMS,
    awake_ts: FloatArray | None = None,
    accuracy_m: FloatArray | None = None,
) -> Segmentation:
    """Split cleaned, projected points into stays and moving runs.

    Args:
        t: timestamps (s), ascending.
        x, y: projected metres.
        params: ``stay_radius_m`` (100 m) and ``stay_min_duration_s`` (300 s) after Li et al. 2008
            and e-mission's Android trip end; ``gap_break_s`` / ``gap_break_speed_mps`` /
            ``max_gap_s`` for untracked time (e-mission); ``min_trip_distance_m`` (100 m, e-mission)
            for dropping jitter that is not a trip.
        awake_ts: sorted times at which the phone showed it was tracking movement even though no
            usable fix came (fixes dropped for poor accuracy, moving activity hints). A duty-cycled
            phone only records while it believes the user moves, so a gap it stayed awake through
            is missing data inside a trip, never untracked time.
        accuracy_m: reported accuracy of each fix (NaN when unknown): a fix counts as still at a
            stay's centre when within half the stay radius plus its accuracy (at most another
            half radius).

    Returns:
        Stays and moves as index spans. Moves shorter than ``min_trip_distance_m`` are dropped and
        the stays around them merged when they are the same place.
    """
    n = t.size
    if n == 0:
        return Segmentation([], [], [])
    # untracked gaps (e-mission: > 10 min slower than 3 km/h, or > 12 h) split movement; a phone
    # that wakes after such a silence does so because it sensed a departure
    dt = np.diff(t)
    hop = np.hypot(np.diff(x), np.diff(y))
    silent = dt if awake_ts is None else _longest_silence(t, awake_ts)
    session_first = np.zeros(n, dtype=np.intp)
    if params.session_break_s > 0:
        new_session = np.flatnonzero(silent > params.session_break_s) + 1
        session_first[new_session] = new_session
        session_first = np.maximum.accumulate(session_first)
    lo, lo_in, hi = _dwell_evidence(t, x, y, params, session_first)
    half = params.stay_radius_m / 2.0
    slack = np.zeros(n) if accuracy_m is None else np.clip(np.nan_to_num(accuracy_m, nan=0.0), 0.0, half)
    stays: list[Span] = []
    for w_first, w_last in _window_chains(lo, lo_in, hi, params):
        run = Span(int(lo[w_first]), int(hi[w_first : w_last + 1].max()))
        # the middle of the first window's dwell evidence: a far fix at its start is the departure
        # from the place before, not part of this stay
        evidence = lo_in if params.stay_split_places else lo
        stay = _arrival(run, w_first, evidence, hi, t, x, y, slack, params)
        if stays and stay.first <= stays[-1].last:
            # the next place's first dwell window still holds the departure from the last one
            if stays[-1].last + 1 > stay.last:
                continue
            stay = Span(stays[-1].last + 1, stay.last, stay.evidence_first)
        stays.append(stay)
    # a lone first fix followed by silence is the end of a stay whose beginning is not in the
    # data (an incremental run restarting at the last fix of a stay): the phone was at rest
    if n >= 2 and t[1] - t[0] > params.gap_s and not (stays and stays[0].first == 0):
        stays.insert(0, Span(0, 0, 0))
    in_stay = np.zeros(n, dtype=bool)
    for s in stays:
        in_stay[s.first : s.last + 1] = True

    # e-mission's second test: silent for a dwell time without leaving the stay radius at the
    # dwell pace (100 m in 5 min) is a stay that the phone slept through
    dwell_pace = params.stay_radius_m / params.stay_min_duration_s
    brk = (
        (dt > params.max_gap_s)
        | ((silent > params.gap_break_s) & (hop < params.gap_break_speed_mps * dt))
        | ((silent > params.stay_min_duration_s) & (hop < dwell_pace * dt))
    )
    moving = ~in_stay
    cut = np.zeros(n, dtype=bool)  # cut[i]: a break between i-1 and i
    cut[1:] = brk
    moves: list[Span] = []
    for run in _runs(moving):
        cuts = np.flatnonzero(cut[run.first + 1 : run.last + 1]) + run.first + 1
        bounds = [run.first, *cuts.tolist(), run.last + 1]
        for a, b in itertools.pairwise(bounds):
            moves.append(Span(a, b - 1))

    # extend each move to the neighbouring stay point when it is contiguous in time, so the trip
    # starts on departure and ends on arrival; drop moves that do not go anywhere.
    kept: list[Span] = []
    closed: list[bool] = []
    for mv in moves:
        a, b = mv.first, mv.last
        if a > 0 and in_stay[a - 1] and t[a] - t[a - 1] <= params.gap_s:
            a -= 1
        if b < n - 1 and in_stay[b + 1] and t[b + 1] - t[b] <= params.gap_s:
            b += 1
        ext = move_extent(t, x, y, Span(a, b), params)
        followed = mv.last < n - 1  # something (a stay or an untracked gap) came after it
        if mv.first == 0 and any(st.evidence_first == 0 and st.first == mv.last + 1 for st in stays):
            continue  # the arrival of a trip whose beginning is not in the data
        if ext < params.min_trip_distance_m and followed:
            continue  # jitter, not a trip (an open tail is judged by the caller)
        kept.append(Span(a, b))
        closed.append(followed)
    stays = _merge_stays(stays, kept, x, y, params)
    return Segmentation(stays, kept, closed)


def _window_chains(
    lo: IntArray, lo_in: IntArray, hi: IntArray, params: PipelineParams
) -> list[tuple[int, int]]:
    """Dwell windows grouped into stays, as ranges ``(first, last)`` of window numbers.

    Windows come in the order of their last fixes (``hi``), and ``lo`` never decreases. With
    ``stay_split_places`` a window joins the chain before it only when its dwell evidence, from its
    first fix within the radius (``lo_in``) on, shares a fix with the chain: the far fixes a window
    tolerates are bad fixes inside a dwell, not a bridge to the place before, and windows that merely
    touch hold no sign that the user stayed between them. Without it, windows that touch or overlap
    form one chain (their union), which joins two nearby places and loses the walk between them.
    """
    if lo.size == 0:
        return []
    start = lo_in if params.stay_split_places else lo - 1  # lo - 1: touching windows chain
    # ``hi`` increases, so a chain reaches the last fix of its last window: a window starts a new
    # chain when it starts after the window before it ends
    new_chain = np.flatnonzero(start[1:] > hi[:-1]) + 1
    firsts = np.concatenate(([0], new_chain)).tolist()
    lasts = np.concatenate((new_chain - 1, [lo.size - 1])).tolist()
    return list(zip(firsts, lasts, strict=True))


def move_extent(t: FloatArray, x: FloatArray, y: FloatArray, mv: Span, params: PipelineParams) -> float:
    """How far a move goes: the diagonal of the box holding its fixes, compared with
    ``min_trip_distance_m``.

    With ``trip_across_silence``, a move that starts after a silence longer than ``gap_s`` also holds the
    fix before the silence, unless the jump from it is longer than ``untracked_jump_m`` (untracked time):
    a duty-cycled phone sleeps through the stay and wakes once the user has left (its geofence, about
    100 m, e-mission), so a short walk may show only a few fixes at its destination. e-mission counts
    the jump in the trip by extending the trip back to the last place. The move must hold at least two
    fixes after the silence.
    """
    a, b = mv.first, mv.last
    xs, ys = x[a : b + 1], y[a : b + 1]
    # one lone fix after the silence is no evidence of a trip (a stray network fix)
    if params.trip_across_silence and 0 < a < b and t[a] - t[a - 1] > params.gap_s:
        jump = float(np.hypot(x[a] - x[a - 1], y[a] - y[a - 1]))
        if jump <= params.untracked_jump_m:
            xs, ys = x[a - 1 : b + 1], y[a - 1 : b + 1]
    return float(np.hypot(np.ptp(xs), np.ptp(ys)))


def _longest_silence(t: FloatArray, awake_ts: FloatArray) -> FloatArray:
    """Longest interval without any sign of tracking inside each step ``(t[i], t[i+1])``."""
    at = np.searchsorted(awake_ts, t)
    if (
        awake_ts.size
        and at[-1] < awake_ts.size
        and np.array_equal(awake_ts[at], t)
        and bool(np.all(np.diff(awake_ts) > 0))
    ):
        marks = awake_ts  # every fix is among the signs already (the pipeline's case)
    else:
        marks = np.union1d(t, awake_ts)
        at = np.searchsorted(marks, t)
    lo, hi = at[:-1], at[1:]
    gaps = np.diff(marks)
    if gaps.size == 0:
        return np.diff(t)
    # steps hold marks lo..hi, hence gaps lo..hi-1
    return _range_max(gaps, lo, np.maximum(hi - 1, lo))


def _arrival(
    run: Span,
    w: int,
    lo: IntArray,
    hi: IntArray,
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    slack: FloatArray,
    params: PipelineParams,
) -> Span:
    """Where a stay run really starts and ends.

    The first dwell window of the run still holds the end of the approach. Like e-mission, whose
    trip ends at the middle of the first 5-minute dwell window, the stay starts at the window's
    middle (or, with ``stay_start_at_window_middle`` off, at the first fix within half the radius
    of the stay's median centre). It ends at the last fix within half the radius of the centre
    (plus the fix's accuracy): the departure, not the moment the user is already 100 m away.
    ``w`` is the run's first dwell window.
    """
    first_lo, first_hi = int(lo[w]), int(hi[w])
    mid_t = 0.5 * (t[first_lo] + t[first_hi])
    mid = int(np.searchsorted(t, mid_t))
    xs = x[run.first : run.last + 1]
    ys = y[run.first : run.last + 1]
    cx, cy = median(xs), median(ys)
    near_m = params.stay_radius_m / 2.0 + slack[run.first : run.last + 1]
    near = np.flatnonzero(np.hypot(xs - cx, ys - cy) <= near_m)
    if params.stay_start_at_window_middle:
        start = mid
    else:
        start = run.first + int(near[0]) if near.size else run.first
    # the stay ends on departure: the last fix near its centre, not once the user is 100 m away
    end = run.first + int(near[-1]) if near.size else run.last
    start = min(max(start, run.first), end)
    return Span(start, max(end, start), run.first)


def _merge_stays(
    stays: list[Span], moves: list[Span], x: FloatArray, y: FloatArray, params: PipelineParams
) -> list[Span]:
    """Merge consecutive stays with no kept move between them when they are the same place."""
    if not stays:
        return []
    move_starts = np.array([m.first for m in moves], dtype=np.intp)  # in time order
    centres: dict[tuple[int, int], tuple[float, float]] = {}

    def centre(span: Span) -> tuple[float, float]:
        key = (span.first, span.last)
        if key not in centres:
            centres[key] = (
                median(x[span.first : span.last + 1]),
                median(y[span.first : span.last + 1]),
            )
        return centres[key]

    merged = [stays[0]]
    for s in stays[1:]:
        prev = merged[-1]
        i = int(np.searchsorted(move_starts, prev.first))
        between = i < move_starts.size and move_starts[i] < s.first
        (px, py), (sx, sy) = centre(prev), centre(s)
        same_place = np.hypot(px - sx, py - sy) <= params.stay_radius_m
        if not between and same_place:
            merged[-1] = Span(prev.first, s.last, prev.evidence_first)
        else:
            merged.append(s)
    return merged
