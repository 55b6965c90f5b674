"""What a person's own confirmations teach about their later legs.

Geometry tells buses, cars and trains apart poorly *across* people: one person's bus crawls where
another's speeds, and for some people the usual clues point the other way (their car legs stop more
than their bus legs; docs/research.md, "Modes: a person's own confirmations"). People also differ in
what they call a leg: many count the walk to the stop and the wait as part of the ride. Within one
person both transfer far better: the same lines, the same roads, the same car, the same habits of
labelling. So the legs a person confirmed or corrected become examples, and each later leg is read
with them.

The model is small enough to explain (:class:`PersonalModel`). For a leg the rules called ``p``, with
features ``x`` (:data:`FEATURES`: speeds, stops, turns, speed changes, acceleration, plateau, length;
:func:`leg_features`), each family ``f`` of walk, bike, bus, car and rail scores

    score(f) = (similar(f, x) + BACKGROUND) * P(rules say p | the person says f)

- ``similar(f, x)``: the person's confirmed legs of family ``f``, each weighing ``exp(-d^2 / 2h^2)``
  (``d`` the distance over features scaled by :data:`SCALES`, ``h`` = :data:`BANDWIDTH`) times its age
  weight, halved every :data:`HALF_LIFE_DAYS` (habits change: a new car, a new job);
- ``P(rules say p | f)``: how often the rules called ``p`` the legs the person says were ``f``,
  smoothed towards the rules being right (:data:`AGREE_PRIOR`, :data:`DISAGREE_PRIOR`), so that a
  person whose buses the rules keep calling cars sees their next "car" like those buses read as a bus.

The leg takes the best family when it is not the rules', its similar legs weigh at least
:data:`MIN_SIMILARITY` and one of them at least lies within :data:`SIMILAR_RADIUS` (legs unlike anything
the person confirmed are left to the rules). Within the
family the mode is the one the person names most among the similar legs (``metro`` rather than
``train``). It starts from :data:`MIN_CONFIRMED` confirmed legs. Legs the rules decided with strong
evidence of their own (a line's stops from the network, gaps underground, a plane's speed) are kept.

Measured on the dev users (docs/research.md, "Modes: a person's own confirmations"): with the first 30 %
of their labelled time confirmed, their later legs gain 3 to 5 points of accuracy.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from app.mobility.modes import FAMILY, ModeGuess
from app.mobility.motion import MotionFeatures
from app.mobility.types import Reason

#: names of a leg's stored features, in the model's order, with the scale (in the feature's own
#: transformed unit) over which two legs count as one standard step apart
SCALES: dict[str, float] = {
    "log_v_median": 0.35,  # log(1 + m/s)
    "log_v_p85": 0.25,
    "log_v_p95": 0.25,
    "log_stop_rate": 0.35,  # log(1 + stops per km)
    "log_turn_rate": 0.35,  # log(1 + turns per km)
    "log_vcr": 0.35,  # log(1 + speed changes per km)
    "accel_p90": 0.12,  # m/s2
    "plateau_share": 0.15,
    "stop_share": 0.15,
    "log_km": 0.7,  # log(1 + km)
}
FEATURES: tuple[str, ...] = tuple(SCALES)
_SCALE = np.array([SCALES[name] for name in FEATURES])

#: families the model reads a leg into, and learns from
LEARNED_FAMILIES = ("walk", "bike", "bus", "car", "rail")
#: confirmed legs needed before the model is used
MIN_CONFIRMED = 4
#: kernel width over scaled features: legs two standard steps apart still count as much alike
BANDWIDTH = 2.0
#: weight every family gets besides its similar legs, so a family nobody confirmed can still win on
#: what the rules say
BACKGROUND = 0.1
#: pseudo-counts of the rules being right / wrong about one family (of five) before any confirmation
AGREE_PRIOR = 2.0
DISAGREE_PRIOR = 0.3
#: a leg changes family only when the new family's similar legs weigh at least this much
MIN_SIMILARITY = 0.6
#: similar legs lie this close (scaled units): a family wins only with one of them at least, and they
#: are the legs a reason counts and names the mode after
SIMILAR_RADIUS = 2.0
#: the most recent confirmed legs the model is built from: enough for habits, and a pipeline run whose
#: cost does not grow with the person's history
CONFIRMATIONS_READ = 500
#: a confirmation's weight halves every this many days (older habits count less)
HALF_LIFE_DAYS = 365.0
#: rules whose own evidence is strong enough that a person's habits do not override it
_KEPT_RULES = frozenset({"line_stops", "underground_gaps", "fast_straight", "plane_speed"})


def leg_features(f: MotionFeatures) -> dict[str, float]:
    """The features a leg is stored with (and compared on), rounded for storage."""
    values = {
        "log_v_median": math.log1p(max(f.v_median, 0.0)),
        "log_v_p85": math.log1p(max(f.v_p85, 0.0)),
        "log_v_p95": math.log1p(max(f.v_p95, 0.0)),
        "log_stop_rate": math.log1p(min(max(f.stop_rate_per_km, 0.0), 50.0)),
        "log_turn_rate": math.log1p(min(max(f.heading_rate_per_km, 0.0), 50.0)),
        "log_vcr": math.log1p(min(max(f.velocity_change_rate_per_km, 0.0), 100.0)),
        "accel_p90": min(max(f.accel_p90, 0.0), 5.0),
        "plateau_share": min(max(f.plateau_share, 0.0), 1.0),
        "stop_share": min(max(f.stop_share, 0.0), 1.0),
        "log_km": math.log1p(max(f.distance_m, 0.0) / 1000.0),
    }
    return {k: round(float(v), 4) if math.isfinite(v) else 0.0 for k, v in values.items()}


@dataclass(frozen=True)
class Confirmation:
    """A leg the person confirmed or corrected: the mode they gave, the mode the rules had given it,
    its features and when it started."""

    mode: str
    rules_mode: str
    features: Mapping[str, float]
    start_ts_s: float


@dataclass(frozen=True)
class PersonalModel:
    """The person's confirmed legs as examples (see the module)."""

    modes: tuple[str, ...]
    families: tuple[str, ...]
    rules_families: tuple[str, ...]
    x: np.ndarray  # (n, len(FEATURES)), scaled
    ts_s: np.ndarray

    @staticmethod
    def from_confirmations(confirmations: Iterable[Confirmation]) -> PersonalModel | None:
        """The model, or None while the confirmations are too few to teach anything."""
        rows: list[list[float]] = []
        modes: list[str] = []
        rules: list[str] = []
        times: list[float] = []
        for c in confirmations:
            if FAMILY.get(c.mode) not in LEARNED_FAMILIES or not c.features:
                continue
            if any(name not in c.features for name in FEATURES):
                continue
            rows.append([float(c.features[name]) for name in FEATURES])
            modes.append(c.mode)
            rules.append(FAMILY.get(c.rules_mode, "unknown"))
            times.append(float(c.start_ts_s))
        if len(rows) < MIN_CONFIRMED:
            return None
        x = np.asarray(rows, dtype=np.float64) / _SCALE
        families = tuple(FAMILY[m] for m in modes)
        return PersonalModel(tuple(modes), families, tuple(rules), x, np.asarray(times, dtype=np.float64))

    def vote(
        self, features: Mapping[str, float], rules_family: str, at_ts_s: float
    ) -> tuple[str, str, float, int] | None:
        """(family, mode, share of the score, similar legs) the person's examples give a leg the rules
        called ``rules_family``, or None when nothing similar was confirmed."""
        q = np.array([float(features.get(name, 0.0)) for name in FEATURES]) / _SCALE
        d2 = ((self.x - q) ** 2).sum(axis=1)
        age_days = np.abs(at_ts_s - self.ts_s) / 86400.0
        w = np.exp(-0.5 * d2 / BANDWIDTH**2) * np.power(0.5, age_days / HALF_LIFE_DAYS)
        fam = np.array(self.families)
        said = np.array(self.rules_families)
        score: dict[str, float] = {}
        similar: dict[str, float] = {}
        for f in LEARNED_FAMILIES:
            mine = fam == f
            similar[f] = float(w[mine].sum())
            agree = AGREE_PRIOR if f == rules_family else DISAGREE_PRIOR
            p_rules = (float(np.count_nonzero(said[mine] == rules_family)) + agree) / (
                float(np.count_nonzero(mine)) + AGREE_PRIOR + (len(LEARNED_FAMILIES) - 1) * DISAGREE_PRIOR
            )
            score[f] = (similar[f] + BACKGROUND) * p_rules
        best = max(LEARNED_FAMILIES, key=lambda f: score[f])
        # a family wins only with a leg truly alike among its own: many legs of one kind, each a little
        # alike, must not add up to one that is (a person who confirmed seventy walks and no bike ride
        # would have their first bike rides read as walks)
        near = (fam == best) & (d2 <= SIMILAR_RADIUS**2)
        if similar[best] < MIN_SIMILARITY or not near.any():
            return None
        named = Counter(m for m, ok in zip(self.modes, near.tolist(), strict=True) if ok)
        return best, named.most_common(1)[0][0], score[best] / sum(score.values()), int(near.sum())


def personal_guess(
    model: PersonalModel | None,
    guess: ModeGuess,
    features: Mapping[str, float],
    at_ts_s: float,
) -> ModeGuess:
    """The rules' guess for a leg, revised by what the person's confirmations teach (see the module)."""
    rules_family = FAMILY.get(guess.mode)
    if model is None or rules_family not in LEARNED_FAMILIES:
        return guess
    if any(r.get("rule") in _KEPT_RULES for r in guess.reasons):
        return guess
    voted = model.vote(features, rules_family, at_ts_s)
    if voted is None:
        return guess
    family, mode, share, similar = voted
    # what the rules said is kept in the reason, so that switching learning off can give it back
    reason: Reason = {
        "rule": "your_confirmations",
        "similar_legs": similar,
        "share": round(share, 2),
        "mode": mode if family != rules_family else guess.mode,
        "rules_mode": guess.mode,
        "rules_confidence": round(guess.confidence, 3),
    }
    if family == rules_family:
        # the person's habits agree with the rules: same mode, surer, and said so
        confidence = max(guess.confidence, min(0.95, share))
        return ModeGuess(guess.mode, confidence, guess.source, (reason, *guess.reasons))
    return ModeGuess(mode, min(0.9, share), guess.source, (reason, *guess.reasons))


def rules_mode_of(inferred_mode: str, reasons: Sequence[Mapping[str, object]] | None) -> str:
    """The mode the rules alone gave a stored leg: its inferred mode, unless the person's confirmations
    revised it (then their reason keeps the rules' mode)."""
    first = reasons[0] if reasons else {}
    if first.get("rule") == "your_confirmations" and isinstance(first.get("rules_mode"), str):
        return str(first["rules_mode"])
    return inferred_mode
