"""What a person's confirmations teach: from how many it starts, what it changes and what it leaves to
the rules, how age weighs, and that the leg says so."""

from __future__ import annotations

import pytest

from app.mobility import process
from app.mobility.modes import ModeGuess
from app.mobility.personal import (
    FEATURES,
    HALF_LIFE_DAYS,
    MIN_CONFIRMED,
    Confirmation,
    PersonalModel,
    personal_guess,
    rules_mode_of,
)
from app.mobility.simulate import LegPlan, Simulation, StayPlan, TripPlan, simulate

DAY_S = 86400.0


def _features(**values: float) -> dict[str, float]:
    base = dict.fromkeys(FEATURES, 0.0)
    base.update(values)
    return base


#: a slow, stopping vehicle (what this person rides by bus) and a faster, smoother one (their car)
SLOW = _features(log_v_median=1.6, log_v_p85=2.3, log_v_p95=2.5, log_stop_rate=0.9, log_km=1.8)
FAST = _features(log_v_median=2.5, log_v_p85=3.0, log_v_p95=3.2, log_stop_rate=0.2, log_km=2.5)


def _confirmed(
    mode: str, features: dict[str, float], n: int, at_s: float = 0.0, rules: str | None = None
) -> list[Confirmation]:
    return [Confirmation(mode, rules or mode, features, at_s + i * 3600.0) for i in range(n)]


def test_nothing_is_learned_from_too_few_confirmations() -> None:
    assert PersonalModel.from_confirmations(_confirmed("bus", SLOW, MIN_CONFIRMED - 1)) is None
    # planes and boats are left to the rules, and legs stored without features teach nothing
    others = _confirmed("plane", SLOW, 10) + [Confirmation("bus", "car", {}, 0.0)] * 10
    assert PersonalModel.from_confirmations(others) is None
    assert PersonalModel.from_confirmations(_confirmed("bus", SLOW, MIN_CONFIRMED)) is not None


def test_buses_the_rules_keep_calling_cars_are_read_as_buses_and_say_why() -> None:
    # the rules called this person's buses cars; their car, faster, the rules got right
    model = PersonalModel.from_confirmations(
        _confirmed("bus", SLOW, 6, rules="car") + _confirmed("car", FAST, 6)
    )
    rules = ModeGuess("car", 0.55, reasons=({"rule": "bus_votes", "votes": 2},))
    revised = personal_guess(model, rules, SLOW, 10 * DAY_S)
    assert revised.mode == "bus"
    learned = revised.reasons[0]
    assert learned["rule"] == "your_confirmations" and learned["similar_legs"] == 6
    assert learned["rules_mode"] == "car" and learned["rules_confidence"] == 0.55
    assert revised.reasons[1:] == rules.reasons
    assert rules_mode_of(revised.mode, revised.reasons) == "car"
    # a leg like their car stays a car, surer and saying so
    kept = personal_guess(model, rules, FAST, 10 * DAY_S)
    assert kept.mode == "car" and kept.confidence > rules.confidence
    assert kept.reasons[0]["rule"] == "your_confirmations"
    assert rules_mode_of(kept.mode, kept.reasons) == "car"


def test_the_person_s_way_of_labelling_walks_to_the_stop_is_followed() -> None:
    # this person counts the walk to the stop as part of the bus ride, every time
    model = PersonalModel.from_confirmations(_confirmed("bus", SLOW, 5, rules="walk"))
    assert personal_guess(model, ModeGuess("walk", 0.8), SLOW, 0.0).mode == "bus"


def test_the_mode_within_a_family_is_the_one_the_person_names() -> None:
    model = PersonalModel.from_confirmations(
        _confirmed("metro", SLOW, 6, rules="car") + _confirmed("car", FAST, 6)
    )
    revised = personal_guess(model, ModeGuess("car", 0.5), SLOW, 0.0)
    assert revised.mode == "metro"


def test_strong_evidence_and_unknown_families_are_left_to_the_rules() -> None:
    model = PersonalModel.from_confirmations(
        _confirmed("bus", SLOW, 6, rules="car") + _confirmed("car", FAST, 6)
    )
    for rules in (
        ModeGuess("car", 0.85, reasons=({"rule": "line_stops", "line": "3"},)),
        ModeGuess("train", 0.6, reasons=({"rule": "underground_gaps"},)),
        ModeGuess("plane", 0.9),
        ModeGuess("unknown", 0.0),
    ):
        assert personal_guess(model, rules, SLOW, 0.0) == rules
    assert personal_guess(None, ModeGuess("car", 0.5), SLOW, 0.0) == ModeGuess("car", 0.5)


def test_a_leg_unlike_anything_confirmed_is_left_to_the_rules() -> None:
    model = PersonalModel.from_confirmations(
        _confirmed("bus", SLOW, 6, rules="car") + _confirmed("car", FAST, 6)
    )
    far = _features(log_v_median=4.5, log_v_p85=4.8, log_v_p95=5.0, log_km=5.0)
    assert personal_guess(model, ModeGuess("car", 0.5), far, 0.0) == ModeGuess("car", 0.5)


def test_many_confirmed_walks_do_not_turn_a_first_bike_ride_into_a_walk() -> None:
    walk = _features(log_v_median=0.8, log_v_p85=1.0, log_v_p95=1.1, log_km=0.7)
    bike = _features(log_v_median=1.6, log_v_p85=1.5, log_v_p95=1.6, log_km=1.1)  # three steps away
    # seventy walks, ten of which the rules had taken for bike rides, and no bike ride yet
    model = PersonalModel.from_confirmations(
        _confirmed("walk", walk, 60) + _confirmed("walk", walk, 10, rules="bike")
    )
    assert personal_guess(model, ModeGuess("bike", 0.6), bike, DAY_S).mode == "bike"
    # a walk the rules take for a bike ride, like those ten, is the person's walk
    assert personal_guess(model, ModeGuess("bike", 0.6), walk, DAY_S).mode == "walk"


def test_older_confirmations_weigh_less() -> None:
    # long ago this person called such legs buses; lately, the same legs are their car
    old = _confirmed("bus", SLOW, 5, at_s=0.0, rules="car")
    recent = _confirmed("car", SLOW, 3, at_s=3 * HALF_LIFE_DAYS * DAY_S, rules="bus")
    model = PersonalModel.from_confirmations(old + recent)
    now = 3 * HALF_LIFE_DAYS * DAY_S + DAY_S
    assert personal_guess(model, ModeGuess("bus", 0.6), SLOW, now).mode == "car"
    # seen from back then, the buses win
    assert personal_guess(model, ModeGuess("car", 0.6), SLOW, DAY_S).mode == "bus"


@pytest.fixture(scope="module")
def commutes() -> Simulation:
    plan = [StayPlan(1200)]
    for _ in range(6):
        plan += [TripPlan((LegPlan("car", 6000),)), StayPlan(1800)]
    return simulate(plan, seed=5, sampling_s=5.0)


def test_the_pipeline_infers_legs_with_the_person_s_confirmations(commutes: Simulation) -> None:
    plain = process(commutes.points).trips
    legs = [leg for trip in plain for leg in trip.legs]
    assert len(legs) == 6 and "car" in {leg.mode for leg in legs}
    # this person rides these routes by bus (geometry reads them as cars), and drives faster elsewhere
    taught = [Confirmation("bus", leg.mode, leg.features, leg.start_ts_s) for leg in legs]
    taught += _confirmed("car", FAST, 3)
    model = PersonalModel.from_confirmations(taught)
    learned = [leg for trip in process(commutes.points, personal=model).trips for leg in trip.legs]
    assert [leg.mode for leg in learned] == ["bus"] * 6
    assert all(leg.reasons[0]["rule"] == "your_confirmations" for leg in learned)
    assert [leg.features for leg in learned] == [leg.features for leg in legs]
